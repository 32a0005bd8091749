/**
 * Analysis of one file for the index: bytes in, track metadata and fingerprint out. Runs in worker threads.
 */
import type { FingerprintParams } from '../config/fingerprint.js'
import { decodeBytes, readFileBytes } from '../audio/decode.js'
import { readTags } from '../audio/tags.js'
import { fingerprint, type HashList } from '../dsp/pipeline.js'
import { fingerprintDigest } from '../index/lmdb-index.js'
import type { NewTrack } from '../index/types.js'
import { earshotError } from '../errors.js'

export interface Analysis {
  meta: NewTrack
  hashes: HashList
  /** Time spent decoding and fingerprinting, in ms (decode is counted apart from the engine). */
  decodeMs: number
  fingerprintMs: number
}

/** Analyse audio bytes; `source` names them (a path or an upload's name). */
export async function analyzeBytes (bytes: Uint8Array, source: string, params: FingerprintParams): Promise<Analysis> {
  const t0 = performance.now()
  const [audio, tags] = await Promise.all([decodeBytes(bytes, source), readTags(bytes, source)])
  const t1 = performance.now()
  const hashes = fingerprint(params, audio.samples, audio.sampleRate)
  const t2 = performance.now()
  if (hashes.count === 0) throw earshotError('EAR_ERR_AUDIO_TOO_SHORT', `${source}: ${audio.durationSeconds.toFixed(1)} s with no usable peaks; silence or too short`)
  return {
    meta: { ...tags, durationSeconds: audio.durationSeconds, source, digest: fingerprintDigest(hashes) },
    hashes: { hashes: hashes.hashes.slice(0, hashes.count), frames: hashes.frames.slice(0, hashes.count), count: hashes.count, frameCount: hashes.frameCount },
    decodeMs: t1 - t0,
    fingerprintMs: t2 - t1,
  }
}

export async function analyzeFile (file: string, params: FingerprintParams): Promise<Analysis> {
  return analyzeBytes(await readFileBytes(file), file, params)
}
