/**
 * Worker-thread entry for the analysis pools: analyses one file or upload for the index, or decodes an upload for
 * identify. Decoding a long upload takes a second of CPU; in a worker it does not stall the live streams. Results
 * are structured-cloned back; their typed arrays are a few hundred kilobytes.
 */
import type { FingerprintParams } from '../config/fingerprint.js'
import { analyzeBytes, analyzeFile } from './analyze.js'
import { decodeBytes } from '../audio/decode.js'
import { describeError } from '../errors.js'

export type AnalyzeTask =
  | { mode?: 'analyze', file: string, params: FingerprintParams }
  | { mode: 'analyze-bytes', bytes: Uint8Array, source: string, params: FingerprintParams }
  | { mode: 'decode', bytes: Uint8Array, source: string, maxSeconds: number }

export default async function analyze (task: AnalyzeTask): Promise<unknown> {
  try {
    if (task.mode === 'decode') {
      const audio = await decodeBytes(task.bytes, task.source)
      const keep = Math.min(audio.samples.length, Math.round(task.maxSeconds * audio.sampleRate))
      return { ok: true, samples: audio.samples.slice(0, keep), sampleRate: audio.sampleRate, durationSeconds: audio.durationSeconds }
    }
    if (task.mode === 'analyze-bytes') return { ok: true, ...await analyzeBytes(task.bytes, task.source, task.params) }
    return { ok: true, ...await analyzeFile(task.file, task.params) }
  } catch (err) {
    // Errors cross the thread boundary as plain data, with the user-facing line already made.
    return { ok: false, error: describeError(err), code: (err as { code?: string }).code ?? 'EAR_ERR_INTERNAL' }
  }
}
