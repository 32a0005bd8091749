/**
 * The queries of bench:scale: real clips of the originals and of music that is not indexed, cut at seeded offsets
 * and degraded once, then kept as PCM so every catalog size and every pass gets the same clips.
 */
import path from 'node:path'
import type { FingerprintParams } from '../server/src/config/fingerprint.js'
import { decodeFile } from '../server/src/audio/decode.js'
import { fingerprint } from '../server/src/dsp/pipeline.js'
import { conditions } from './accuracy-rules.js'
import { makeRng } from './degrade.js'

/** The degradations of the issue: clean, white noise at 5 dB SNR, and MP3 (64 kbit/s, as in bench:accuracy). */
export const SCALE_CONDITIONS = ['clean', 'noise 5 dB', 'mp3 64k']
/** Clip lengths in seconds. */
export const SCALE_LENGTHS = [5, 10]

export interface Clip {
  samples: Float32Array
  sampleRate: number
  condition: string
  seconds: number
  /** The original's source path (a known clip), or undefined (a clip of unknown music). */
  source?: string
  /** Where the clip starts in its file, in seconds. */
  startSeconds: number
  file: string
  /** An unknown clip from a soundtrack that has tracks in the catalog (it may share material with them). */
  samePackage?: boolean
}

/**
 * Clips of `known` (originals' files, one file each) and of `unknown` files (taken in turn until `unknownCount` clips
 * of each length and condition are made). A known clip with no hash when clean (silence) is skipped, as in
 * bench:accuracy: nobody can identify it.
 */
export async function makeClips (params: FingerprintParams, known: readonly string[], unknown: readonly string[], unknownCount: number, seed: number,
  log: (line: string) => void): Promise<Clip[]> {
  const degrades = SCALE_CONDITIONS.map((name) => {
    const c = conditions.find(([n]) => n === name)
    if (!c) throw new Error(`no condition ${name} in accuracy-rules`)
    return c
  })
  const clips: Clip[] = []
  const rng = makeRng(seed)
  const cut = async (file: string, source: string | undefined): Promise<void> => {
    const audio = await decodeFile(file)
    for (const len of SCALE_LENGTHS) {
      const n = Math.round(len * audio.sampleRate)
      if (audio.samples.length < n + audio.sampleRate) continue
      const start = Math.floor(rng() * (audio.samples.length - n))
      const clean = audio.samples.slice(start, start + n)
      if (source !== undefined && fingerprint(params, clean, audio.sampleRate).count === 0) continue
      for (const [condition, degrade] of degrades) {
        const samples = await degrade(clean, audio.sampleRate, rng)
        clips.push({ samples, sampleRate: audio.sampleRate, condition, seconds: len, source, startSeconds: start / audio.sampleRate, file })
      }
    }
  }
  for (const [i, file] of known.entries()) {
    await cut(file, file)
    if ((i + 1) % 10 === 0) log(`cut clips of ${i + 1}/${known.length} originals`)
  }
  for (let i = 0; i < unknownCount && unknown.length > 0; i++) await cut(unknown[i % unknown.length], undefined)
  log(`${clips.length} clips: ${clips.filter((c) => c.source !== undefined).length} known, ${clips.filter((c) => c.source === undefined).length} unknown (${new Set(unknown.slice(0, unknownCount).map((f) => path.basename(f))).size} unknown files)`)
  return clips
}
