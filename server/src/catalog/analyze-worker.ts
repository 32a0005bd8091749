/**
 * Worker-thread entry for the indexer's pool: analyses one file. The result is structured-cloned back; its typed
 * arrays are a few hundred kilobytes a track, small beside decoding.
 */
import type { FingerprintParams } from '../config/fingerprint.js'
import { analyzeFile } from './analyze.js'
import { describeError } from '../errors.js'

export interface AnalyzeTask { file: string, params: FingerprintParams }

export default async function analyze ({ file, params }: AnalyzeTask): Promise<unknown> {
  try {
    return { ok: true, ...await analyzeFile(file, params) }
  } catch (err) {
    // Errors cross the thread boundary as plain data, with the user-facing line already made.
    return { ok: false, error: describeError(err), code: (err as { code?: string }).code ?? 'EAR_ERR_INTERNAL' }
  }
}
