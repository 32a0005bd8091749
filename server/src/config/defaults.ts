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
  fingerprint: FingerprintParams
  stream: StreamLimits
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
}

export const defaults: Readonly<Settings> = Object.freeze({
  db: './data',
  minConfidence: 0.5,
  maxMatches: 5,
  maxBucket: 4096,
  fingerprint: defaultFingerprint,
  stream: Object.freeze({
    maxSessions: 1000,
    maxFrameBytes: 1024 * 1024, // 1 MiB: ~6 s of 44.1 kHz stereo s16
    maxSessionSeconds: 7 * 24 * 3600, // a week of audio: broadcast monitoring runs long
    idleTimeoutMs: 30_000,
    helloTimeoutMs: 5_000,
    maxOutgoingBytes: 1024 * 1024,
  }),
})

/** The index folder from `--db`, then `EARSHOT_DB`, then the default. */
export function resolveDb (flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? (env.EARSHOT_DB || defaults.db)
}
