/**
 * The OpenAPI 3 description of the HTTP API, served at /openapi.json.
 *
 * Consumes nothing at run time but the default limits (for the numbers in descriptions); produces one plain JSON
 * object. It is written by hand, apart from the route table, on purpose: test/http/openapi.test.ts compares the two
 * (paths, methods, access levels, bodies), so a route added without its description, or the reverse, fails a test.
 *
 * Access levels travel as `security` (public: `[]`; client and admin: a bearer token or `?token=`) and, since
 * OpenAPI has no scopes for bearer tokens, as the extension `x-earshot-access` ('public' | 'client' | 'admin').
 * Every error answer has the body `{"error": {"code", "message"}}` (schema Error); each status lists the codes
 * behind it. Any route may also answer 500 EAR_ERR_INTERNAL (a bug); the router answers 404 EAR_ERR_NOT_FOUND for
 * an unknown path and 405 EAR_ERR_METHOD (with Allow) for a known path with another method: those are not repeated
 * per operation.
 */
import { defaults } from '../config/defaults.js'

type Json = Record<string, unknown>
type Access = 'public' | 'client' | 'admin'

/** Rows of a page at most: GET /v1/tracks and GET /v1/plays (the routes' MAX_PAGE and MAX_PLAYS_PAGE). */
const MAX_PAGE_ROWS = 1000
/** Longest range of GET /v1/plays/daily, in days. */
const MAX_DAILY_RANGE_DAYS = 400
/** Largest track id a query parameter takes. */
const MAX_TRACK_ID = 2 ** 32

// ---- small builders -------------------------------------------------------------------------------------------

function ref (name: string): Json {
  return { $ref: `#/components/schemas/${name}` }
}

/** A nullable reference: OpenAPI 3.0 ignores siblings of $ref, so it goes through allOf. */
function nullableRef (name: string, description?: string): Json {
  return { allOf: [ref(name)], nullable: true, ...(description ? { description } : {}) }
}

function str (description?: string, extra: Json = {}): Json {
  return { type: 'string', ...(description ? { description } : {}), ...extra }
}

function int (description?: string, extra: Json = {}): Json {
  return { type: 'integer', ...(description ? { description } : {}), ...extra }
}

function num (description?: string, extra: Json = {}): Json {
  return { type: 'number', ...(description ? { description } : {}), ...extra }
}

function time (description: string, nullable = false): Json {
  return { type: 'string', format: 'date-time', description, ...(nullable ? { nullable: true } : {}) }
}

/** An object schema whose listed properties are all required unless named in `optional`. */
function object (properties: Record<string, Json>, optional: readonly string[] = [], description?: string): Json {
  const required = Object.keys(properties).filter((k) => !optional.includes(k))
  // OpenAPI 3.0 takes `required` only with at least one name.
  return { type: 'object', ...(description ? { description } : {}), ...(required.length > 0 ? { required } : {}), properties }
}

function mib (bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${Math.round(bytes / 1024)} KiB`
}

function pathParam (name: string, schema: Json, description: string): Json {
  return { name, in: 'path', required: true, description, schema }
}

function queryParam (name: string, schema: Json, description: string): Json {
  return { name, in: 'query', required: false, description, schema }
}

function jsonContent (schema: Json): Json {
  return { 'application/json': { schema } }
}

function jsonResponse (description: string, schemaName: string, headers?: Json): Json {
  return { description, ...(headers ? { headers } : {}), content: jsonContent(ref(schemaName)) }
}

const NO_CONTENT: Json = { description: 'Done; no body' }

const LOCATION_HEADER: Json = { Location: { description: 'The new resource\'s path', schema: { type: 'string' } } }

const RETRY_AFTER_HEADER: Json = {
  'Retry-After': { description: 'Seconds to wait before the next request counts', schema: { type: 'integer', minimum: 1 } },
}

function errorResponse (status: number, description: string): Json {
  return {
    description,
    ...(status === 429 ? { headers: RETRY_AFTER_HEADER } : {}),
    content: jsonContent(ref('Error')),
  }
}

/** The error statuses an access level brings, with the codes behind them. */
const ACCESS_ERRORS: Readonly<Record<Access, Readonly<Record<number, string>>>> = {
  public: {},
  client: {
    401: 'EAR_ERR_UNAUTHORIZED: tokens are configured and the request carries none, or the token is unknown',
  },
  admin: {
    401: 'EAR_ERR_UNAUTHORIZED: the token is unknown, or admin tokens are configured and the request carries none',
    403: 'EAR_ERR_FORBIDDEN: a client token; or no admin token is configured and the request is not from the server\'s own machine (loopback, not through a proxy, not from another site\'s page; setting access.loopbackIsAdmin)',
  },
}

const TOKEN_SECURITY: Json[] = [{ bearer: [] }, { tokenQuery: [] }]

interface BodySpec {
  /** The request body object (content by media type). */
  body: Json
  /** The route's body limit in bytes (default settings), and the setting that changes it. */
  limitBytes: number
  setting: string
}

interface OperationSpec {
  operationId: string
  summary: string
  description?: string
  tag: string
  access: Access
  parameters?: Json[]
  request?: BodySpec
  /** Counted against a per-minute rate limit (adds 429 with Retry-After). */
  limited?: string
  /** Success answers by status. */
  ok: Record<number, Json>
  /** Error statuses the handler itself gives, with the codes behind each. */
  errors?: Record<number, string>
}

/**
 * An operation: the spec's answers plus the errors its access level, body and rate limit bring. Two reasons for
 * one status are joined into one description.
 */
function operation (spec: OperationSpec): Json {
  const errors = new Map<number, string[]>()
  const add = (status: number, why: string): void => { errors.set(status, [...(errors.get(status) ?? []), why]) }
  for (const [status, why] of Object.entries(ACCESS_ERRORS[spec.access])) add(Number(status), why)
  if (spec.request) {
    add(408, `EAR_ERR_BODY_TIMEOUT: the body did not arrive within ${defaults.http.bodyTimeoutMs} ms (setting http.bodyTimeoutMs)`)
    add(413, `EAR_ERR_BODY_TOO_LARGE: the body is over ${mib(spec.request.limitBytes)} (setting ${spec.request.setting})`)
  }
  if (spec.limited) add(429, `EAR_ERR_RATE_LIMITED: ${spec.limited}; wait Retry-After seconds`)
  for (const [status, why] of Object.entries(spec.errors ?? {})) add(Number(status), why)

  const responses: Json = {}
  for (const [status, response] of Object.entries(spec.ok)) responses[status] = response
  for (const status of [...errors.keys()].sort((a, b) => a - b)) responses[String(status)] = errorResponse(status, (errors.get(status) ?? []).join('; '))

  return {
    operationId: spec.operationId,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: [spec.tag],
    'x-earshot-access': spec.access,
    security: spec.access === 'public' ? [] : TOKEN_SECURITY,
    ...(spec.parameters ? { parameters: spec.parameters } : {}),
    ...(spec.request ? { requestBody: spec.request.body } : {}),
    responses,
  }
}

// ---- request bodies -------------------------------------------------------------------------------------------

const BINARY: Json = { type: 'string', format: 'binary' }

function binary (description: string): Json {
  return { schema: { ...BINARY, description } }
}

const ENCODED_AUDIO = 'Audio in any container earshot decodes: WAV, MP3, FLAC, Ogg Vorbis, Opus; with ffmpeg on the server, every other format ffmpeg knows'

/** Audio bodies: files always; raw PCM for identify only (a track keeps its container as its source). */
function audioBody (withPcm: boolean, form: Json): Json {
  const content: Json = {
    'audio/*': binary(ENCODED_AUDIO),
    'video/*': binary('A video container; its audio is used (needs ffmpeg for most containers)'),
    'application/ogg': binary('Ogg Vorbis or Opus'),
    'application/octet-stream': binary(`${ENCODED_AUDIO}; the format is read from the bytes`),
  }
  if (withPcm) {
    content['audio/pcm'] = binary('Raw interleaved PCM. Media type parameters: rate=8000..96000 (Hz, required), ' +
      'encoding=s16le (default) or f32le, channels=1 (default) or 2. Example: `audio/pcm; rate=44100; encoding=s16le; channels=2`. ' +
      'The body must hold whole sample frames; f32le samples must be finite. Stereo is mixed to mono.')
    content['audio/L16'] = binary('RFC 2586 linear 16-bit PCM, big-endian (network byte order). Media type parameters: ' +
      'rate=8000..96000 (Hz, required), channels=1 (default) or 2. Example: `audio/L16; rate=16000`.')
  }
  content['multipart/form-data'] = {
    schema: form,
    encoding: { audio: { contentType: 'audio/*, video/*, application/ogg, application/octet-stream' } },
  }
  return { required: true, content }
}

function jsonBody (schema: Json): Json {
  return { required: true, content: jsonContent(schema) }
}

// ---- schemas --------------------------------------------------------------------------------------------------

const monitorCounts = object({
  total: int(), connecting: int(), listening: int(), down: int(), finished: int('Monitors of a finite source (a file) read to its end'),
}, [], 'Monitors by state')

const webhookStats = object({
  delivered: int('Deliveries that got a 2xx answer (since the server started)'),
  retried: int('Attempts that will be retried'),
  failed: int('Deliveries given up on'),
  dropped: int('Deliveries dropped because the queue was full'),
  queueDepth: int('Deliveries waiting, on disk (including those left by an earlier run)'),
  droppingSince: time('When the full queue began to drop events; null while it accepts them. Replay the dropped events with POST /v1/webhooks/replay', true),
}, [], 'Webhook delivery counters')

const indexStats = object({
  tracks: int(), postings: int(),
  distinctHashes: int('Buckets stored: distinct hashes, counted once per segment that holds them'),
  audioSeconds: num('Seconds of audio indexed'),
  bytesOnDisk: int(),
  bytesPerAudioSecond: num(),
  segments: int('Immutable sorted segments holding the postings'),
  livePostings: int('Postings of tracks added one at a time since the last flush into a segment'),
  tombstones: int('Removed tracks whose postings a merge has not dropped yet'),
  bytesInUse: int('Bytes of the file in use; LMDB reuses the rest, and the file never shrinks by itself'),
}, [], 'The index\'s figures')

/** A match's playback speed: `per` is what the track's seconds are counted against (clip or stream seconds). */
function speed (per: string, extra = ''): Json {
  return num(`Playback speed against the track, rounded to 0.001: track seconds per ${per} second (1.021: played 2.1 % fast; 0.982: 1.8 % slow)${extra}`, { minimum: 0, example: 1.021 })
}

const schemas: Record<string, Json> = {
  Error: object({
    error: object({
      code: str('A stable code, listed in docs/ERRORS.md', { pattern: '^EAR_ERR_[A-Z_]+$', example: 'EAR_ERR_TRACK_NOT_FOUND' }),
      message: str('One line for people', { example: 'No track with id 99' }),
    }),
  }, [], 'Every error answer'),

  Track: object({
    id: int('Track id', { minimum: 1 }),
    title: str(),
    artist: str(),
    album: str(),
    durationSeconds: num('Length, rounded to 0.01 s'),
    source: str('The indexed file\'s path, or the upload\'s name'),
    indexedAt: time('When it was indexed'),
    hashCount: int('Fingerprint hashes stored for it'),
  }),
  TrackPage: object({
    tracks: { type: 'array', items: ref('Track') },
    nextCursor: str('Pass as `cursor` for the next page; null on the last page', { nullable: true }),
  }),
  TrackAdded: object({
    added: { type: 'boolean', description: 'False when the same audio was indexed already (the existing track is returned)' },
    track: ref('Track'),
  }),

  Match: object({
    id: int('Track id'),
    title: str(), artist: str(), album: str(), source: str(),
    confidence: num('0..1, rounded to 0.001', { minimum: 0, maximum: 1 }),
    offsetSeconds: num('Where in the track the clip starts, in seconds'),
    speed: speed('clip'),
  }),
  IdentifyResult: object({
    matches: { type: 'array', items: ref('Match'), description: `Best first; at most ${defaults.maxMatches}, at or above confidence ${defaults.minConfidence}; empty when nothing matches` },
    queryDurationMs: int('Audio examined, in ms (at most the first 60 s of the clip)'),
    processingTimeMs: num('Time taken, decoding included, in ms'),
  }),

  CurrentMatch: object({
    state: str(undefined, { enum: ['tentative', 'confirmed'] }),
    trackId: int(), title: str(), artist: str(),
    confidence: num(undefined, { minimum: 0, maximum: 1 }),
    offsetSeconds: num('Position in the track when the latest match message came'),
    speed: speed('stream', '; the track moves on this many seconds per second of stream'),
  }, [], 'What a monitor hears now'),
  Monitor: object({
    id: str('Monitor id', { format: 'uuid' }),
    url: str('The stream pulled (http or https)'),
    label: str(),
    createdAt: time('When it was registered'),
    state: str('connecting → listening (audio arrives) → down (failed; reconnects with backoff); finished: a file (a response with a Content-Length, not a radio stream or HLS) was heard to its end at real-time pace, and is not pulled again', { enum: ['connecting', 'listening', 'down', 'finished'] }),
    since: time('When it entered its state ("down since" when down)'),
    reconnects: int('Attempts after the first since the server started'),
    lastError: str('The latest failure, kept after recovery', { nullable: true }),
    streamSeconds: num('Seconds of audio heard since the server started'),
    unmatchedSeconds: num('Seconds of that audio in which no track was confirmed'),
    current: nullableRef('CurrentMatch', 'The track playing now; null when none'),
    finishedAt: time('Only once finished: when its file was heard to the end'),
  }, ['finishedAt']),
  MonitorList: object({ monitors: { type: 'array', items: ref('Monitor'), description: 'Oldest first' } }),

  Play: object({
    id: str('Sorts by start time: 13 digits of ms since 1970, a dash, 10 digits of sequence', { pattern: '^\\d{13}-\\d{10}$', example: '1709337000000-0000000042' }),
    stream: str('The monitor id, or a client stream\'s streamId'),
    kind: str(undefined, { enum: ['monitor', 'client'] }),
    trackId: int(),
    title: str('Copied when the play opened: readable after the track is removed'),
    artist: str(),
    album: str(),
    startedAt: time('Wall clock of the start'),
    endedAt: time('Null while the play is open', true),
    startStreamSeconds: num('Position in the stream at the start'),
    endStreamSeconds: num('Null while open', { nullable: true }),
    startOffsetSeconds: num('Position in the track at the start'),
    endOffsetSeconds: num('Position in the track at the end: startOffsetSeconds + speed × (endStreamSeconds − startStreamSeconds); null while open', { nullable: true }),
    peakConfidence: num(undefined, { minimum: 0, maximum: 1 }),
    lastSeenAt: time('Wall clock of the last audio heard while open'),
    lastStreamSeconds: num(),
    open: { type: 'boolean', description: 'True while the track is still playing' },
    speed: speed('stream', ', the latest confirmed estimate. Stream seconds (and so the play\'s length) are stream time, offsets track time. Plays filed by an earshot without speeds (play log format 2 and older) read 1'),
  }, [], 'One song heard on one stream (also the `data` of the match.confirmed and match.ended webhook events)'),
  PlayPage: object({
    plays: { type: 'array', items: ref('Play'), description: 'Newest first' },
    nextCursor: str('Pass as `cursor` for the next page; null on the last page', { nullable: true }),
  }),
  TrackDay: object({
    day: str('UTC day the plays started', { format: 'date', example: '2026-11-21' }),
    trackId: int(), title: str(), artist: str(),
    plays: int(),
    seconds: num('Seconds heard, summed over the plays'),
  }),
  DailyPlays: object({
    from: time('Start of the range (inclusive)'),
    to: time('End of the range (exclusive)'),
    days: { type: 'array', items: ref('TrackDay'), description: 'By day, then most played first' },
  }),

  IndexJob: object({
    id: str(undefined, { format: 'uuid' }),
    paths: { type: 'array', items: str() },
    state: str('Jobs run one at a time, in order', { enum: ['queued', 'running', 'done', 'failed', 'cancelled'] }),
    createdAt: time('When it was submitted'),
    startedAt: time('Null while queued', true),
    finishedAt: time('Null until done, failed or cancelled', true),
    total: int('Files found; null until the walk is done', { nullable: true }),
    indexed: int('Files added'),
    present: int('Files whose audio was indexed already'),
    skipped: { type: 'array', items: object({ file: str(), reason: str() }), description: 'Files that could not be indexed (the first 1000)' },
    audioSeconds: num('Seconds of audio added'),
    error: str('Why the job failed', { nullable: true }),
    skippedCount: int('All skipped files, also beyond the listed ones (GET only)'),
    truncated: int('Of the skipped, files refused as truncated or damaged (EAR_ERR_AUDIO_TRUNCATED): perhaps still being copied'),
    symlinks: int('Symbolic links met in folders and not followed'),
  }, ['skippedCount']),
  IndexJobList: object({ jobs: { type: 'array', items: ref('IndexJob'), description: 'Oldest first: queued, running and the last 100 finished' } }),

  MonitorCounts: monitorCounts,
  WebhookStats: webhookStats,
  IndexStats: indexStats,
  Stats: object({
    tracks: int(), postings: int(), distinctHashes: int(),
    audioSeconds: int('Seconds of audio indexed'),
    indexBytes: int('Bytes the index occupies on disk'),
    uptimeSeconds: int(),
    sessions: int('Stream sessions open now'),
    monitors: ref('MonitorCounts'),
    webhooks: nullableRef('WebhookStats', 'Null when no webhook URL is configured'),
  }),
  WebhookReplay: object({
    events: int('Events queued (each is one delivery per URL)'),
    complete: { type: 'boolean', description: 'False when the queue filled before the end of the range' },
    next: {
      ...object({ from: time('Where the rest of the range starts'), to: time('The end of the range') }),
      nullable: true,
      description: 'The rest of the range to replay once the queue drains; null when complete',
    },
  }),
  Health: object({
    status: str('ok; degraded (still serving: monitors down, webhooks dropping, disk nearly full, damaged index pages); unhealthy (503: the index cannot be read)', { enum: ['ok', 'degraded', 'unhealthy'] }),
    problems: { type: 'array', items: str(), description: 'Why the status is not ok; empty when ok' },
    transport: str(undefined, { enum: ['uws', 'ws'] }),
    sessions: int(),
    uptimeSeconds: int(),
    index: ref('IndexStats'),
    disk: object({ freeBytes: int(), totalBytes: int() }, [], 'Space on the index\'s disk'),
    monitors: ref('MonitorCounts'),
    webhooks: nullableRef('WebhookStats', 'Null when no webhook URL is configured'),
    indexJobs: object({ queued: int('Jobs waiting'), running: str('The running job\'s id; null when idle', { nullable: true }), runningSince: time('When the running job started; null when idle', true) }, undefined, 'Index jobs waiting and running'),
    connectionFaults: int('Connections failed by a fault of the server since it started (each is logged with its stack)'),
    maintenance: {
      ...object({
        running: { type: 'boolean', description: 'A round of flushes and merges runs now' },
        rounds: int('Rounds since the server started'),
        merges: int('Segment merges since the server started'),
        lastAt: time('When the last round ended; null before the first', true),
        lastError: str('Why the last round failed; null when it did not', { nullable: true }),
      }),
      nullable: true,
      description: 'Background flushes and merges of the index; null for a read-only index',
    },
  }, ['index', 'disk']),
}

// ---- parameters -----------------------------------------------------------------------------------------------

const TIME_FORMAT = 'An ISO 8601 time (`2026-11-21T08:00:00Z`) or milliseconds since 1970'
/** Why a UUID path id is refused. */
const NOT_A_UUID = 'the id is not a UUID, or not valid percent-encoding'
const trackId = pathParam('id', int(undefined, { minimum: 1 }), 'Track id')
const monitorId = pathParam('id', str(undefined, { format: 'uuid' }), 'Monitor id')
const jobId = pathParam('id', str(undefined, { format: 'uuid' }), 'Index job id')
const monitorFilter = [
  queryParam('monitor', str(), 'Only plays of this monitor id'),
  queryParam('stream', str(), 'Only plays of this client stream (its streamId; client streams and monitors are separate namespaces); not with `monitor`'),
]

const metadataFields = {
  title: str('Overrides the title read from the file', { maxLength: 500 }),
  artist: str('Overrides the artist', { maxLength: 500 }),
  album: str('Overrides the album', { maxLength: 500 }),
  source: str('The name kept as the track\'s source (default: the file name)', { maxLength: 500 }),
}

/** A file of the web page or the browser SDK, built into dist/web by `npm run build`. */
function webFile (operationId: string, summary: string, mediaType: string, description?: string): Json {
  return operation({
    operationId,
    tag: 'web',
    access: 'public',
    summary,
    description: `${description ? `${description} ` : ''}Sent with \`Cache-Control: no-cache\`.`,
    ok: { 200: { description: 'The file', content: { [mediaType]: { schema: { type: 'string' } } } } },
    errors: { 404: 'EAR_ERR_NOT_FOUND: the page is not built (run `npm run build`)' },
  })
}

// ---- the paths ------------------------------------------------------------------------------------------------

const paths: Record<string, Json> = {
  '/health': {
    get: operation({
      operationId: 'getHealth',
      tag: 'system',
      access: 'public',
      summary: 'Health: ok, degraded (with reasons) or unhealthy (503, the index cannot be read)',
      description: `For load balancers and probes. Unhealthy (503) when the index cannot be read. Degraded (200: it still identifies and streams) when a monitor is down, the webhook queue drops events, the index's disk has less than ${mib(defaults.minFreeDiskBytes)} free (setting minFreeDiskBytes), or a read met a damaged index page; \`problems\` says why.`,
      ok: {
        200: jsonResponse('Healthy', 'Health'),
        503: jsonResponse('Unhealthy: `problems` says why (the body is a Health, not an Error)', 'Health'),
      },
    }),
  },
  '/ping': {
    get: operation({
      operationId: 'ping',
      tag: 'system',
      access: 'public',
      summary: 'Liveness: answers pong',
      ok: { 200: { description: 'The process answers', content: { 'text/plain': { schema: { type: 'string', enum: ['pong'] } } } } },
    }),
  },
  '/metrics': {
    get: operation({
      operationId: 'getMetrics',
      tag: 'system',
      access: 'public',
      summary: 'Prometheus metrics in the text exposition format',
      ok: { 200: { description: 'Every earshot metric with HELP and TYPE; see grafana/README.md', content: { 'text/plain': { schema: { type: 'string' } } } } },
    }),
  },
  '/openapi.json': {
    get: operation({
      operationId: 'getOpenApi',
      tag: 'system',
      access: 'public',
      summary: 'This API as an OpenAPI 3 document',
      ok: { 200: { description: 'This document', content: jsonContent({ type: 'object' }) } },
    }),
  },
  '/v1/stats': {
    get: operation({
      operationId: 'getStats',
      tag: 'system',
      access: 'client',
      summary: 'Index size, uptime, sessions, monitors',
      ok: { 200: jsonResponse('Figures of the index and the server', 'Stats') },
    }),
  },
  '/v1/stream': {
    get: operation({
      operationId: 'openStream',
      tag: 'system',
      access: 'public',
      summary: 'The streaming endpoint: a WebSocket (see protocol/README.md); plain GET answers 426',
      description: 'Upgrade to a WebSocket and follow protocol/README.md: a msgpack hello, PCM audio frames, match messages back. ' +
        'The upgrade itself is open to all; where tokens are configured the session needs a client or admin token, given as ' +
        '`?token=` on the URL or `token` in the hello (a refused session is closed with 1008 EAR_ERR_UNAUTHORIZED). ' +
        `Stream opens are rate limited to ${defaults.access.streamOpensPerMinute} a minute per token and per address (close 1013 EAR_ERR_RATE_LIMITED).`,
      ok: { 101: { description: 'Switching to the WebSocket protocol of protocol/README.md' } },
      errors: { 426: 'EAR_ERR_UPGRADE_REQUIRED: a plain GET without a WebSocket upgrade' },
    }),
  },

  '/v1/identify': {
    post: operation({
      operationId: 'identify',
      tag: 'catalog',
      access: 'client',
      limited: `more than ${defaults.access.identifyPerMinute} identifies a minute from this token or this address (setting access.identifyPerMinute)`,
      summary: 'Identify a clip: an audio file, raw PCM or a multipart upload',
      description: `At most the first ${defaults.http.maxIdentifySeconds} s of the clip are examined (setting http.maxIdentifySeconds). A few seconds are enough.`,
      request: {
        body: audioBody(true, {
          type: 'object',
          required: ['audio'],
          properties: { audio: { ...BINARY, description: 'The clip (the field `file`, or the first file of the form, also works)' } },
        }),
        limitBytes: defaults.http.maxIdentifyBytes,
        setting: 'http.maxIdentifyBytes',
      },
      ok: { 200: jsonResponse('The matches, best first (empty when nothing matches)', 'IdentifyResult') },
      errors: {
        400: 'EAR_ERR_BAD_REQUEST: bad PCM parameters, a partial sample frame, NaN samples, an unreadable form or a form without a file; EAR_ERR_FILE_EMPTY: an empty body or file',
        415: 'EAR_ERR_CONTENT_TYPE: a content type not listed here; EAR_ERR_NOT_AUDIO: bytes that do not decode',
        422: 'EAR_ERR_AUDIO_TOO_SHORT: a container with no audio in it',
      },
    }),
  },
  '/v1/tracks': {
    get: operation({
      operationId: 'listTracks',
      tag: 'catalog',
      access: 'client',
      summary: 'List tracks in id order, optionally searching title, artist and album',
      parameters: [
        queryParam('q', str(), 'Only tracks whose title, artist or album contains this text (case-insensitive)'),
        queryParam('limit', int(undefined, { minimum: 1, maximum: MAX_PAGE_ROWS, default: 50 }), 'Tracks per page'),
        queryParam('cursor', int(undefined, { minimum: 0, maximum: MAX_TRACK_ID, default: 0 }), 'The `nextCursor` of the previous page: tracks after this id'),
      ],
      ok: { 200: jsonResponse('A page of tracks', 'TrackPage') },
      errors: { 400: 'EAR_ERR_BAD_REQUEST: limit or cursor is not an integer in range' },
    }),
    post: operation({
      operationId: 'addTrack',
      tag: 'catalog',
      access: 'admin',
      summary: 'Upload audio with metadata; it is fingerprinted and indexed',
      description: 'Tags are read from the file; `title`, `artist`, `album` and `source` (form fields, or query parameters for a raw body) override them. ' +
        'The same audio uploaded again (in any container, with any tags) is not added twice: the answer is 200 with `added: false` and the existing track.',
      parameters: Object.entries(metadataFields).map(([name, schema]) => queryParam(name, schema, `${String(schema.description)} (a form field of the same name wins)`)),
      request: {
        body: audioBody(false, {
          type: 'object',
          required: ['audio'],
          properties: { audio: { ...BINARY, description: 'The audio file (the field `file`, or the first file of the form, also works)' }, ...metadataFields },
        }),
        limitBytes: defaults.http.maxUploadBytes,
        setting: 'http.maxUploadBytes',
      },
      ok: {
        201: jsonResponse('Indexed as a new track', 'TrackAdded'),
        200: jsonResponse('The same audio is indexed already: that track', 'TrackAdded'),
      },
      errors: {
        400: 'EAR_ERR_BAD_REQUEST: a metadata field over 500 characters, an unreadable form or a form without a file; EAR_ERR_FILE_EMPTY: an empty body or file',
        413: `EAR_ERR_AUDIO_TOO_LONG: more audio than catalog.maxTrackSeconds (${defaults.catalog.maxTrackSeconds / 3600} h); decoding stops there`,
        415: 'EAR_ERR_CONTENT_TYPE: raw PCM or another type not listed here; EAR_ERR_NOT_AUDIO: bytes that do not decode',
        422: 'EAR_ERR_AUDIO_TOO_SHORT: silence, or too short to fingerprint; EAR_ERR_AUDIO_TRUNCATED: less audio than the header declares, or damaged data',
      },
    }),
  },
  '/v1/tracks/{id}': {
    get: operation({
      operationId: 'getTrack',
      tag: 'catalog',
      access: 'client',
      summary: 'One track',
      parameters: [trackId],
      ok: { 200: jsonResponse('The track', 'Track') },
      errors: { 400: 'EAR_ERR_BAD_REQUEST: the id is not a positive integer', 404: 'EAR_ERR_TRACK_NOT_FOUND' },
    }),
    delete: operation({
      operationId: 'removeTrack',
      tag: 'catalog',
      access: 'admin',
      summary: 'Remove a track and its postings',
      description: 'Plays of the track stay in the play log.',
      parameters: [trackId],
      ok: { 204: NO_CONTENT },
      errors: { 400: 'EAR_ERR_BAD_REQUEST: the id is not a positive integer', 404: 'EAR_ERR_TRACK_NOT_FOUND' },
    }),
  },
  '/v1/index-jobs': {
    post: operation({
      operationId: 'startIndexJob',
      tag: 'catalog',
      access: 'admin',
      summary: 'Index files or folders on the server\'s disk in the background',
      description: 'Paths are read by the server, recursively. Jobs run one at a time and live in memory: after a restart, submit again ' +
        '(files indexed already cost only their decoding). Poll the Location for progress. A path that does not exist is listed under `skipped`; it does not fail the request.',
      request: {
        body: jsonBody({
          type: 'object',
          additionalProperties: false,
          description: 'At least one of path and paths',
          properties: {
            path: str('One file or folder', { minLength: 1, maxLength: 4096 }),
            paths: { type: 'array', minItems: 1, maxItems: 1000, items: str(undefined, { minLength: 1, maxLength: 4096 }) },
          },
        }),
        limitBytes: defaults.http.maxJsonBytes,
        setting: 'http.maxJsonBytes',
      },
      ok: { 202: jsonResponse('Queued', 'IndexJob', LOCATION_HEADER) },
      errors: {
        400: 'EAR_ERR_BAD_JSON: not a JSON object; EAR_ERR_BAD_REQUEST: no path, an unknown field, or paths not 1 to 1000 non-empty strings',
        415: 'EAR_ERR_CONTENT_TYPE: not application/json',
        503: `EAR_ERR_JOB_QUEUE_FULL: ${defaults.catalog.maxQueuedJobs} jobs wait already (catalog.maxQueuedJobs)`,
      },
    }),
    get: operation({
      operationId: 'listIndexJobs',
      tag: 'catalog',
      access: 'client',
      summary: 'Index jobs kept in memory: queued, running and the last finished',
      ok: { 200: jsonResponse('Every job kept, oldest first', 'IndexJobList') },
    }),
  },
  '/v1/index-jobs/{id}': {
    get: operation({
      operationId: 'getIndexJob',
      tag: 'catalog',
      access: 'client',
      summary: 'Progress of an index job',
      parameters: [jobId],
      ok: { 200: jsonResponse('The job', 'IndexJob') },
      errors: {
        400: `EAR_ERR_BAD_REQUEST: ${NOT_A_UUID}`,
        404: 'EAR_ERR_JOB_NOT_FOUND: unknown, forgotten (the last 100 finished jobs are kept) or from before a restart',
      },
    }),
    delete: operation({
      operationId: 'cancelIndexJob',
      tag: 'catalog',
      access: 'admin',
      summary: 'Cancel a queued or running index job',
      description: 'A queued job leaves the queue; a running one stops (its workers are terminated) before the answer. Tracks it wrote stay in the index. ' +
        'A finished job is left as it is: the answer shows its state.',
      parameters: [jobId],
      ok: { 200: jsonResponse('The job, cancelled or as it finished', 'IndexJob') },
      errors: {
        400: `EAR_ERR_BAD_REQUEST: ${NOT_A_UUID}`,
        404: 'EAR_ERR_JOB_NOT_FOUND: unknown, forgotten (the last 100 finished jobs are kept) or from before a restart',
      },
    }),
  },

  '/v1/monitors': {
    post: operation({
      operationId: 'addMonitor',
      tag: 'monitors',
      access: 'admin',
      summary: 'Register a stream for the server to pull and monitor',
      description: 'The server pulls the stream (WAV and raw PCM as audio/pcm or audio/L16 directly; MP3, AAC, Ogg, HLS playlists and the rest through ffmpeg), reconnects with backoff when it drops, ' +
        'and writes every confirmed song to the play log. Monitors are stored and resume when the server restarts.',
      request: {
        body: jsonBody({
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: str('An http or https stream URL, without a user name or password', { minLength: 1, maxLength: 2048, example: 'https://radio.example.org/live.mp3' }),
            label: str('A name for people', { maxLength: 200, default: '', example: 'Radio Example' }),
          },
        }),
        limitBytes: defaults.http.maxJsonBytes,
        setting: 'http.maxJsonBytes',
      },
      ok: { 201: jsonResponse('Registered and started', 'Monitor', LOCATION_HEADER) },
      errors: {
        400: 'EAR_ERR_BAD_JSON: not a JSON object; EAR_ERR_BAD_REQUEST: no url, an unknown field, a URL that is not http(s) or holds credentials, a label too long',
        409: `EAR_ERR_MONITOR_EXISTS: the URL is monitored already; EAR_ERR_TOO_MANY_MONITORS: ${defaults.monitors.maxMonitors} monitors exist (setting monitors.maxMonitors)`,
        415: 'EAR_ERR_CONTENT_TYPE: not application/json',
        422: 'EAR_ERR_ADDRESS_NOT_ALLOWED: the host is or resolves to a loopback, private, link-local or other non-public address (setting network.allowedAddresses)',
        507: 'EAR_ERR_DISK_FULL: the disk of the server state is full; nothing was stored',
      },
    }),
    get: operation({
      operationId: 'listMonitors',
      tag: 'monitors',
      access: 'client',
      summary: 'Every monitor with its state and current match',
      ok: { 200: jsonResponse('Every monitor, oldest first', 'MonitorList') },
    }),
  },
  '/v1/monitors/{id}': {
    get: operation({
      operationId: 'getMonitor',
      tag: 'monitors',
      access: 'client',
      summary: 'One monitor',
      parameters: [monitorId],
      ok: { 200: jsonResponse('The monitor', 'Monitor') },
      errors: { 400: `EAR_ERR_BAD_REQUEST: ${NOT_A_UUID}`, 404: 'EAR_ERR_MONITOR_NOT_FOUND' },
    }),
    delete: operation({
      operationId: 'removeMonitor',
      tag: 'monitors',
      access: 'admin',
      summary: 'Stop and remove a monitor (its plays stay in the log)',
      parameters: [monitorId],
      ok: { 204: NO_CONTENT },
      errors: { 400: `EAR_ERR_BAD_REQUEST: ${NOT_A_UUID}`, 404: 'EAR_ERR_MONITOR_NOT_FOUND', 507: 'EAR_ERR_DISK_FULL: the disk of the server state is full; the monitor stays' },
    }),
  },

  '/v1/plays': {
    get: operation({
      operationId: 'listPlays',
      tag: 'plays',
      access: 'client',
      summary: 'Plays of the log, filtered by monitor or client stream, track and time; JSON or CSV (Accept: text/csv)',
      description: 'Newest first. Page with `cursor`: rows added meanwhile never shift a page. CSV is chosen by `Accept: text/csv` or `format=csv`; ' +
        'a CSV page carries the next page\'s URL in `Link: <...>; rel="next"` (without the token).',
      parameters: [
        ...monitorFilter,
        queryParam('track', int(undefined, { minimum: 1, maximum: MAX_TRACK_ID }), 'Only plays of this track id'),
        queryParam('from', str(undefined, { example: '2026-11-21T00:00:00Z' }), `Plays starting at or after this. ${TIME_FORMAT}`),
        queryParam('to', str(undefined, { example: '2026-11-22T00:00:00Z' }), `Plays starting before this. ${TIME_FORMAT}`),
        queryParam('limit', int(undefined, { minimum: 1, maximum: MAX_PAGE_ROWS, default: 100 }), 'Plays per page'),
        queryParam('cursor', str(undefined, { maxLength: 64 }), 'The `nextCursor` of the previous page, as given'),
        queryParam('format', str(undefined, { enum: ['json', 'csv'], default: 'json' }), 'csv: the page as CSV (like `Accept: text/csv`)'),
      ],
      ok: {
        200: {
          description: 'A page of plays',
          headers: {
            Link: { description: 'CSV only: `</v1/plays?...&cursor=...>; rel="next"` when there is a next page', schema: { type: 'string' } },
            'Content-Disposition': { description: 'CSV only: `attachment; filename="plays.csv"`', schema: { type: 'string' } },
          },
          content: {
            'application/json': { schema: ref('PlayPage') },
            'text/csv': {
              schema: {
                type: 'string',
                description: 'RFC 4180, CRLF line ends, a header line, then one row per play with the columns of Play in its order; null is an empty field',
                example: 'id,stream,kind,trackId,title,artist,album,startedAt,endedAt,startStreamSeconds,endStreamSeconds,startOffsetSeconds,endOffsetSeconds,peakConfidence,lastSeenAt,lastStreamSeconds,open,speed\r\n',
              },
            },
          },
        },
      },
      errors: { 400: 'EAR_ERR_BAD_REQUEST: track, limit, from or to out of range or unreadable; EAR_ERR_BAD_CURSOR: a cursor this server did not give out' },
    }),
  },
  '/v1/plays/daily': {
    get: operation({
      operationId: 'dailyPlays',
      tag: 'plays',
      access: 'client',
      summary: 'Plays per track per day (UTC) in a time range, optionally of one monitor or client stream',
      description: `Counts plays starting in [from, to); a play counts on the day it started, with its whole length. The range is at most ${MAX_DAILY_RANGE_DAYS} days.`,
      parameters: [
        queryParam('from', str(), `Start of the range (default: 30 days before \`to\`). ${TIME_FORMAT}`),
        queryParam('to', str(), `End of the range (default: now). ${TIME_FORMAT}`),
        ...monitorFilter,
      ],
      ok: { 200: jsonResponse('Plays and seconds per track per day', 'DailyPlays') },
      errors: { 400: `EAR_ERR_BAD_REQUEST: an unreadable time, from not before to, a range over ${MAX_DAILY_RANGE_DAYS} days, or over a million plays in the range` },
    }),
  },

  '/v1/webhooks/replay': {
    post: operation({
      operationId: 'replayWebhooks',
      tag: 'webhooks',
      access: 'admin',
      summary: 'Queue again the webhook events of the plays in a time range (same event and delivery ids as the first time)',
      description: 'Re-enqueues, from the play log, a `match.confirmed` for every play that started in [from, to) and a `match.ended` for every play that ended in it, ' +
        'oldest play first, for every configured URL. Each event carries the id it had the first time, and each delivery the same `x-earshot-delivery`, ' +
        'so a receiver that de-duplicates drops what it already has. The data is the play as the log holds it now. ' +
        'Use it after the queue dropped events (`webhooks.droppingSince` in /health, `earshot_webhook_drops_total`) or a receiver lost some. ' +
        'Replayed events are never dropped: when the queue fills, the replay stops at a whole play and `next` gives the rest of the range to ask for once it drains.',
      request: {
        body: jsonBody({
          type: 'object',
          additionalProperties: false,
          required: ['from'],
          properties: {
            from: str(`Start of the range. ${TIME_FORMAT}`, { example: '2026-11-21T08:00:00Z' }),
            to: str(`End of the range (default: now). ${TIME_FORMAT}`, { example: '2026-11-21T09:00:00Z' }),
          },
        }),
        limitBytes: defaults.http.maxJsonBytes,
        setting: 'http.maxJsonBytes',
      },
      ok: { 202: jsonResponse('Queued; delivered in the background', 'WebhookReplay') },
      errors: {
        400: 'EAR_ERR_BAD_JSON: not a JSON object; EAR_ERR_BAD_REQUEST: no from, an unreadable time, from not before to, an unknown field, or no webhook URL configured',
        415: 'EAR_ERR_CONTENT_TYPE: not application/json',
      },
    }),
  },

  '/': { get: webFile('getWebPage', 'The web page: listen, identify a file, the catalog, monitors', 'text/html',
    'The page itself (index.html), with a Content-Security-Policy. It streams the microphone with the browser SDK and calls this API with the token typed into it.') },
  '/web/app.js': { get: webFile('getWebScript', 'The web page\'s script', 'text/javascript') },
  '/web/style.css': { get: webFile('getWebStyle', 'The web page\'s style sheet', 'text/css') },
  '/sdk/earshot.js': { get: webFile('getBrowserSdk', 'The browser SDK as one ES module: listen({ url, token })', 'text/javascript',
    'The browser SDK (client-sdk/src/browser, bundled): `import { listen } from \'/sdk/earshot.js\'`. Served with `Access-Control-Allow-Origin: *` so pages of other origins may load it.') },
  '/sdk/earshot-worklet.js': { get: webFile('getBrowserSdkWorklet', 'The browser SDK\'s AudioWorklet processor, for pages that refuse blob: scripts', 'text/javascript',
    'The SDK carries this processor inside and loads it from a blob: URL; a page whose Content-Security-Policy refuses blob: scripts passes this URL as `workletUrl`.') },
}

export const openApiDocument: Record<string, unknown> = {
  openapi: '3.0.3',
  info: {
    title: 'earshot',
    version: '1',
    description: 'Real-time audio recognition: identify clips, manage the catalog, monitor radio streams and read their play log. ' +
      'A guide with examples is docs/API.md; error codes are in docs/ERRORS.md; the WebSocket stream protocol is protocol/README.md. ' +
      'Every error answer is `{"error": {"code": "EAR_ERR_...", "message": "..."}}`. Any route may answer 500 EAR_ERR_INTERNAL (a bug to report); ' +
      'an unknown path answers 404 EAR_ERR_NOT_FOUND, a known path with another method 405 EAR_ERR_METHOD with an Allow header. ' +
      'Any route answers 403 EAR_ERR_HOST_NOT_ALLOWED to a Host the server does not answer to (setting access.publicNames), and a POST or DELETE ' +
      'sent by a page of another site 403 EAR_ERR_CROSS_ORIGIN (setting access.allowedOrigins). ' +
      'HEAD is answered like GET, without a body.',
  },
  servers: [{ url: '/' }],
  tags: [
    { name: 'system', description: 'Health, statistics, this document, the stream endpoint' },
    { name: 'catalog', description: 'Identify, tracks, index jobs' },
    { name: 'monitors', description: 'Radio streams the server pulls and listens to' },
    { name: 'plays', description: 'The play log: what was heard, where and when' },
    { name: 'webhooks', description: 'Replaying the play log\'s events to the webhook URLs' },
    { name: 'web', description: 'The web page and the browser SDK' },
  ],
  paths,
  components: {
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        description: 'An admin or client token (EARSHOT_ADMIN_TOKENS, EARSHOT_CLIENT_TOKENS). Client routes are open to all when no token is configured; ' +
          'admin routes need an admin token, or, when no admin token is configured, a request from loopback.',
      },
      tokenQuery: { type: 'apiKey', in: 'query', name: 'token', description: 'The same token as `?token=`, for links and browsers' },
    },
    schemas,
  },
}
