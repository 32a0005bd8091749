/**
 * Analysis of one file for the index: bytes in, track metadata and fingerprint out. Runs in worker threads.
 *
 * Decoded blocks go straight into the fingerprinter, so a track costs its hashes in memory, not its samples; decoding
 * stops at the longest track allowed. A file that holds less audio than its headers declare, or whose decoder stops
 * on damaged data, is refused rather than indexed in part.
 */
import type { FingerprintParams } from '../config/fingerprint.js'
import type { AnalyzeLimits } from './analyze-limits.js'
import { decodeStream } from '../audio/decode.js'
import { readFileBytes } from '../audio/file-bytes.js'
import { readHeaders } from '../audio/tags.js'
import { truncation } from '../audio/truncation.js'
import { Fingerprinter, HashCollector, type HashList } from '../dsp/pipeline.js'
import { fingerprintDigest } from '../index/digest.js'
import type { NewTrack } from '../index/types.js'
import { earshotError } from '../errors.js'

export interface Analysis {
  meta: NewTrack
  hashes: HashList
  /** Tag values skipped, with why (an ISRC tag that is not one); the track is good without them. */
  warnings: string[]
  /** Time spent decoding (with the tags) and fingerprinting, in ms; the two interleave block by block. */
  decodeMs: number
  fingerprintMs: number
}

/** Analyse audio bytes; `source` names them (a path or an upload's name). */
export async function analyzeBytes (bytes: Uint8Array, source: string, params: FingerprintParams, limits: AnalyzeLimits): Promise<Analysis> {
  const t0 = performance.now()
  const headers = readHeaders(bytes, source)
  const collector = new HashCollector()
  let fp: Fingerprinter | undefined
  let fingerprintMs = 0
  const decoded = await decodeStream(bytes, source, limits.maxTrackSeconds, (block, rate) => {
    const t = performance.now()
    fp ??= new Fingerprinter(params, rate, collector.add)
    fp.write(block)
    fingerprintMs += performance.now() - t
  }, { ffmpegPath: limits.ffmpegPath })
  fp?.end()
  const { tags, declaredSeconds, warnings } = await headers
  const durationSeconds = decoded.samples / decoded.sampleRate
  if (decoded.cut) throw earshotError('EAR_ERR_AUDIO_TOO_LONG', `${source}: longer than the limit of ${limits.maxTrackSeconds} s`)
  if (decoded.damaged !== undefined) throw earshotError('EAR_ERR_AUDIO_TRUNCATED', `${source}: the decoder stopped after ${durationSeconds.toFixed(1)} s (${decoded.damaged})`)
  const cut = truncation(bytes, durationSeconds, declaredSeconds)
  if (cut !== undefined) throw earshotError('EAR_ERR_AUDIO_TRUNCATED', `${source}: ${cut}`)
  const list = collector.list(fp?.frames ?? 0)
  if (list.count === 0) throw earshotError('EAR_ERR_AUDIO_TOO_SHORT', `${source}: ${durationSeconds.toFixed(1)} s with no usable peaks; silence or too short`)
  return {
    meta: { ...tags, durationSeconds, source, digest: fingerprintDigest(list) },
    hashes: { hashes: list.hashes.slice(0, list.count), frames: list.frames.slice(0, list.count), count: list.count, frameCount: list.frameCount },
    warnings,
    decodeMs: performance.now() - t0 - fingerprintMs,
    fingerprintMs,
  }
}

export async function analyzeFile (file: string, params: FingerprintParams, limits: AnalyzeLimits): Promise<Analysis> {
  return analyzeBytes(await readFileBytes(file, limits.maxFileBytes), file, params, limits)
}
