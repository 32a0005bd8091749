/**
 * Worker-thread entry for the analysis pools: analyses one file or upload for the index, or decodes an upload for
 * identify. Decoding a long upload takes a second of CPU; in a worker it does not stall the live streams. Results
 * are structured-cloned back; their typed arrays are a few hundred kilobytes.
 */
import type { FingerprintParams } from '../config/fingerprint.js'
import { analyzeBytes, analyzeFile } from './analyze.js'
import type { AnalyzeLimits } from './analyze-limits.js'
import { decodeBytes } from '../audio/decode.js'
import { describeError } from '../errors.js'

export type AnalyzeTask =
  | { mode?: 'analyze', file: string, params: FingerprintParams, limits: AnalyzeLimits }
  | { mode: 'analyze-bytes', bytes: Uint8Array, source: string, params: FingerprintParams, limits: AnalyzeLimits }
  | { mode: 'decode', bytes: Uint8Array, source: string, maxSeconds: number, ffmpegPath: string }

export default async function analyze (task: AnalyzeTask): Promise<unknown> {
  try {
    if (task.mode === 'decode') {
      // Only the first maxSeconds are decoded: a small file may declare hours of audio.
      const audio = await decodeBytes(task.bytes, task.source, task.maxSeconds, task.ffmpegPath)
      return { ok: true, samples: audio.samples, sampleRate: audio.sampleRate, durationSeconds: audio.durationSeconds }
    }
    if (task.mode === 'analyze-bytes') return { ok: true, ...await analyzeBytes(task.bytes, task.source, task.params, task.limits) }
    return { ok: true, ...await analyzeFile(task.file, task.params, task.limits) }
  } catch (err) {
    // Errors cross the thread boundary as plain data, with the user-facing line already made.
    return { ok: false, error: describeError(err), code: (err as { code?: string }).code ?? 'EAR_ERR_INTERNAL' }
  }
}
