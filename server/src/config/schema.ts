/**
 * Every runtime setting, defined once as a TypeBox schema: its type (Settings, below), its default, its range and
 * its description come from here, and so do the checks of the --config file, of the EARSHOT_* variables and of the
 * `serve` flags (load.ts, cli/commands.ts). Fingerprint parameters are not settings: they are stored with the index.
 *
 * Every field is optional in the schema, as a file gives only what it changes; `defaultsOf` fills the rest.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox'

const int = (minimum: number, maximum: number, def: number, description: string) =>
  Type.Optional(Type.Integer({ minimum, maximum, default: def, description }))
const number = (minimum: number, maximum: number, def: number, description: string) =>
  Type.Optional(Type.Number({ minimum, maximum, default: def, description }))
const flag = (def: boolean, description: string) => Type.Optional(Type.Boolean({ default: def, description }))
const text = (def: string, description: string) => Type.Optional(Type.String({ default: def, maxLength: 4096, description }))
const list = (description: string) =>
  Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { default: [], maxItems: 10_000, description }))

const MS_DAY = 24 * 3600 * 1000
const MiB = 1024 * 1024
/** A rate limit this high is none: benchmarks and load tests set it. */
const PER_MINUTE_MAX = 1e9

export const streamSchema = Type.Object({
  maxSessions: int(1, 1_000_000, 1000, 'Sessions open at once; more are refused with EAR_ERR_TOO_MANY_SESSIONS'),
  // 1 MiB: ~6 s of 44.1 kHz stereo s16.
  maxFrameBytes: int(1024, 256 * MiB, MiB, 'Largest WebSocket message, in bytes'),
  // A week of audio: broadcast monitoring runs long.
  maxSessionSeconds: number(1, 1e9, 7 * 24 * 3600, 'Longest session, in seconds of audio'),
  idleTimeoutMs: int(100, MS_DAY, 30_000, 'A session with no message for this long is closed, in ms'),
  helloTimeoutMs: int(100, MS_DAY, 5_000, 'A connection must send hello within this, in ms'),
  maxOutgoingBytes: int(1024, 1024 * MiB, MiB, 'Bytes queued to a client that does not read before it is closed as a slow consumer'),
  // A busy NAT's listeners; one host needs a handful.
  maxConnectionsPerAddress: int(1, 1_000_000, 100, 'WebSocket connections open at once from one peer address; more are closed with EAR_ERR_TOO_MANY_CONNECTIONS'),
}, { additionalProperties: false, description: 'Limits of the streaming server' })

export const httpSchema = Type.Object({
  // A few minutes of compressed audio; identify needs seconds.
  maxIdentifyBytes: int(1024, 4096 * MiB, 32 * MiB, 'Largest body of POST /v1/identify, in bytes'),
  // An hour of 44.1 kHz stereo WAV.
  maxUploadBytes: int(1024, 64 * 1024 * MiB, 512 * MiB, 'Largest audio upload to POST /v1/tracks, in bytes'),
  maxJsonBytes: int(256, 64 * MiB, 64 * 1024, 'Largest JSON body, in bytes'),
  bodyTimeoutMs: int(100, MS_DAY, 120_000, 'A request body must arrive whole within this, in ms (slow uploads hold memory and a socket)'),
  maxIdentifySeconds: number(1, 3600, 60, 'Identify fingerprints at most this much of a long upload, in seconds (its start)'),
  // An hour of 44.1 kHz stereo WAV, as a track upload.
  maxRecordingBytes: int(1024, 64 * 1024 * MiB, 512 * MiB, 'Largest recording uploaded to POST /v1/identify-jobs, in bytes'),
  // A working day of a station's air.
  maxRecordingSeconds: number(1, 7 * 24 * 3600, 8 * 3600, 'An identify job examines at most this much of a recording, in seconds (its start)'),
  // Each waiting job holds its upload in memory.
  maxQueuedIdentifyJobs: int(0, 1000, 4, 'Identify jobs waiting behind the running one at most (each holds its upload in memory); more are refused with EAR_ERR_JOB_QUEUE_FULL'),
}, { additionalProperties: false, description: 'Limits of the HTTP API' })

export const accessSchema = Type.Object({
  adminTokens: list('Tokens allowed everything: catalog writes, monitors, index jobs'),
  clientTokens: list('Tokens allowed to stream, identify and read'),
  identifyPerMinute: int(1, PER_MINUTE_MAX, 120, 'Identify requests per minute, for each token and for each client address apart'),
  streamOpensPerMinute: int(1, PER_MINUTE_MAX, 60, 'Stream opens per minute, for each token and for each client address apart'),
  publicNames: list('Host names the server is reached by besides localhost and IP addresses (a reverse proxy\'s public name); other Host headers are refused'),
  allowedOrigins: list('Origins (scheme://host:port) of other sites whose pages may write and stream as the server\'s own page may'),
  // A server without tokens is administered from its own machine.
  loopbackIsAdmin: flag(true, 'Requests from loopback are the administrator while no admin token is configured; false behind a reverse proxy on the same machine'),
  playLogTokens: list('Tokens whose streams may write the play log (hello.playLog), besides admin tokens; they may do what client tokens may'),
  // A song lasts minutes; a stream confirming more is replaying or lying.
  playsPerMinute: int(1, PER_MINUTE_MAX, 30, 'Plays a client stream may open per minute, for each token and for each client address apart'),
  trustedProxies: list('Addresses or ranges (\'127.0.0.1\', \'10.0.0.0/8\') of reverse proxies whose X-Forwarded-For names the client: its address then counts for the limits per address and in the logs (a forwarded request is still never the local administrator)'),
}, { additionalProperties: false, description: 'Who may do what. With no token at all configured, writes are allowed from loopback only' })

export const monitorsSchema = Type.Object({
  maxMonitors: int(0, 100_000, 200, 'Monitored streams at most'),
  initialBackoffMs: int(10, MS_DAY, 1000, 'First reconnect delay after a source drops, in ms (doubles per failure)'),
  maxBackoffMs: int(10, MS_DAY, 60_000, 'Longest reconnect delay, in ms'),
  stallTimeoutMs: int(100, MS_DAY, 15_000, 'A source that sends nothing for this long is dropped, in ms'),
}, { additionalProperties: false, description: 'Monitored streams' })

export const webhooksSchema = Type.Object({
  urls: list('Every event goes to every URL (http or https; duplicates are ignored)'),
  secret: text('', 'Shared secret of the HMAC-SHA256 signature; required when urls are set'),
  // A URL down for hours at a few events a minute fits.
  maxQueue: int(1, 10_000_000, 10_000, 'Deliveries waiting at most; an event that does not fit is dropped whole and counted'),
  // About 40 minutes of retrying with the backoff below.
  maxAttempts: int(1, 1000, 12, 'Attempts per delivery, the first included, before it is failed'),
  initialBackoffMs: int(10, MS_DAY, 1_000, 'Wait before the first retry, in ms; doubled per attempt, with jitter'),
  maxBackoffMs: int(10, MS_DAY, 300_000, 'Longest wait between attempts, in ms; also bounds a receiver\'s Retry-After'),
  timeoutMs: int(100, MS_DAY, 10_000, 'One request may take this long, in ms, before it is aborted and retried'),
}, { additionalProperties: false, description: 'Where match events are POSTed, and how deliveries are retried' })

export const catalogSchema = Type.Object({
  // A long DJ mix or concert; decoding is bounded by it.
  maxTrackSeconds: number(1, 108 * 3600, 4 * 3600, 'Longest track indexing takes, in seconds: decoding stops there and a longer file is refused (EAR_ERR_AUDIO_TOO_LONG)'),
  // 1 GiB: ~100 min of CD-quality WAV; compressed tracks are far smaller.
  maxFileBytes: int(1024, 2 ** 50, 1024 * MiB, 'Largest file read from disk for indexing or identify, in bytes (EAR_ERR_FILE_TOO_LARGE)'),
  // A job is a list of up to 1000 paths; more waiting is a runaway script.
  maxQueuedJobs: int(0, 100_000, 100, 'Index jobs waiting behind the running one at most; more are refused with EAR_ERR_JOB_QUEUE_FULL'),
}, { additionalProperties: false, description: 'Limits of indexing files and of the index-job queue' })

export const networkSchema = Type.Object({
  allowedAddresses: list('Non-public addresses the server may connect to all the same (monitor sources, webhooks): ranges (\'192.168.1.0/24\'), addresses or host names'),
}, { additionalProperties: false, description: 'Where the server itself connects to' })

export const matcherSchema = Type.Object({
  tentativeConfidence: number(0, 1, 0.2, 'A stream\'s leading candidate is reported tentative from this confidence (0..1)'),
  confirmTicks: int(1, 100, 2, 'Ticks (about 0.5 s each) in a row at minConfidence before a stream\'s match is confirmed'),
  windowTicks: int(2, 1000, 16, 'Ticks of evidence a stream keeps (16: about 8 s): old ticks fall out, so the next song can take over'),
  endSilentTicks: int(1, 1000, 6, 'Ticks without a vote after which a stream\'s match ends (6: about 3 s)'),
}, { additionalProperties: false, description: 'How a live stream\'s matches are decided' })

export const clusterSchema = Type.Object({
  natsUrl: text('', 'NATS server(s) with JetStream that the nodes of a cluster share (nats://host:4222, several comma-separated); empty: this server is alone'),
  node: Type.Optional(Type.String({ default: '', pattern: '^[A-Za-z0-9_.=-]{0,64}$', description: 'This node\'s name in the cluster, unique among its nodes: letters, digits, _ . = - (default: host name and process id)' })),
  name: Type.Optional(Type.String({ default: 'earshot', pattern: '^[A-Za-z0-9_-]{1,32}$', description: 'The cluster\'s name: the prefix of its JetStream buckets and streams, so that clusters can share a NATS' })),
  // Takeover within 15 s: a lease outlives its node by at most this, and free monitors are claimed every quarter of it.
  leaseMs: int(2000, 600_000, 10_000, 'A node holds each of its monitors by a lease it renews; a node that stops renewing loses them to another node after this, in ms'),
}, { additionalProperties: false, description: 'Many servers as one: monitors spread over the nodes and taken over when one dies, one play log, webhooks sent once' })

export const tlsSchema = Type.Object({
  cert: text('', 'PEM file of the server\'s certificate, followed by its chain: with tls.key, the server speaks https and wss instead of http and ws; empty: no TLS'),
  key: text('', 'PEM file of the certificate\'s private key (needs tls.cert)'),
  // Better in the variable than in a file or on the command line, where other users may read it.
  passphrase: text('', 'Passphrase of an encrypted tls.key'),
}, { additionalProperties: false, description: 'TLS served by earshot itself (a phone on the LAN needs https for its microphone); behind a reverse proxy the proxy does it (docs/DEPLOY.md)' })

/** What a --config file may hold: any part of the settings. */
export const settingsFileSchema = Type.Object({
  minConfidence: number(0, 1, 0.5, 'Answers below this confidence (0..1) are "no match"; a stream confirms at it'),
  maxMatches: int(1, 100, 5, 'Candidates an identify returns at most'),
  maxBucket: int(1, 2 ** 24, 4096, 'Hash buckets with more postings than this are skipped at query time (uninformative, expensive)'),
  postingsPerLookup: Type.Optional(Type.Integer({
    minimum: 1,
    maximum: 2 ** 24,
    description: 'Postings a lookup may read on average: in a big catalog the deepest buckets are skipped until lookups read no more ' +
      'than this (index/depth-profile.ts). Off when absent: at 10⁵ tracks a bound of 256 made identify 13× faster but lost ' +
      '38 of 100 noisy 5 s clips (bench/RESULTS.md, "Catalog scale on the final tree")',
  })),
  minFreeDiskBytes: int(0, 2 ** 50, 256 * MiB, '/health reports unhealthy when the index\'s disk has less free space than this, in bytes'),
  workers: int(0, 256, 0, 'Worker threads that fingerprint and match the streams and monitors, the sockets and state staying on the main thread; 0 runs them on the main thread (`earshot serve` starts one per core unless told)'),
  ffmpegPath: Type.Optional(Type.String({ default: 'ffmpeg', minLength: 1, maxLength: 4096, description: 'The ffmpeg executable (a path, or a name looked up on the PATH): it decodes what the built-in decoders do not, monitored streams and `earshot stream` URLs' })),
  stream: Type.Optional(streamSchema),
  http: Type.Optional(httpSchema),
  access: Type.Optional(accessSchema),
  monitors: Type.Optional(monitorsSchema),
  webhooks: Type.Optional(webhooksSchema),
  catalog: Type.Optional(catalogSchema),
  network: Type.Optional(networkSchema),
  matcher: Type.Optional(matcherSchema),
  cluster: Type.Optional(clusterSchema),
  tls: Type.Optional(tlsSchema),
}, { additionalProperties: false })

export type SettingsFile = Static<typeof settingsFileSchema>
/** A section as the server holds it: every field present, lists read-only (settings are frozen). */
type Whole<T> = { -readonly [K in keyof T]-?: NonNullable<T[K]> extends Array<infer E> ? readonly E[] : NonNullable<T[K]> }

export type StreamLimits = Whole<Static<typeof streamSchema>>
export type HttpLimits = Whole<Static<typeof httpSchema>>
export type AccessSettings = Whole<Static<typeof accessSchema>>
export type MonitorSettings = Whole<Static<typeof monitorsSchema>>
export type WebhookConfig = Whole<Static<typeof webhooksSchema>>
export type CatalogLimits = Whole<Static<typeof catalogSchema>>
export type NetworkSettings = Whole<Static<typeof networkSchema>>
export type MatcherSettings = Whole<Static<typeof matcherSchema>>
export type ClusterSettings = Whole<Static<typeof clusterSchema>>
export type TlsSettings = Whole<Static<typeof tlsSchema>>

/** The default of every field of an object schema, recursively (a section's defaults are its fields'). */
export function defaultsOf (schema: TSchema): unknown {
  if (schema.type === 'object' && schema.properties) {
    const out: Record<string, unknown> = {}
    for (const [key, property] of Object.entries(schema.properties as Record<string, TSchema>)) {
      const value = defaultsOf(property)
      if (value !== undefined) out[key] = value
    }
    return out
  }
  return schema.default
}
