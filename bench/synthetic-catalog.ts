/**
 * Synthetic catalog: real tracks' hash lists in, many distinct tracks with the same statistics out (for bench:scale).
 *
 * Copy k of an original keeps its frames and replaces every hash by T_k(hash), where T_k shifts each of the five
 * landmark fields (dsp/landmarks.ts) by a per-copy amount, wrapping inside the range the pipeline produces:
 *
 *   band        band -> (band + s) mod bands                          |s| = 1 or 2   (bands = 22 by default)
 *   interval b  i -> -maxInterval + (i + maxInterval + dB) mod (2 maxInterval + 1)   |dB| <= 2
 *   interval c  the same with dC                                                     |dC| <= 2
 *   position    p -> (p + dp) mod POSITIONS                           dp = -3..4, not 0
 *   span        x -> (x + ds) mod spans                               every ds, 0 first (spans = 14 by default)
 *
 * and a pair's three fields by amounts derived from the same variant:
 *
 *   pitch       anchor cell -> (cell + 6 s) mod pitch cells           (half semitones: the band's 3s semitones)
 *   interval    i -> (i + 2 dB), wrapping inside +-2 maxInterval       (half semitones)
 *   delta       d -> 1 + (d - 1 + dp) mod maxDeltaFrames
 *
 * where bands, spans and pitch cells are the cells the fingerprint parameters can reach (LandmarkHasher). Values
 * outside those ranges (the pipeline never makes them) and hashes from HASH_LIMIT up are left alone, so T_k is a
 * bijection of the whole hash space. Copy 0 is the original (every shift 0), so real clips of it find their true
 * track. A pair's target moves too: its pitch by 6s + 2dB half semitones, never 0 for |dB| <= 2, and in time by dp.
 *
 * Which shifts: a copy must not give a clip of its original aligned votes. Two things could:
 *  - the query's neighbour cells: a query landmark near a band or span cell edge also looks up band ± 1 and span ± 1
 *    (dsp/landmarks.ts), so a copy that moved only those by one cell would get a third of its original's votes.
 *    Every copy also shifts the position, which no lookup changes;
 *  - the music's own structure: the peaks of one frame make chords and harmonic stacks, so a shift that moves only
 *    some of a triplet's peaks (say the anchor 4 semitones up and both intervals 4 down: the same b and c) often
 *    lands on another real triplet of the same frame (1 % of the landmarks). Every copy moves all three: the anchor
 *    in pitch by the band shift (3s ± 3 semitones), b in time by the position shift, and c in pitch: dC never undoes
 *    the anchor's move (|dC + 3s| > 3). Shifts that kept the position came out worse: their triplets, moved in pitch
 *    alone, met real ones of the same frame twice as often on the corpus tracks below and 27 times as often on the
 *    test songs (chords of one scale).
 *    Measured on five corpus tracks (first 60 s each, the original's query hashes with their neighbour cells), the
 *    landmarks of a copy with the span kept meet its original's at the same frame for 2.5e-5 of them on average,
 *    1e-3 for the worst copy: a few times the chance level of two unrelated tracks at one offset (4e-6), about one
 *    vote per 10 s clip at worst.
 *
 * Why this keeps the statistics:
 *  - Per track, exactly: T_k is a bijection and the frames are kept, so a copy has the original's hash count, distinct
 *    hashes, repeats (a held chord repeats one hash) and frames; the shape cells map one to one, so the landmark
 *    groups of match/votes.ts (anchor frame and shape) are kept too.
 *  - Across the catalog: the copies of one original spread its hashes over neighbouring cells (band ± 2, intervals
 *    ± 2 semitones, every position), so the catalog's hash distribution is the real tracks' one smoothed over those
 *    cells. The band and the position are broad in real music (a shift of either keeps 85-96 % of the hash collisions
 *    between two real tracks); the intervals are not (octaves, fifths and fourths stand out, and any interval shift
 *    keeps only ~58 %), so their shifts are the smallest that give enough copies. Two copies with the span kept
 *    collide 0.36 times as often as two real tracks (on the five tracks above; the bin shifts of the pair layout
 *    before it gave 0.16), so deep buckets are somewhat shallower than in a real catalog of that size.
 *    Rejected: shifting only the intervals or the shape. Each moves part of a triplet (the coincidences above).
 *
 * Copies per original: 2 × 7 × (2 × 5 + 5 × 5) = 490 with the span kept (s = ±1 leaves dC two values, s = ±2 all
 * five; dB takes all five and dp seven), then a block of as many for each other span shift: 14 × 490 = 6,860 in all
 * (190 originals give 93,290 tracks with the span kept, 1,303,590 in all; a catalog of 100,000 takes 36 copies of
 * each from the second block). Blocks come in the order ds = 0, 1, -1, 2, -2... (a span shift skews the shapes'
 * statistics: most real spans fall in a few middle cells), each in a fixed shuffled order, so that any catalog size
 * takes an even sample of the shifts.
 */
import type { FingerprintParams } from '../server/src/config/fingerprint.js'
import type { HashList } from '../server/src/dsp/pipeline.js'
import { BAND_SEMITONES, BANDS, hashToPair, HASH_LIMIT, isPair, MAX_INTERVAL, PAIR_INTERVALS, PAIR_PITCHES, pairPitchCell, pairToHash, POSITIONS, SHAPES, SPAN_STEP, SPANS, shapeOf } from '../server/src/dsp/landmarks.js'
import { fingerprintDigest } from '../server/src/index/digest.js'
import type { NewTrack } from '../server/src/index/types.js'
import { makeRng } from './degrade.js'

/** Per-copy shifts of the five landmark fields (the names of dsp/landmarks.ts's Landmark). */
export interface Variant {
  band: number
  intervalB: number
  intervalC: number
  span: number
  position: number
}

/** A track of the synthetic catalog: its metadata and its hashes. */
export interface SyntheticTrack {
  meta: NewTrack
  hashes: HashList
  /** Which original and which copy of it. */
  original: number
  copy: number
}

/** Largest band shift and interval shift of a variant. */
export const BAND_SHIFT = 2
export const INTERVAL_SHIFT = 2
const INTERVALS = 2 * MAX_INTERVAL + 1
const VARIANT_SEED = 0x5ca1e // fixed: copy k is the same track on every run and machine

/** Band cells the parameters reach (as LandmarkHasher counts them). */
export function bandCells (params: FingerprintParams): number {
  return Math.min(BANDS, Math.floor((12 * Math.log2(params.maxBin / params.minBin)) / BAND_SEMITONES) + 1)
}

/** Pair pitch cells the parameters reach (half semitones of whole bins above minBin, as LandmarkHasher counts them). */
export function pairPitchCells (params: FingerprintParams): number {
  return Math.min(PAIR_PITCHES, pairPitchCell(params.maxBin - 1, params.minBin) + 1)
}

/** Span cells the parameters reach (as LandmarkHasher counts them). */
export function spanCells (params: FingerprintParams): number {
  return Math.min(SPANS, Math.floor(Math.log(params.maxDeltaFrames + 1) / SPAN_STEP) + 1)
}

/**
 * Whether a variant moves all three peaks of every triplet: the anchor in pitch (a band shift s), b in time (a
 * position shift) and c in pitch (unless its interval shift undoes the anchor's move of 3s ± 3 semitones).
 */
export function movesEveryPeak (v: Variant): boolean {
  return v.band !== 0 && v.position !== 0 && Math.abs(v.intervalC + BAND_SEMITONES * v.band) > BAND_SEMITONES
}

/** Every variant of `params`, copy 0 (no shift) first; then a block per span shift (0, 1, -1, 2...), each shuffled. */
export function variants (params: FingerprintParams): Variant[] {
  const rng = makeRng(VARIANT_SEED)
  const out: Variant[] = [{ band: 0, intervalB: 0, intervalC: 0, span: 0, position: 0 }]
  const spans = spanCells(params)
  for (let i = 0; i < spans; i++) {
    const span = i % 2 === 1 ? (i + 1) / 2 : -i / 2
    const block: Variant[] = []
    for (let band = -BAND_SHIFT; band <= BAND_SHIFT; band++) {
      for (let intervalB = -INTERVAL_SHIFT; intervalB <= INTERVAL_SHIFT; intervalB++) {
        for (let intervalC = -INTERVAL_SHIFT; intervalC <= INTERVAL_SHIFT; intervalC++) {
          // Position shifts -3..4: each of the 8 cyclic shifts once (0 is left out by movesEveryPeak).
          for (let position = 1 - POSITIONS / 2; position <= POSITIONS / 2; position++) {
            const v = { band, intervalB, intervalC, span, position }
            if (movesEveryPeak(v)) block.push(v)
          }
        }
      }
    }
    // Fisher–Yates with the fixed seed: any prefix is an even sample of the block.
    for (let j = block.length - 1; j > 0; j--) {
      const r = Math.floor(rng() * (j + 1))
      const v = block[j]; block[j] = block[r]; block[r] = v
    }
    out.push(...block)
  }
  return out
}

/** A cyclic shift by `by` of the values [lo, hi), identity elsewhere, over `size` values. */
function shiftTable (size: number, lo: number, hi: number, by: number): Uint32Array {
  const t = new Uint32Array(size)
  const n = hi - lo
  for (let v = 0; v < size; v++) t[v] = v >= lo && v < hi ? lo + ((((v - lo + by) % n) + n) % n) : v
  return t
}

/** T_k as field tables: a table lookup per field instead of a Landmark object per hash. */
export class HashShift {
  readonly #band: Uint32Array
  readonly #intervalB: Uint32Array
  readonly #intervalC: Uint32Array
  /** Span and position together: the shape cell (the last field of a hash, see shapeOf). */
  readonly #shape: Uint32Array
  // A pair's fields: anchor pitch cell, interval + 2 MAX_INTERVAL, delta - 1.
  readonly #pairPitch: Uint32Array
  readonly #pairInterval: Uint32Array
  readonly #pairDelta: Uint32Array

  constructor (params: FingerprintParams, v: Variant) {
    this.#band = shiftTable(BANDS, 0, bandCells(params), v.band)
    // Intervals are stored biased by MAX_INTERVAL: shift the biased values of [-maxIntervalSemitones, +max].
    const lo = MAX_INTERVAL - params.maxIntervalSemitones
    const hi = MAX_INTERVAL + params.maxIntervalSemitones + 1
    this.#intervalB = shiftTable(INTERVALS, lo, hi, v.intervalB)
    this.#intervalC = shiftTable(INTERVALS, lo, hi, v.intervalC)
    const span = shiftTable(SPANS, 0, spanCells(params), v.span)
    const position = shiftTable(POSITIONS, 0, POSITIONS, v.position)
    this.#shape = new Uint32Array(SHAPES)
    for (let s = 0; s < SHAPES; s++) this.#shape[s] = span[Math.floor(s / POSITIONS)] * POSITIONS + position[s % POSITIONS]
    this.#pairPitch = shiftTable(PAIR_PITCHES, 0, pairPitchCells(params), 2 * BAND_SEMITONES * v.band)
    this.#pairInterval = shiftTable(PAIR_INTERVALS, 2 * (MAX_INTERVAL - params.maxIntervalSemitones), 2 * (MAX_INTERVAL + params.maxIntervalSemitones) + 1, 2 * v.intervalB)
    this.#pairDelta = shiftTable(params.maxDeltaFrames, 0, params.maxDeltaFrames, v.position)
  }

  apply (hash: number): number {
    if (hash >= HASH_LIMIT) return hash
    if (isPair(hash)) {
      const p = hashToPair(hash)
      return pairToHash(this.#pairPitch[p.pitch], this.#pairInterval[p.interval + 2 * MAX_INTERVAL] - 2 * MAX_INTERVAL, this.#pairDelta[p.delta - 1] + 1)
    }
    const shape = shapeOf(hash)
    let rest = (hash - shape) / SHAPES
    const c = rest % INTERVALS
    rest = (rest - c) / INTERVALS
    const b = rest % INTERVALS
    const band = (rest - b) / INTERVALS
    return ((this.#band[band] * INTERVALS + this.#intervalB[b]) * INTERVALS + this.#intervalC[c]) * SHAPES + this.#shape[shape]
  }

  /** A new hash list: hashes shifted, frames shared with `list` (the index only reads them). */
  applyList (list: HashList): HashList {
    const hashes = new Uint32Array(list.count)
    for (let i = 0; i < list.count; i++) hashes[i] = this.apply(list.hashes[i])
    return { hashes, frames: list.frames.subarray(0, list.count), count: list.count, frameCount: list.frameCount }
  }
}

/** The variant that undoes `v` (every shift negated): its HashShift maps a copy's hashes back to the original's. */
export function inverse (v: Variant): Variant {
  return { band: -v.band, intervalB: -v.intervalB, intervalC: -v.intervalC, span: -v.span, position: -v.position }
}

/** Copy `k` of an original: shifted hashes and metadata of its own. */
export function copyTrack (shift: HashShift, original: { meta: NewTrack, hashes: HashList }, index: number, k: number): SyntheticTrack {
  if (k === 0) return { meta: original.meta, hashes: original.hashes, original: index, copy: 0 }
  const hashes = shift.applyList(original.hashes)
  const m = original.meta
  const title = m.title !== '' ? m.title : `track ${index}`
  return {
    meta: {
      title: `${title} #${k}`,
      artist: `${m.artist !== '' ? m.artist : 'artist'} #${k}`,
      album: `${m.album !== '' ? m.album : 'album'} #${k}`,
      source: `synthetic:${index}#${k}`,
      durationSeconds: m.durationSeconds,
      digest: fingerprintDigest(hashes),
    },
    hashes,
    original: index,
    copy: k,
  }
}

/**
 * The first `n` tracks of the catalog made from `originals`: copy 0 of every original, then copy 1 of every
 * original, and so on, so any size holds every original and an even spread of copies. Copies are made one at a time
 * (the caller keeps at most the one it is storing). `firstCopy` skips copies (to make tracks that are not in a
 * catalog of a given size).
 */
export function * syntheticTracks (params: FingerprintParams, originals: ReadonlyArray<{ meta: NewTrack, hashes: HashList }>, n: number, firstCopy = 0): Generator<SyntheticTrack> {
  const all = variants(params)
  const copies = firstCopy + Math.ceil(n / originals.length)
  if (copies > all.length) throw new RangeError(`${n} tracks need ${copies} copies of each of ${originals.length} originals; the shifts give ${all.length}`)
  let made = 0
  for (let k = firstCopy; made < n; k++) {
    const shift = new HashShift(params, all[k])
    for (let o = 0; o < originals.length && made < n; o++, made++) yield copyTrack(shift, originals[o], o, k)
  }
}
