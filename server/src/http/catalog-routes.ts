/**
 * The catalog and identify routes: one-shot identify, tracks (list, search, show, upload, remove) and index jobs.
 */
import { earshotError } from '../errors.js'
import type { Track } from '../index/types.js'
import { readAudio, readJson } from './body.js'
import { intParam, idParam, onlyFields, stringField, uuidParam } from './params.js'
import { json } from './request.js'
import type { Route } from './router.js'
import { round } from '../round.js'

/** Tracks a page holds at most. */
export const MAX_PAGE = 1000

function trackJson (t: Track): Record<string, unknown> {
  return { id: t.id, title: t.title, artist: t.artist, album: t.album, durationSeconds: round(t.durationSeconds, 2), source: t.source, indexedAt: t.indexedAt, hashCount: t.hashCount }
}

export const catalogRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/identify',
    access: 'client',
    limited: 'identify',
    bodyLimit: (s) => s.http.maxIdentifyBytes,
    summary: 'Identify a clip: an audio file, raw PCM or a multipart upload',
    async handle ({ services, req }) {
      const started = performance.now()
      const audio = await readAudio(req)
      // An encoded upload is decoded only up to maxIdentifySeconds; raw PCM is cut here.
      const pcm = audio.kind === 'pcm' ? audio : await services.uploads.decode(audio.bytes, audio.name)
      const max = Math.round(services.settings.http.maxIdentifySeconds * pcm.sampleRate)
      const samples = pcm.samples.length > max ? pcm.samples.subarray(0, max) : pcm.samples
      const result = services.identifier.identify(samples, pcm.sampleRate)
      // Processing time covers decoding as well: it is what the caller waited for.
      return json(200, { ...result, processingTimeMs: round(performance.now() - started, 1) })
    },
  },
  {
    method: 'GET',
    path: '/v1/tracks',
    access: 'client',
    summary: 'List tracks in id order, optionally searching title, artist and album',
    handle ({ services, req }) {
      const limit = intParam(req.query, 'limit', 50, 1, MAX_PAGE)
      const after = intParam(req.query, 'cursor', 0, 0, 2 ** 32)
      const q = (req.query.get('q') ?? '').trim().toLowerCase()
      const tracks: Record<string, unknown>[] = []
      let last = 0
      let more = false
      // Search scans the track table from the cursor; it stops at a full page, so a page costs at most one scan.
      for (const t of services.index.listTracks(after)) {
        if (q && !`${t.title}\n${t.artist}\n${t.album}`.toLowerCase().includes(q)) continue
        if (tracks.length === limit) { more = true; break }
        tracks.push(trackJson(t))
        last = t.id
      }
      return json(200, { tracks, nextCursor: more ? String(last) : null })
    },
  },
  {
    method: 'GET',
    path: '/v1/tracks/:id',
    access: 'client',
    summary: 'One track',
    handle ({ services, params }) {
      const id = idParam(params.id, 'track id')
      const t = services.index.getTrack(id)
      if (!t) throw earshotError('EAR_ERR_TRACK_NOT_FOUND', id)
      return json(200, trackJson(t))
    },
  },
  {
    method: 'POST',
    path: '/v1/tracks',
    access: 'admin',
    bodyLimit: (s) => s.http.maxUploadBytes,
    summary: 'Upload audio with metadata; it is fingerprinted and indexed',
    async handle ({ services, req }) {
      const audio = await readAudio(req)
      if (audio.kind !== 'encoded') throw earshotError('EAR_ERR_CONTENT_TYPE', 'raw PCM', 'an audio file or a multipart form: a track needs its container to be kept as a source')
      const field = (name: string): string | undefined => {
        const v = audio.fields[name] ?? req.query.get(name) ?? undefined
        if (v !== undefined && v.length > 500) throw earshotError('EAR_ERR_BAD_REQUEST', `${name} is longer than 500 characters`)
        return v
      }
      const name = field('source') ?? audio.name
      const { track, added } = await services.uploads.add(audio.bytes, name, { title: field('title'), artist: field('artist'), album: field('album') })
      return json(added ? 201 : 200, { added, track: trackJson(track) })
    },
  },
  {
    method: 'DELETE',
    path: '/v1/tracks/:id',
    access: 'admin',
    summary: 'Remove a track and its postings',
    handle ({ services, params }) {
      const id = idParam(params.id, 'track id')
      if (!services.index.removeTrack(id)) throw earshotError('EAR_ERR_TRACK_NOT_FOUND', id)
      return { status: 204, type: 'text/plain', body: '' }
    },
  },
  {
    method: 'POST',
    path: '/v1/index-jobs',
    access: 'admin',
    bodyLimit: (s) => s.http.maxJsonBytes,
    summary: 'Index files or folders on the server\'s disk in the background',
    async handle ({ services, req }) {
      const body = await readJson(req)
      onlyFields(body, ['path', 'paths'])
      const one = stringField(body, 'path', { max: 4096 })
      const many = body.paths
      if (many !== undefined && (!Array.isArray(many) || many.length === 0 || many.length > 1000 || !many.every((p) => typeof p === 'string' && p.length > 0 && p.length <= 4096))) {
        throw earshotError('EAR_ERR_BAD_REQUEST', 'paths must be a list of 1 to 1000 non-empty strings')
      }
      const paths = [...(one ? [one] : []), ...((many as string[] | undefined) ?? [])]
      if (paths.length === 0) throw earshotError('EAR_ERR_BAD_REQUEST', 'path is required')
      const job = services.jobs.start(paths)
      return json(202, job, { location: `/v1/index-jobs/${job.id}` })
    },
  },
  {
    method: 'GET',
    path: '/v1/index-jobs',
    access: 'client',
    summary: 'Index jobs kept in memory: queued, running and the last finished',
    handle ({ services }) {
      return json(200, { jobs: services.jobs.list() })
    },
  },
  {
    method: 'GET',
    path: '/v1/index-jobs/:id',
    access: 'client',
    summary: 'Progress of an index job',
    handle ({ services, params }) {
      const id = uuidParam(params.id, 'job id')
      const job = services.jobs.get(id)
      if (!job) throw earshotError('EAR_ERR_JOB_NOT_FOUND', id)
      return json(200, job)
    },
  },
  {
    method: 'DELETE',
    path: '/v1/index-jobs/:id',
    access: 'admin',
    summary: 'Cancel a queued or running index job',
    async handle ({ services, params }) {
      const id = uuidParam(params.id, 'job id')
      const job = await services.jobs.cancel(id)
      if (!job) throw earshotError('EAR_ERR_JOB_NOT_FOUND', id)
      return json(200, job)
    },
  },
]
