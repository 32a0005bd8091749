/**
 * Runtime settings (not stored in the index), one commented line each. Options given by the user are spread over
 * these and validated once.
 */
import { defaultFingerprint, type FingerprintParams } from './fingerprint.js'

export interface Settings {
  /** Folder of the LMDB index. */
  db: string
  /** Answers below this confidence (0..1) are "no match". */
  minConfidence: number
  /** Candidates an identify returns at most. */
  maxMatches: number
  /** Hash buckets with more postings than this are skipped at query time (uninformative, expensive). */
  maxBucket: number
  /**
   * Postings a lookup may read on average: in a big catalog the deepest buckets are skipped until lookups read no
   * more than this (index/depth-profile.ts). Off (Infinity) by default: at 10⁵ tracks a bound of 256 made identify
   * 13× faster but lost 38 of 100 noisy 5 s clips (bench/RESULTS.md, "Catalog scale on the final tree").
   */
  postingsPerLookup: number
  fingerprint: FingerprintParams
  stream: StreamLimits
  http: HttpLimits
  access: AccessSettings
  monitors: MonitorSettings
  webhooks: WebhookConfig
  catalog: CatalogLimits
  network: NetworkSettings
  /** /health reports unhealthy when the index's disk has less free space than this, in bytes. */
  minFreeDiskBytes: number
}

/** Limits of the HTTP API. */
export interface HttpLimits {
  /** Largest body of POST /v1/identify, in bytes. */
  maxIdentifyBytes: number
  /** Largest audio upload to POST /v1/tracks, in bytes. */
  maxUploadBytes: number
  /** Largest JSON body, in bytes. */
  maxJsonBytes: number
  /** A request body must arrive whole within this, in ms (slow uploads hold memory and a socket). */
  bodyTimeoutMs: number
  /** Identify fingerprints at most this much of a long upload, in seconds (its start). */
  maxIdentifySeconds: number
}

/** Who may do what. With no token at all configured, writes are allowed from loopback only. */
export interface AccessSettings {
  /** Tokens allowed everything: catalog writes, monitors, index jobs. */
  adminTokens: readonly string[]
  /** Tokens allowed to stream, identify and read. */
  clientTokens: readonly string[]
  /** Identify requests per minute, for each token and for each client address apart. */
  identifyPerMinute: number
  /** Stream opens per minute, for each token and for each client address apart. */
  streamOpensPerMinute: number
  /** Host names the server is reached by besides localhost and IP addresses (a reverse proxy's public name); other Host headers are refused. */
  publicNames: readonly string[]
  /** Origins (scheme://host:port) of other sites whose pages may write and stream as the server's own page may. */
  allowedOrigins: readonly string[]
  /** Requests from loopback are the administrator while no admin token is configured; false behind a reverse proxy on the same machine. */
  loopbackIsAdmin: boolean
  /** Tokens whose streams may write the play log (hello.playLog), besides admin tokens; they may do what client tokens may. */
  playLogTokens: readonly string[]
  /** Plays a client stream may open per minute, for each token and for each client address apart. */
  playsPerMinute: number
}

/** Where the server itself connects to (monitor sources, webhooks). */
export interface NetworkSettings {
  /** Non-public addresses it may connect to all the same: ranges ('192.168.1.0/24'), addresses or host names. */
  allowedAddresses: readonly string[]
}

export interface MonitorSettings {
  /** Monitored streams at most. */
  maxMonitors: number
  /** First reconnect delay after a source drops, in ms (doubles per failure). */
  initialBackoffMs: number
  /** Longest reconnect delay, in ms. */
  maxBackoffMs: number
  /** A source that sends nothing for this long is dropped, in ms. */
  stallTimeoutMs: number
}

/** Where match events are POSTed, and how deliveries are retried. */
export interface WebhookConfig {
  /** Every event goes to every URL (http or https; duplicates are ignored). */
  urls: readonly string[]
  /** Shared secret of the HMAC-SHA256 signature; required when urls are set. */
  secret: string
  /** Deliveries waiting at most; an event that does not fit is dropped whole and counted. */
  maxQueue: number
  /** Attempts per delivery, the first included, before it is failed. */
  maxAttempts: number
  /** Wait before the first retry, in ms; doubled per attempt, with jitter. */
  initialBackoffMs: number
  /** Longest wait between attempts, in ms; also bounds a receiver's Retry-After. */
  maxBackoffMs: number
  /** One request may take this long, in ms, before it is aborted and retried. */
  timeoutMs: number
}

/** Limits of indexing files (index jobs, `earshot index`) and the index-job queue. */
export interface CatalogLimits {
  /** Longest track indexing takes, in seconds: decoding stops there and a longer file is refused (EAR_ERR_AUDIO_TOO_LONG). */
  maxTrackSeconds: number
  /** Largest file read from disk for indexing or identify, in bytes (EAR_ERR_FILE_TOO_LARGE). */
  maxFileBytes: number
  /** Index jobs waiting behind the running one at most; more are refused with EAR_ERR_JOB_QUEUE_FULL. */
  maxQueuedJobs: number
}

/** Limits of the streaming server; every one has a flag. */
export interface StreamLimits {
  /** Sessions open at once; more are refused with EAR_ERR_TOO_MANY_SESSIONS. */
  maxSessions: number
  /** Largest WebSocket message, in bytes. */
  maxFrameBytes: number
  /** Longest session, in seconds of audio. */
  maxSessionSeconds: number
  /** A session with no message for this long is closed, in ms. */
  idleTimeoutMs: number
  /** A connection must send hello within this, in ms. */
  helloTimeoutMs: number
  /** Bytes queued to a client that does not read before it is closed as a slow consumer. */
  maxOutgoingBytes: number
  /** WebSocket connections open at once from one peer address; more are closed with EAR_ERR_TOO_MANY_CONNECTIONS. */
  maxConnectionsPerAddress: number
}

export const defaults: Readonly<Settings> = Object.freeze({
  db: './data',
  minConfidence: 0.5,
  maxMatches: 5,
  maxBucket: 4096,
  postingsPerLookup: Infinity,
  fingerprint: defaultFingerprint,
  stream: Object.freeze({
    maxSessions: 1000,
    maxFrameBytes: 1024 * 1024, // 1 MiB: ~6 s of 44.1 kHz stereo s16
    maxSessionSeconds: 7 * 24 * 3600, // a week of audio: broadcast monitoring runs long
    idleTimeoutMs: 30_000,
    helloTimeoutMs: 5_000,
    maxOutgoingBytes: 1024 * 1024,
    maxConnectionsPerAddress: 100, // a busy NAT's listeners; one host needs a handful
  }),
  http: Object.freeze({
    maxIdentifyBytes: 32 * 1024 * 1024, // a few minutes of compressed audio; identify needs seconds
    maxUploadBytes: 512 * 1024 * 1024, // an hour of 44.1 kHz stereo WAV
    maxJsonBytes: 64 * 1024,
    bodyTimeoutMs: 120_000,
    maxIdentifySeconds: 60,
  }),
  access: Object.freeze({
    adminTokens: Object.freeze([]) as readonly string[],
    clientTokens: Object.freeze([]) as readonly string[],
    identifyPerMinute: 120,
    streamOpensPerMinute: 60,
    publicNames: Object.freeze([]) as readonly string[],
    allowedOrigins: Object.freeze([]) as readonly string[],
    loopbackIsAdmin: true, // a server without tokens is administered from its own machine
    playLogTokens: Object.freeze([]) as readonly string[],
    playsPerMinute: 30, // a song lasts minutes; a stream confirming more is replaying or lying
  }),
  monitors: Object.freeze({
    maxMonitors: 200,
    initialBackoffMs: 1000,
    maxBackoffMs: 60_000,
    stallTimeoutMs: 15_000,
  }),
  webhooks: Object.freeze({
    urls: Object.freeze([]) as readonly string[],
    secret: '',
    maxQueue: 10_000, // a URL down for hours at a few events a minute fits
    maxAttempts: 12, // about 40 minutes of retrying with the backoff below
    initialBackoffMs: 1_000,
    maxBackoffMs: 300_000,
    timeoutMs: 10_000,
  }),
  catalog: Object.freeze({
    maxTrackSeconds: 4 * 3600, // a long DJ mix or concert; decoding is bounded by it
    maxFileBytes: 1024 * 1024 * 1024, // 1 GiB: ~100 min of CD-quality WAV; compressed tracks are far smaller
    maxQueuedJobs: 100, // a job is a list of up to 1000 paths; more waiting is a runaway script
  }),
  network: Object.freeze({
    allowedAddresses: Object.freeze([]) as readonly string[], // public addresses only
  }),
  minFreeDiskBytes: 256 * 1024 * 1024,
})

/** The index folder from `--db`, then `EARSHOT_DB`, then the default. */
export function resolveDb (flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? (env.EARSHOT_DB || defaults.db)
}
