/**
 * Landmarks: spectral peaks in, hashes out.
 *
 * Each anchor peak is paired with the first `fanout` peaks of its target zone (1..maxDeltaFrames frames later,
 * within ±maxDeltaBins bins). A landmark (anchor bin, bin difference, frame difference) is packed into one hash and
 * reported with the anchor's frame. An anchor is final once peaks up to maxDeltaFrames after it are known, so hashes
 * come out in anchor order with a bounded delay.
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
  readonly #frames: Int32Array // ring of pending peaks
  readonly #bins: Int32Array
  readonly #mask: number
  readonly #sink: HashSink
  #head = 0 // absolute index of the oldest pending peak (the next anchor)
  #tail = 0 // absolute index one past the newest peak

  constructor (params: FingerprintParams, sink: HashSink) {
    checkHashLayout(params)
    this.#p = params
    // Pending peaks span at most maxDeltaFrames plus one block: size the ring to a power of two above that.
    const need = params.peaksPerBlock * (Math.ceil(params.maxDeltaFrames / params.blockFrames) + 2)
    let size = 16
    while (size < need) size <<= 1
    this.#frames = new Int32Array(size)
    this.#bins = new Int32Array(size)
    this.#mask = size - 1
    this.#sink = sink
  }

  /** Take the next peak (peaks must arrive in (frame, bin) order). */
  write (frame: number, bin: number): void {
    // Every anchor whose target zone ends before this peak's frame is final now.
    while (this.#head < this.#tail && this.#frames[this.#head & this.#mask] + this.#p.maxDeltaFrames < frame) {
      this.#anchor()
    }
    if (this.#tail - this.#head > this.#mask) this.#anchor() // cannot happen with the sizing above; stay bounded
    const i = this.#tail++ & this.#mask
    this.#frames[i] = frame
    this.#bins[i] = bin
  }

  /** End of input: every pending anchor is final. */
  end (): void {
    while (this.#head < this.#tail) this.#anchor()
  }

  #anchor (): void {
    const p = this.#p
    const mask = this.#mask
    const frames = this.#frames
    const bins = this.#bins
    const a = this.#head++ & mask
    const f1 = frames[a]
    const b1 = bins[a]
    let made = 0
    for (let j = this.#head; j < this.#tail && made < p.fanout; j++) {
      const k = j & mask
      const dt = frames[k] - f1
      if (dt > p.maxDeltaFrames) break
      if (dt < p.minDeltaFrames) continue
      const db = bins[k] - b1
      if (db > p.maxDeltaBins || db < -p.maxDeltaBins) continue
      this.#sink(landmarkToHash(b1, db, dt), f1)
      made++
    }
  }
}
