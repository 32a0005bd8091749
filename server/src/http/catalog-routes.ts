/**
 * The catalog and identify routes: one-shot identify, tracks (list, search, show, upload, remove) and index jobs.
 */
import { Type, type Static } from '@sinclair/typebox'
import { defaults } from '../config/defaults.js'
import { earshotError } from '../errors.js'
import type { Track } from '../index/types.js'
import { round } from '../round.js'
import { audioUpload, readAudio } from './body.js'
import { answer, route } from './router.js'
import type { Services } from './services.js'
import { dateTime, decoder, int, nullable, num, oneOf, positiveId, speed, str, text, uuid } from './schemas.js'

/** Tracks a page holds at most. */
const CLUSTER_NODE = 'EAR_ERR_CATALOG_PUBLISHED: this server is a cluster node; its catalog changes by earshot publish'

/** A cluster's nodes serve one published catalog (cluster/index-artifacts.ts): none changes its own. */
function catalogWritable (services: Services): void {
  if (services.cluster) throw earshotError('EAR_ERR_CATALOG_PUBLISHED')
}

export const MAX_PAGE = 1000

const TrackSchema = Type.Object({
  id: int('Track id', { minimum: 1 }),
  title: str(),
  artist: str(),
  album: str(),
  durationSeconds: num('Length, rounded to 0.01 s'),
  source: str('The indexed file\'s path, or the upload\'s name'),
  indexedAt: dateTime('When it was indexed'),
  hashCount: int('Fingerprint hashes stored for it'),
}, { $id: 'Track' })

const IdentifyResult = Type.Object({
  matches: Type.Array(Type.Object({
    id: int('Track id'),
    title: str(), artist: str(), album: str(), source: str(),
    confidence: num('0..1, rounded to 0.001', { minimum: 0, maximum: 1 }),
    offsetSeconds: num('Where in the track the clip starts, in seconds'),
    speed: speed('clip'),
  }, { $id: 'Match' }), { description: `Best first; at most ${defaults.maxMatches}, at or above confidence ${defaults.minConfidence}; empty when nothing matches` }),
  queryDurationMs: int('Audio examined, in ms (at most the first 60 s of the clip)'),
  processingTimeMs: num('Time taken, decoding included, in ms'),
}, { $id: 'IdentifyResult' })

const TrackAdded = Type.Object({
  added: Type.Boolean({ description: 'False when the same audio was indexed already (the existing track is returned)' }),
  track: TrackSchema,
}, { $id: 'TrackAdded' })

const IndexJob = Type.Object({
  id: str(undefined, { format: 'uuid' }),
  paths: Type.Array(str()),
  state: oneOf(['queued', 'running', 'done', 'failed', 'cancelled'], 'Jobs run one at a time, in order'),
  createdAt: dateTime('When it was submitted'),
  startedAt: nullable(dateTime('Null while queued')),
  finishedAt: nullable(dateTime('Null until done, failed or cancelled')),
  total: nullable(int(), 'Files found; null until the walk is done'),
  indexed: int('Files added'),
  present: int('Files whose audio was indexed already'),
  skipped: Type.Array(Type.Object({ file: str(), reason: str() }), { description: 'Files that could not be indexed (the first 1000)' }),
  skippedCount: int('All skipped files, also beyond the listed ones'),
  truncated: int('Of the skipped, files refused as truncated or damaged (EAR_ERR_AUDIO_TRUNCATED): perhaps still being copied'),
  symlinks: int('Symbolic links met in folders and not followed'),
  audioSeconds: num('Seconds of audio added'),
  error: nullable(str(), 'Why the job failed'),
}, { $id: 'IndexJob' })

/** Tags of an upload: form fields, or query parameters for a raw body (a form field wins). */
const Metadata = Type.Object({
  title: Type.Optional(text(500, 'Overrides the title read from the file')),
  artist: Type.Optional(text(500, 'Overrides the artist')),
  album: Type.Optional(text(500, 'Overrides the album')),
  source: Type.Optional(text(500, 'The name kept as the track\'s source (default: the file name)')),
})
const checkMetadata = decoder(Metadata)

const trackIdParams = Type.Object({ id: positiveId('Track id') })
const jobIdParams = Type.Object({ id: uuid('Index job id') })
const JOB_NOT_FOUND = { 404: 'EAR_ERR_JOB_NOT_FOUND: unknown, forgotten (the last 100 finished jobs are kept) or from before a restart' }

function trackJson (t: Track): Static<typeof TrackSchema> {
  return { id: t.id, title: t.title, artist: t.artist, album: t.album, durationSeconds: round(t.durationSeconds, 2), source: t.source, indexedAt: t.indexedAt, hashCount: t.hashCount }
}

export const catalogRoutes = [
  route({
    method: 'POST',
    path: '/v1/identify',
    access: 'client',
    limited: 'identify',
    bodyLimit: 'maxIdentifyBytes',
    operationId: 'identify',
    tag: 'catalog',
    summary: 'Identify a clip: an audio file, raw PCM or a multipart upload',
    description: `At most the first ${defaults.http.maxIdentifySeconds} s of the clip are examined (setting http.maxIdentifySeconds). A few seconds are enough.`,
    upload: audioUpload(true, Type.Object({ audio: Type.String({ format: 'binary', description: 'The clip (the field `file`, or the first file of the form, also works)' }) })),
    responses: { 200: { description: 'The matches, best first (empty when nothing matches)', json: IdentifyResult } },
    errors: {
      400: 'EAR_ERR_BAD_REQUEST: bad PCM parameters, a partial sample frame, NaN samples, an unreadable form or a form without a file; EAR_ERR_FILE_EMPTY: an empty body or file',
      415: 'EAR_ERR_CONTENT_TYPE: a content type not listed here; EAR_ERR_NOT_AUDIO: bytes that do not decode',
      422: 'EAR_ERR_AUDIO_TOO_SHORT: a container with no audio in it',
    },
    async handle ({ services, req }) {
      const started = performance.now()
      const audio = await readAudio(req)
      // An encoded upload is decoded only up to maxIdentifySeconds; raw PCM is cut here.
      const pcm = audio.kind === 'pcm' ? audio : await services.uploads.decode(audio.bytes, audio.name)
      const max = Math.round(services.settings.http.maxIdentifySeconds * pcm.sampleRate)
      const samples = pcm.samples.length > max ? pcm.samples.subarray(0, max) : pcm.samples
      const result = await services.identify(samples, pcm.sampleRate)
      // Processing time covers decoding as well: it is what the caller waited for.
      return answer(200, { ...result, processingTimeMs: round(performance.now() - started, 1) })
    },
  }),
  route({
    method: 'GET',
    path: '/v1/tracks',
    access: 'client',
    operationId: 'listTracks',
    tag: 'catalog',
    summary: 'List tracks in id order, optionally searching title, artist and album',
    query: Type.Object({
      q: Type.String({ default: '', description: 'Only tracks whose title, artist or album contains this text (case-insensitive)' }),
      limit: Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 50, description: 'Tracks per page' }),
      cursor: Type.Integer({ minimum: 0, maximum: 2 ** 32, default: 0, description: 'The `nextCursor` of the previous page: tracks after this id' }),
    }),
    responses: {
      200: {
        description: 'A page of tracks',
        json: Type.Object({
          tracks: Type.Array(TrackSchema),
          nextCursor: nullable(str(), 'Pass as `cursor` for the next page; null on the last page'),
        }, { $id: 'TrackPage' }),
      },
    },
    handle ({ services, query: { limit, cursor, q } }) {
      const search = q.trim().toLowerCase()
      const tracks: Array<Static<typeof TrackSchema>> = []
      let last = 0
      let more = false
      // Search scans the track table from the cursor; it stops at a full page, so a page costs at most one scan.
      for (const t of services.index.listTracks(cursor)) {
        if (search && !`${t.title}\n${t.artist}\n${t.album}`.toLowerCase().includes(search)) continue
        if (tracks.length === limit) { more = true; break }
        tracks.push(trackJson(t))
        last = t.id
      }
      return answer(200, { tracks, nextCursor: more ? String(last) : null })
    },
  }),
  route({
    method: 'GET',
    path: '/v1/tracks/:id',
    access: 'client',
    operationId: 'getTrack',
    tag: 'catalog',
    summary: 'One track',
    params: trackIdParams,
    responses: { 200: { description: 'The track', json: TrackSchema } },
    errors: { 404: 'EAR_ERR_TRACK_NOT_FOUND' },
    handle ({ services, params: { id } }) {
      const t = services.index.getTrack(id)
      if (!t) throw earshotError('EAR_ERR_TRACK_NOT_FOUND', id)
      return answer(200, trackJson(t))
    },
  }),
  route({
    method: 'POST',
    path: '/v1/tracks',
    access: 'admin',
    bodyLimit: 'maxUploadBytes',
    operationId: 'addTrack',
    tag: 'catalog',
    summary: 'Upload audio with metadata; it is fingerprinted and indexed',
    description: 'Tags are read from the file; `title`, `artist`, `album` and `source` (form fields, or query parameters for a raw body) override them. ' +
      'The same audio uploaded again (in any container, with any tags) is not added twice: the answer is 200 with `added: false` and the existing track.',
    query: Metadata,
    upload: audioUpload(false, Type.Object({
      audio: Type.String({ format: 'binary', description: 'The audio file (the field `file`, or the first file of the form, also works)' }),
      ...Metadata.properties,
    })),
    responses: {
      201: { description: 'Indexed as a new track', json: TrackAdded },
      200: { description: 'The same audio is indexed already: that track', json: TrackAdded },
    },
    errors: {
      400: 'EAR_ERR_BAD_REQUEST: an unreadable form or a form without a file; EAR_ERR_FILE_EMPTY: an empty body or file',
      413: `EAR_ERR_AUDIO_TOO_LONG: more audio than catalog.maxTrackSeconds (${defaults.catalog.maxTrackSeconds / 3600} h); decoding stops there`,
      415: 'EAR_ERR_CONTENT_TYPE: raw PCM or another type not listed here; EAR_ERR_NOT_AUDIO: bytes that do not decode',
      422: 'EAR_ERR_AUDIO_TOO_SHORT: silence, or too short to fingerprint; EAR_ERR_AUDIO_TRUNCATED: less audio than the header declares, or damaged data',
      409: CLUSTER_NODE,
    },
    async handle ({ services, req, query }) {
      catalogWritable(services)
      const audio = await readAudio(req)
      if (audio.kind !== 'encoded') throw earshotError('EAR_ERR_CONTENT_TYPE', 'raw PCM', 'an audio file or a multipart form: a track needs its container to be kept as a source')
      const formFields = Object.fromEntries(Object.keys(Metadata.properties).flatMap((k) => audio.fields[k] === undefined ? [] : [[k, audio.fields[k]]]))
      const { source, ...meta } = checkMetadata({ ...query, ...formFields })
      const { track, added } = await services.uploads.add(audio.bytes, source ?? audio.name, meta)
      return added ? answer(201, { added, track: trackJson(track) }) : answer(200, { added, track: trackJson(track) })
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/tracks/:id',
    access: 'admin',
    operationId: 'removeTrack',
    tag: 'catalog',
    summary: 'Remove a track and its postings',
    description: 'Plays of the track stay in the play log.',
    params: trackIdParams,
    responses: { 204: { description: 'Done; no body' } },
    errors: { 404: 'EAR_ERR_TRACK_NOT_FOUND', 409: CLUSTER_NODE },
    handle ({ services, params: { id } }) {
      catalogWritable(services)
      if (!services.index.removeTrack(id)) throw earshotError('EAR_ERR_TRACK_NOT_FOUND', id)
      return { status: 204, type: 'text/plain', body: '' }
    },
  }),
  route({
    method: 'POST',
    path: '/v1/index-jobs',
    access: 'admin',
    operationId: 'startIndexJob',
    tag: 'catalog',
    summary: 'Index files or folders on the server\'s disk in the background',
    description: 'Paths are read by the server, recursively. Jobs run one at a time and live in memory: after a restart, submit again ' +
      '(files indexed already cost only their decoding). Poll the Location for progress. A path that does not exist is listed under `skipped`; it does not fail the request.',
    body: Type.Object({
      path: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'One file or folder' })),
      paths: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { minItems: 1, maxItems: 1000, description: 'Files or folders' })),
    }, { additionalProperties: false, description: 'At least one of path and paths' }),
    responses: { 202: { description: 'Queued', json: IndexJob, headers: { Location: 'The job\'s path' } } },
    errors: { 400: 'EAR_ERR_BAD_REQUEST: neither path nor paths', 409: CLUSTER_NODE, 503: `EAR_ERR_JOB_QUEUE_FULL: ${defaults.catalog.maxQueuedJobs} jobs wait already (catalog.maxQueuedJobs)` },
    handle ({ services, body }) {
      catalogWritable(services)
      const paths = [...(body.path ? [body.path] : []), ...(body.paths ?? [])]
      if (paths.length === 0) throw earshotError('EAR_ERR_BAD_REQUEST', 'path is required')
      const job = services.jobs.start(paths)
      return answer(202, job, { location: `/v1/index-jobs/${job.id}` })
    },
  }),
  route({
    method: 'GET',
    path: '/v1/index-jobs',
    access: 'client',
    operationId: 'listIndexJobs',
    tag: 'catalog',
    summary: 'Index jobs kept in memory: queued, running and the last finished',
    responses: {
      200: {
        description: 'Every job kept, oldest first',
        json: Type.Object({ jobs: Type.Array(IndexJob, { description: 'Oldest first: queued, running and the last 100 finished' }) }, { $id: 'IndexJobList' }),
      },
    },
    handle: ({ services }) => answer(200, { jobs: services.jobs.list() }),
  }),
  route({
    method: 'GET',
    path: '/v1/index-jobs/:id',
    access: 'client',
    operationId: 'getIndexJob',
    tag: 'catalog',
    summary: 'Progress of an index job',
    params: jobIdParams,
    responses: { 200: { description: 'The job', json: IndexJob } },
    errors: JOB_NOT_FOUND,
    handle ({ services, params: { id } }) {
      const job = services.jobs.get(id)
      if (!job) throw earshotError('EAR_ERR_JOB_NOT_FOUND', id)
      return answer(200, job)
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/index-jobs/:id',
    access: 'admin',
    operationId: 'cancelIndexJob',
    tag: 'catalog',
    summary: 'Cancel a queued or running index job',
    description: 'A queued job leaves the queue; a running one stops (its workers are terminated) before the answer. Tracks it wrote stay in the index. ' +
      'A finished job is left as it is: the answer shows its state.',
    params: jobIdParams,
    responses: { 200: { description: 'The job, cancelled or as it finished', json: IndexJob } },
    errors: JOB_NOT_FOUND,
    async handle ({ services, params: { id } }) {
      const job = await services.jobs.cancel(id)
      if (!job) throw earshotError('EAR_ERR_JOB_NOT_FOUND', id)
      return answer(200, job)
    },
  }),
]
