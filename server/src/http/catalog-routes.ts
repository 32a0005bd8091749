/**
 * The catalog and identify routes: one-shot identify, tracks (list, search, show, upload, edit, remove) and index jobs.
 */
import { Type, type Static } from '@sinclair/typebox'
import { defaults } from '../config/defaults.js'
import { earshotError } from '../errors.js'
import type { Track } from '../index/types.js'
import { applyEdit, catalogFields, checkEdit, EDITABLE_FIELDS, LIMITS_TEXT, MAX_TAG_TEXT, type MetadataEdit } from '../index/track-metadata.js'
import { findTracks, trackFilter } from '../index/track-filter.js'
import { readSidecar } from '../catalog/sidecar.js'
import { round } from '../round.js'
import { audioUpload, readAudio } from './body.js'
import { answer, route } from './router.js'
import type { Services } from './services.js'
import { catalogProperties, dateTime, decoder, int, nullable, num, oneOf, positiveId, speed, str, text, uuid } from './schemas.js'

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
  ...catalogProperties,
  editedFields: Type.Optional(Type.Array(oneOf([...EDITABLE_FIELDS]), { description: 'Fields set by hand (PATCH /v1/tracks/:id, earshot tracks edit): indexing the file again keeps them. Absent when none is' })),
}, { $id: 'Track' })

const IdentifyResult = Type.Object({
  matches: Type.Array(Type.Object({
    id: int('Track id'),
    title: str(), artist: str(), album: str(), source: str(),
    ...catalogProperties,
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
  warnings: Type.Optional(Type.Array(str(), { description: 'Tag values skipped, with why (an ISRC tag that is not one); absent when none was' })),
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
  metadata: Type.Optional(str('The metadata file the job applies (its `metadata`), as given')),
}, { $id: 'IndexJob' })

/** Tags of an upload: form fields, or query parameters for a raw body (a form field wins). An empty one is not given. */
const Metadata = Type.Object({
  title: Type.Optional(text(MAX_TAG_TEXT, 'Overrides the title read from the file')),
  artist: Type.Optional(text(MAX_TAG_TEXT, 'Overrides the artist')),
  album: Type.Optional(text(MAX_TAG_TEXT, 'Overrides the album')),
  source: Type.Optional(text(MAX_TAG_TEXT, 'The name kept as the track\'s source (default: the file name)')),
  isrc: Type.Optional(text(MAX_TAG_TEXT, `Overrides the ISRC tag. ${LIMITS_TEXT.isrc}`)),
  externalId: Type.Optional(text(MAX_TAG_TEXT, LIMITS_TEXT.externalId)),
  labels: Type.Optional(text(64 * 1024, `Labels as a JSON object, e.g. {"genre":"jazz"}. ${LIMITS_TEXT.labels}`)),
})
const checkMetadata = decoder(Metadata)

const BAD_METADATA = 'EAR_ERR_BAD_METADATA: an ISRC that is not one, an external id or label out of bounds (docs/API.md, "Catalog metadata")'

/** An upload's metadata fields as an edit: empty ones left out, labels read from their JSON text. */
function uploadEdit (given: Omit<Static<typeof Metadata>, 'source'>): MetadataEdit {
  const { labels, ...fields } = given
  const edit: MetadataEdit = Object.fromEntries(Object.entries(fields).filter(([, v]) => v.trim() !== ''))
  if (labels !== undefined && labels.trim() !== '') {
    let parsed: unknown
    try { parsed = JSON.parse(labels) } catch {}
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
      throw earshotError('EAR_ERR_BAD_METADATA', 'labels: not a JSON object of strings ({"genre":"jazz"})')
    }
    edit.labels = parsed as Record<string, string>
  }
  return checkEdit(edit)
}

const trackIdParams = Type.Object({ id: positiveId('Track id') })
const jobIdParams = Type.Object({ id: uuid('Index job id') })
const JOB_NOT_FOUND = { 404: 'EAR_ERR_JOB_NOT_FOUND: unknown, forgotten (the last 100 finished jobs are kept) or from before a restart' }

function trackJson (t: Track): Static<typeof TrackSchema> {
  return {
    id: t.id, title: t.title, artist: t.artist, album: t.album, durationSeconds: round(t.durationSeconds, 2), source: t.source, indexedAt: t.indexedAt, hashCount: t.hashCount,
    ...catalogFields(t),
    ...(t.editedFields?.length ? { editedFields: t.editedFields as Array<typeof EDITABLE_FIELDS[number]> } : {}),
  }
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
    summary: 'List tracks in id order, optionally searching their text, or by ISRC, external id or label',
    description: 'The filters combine: a track must pass each one given. An ISRC or external id is one lookup; the others scan the track table from the cursor.',
    query: Type.Object({
      q: Type.String({ default: '', description: 'Only tracks whose title, artist, album, ISRC, external id or a label (as `key:value`) contains this text (case-insensitive)' }),
      isrc: Type.Optional(str('Only tracks with this ISRC (dashes and case do not matter)', { example: 'US-RC1-76-07839' })),
      externalId: Type.Optional(str('Only tracks with this external id, exactly')),
      label: Type.Optional(str('Only tracks with this label: `key`, or `key:value` (the value in any case)', { example: 'genre:jazz' })),
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
    errors: { 400: 'EAR_ERR_BAD_METADATA: an isrc that cannot be an ISRC, a label key of other characters' },
    handle ({ services, query: { limit, cursor, q, isrc, externalId, label } }) {
      const filter = trackFilter({ q, isrc, externalId, label })
      const tracks: Array<Static<typeof TrackSchema>> = []
      let last = 0
      let more = false
      for (const t of findTracks(services.index, filter, cursor)) {
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
    description: 'Tags are read from the file (the ISRC too); `title`, `artist`, `album`, `isrc`, `externalId`, `labels` and `source` (form fields, or query parameters for a raw body) override them. ' +
      'The same audio uploaded again (in any container, with any tags) is not added twice: the answer is 200 with `added: false` and the existing track, unchanged (PATCH changes it).',
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
      const { source, ...given } = checkMetadata({ ...query, ...formFields })
      // Checked before the upload is decoded: a bad ISRC costs no analysis.
      const edit = uploadEdit(given)
      const { track, added, warnings } = await services.uploads.add(audio.bytes, source || audio.name, edit)
      const body = { added, track: trackJson(track), ...(warnings.length > 0 ? { warnings } : {}) }
      return added ? answer(201, body) : answer(200, body)
    },
  }),
  route({
    method: 'PATCH',
    path: '/v1/tracks/:id',
    access: 'admin',
    operationId: 'editTrack',
    tag: 'catalog',
    summary: 'Change a track\'s title, artist, album, ISRC, external id or labels',
    description: 'A JSON merge patch (RFC 7396): a field left out stays as it is, `null` removes an ISRC, an external id or a label; labels merge key by key ' +
      '(`{"labels": {"mood": null}}` removes one, `{"labels": null}` all). Every field the patch names is set by hand: indexing the file again, ' +
      'a metadata file or a changed file replacing the track keep it (listed in `editedFields`). Matches, plays and webhooks carry the new values from then on; ' +
      'plays filed before keep what they were filed with.',
    params: trackIdParams,
    mergePatch: true,
    body: Type.Object({
      title: Type.Optional(text(MAX_TAG_TEXT, 'The title')),
      artist: Type.Optional(text(MAX_TAG_TEXT, 'The artist')),
      album: Type.Optional(text(MAX_TAG_TEXT, 'The album')),
      isrc: Type.Optional(nullable(str(), `${LIMITS_TEXT.isrc}; null removes it`)),
      externalId: Type.Optional(nullable(str(), `${LIMITS_TEXT.externalId}; null removes it`)),
      labels: Type.Optional(nullable(Type.Record(Type.String(), nullable(str())), `${LIMITS_TEXT.labels}. Merged into the track's labels; a key set to null is removed, and null removes them all`)),
    }, { additionalProperties: false, example: { isrc: 'US-RC1-76-07839', labels: { genre: 'jazz', mood: null } } }),
    responses: { 200: { description: 'The track as it is now', json: TrackSchema } },
    errors: { 400: BAD_METADATA, 404: 'EAR_ERR_TRACK_NOT_FOUND', 409: CLUSTER_NODE },
    handle ({ services, params: { id }, body }) {
      catalogWritable(services)
      const edit = checkEdit(body)
      const t = services.index.updateTrack(id, (track) => applyEdit(track, edit, true))
      if (!t) throw earshotError('EAR_ERR_TRACK_NOT_FOUND', id)
      return answer(200, trackJson(t))
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
      metadata: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'A metadata file on the server\'s disk (.csv or .json: docs/API.md, "Metadata files") giving files their ISRC, external id and labels; read and checked before the job is queued' })),
    }, { additionalProperties: false, description: 'At least one of path and paths' }),
    responses: { 202: { description: 'Queued', json: IndexJob, headers: { Location: 'The job\'s path' } } },
    errors: {
      400: `EAR_ERR_BAD_REQUEST: neither path nor paths; ${BAD_METADATA}, or a bad row of the metadata file (its line or entry named); EAR_ERR_FILE_NOT_FOUND and the other file errors: a metadata file that cannot be read`,
      409: CLUSTER_NODE,
      413: 'EAR_ERR_FILE_TOO_LARGE: a metadata file over 256 MiB',
      503: `EAR_ERR_JOB_QUEUE_FULL: ${defaults.catalog.maxQueuedJobs} jobs wait already (catalog.maxQueuedJobs)`,
    },
    async handle ({ services, body }) {
      catalogWritable(services)
      const paths = [...(body.path ? [body.path] : []), ...(body.paths ?? [])]
      if (paths.length === 0) throw earshotError('EAR_ERR_BAD_REQUEST', 'path is required')
      const metadata = body.metadata === undefined ? undefined : { file: body.metadata, entries: await readSidecar(body.metadata) }
      const job = services.jobs.start(paths, metadata)
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
