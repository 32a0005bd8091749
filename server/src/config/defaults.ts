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
}

export const defaults: Readonly<Settings> = Object.freeze({
  db: './data',
  minConfidence: 0.5,
  maxMatches: 5,
  maxBucket: 4096,
  fingerprint: defaultFingerprint,
})

/** The index folder from `--db`, then `EARSHOT_DB`, then the default. */
export function resolveDb (flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? (env.EARSHOT_DB || defaults.db)
}
