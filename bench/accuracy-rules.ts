/**
 * What bench:accuracy and bench:scale share: the degradations they query with, when an answer counts as right or as
 * a false positive, and the summary figures. One definition, so "accuracy" means the same in both.
 */
import path from 'node:path'
import { addWhiteNoise, makeRng, mp3RoundTrip, telephone, changeSpeed, changeTempo, changePitch, voiceOver, radio } from './degrade.js'
import type { IdentifyResult } from '../server/src/match/identify.js'

export type Degrade = (x: Float32Array, rate: number, rng: () => number) => Promise<Float32Array> | Float32Array

/**
 * Named degradations of a clip; the first five are also applied to clips of unknown music. Speed changes tempo and
 * pitch together (a station playing a record fast), tempo keeps the pitch and pitch keeps the tempo (time-stretching
 * and pitch-shifting, sox WSOLA); voice-over is a synthetic presenter talking over the whole clip at the music's RMS;
 * radio is multiband compression and a limiter, then MP3 at 128 kbit/s. See bench/degrade.ts.
 */
export const conditions: Array<[string, Degrade]> = [
  ['clean', (x) => x],
  ['mp3 64k', (x, r) => mp3RoundTrip(x, r, 64)],
  ['noise 10 dB', (x, _r, rng) => addWhiteNoise(x, 10, rng)],
  ['noise 5 dB', (x, _r, rng) => addWhiteNoise(x, 5, rng)],
  ['noise 0 dB', (x, _r, rng) => addWhiteNoise(x, 0, rng)],
  ['telephone', (x, r) => telephone(x, r)],
  ...[-5, -4, -3, -2, -1, 1, 2, 3, 4, 5].map((p): [string, Degrade] =>
    [`speed ${p > 0 ? '+' : ''}${p}%`, (x, r) => changeSpeed(x, r, 1 + p / 100)]),
  ['tempo -3%', (x, r) => changeTempo(x, r, 0.97)],
  ['tempo +3%', (x, r) => changeTempo(x, r, 1.03)],
  ['pitch -0.5 st', (x, r) => changePitch(x, r, -0.5)],
  ['pitch +0.5 st', (x, r) => changePitch(x, r, 0.5)],
  ['voice-over', (x, r, rng) => voiceOver(x, r, rng)],
  ['radio', (x, r) => radio(x, r)],
]

/** How many of the first conditions are also applied to clips of unknown music (clean, mp3, noise). */
export const unknownConditionCount = 5

/**
 * The conditions named in `spec`, a comma-separated list (EARSHOT_BENCH_CONDITIONS), in the order of `conditions`;
 * all of them when `spec` is unset or empty. An unknown name throws, listing the known ones.
 */
export function selectConditions (spec: string | undefined): Set<string> {
  const all = conditions.map(([name]) => name)
  const names = (spec ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (names.length === 0) return new Set(all)
  const unknown = names.filter((n) => !all.includes(n))
  if (unknown.length > 0) throw new Error(`unknown condition(s) ${unknown.map((n) => `"${n}"`).join(', ')}; known: ${all.map((n) => `"${n}"`).join(', ')}`)
  return new Set(names)
}

/**
 * The random stream condition number `index` (its place in `conditions`) draws from for one clip whose seed is
 * `clipSeed`: independent of which conditions run, so a run restricted to some conditions gets the same clips, noise
 * and voice-overs for them as a full run.
 */
export function conditionRng (clipSeed: number, index: number): () => number {
  return makeRng((clipSeed + Math.imul(index + 1, 0x9e3779b9)) >>> 0)
}

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
