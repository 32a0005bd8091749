/**
 * What bench:accuracy and bench:scale share: the degradations they query with, when an answer counts as right or as
 * a false positive, and the summary figures. One definition, so "accuracy" means the same in both.
 */
import path from 'node:path'
import { addWhiteNoise, mp3RoundTrip, telephone, changeSpeed } from './degrade.js'
import type { IdentifyResult } from '../server/src/catalog/identify.js'

export type Degrade = (x: Float32Array, rate: number, rng: () => number) => Promise<Float32Array> | Float32Array

/** Named degradations of a clip; the first five are also applied to clips of unknown music. */
export const conditions: Array<[string, Degrade]> = [
  ['clean', (x) => x],
  ['mp3 64k', (x, r) => mp3RoundTrip(x, r, 64)],
  ['noise 10 dB', (x, _r, rng) => addWhiteNoise(x, 10, rng)],
  ['noise 5 dB', (x, _r, rng) => addWhiteNoise(x, 5, rng)],
  ['noise 0 dB', (x, _r, rng) => addWhiteNoise(x, 0, rng)],
  ['telephone', (x, r) => telephone(x, r)],
  ['speed -3%', (x, r) => changeSpeed(x, r, 0.97)],
  ['speed -1%', (x, r) => changeSpeed(x, r, 0.99)],
  ['speed +1%', (x, r) => changeSpeed(x, r, 1.01)],
  ['speed +3%', (x, r) => changeSpeed(x, r, 1.03)],
]

/** A clip of an indexed track is identified when the first match reported is that track. */
export function isCorrect (result: IdentifyResult, trackId: number): boolean {
  return result.matches[0]?.id === trackId
}

/** A clip of music that is not indexed is a false positive when any match is reported (at the default threshold). */
export function isFalsePositive (result: IdentifyResult): boolean {
  return result.matches.length > 0
}

/** k of n as a percentage with one decimal, or n/a. */
export function pct (k: number, n: number): string {
  return n === 0 ? 'n/a' : `${((100 * k) / n).toFixed(1)}%`
}

/**
 * The soundtrack package a corpus file belongs to. Held-out tracks of an indexed soundtrack may share recorded
 * material (loops, samples, re-arrangements) with its indexed tracks, so false positives are counted apart for them.
 */
export function packageOf (corpusDir: string, file: string): string {
  return path.relative(path.join(corpusDir, 'music'), file).split(path.sep)[0]
}
