/**
 * Landmarks: spectral peaks in, hashes out, of two families that share the index.
 *
 * Each anchor peak takes the first `fanout` peaks of its target zone (1..maxDeltaFrames frames later, within
 * ±maxIntervalSemitones of it) and makes a pair with each of them and a triplet (a, b, c), t_a < t_b <= t_c, with
 * every two of them. A landmark is emitted with the anchor's frame as soon as its (later) target is known. A query
 * anchor takes `queryFanout` targets, so that a peak that noise or a voice adds to its zone does not push an indexed
 * target out of reach. A clip's query adds pairs of denser peaks (config/fingerprint.ts), `clipFanout` an anchor.
 *
 * Triplets survive changes of speed. Radio plays songs faster (pitch and tempo together), time-stretches them (tempo
 * only) and DJs pitch them (pitch only). A hash of absolute bins and frame differences breaks at 1 %: a peak at bin
 * 300 moves 3 bins. The triplet's main fields do not move at all:
 *  - the intervals a->b and a->c in semitones (frequency ratios: a pitch change multiplies every frequency alike);
 *  - where b falls between a and c in time, (t_b - t_a) / (t_c - t_a) (a time ratio: a tempo change scales every
 *    duration alike).
 * Two coarse fields keep the hash from being too common: the anchor's pitch in bands of 3 semitones, and the
 * triplet's span ln(t_c - t_a) in steps of 0.3. They do move, by at most ln(1 + speedTolerance); a query landmark
 * whose value is that close to a cell edge also looks up the neighbour cell (`query` mode), so a match survives
 * any change within the tolerance while the index stores one hash per landmark. Bands of 12 semitones needed 1.4
 * lookups a landmark but made buckets 2.8 times deeper, for 1.8 times the postings read (docs/ENGINE.md). Peak
 * positions are interpolated between bins and frames: at bin 30 one bin is a third of a semitone.
 *
 * Pairs survive loss of peaks. A triplet needs three peaks to come through, a pair two: where white noise or a
 * voice over the music takes half the peaks, a pair survives twice as often as a triplet (docs/ENGINE.md). Pairs are
 * exact, as in the first engine: the anchor's pitch and the interval in half semitones of whole bins (no
 * interpolation, so a peak that stays in its bin gives the same cells), and the frame difference. They match at
 * nominal speed (and within about 1 % of it); the triplets carry every other speed.
 *
 * A triplet hash packs its cells in mixed radix, most significant first:
 *
 *   band (24) | interval a->b + 24 (49) | interval a->c + 24 (49) | span (16) | position of b (8)
 *
 * Example: anchor at bin 40 (431 Hz, 24 semitones above minBin 10: band 8), b a fifth up (+7) 10 frames later, c a
 * major third down (-4) 20 frames later: span cell floor(ln 20 / 0.3) = 9, position of b floor(8 * 10 / 20) = 4:
 * (((8 * 49 + 31) * 49 + 20) * 16 + 9) * 8 + 4 = 2655692.
 *
 * Pair hashes follow the triplets' (from TRIPLET_LIMIT), under 2^23 in all (what a segment key holds):
 *
 *   anchor pitch (144) | interval + 48 (97) | delta - 1 (63)
 *
 * Example: the same anchor (bin 40: floor(24 log2(40 / 10)) = 48 half semitones) and b (bin 60: 14 half semitones
 * above it) 10 frames later: 7375872 + (48 * 97 + 14 + 48) * 63 + 9 = 7673115.
 *
 * A hash's shape in time (`shapeOf`) is a triplet's span and position cells, or a pair's delta; landmarks of one
 * anchor frame with the same shape are one coincidence for the vote (match/votes.ts).
 */
import type { FingerprintParams } from '../config/fingerprint.js'

export const BANDS = 24
export const MAX_INTERVAL = 24
const INTERVALS = 2 * MAX_INTERVAL + 1
export const SPANS = 16
export const POSITIONS = 8
/** Shapes in time: the span and position cells, the last fields of a hash. */
export const SHAPES = SPANS * POSITIONS
/** Triplet hashes are below this; pair hashes follow them. */
export const TRIPLET_LIMIT = BANDS * INTERVALS * INTERVALS * SHAPES
/** Semitones per band of the anchor's pitch. */
export const BAND_SEMITONES = 3
/** Pair fields: the anchor's pitch and the interval in half semitones, the frame difference. */
export const PAIR_PITCHES = 2 * BANDS * BAND_SEMITONES
export const PAIR_INTERVALS = 4 * MAX_INTERVAL + 1
export const PAIR_DELTAS = 63
/** Hashes are below this. */
export const HASH_LIMIT = TRIPLET_LIMIT + PAIR_PITCHES * PAIR_INTERVALS * PAIR_DELTAS
/** Shapes in time of both families: a triplet's span and position cells, or a pair's frame difference. */
export const SHAPE_COUNT = SHAPES + PAIR_DELTAS
/** Natural-log step of the span's cells. */
export const SPAN_STEP = 0.3

export type HashSink = (hash: number, frame: number) => void

export interface Landmark {
  band: number
  /** Intervals a->b and a->c in whole semitones. */
  intervalB: number
  intervalC: number
  span: number
  position: number
}

/** Pack a landmark's cells into its hash. */
export function landmarkToHash (band: number, intervalB: number, intervalC: number, span: number, position: number): number {
  return (((band * INTERVALS + intervalB + MAX_INTERVAL) * INTERVALS + intervalC + MAX_INTERVAL) * SPANS + span) * POSITIONS + position
}

/** The inverse of landmarkToHash. */
export function hashToLandmark (hash: number): Landmark {
  const position = hash % POSITIONS
  hash = (hash - position) / POSITIONS
  const span = hash % SPANS
  hash = (hash - span) / SPANS
  const c = hash % INTERVALS
  hash = (hash - c) / INTERVALS
  const b = hash % INTERVALS
  return { band: (hash - b) / INTERVALS, intervalB: b - MAX_INTERVAL, intervalC: c - MAX_INTERVAL, span, position }
}

/** Pack a pair's cells into its hash. */
export function pairToHash (pitch: number, interval: number, delta: number): number {
  return TRIPLET_LIMIT + ((pitch * PAIR_INTERVALS + interval + 2 * MAX_INTERVAL) * PAIR_DELTAS + delta - 1)
}

/** The inverse of pairToHash (pitch and interval in half semitones, delta in frames). */
export function hashToPair (hash: number): Pair {
  hash -= TRIPLET_LIMIT
  const delta = hash % PAIR_DELTAS
  hash = (hash - delta) / PAIR_DELTAS
  const interval = hash % PAIR_INTERVALS
  return { pitch: (hash - interval) / PAIR_INTERVALS, interval: interval - 2 * MAX_INTERVAL, delta: delta + 1 }
}

export interface Pair {
  /** The anchor's pitch above minBin and the interval to the target, in half semitones (of whole bins). */
  pitch: number
  interval: number
  /** Frames from the anchor to the target. */
  delta: number
}

/** A whole bin's pitch cell for pairs: half semitones above minBin. */
export function pairPitchCell (bin: number, minBin: number): number {
  return Math.floor(2 * semitones(bin / minBin))
}

/** Whether a hash is a pair's (else a triplet's). */
export function isPair (hash: number): boolean {
  return hash >= TRIPLET_LIMIT
}

/** A hash's shape in time, 0..SHAPE_COUNT: a triplet's span and position cells, or SHAPES + a pair's delta - 1. */
export function shapeOf (hash: number): number {
  return hash < TRIPLET_LIMIT ? hash % SHAPES : SHAPES + (hash - TRIPLET_LIMIT) % PAIR_DELTAS
}

/** Check that parameters fit the hash layout. */
export function checkHashLayout (p: FingerprintParams): void {
  const bands = Math.floor(semitones(p.maxBin / p.minBin) / BAND_SEMITONES) + 1
  if (bands > BANDS) throw new RangeError(`minBin..maxBin spans ${bands} bands of ${BAND_SEMITONES} semitones, more than the ${BANDS} of the layout`)
  if (p.maxIntervalSemitones > MAX_INTERVAL) throw new RangeError(`maxIntervalSemitones ${p.maxIntervalSemitones} is over the layout's ${MAX_INTERVAL}`)
  if (Math.floor(Math.log(p.maxDeltaFrames + 1) / SPAN_STEP) >= SPANS) throw new RangeError(`maxDeltaFrames ${p.maxDeltaFrames} spans more than the layout's ${SPANS} cells`)
  if (p.maxDeltaFrames > PAIR_DELTAS) throw new RangeError(`maxDeltaFrames ${p.maxDeltaFrames} is over the layout's ${PAIR_DELTAS}`)
  if (p.queryFanout < p.fanout) throw new RangeError(`queryFanout ${p.queryFanout} is below fanout ${p.fanout}`)
  if (p.clipFanout < p.queryFanout) throw new RangeError(`clipFanout ${p.clipFanout} is below queryFanout ${p.queryFanout}`)
  if (!(p.clipPeaksPerBlock >= 1 && p.clipPeakFrameRadius >= 0)) throw new RangeError(`clipPeaksPerBlock ${p.clipPeaksPerBlock} or clipPeakFrameRadius ${p.clipPeakFrameRadius} is out of range`)
  if (!(p.speedTolerance >= 0 && p.speedTolerance < 0.2)) throw new RangeError(`speedTolerance ${p.speedTolerance} is outside 0..0.2`)
}

function semitones (ratio: number): number {
  return 12 * Math.log2(ratio)
}

export interface LandmarkHasherOptions {
  /**
   * Hashes for a lookup: a landmark whose band or span lies within the speed tolerance of a cell edge also gives
   * the neighbour cell's hash. Indexing stores one hash per landmark. `'clip'`: the pairs of a clip's denser peaks
   * (clipPeakParams): `clipFanout` targets an anchor, no triplets.
   */
  query?: boolean | 'clip'
}

export class LandmarkHasher {
  readonly #p: FingerprintParams
  readonly #query: boolean
  readonly #targets: number // targets an anchor takes: fanout, queryFanout for a query, clipFanout for a clip's
  readonly #tripletTargets: number // the first of them close triplets
  readonly #bandMargin: number // semitones
  readonly #spanMargin: number // natural log
  readonly #bands: number
  readonly #spans: number
  // Ring of pending anchors: frame, interpolated frame, pitch in semitones above minBin, pair pitch cell (half
  // semitones of the whole bin), targets taken so far.
  readonly #frames: Int32Array
  readonly #times: Float64Array
  readonly #pitches: Float64Array
  readonly #cells: Int32Array
  readonly #made: Int32Array
  // Each anchor's targets: time and pitch, `#targets` slots per anchor.
  readonly #targetTimes: Float64Array
  readonly #targetPitches: Float64Array
  readonly #mask: number
  readonly #sink: HashSink
  #head = 0 // absolute index of the oldest pending anchor
  #tail = 0 // absolute index one past the newest

  constructor (params: FingerprintParams, sink: HashSink, options: LandmarkHasherOptions = {}) {
    checkHashLayout(params)
    this.#p = params
    this.#query = options.query === true || options.query === 'clip'
    this.#targets = options.query === 'clip' ? params.clipFanout : this.#query ? params.queryFanout : params.fanout
    this.#tripletTargets = options.query === 'clip' ? 0 : this.#query ? params.queryFanout : params.fanout
    const shift = Math.log(1 + params.speedTolerance)
    this.#bandMargin = semitones(Math.E) * shift
    this.#spanMargin = shift
    this.#bands = Math.floor(semitones(params.maxBin / params.minBin) / BAND_SEMITONES) + 1
    this.#spans = Math.floor(Math.log(params.maxDeltaFrames + 1) / SPAN_STEP) + 1
    // Pending anchors span at most maxDeltaFrames plus one block: size the ring to a power of two above that.
    const perBlock = options.query === 'clip' ? Math.max(params.peaksPerBlock, params.clipPeaksPerBlock) : params.peaksPerBlock
    const need = perBlock * (Math.ceil(params.maxDeltaFrames / params.blockFrames) + 2)
    let size = 16
    while (size < need) size <<= 1
    this.#frames = new Int32Array(size)
    this.#times = new Float64Array(size)
    this.#pitches = new Float64Array(size)
    this.#cells = new Int32Array(size)
    this.#made = new Int32Array(size)
    this.#targetTimes = new Float64Array(size * this.#targets)
    this.#targetPitches = new Float64Array(size * this.#targets)
    this.#mask = size - 1
    this.#sink = sink
  }

  /**
   * Take the next peak (peaks must arrive in (frame, bin) order), with its interpolated position. It becomes the
   * next target of every pending anchor whose zone it falls in and that still wants targets; each such anchor
   * emits the pair it makes with this target and the triplets this target closes, at once.
   */
  write (frame: number, bin: number, frameFraction = 0, binFraction = 0): void {
    const p = this.#p
    const mask = this.#mask
    const frames = this.#frames
    const made = this.#made
    const targets = this.#targets
    const time = frame + frameFraction
    const pitch = semitones((bin + binFraction) / p.minBin)
    const cell = pairPitchCell(bin, p.minBin)
    // Anchors whose zone ended before this frame, or that have all their targets, are done.
    while (this.#head < this.#tail) {
      const h = this.#head & mask
      if (made[h] < targets && frames[h] + p.maxDeltaFrames >= frame) break
      this.#head++
    }
    for (let j = this.#head; j < this.#tail; j++) {
      const k = j & mask
      if (made[k] >= targets) continue
      const dt = frame - frames[k]
      if (dt < p.minDeltaFrames || dt > p.maxDeltaFrames) continue
      const interval = pitch - this.#pitches[k]
      if (interval > p.maxIntervalSemitones || interval < -p.maxIntervalSemitones) continue
      const pairInterval = cell - this.#cells[k]
      if (pairInterval <= 2 * MAX_INTERVAL && pairInterval >= -2 * MAX_INTERVAL) this.#sink(pairToHash(this.#cells[k], pairInterval, dt), frames[k])
      // The new target is c of a triplet with each earlier target as b.
      const base = k * targets
      if (made[k] < this.#tripletTargets) for (let b = 0; b < made[k]; b++) this.#emit(k, this.#targetTimes[base + b], this.#targetPitches[base + b], time, pitch)
      this.#targetTimes[base + made[k]] = time
      this.#targetPitches[base + made[k]] = pitch
      made[k]++
    }
    if (this.#tail - this.#head > mask) this.#head++ // more pending anchors than the sizing allows: drop the oldest
    const i = this.#tail++ & mask
    frames[i] = frame
    this.#times[i] = time
    this.#pitches[i] = pitch
    this.#cells[i] = cell
    made[i] = 0
  }

  /** End of input: no more targets will come. */
  end (): void {
    this.#head = this.#tail
  }

  /** Hash the triplet (anchor k, b, c) and emit it, with its neighbour cells' hashes in query mode. */
  #emit (k: number, tb: number, pb: number, tc: number, pc: number): void {
    const ta = this.#times[k]
    const pa = this.#pitches[k]
    const span = Math.max(tc - ta, 1)
    const position = Math.min(POSITIONS - 1, Math.max(0, Math.floor((POSITIONS * (tb - ta)) / span)))
    const intervalB = Math.round(pb - pa)
    const intervalC = Math.round(pc - pa)
    const bandValue = pa / BAND_SEMITONES
    const band = Math.min(this.#bands - 1, Math.max(0, Math.floor(bandValue)))
    const spanValue = Math.log(span) / SPAN_STEP
    const spanCell = Math.min(this.#spans - 1, Math.floor(spanValue))
    const frame = this.#frames[k]
    this.#sink(landmarkToHash(band, intervalB, intervalC, spanCell, position), frame)
    if (!this.#query) return
    // Neighbour cells within the speed tolerance: the indexed audio may have had its value on the other side.
    const bandLo = band > 0 && (bandValue - band) * BAND_SEMITONES < this.#bandMargin
    const bandHi = band + 1 < this.#bands && (band + 1 - bandValue) * BAND_SEMITONES < this.#bandMargin
    const spanLo = spanCell > 0 && (spanValue - spanCell) * SPAN_STEP < this.#spanMargin
    const spanHi = spanCell + 1 < this.#spans && (spanCell + 1 - spanValue) * SPAN_STEP < this.#spanMargin
    for (let db = bandLo ? -1 : 0; db <= (bandHi ? 1 : 0); db++) {
      for (let ds = spanLo ? -1 : 0; ds <= (spanHi ? 1 : 0); ds++) {
        if (db !== 0 || ds !== 0) this.#sink(landmarkToHash(band + db, intervalB, intervalC, spanCell + ds, position), frame)
      }
    }
  }
}
