/**
 * Landmarks: spectral peaks in, hashes out.
 *
 * Each anchor peak is paired with the first `fanout` peaks of its target zone (1..maxDeltaFrames frames later,
 * within ±maxDeltaBins bins). A landmark (anchor bin, bin difference, frame difference) is packed into one hash and
 * reported with the anchor's frame, as soon as its target peak arrives; hashes come out in target order.
 *
 * Hash layout (23 bits of a uint32), most significant first:
 *
 *   | anchor bin (9 bits) | bin difference + 128 (8 bits) | frame difference (6 bits) |
 *
 * Example: anchor at bin 100, target 5 bins lower and 12 frames later:
 *   (100 << 14) | ((-5 + 128) << 6) | 12 = 1638400 + 7872 + 12 = 1646284.
 * The anchor bin is the most significant field so that hashes of one frequency band sort together.
 */
import type { FingerprintParams } from '../config/fingerprint.js'

export const BIN_BITS = 9
export const DELTA_BIN_BITS = 8
export const DELTA_FRAME_BITS = 6
const DELTA_BIN_BIAS = 1 << (DELTA_BIN_BITS - 1)
const DELTA_FRAME_MASK = (1 << DELTA_FRAME_BITS) - 1
const DELTA_BIN_MASK = (1 << DELTA_BIN_BITS) - 1

export type HashSink = (hash: number, frame: number) => void

export interface Landmark {
  bin: number
  deltaBin: number
  deltaFrame: number
}

/** Pack a landmark into its hash. */
export function landmarkToHash (bin: number, deltaBin: number, deltaFrame: number): number {
  return ((bin << (DELTA_BIN_BITS + DELTA_FRAME_BITS)) |
    ((deltaBin + DELTA_BIN_BIAS) << DELTA_FRAME_BITS) |
    deltaFrame) >>> 0
}

/** The inverse of landmarkToHash. */
export function hashToLandmark (hash: number): Landmark {
  return {
    bin: hash >>> (DELTA_BIN_BITS + DELTA_FRAME_BITS),
    deltaBin: ((hash >>> DELTA_FRAME_BITS) & DELTA_BIN_MASK) - DELTA_BIN_BIAS,
    deltaFrame: hash & DELTA_FRAME_MASK,
  }
}

/** Check that parameters fit the hash layout. */
export function checkHashLayout (p: FingerprintParams): void {
  if (p.maxBin > 1 << BIN_BITS) throw new RangeError(`maxBin ${p.maxBin} does not fit ${BIN_BITS} bits`)
  if (p.maxDeltaBins >= DELTA_BIN_BIAS) throw new RangeError(`maxDeltaBins ${p.maxDeltaBins} does not fit ${DELTA_BIN_BITS} bits`)
  if (p.maxDeltaFrames > DELTA_FRAME_MASK) throw new RangeError(`maxDeltaFrames ${p.maxDeltaFrames} does not fit ${DELTA_FRAME_BITS} bits`)
}

export class LandmarkHasher {
  readonly #p: FingerprintParams
  // Ring of pending anchors: their frame, bin and how many landmarks each has made.
  readonly #frames: Int32Array
  readonly #bins: Int32Array
  readonly #made: Int32Array
  readonly #mask: number
  readonly #sink: HashSink
  #head = 0 // absolute index of the oldest pending anchor
  #tail = 0 // absolute index one past the newest

  constructor (params: FingerprintParams, sink: HashSink) {
    checkHashLayout(params)
    this.#p = params
    // Pending anchors span at most maxDeltaFrames plus one block: size the ring to a power of two above that.
    const need = params.peaksPerBlock * (Math.ceil(params.maxDeltaFrames / params.blockFrames) + 2)
    let size = 16
    while (size < need) size <<= 1
    this.#frames = new Int32Array(size)
    this.#bins = new Int32Array(size)
    this.#made = new Int32Array(size)
    this.#mask = size - 1
    this.#sink = sink
  }

  /**
   * Take the next peak (peaks must arrive in (frame, bin) order). It becomes the next target of every pending anchor
   * whose zone it falls in and that still wants targets, so a landmark is emitted as soon as its target is known:
   * the delay is the distance to the target, not the whole zone.
   */
  write (frame: number, bin: number): void {
    const p = this.#p
    const mask = this.#mask
    const frames = this.#frames
    const bins = this.#bins
    const made = this.#made
    // Anchors whose zone ended before this frame, or that have all their targets, are done.
    while (this.#head < this.#tail) {
      const h = this.#head & mask
      if (made[h] < p.fanout && frames[h] + p.maxDeltaFrames >= frame) break
      this.#head++
    }
    for (let j = this.#head; j < this.#tail; j++) {
      const k = j & mask
      if (made[k] >= p.fanout) continue
      const dt = frame - frames[k]
      if (dt < p.minDeltaFrames || dt > p.maxDeltaFrames) continue
      const db = bin - bins[k]
      if (db > p.maxDeltaBins || db < -p.maxDeltaBins) continue
      this.#sink(landmarkToHash(bins[k], db, dt), frames[k])
      made[k]++
    }
    if (this.#tail - this.#head > mask) this.#head++ // more pending anchors than the sizing allows: drop the oldest
    const i = this.#tail++ & mask
    frames[i] = frame
    bins[i] = bin
    made[i] = 0
  }

  /** End of input: no more targets will come. */
  end (): void {
    this.#head = this.#tail
  }
}
