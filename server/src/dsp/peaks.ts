/**
 * Peak picking: log-power spectra in, spectral peaks out.
 *
 * A bin is a peak when it is the maximum of its neighbourhood (±peakBinRadius bins, ±peakFrameRadius frames), stands
 * `minPeakProminence` above its frame's mean log power (an adaptive threshold that follows loudness and noise), and
 * is above an absolute floor (so silence has none). Density is set by keeping the `peaksPerBlock` most prominent
 * peaks in each block of `blockFrames` frames; blocks are aligned to absolute frame numbers, so the result does not
 * depend on how the audio was chunked. The cheap tests (frequency-axis max, threshold) run before the time-axis max.
 *
 * Peaks are emitted block by block, in (frame, bin) order, `peakFrameRadius` frames after a block's last frame.
 */
import type { FingerprintParams } from '../config/fingerprint.js'

/**
 * A peak: its frame and bin, and where between them the true maximum lies (parabolic interpolation of log power
 * over the neighbours, each in -0.5..0.5). Speed-invariant hashes need positions finer than a bin: at bin 30 one
 * bin is a third of a semitone.
 */
export type PeakSink = (frame: number, bin: number, frameFraction: number, binFraction: number) => void

export class PeakPicker {
  readonly #p: FingerprintParams
  readonly #bins: number // bins in the picking range
  readonly #rows: number // frames kept: the neighbourhood in time
  readonly #power: Float32Array // #rows x #bins ring of log power
  readonly #rowMean: Float32Array // #rows frame means
  readonly #sink: PeakSink
  // Candidates of the block being filled, as parallel arrays.
  readonly #candFrame: Int32Array
  readonly #candBin: Int32Array
  readonly #candScore: Float32Array
  readonly #candFrameFraction: Float32Array
  readonly #candBinFraction: Float32Array
  readonly #order: Int32Array
  #candCount = 0
  #received = 0 // frames received
  #decided = 0 // frames whose peaks are decided
  /** Candidates dropped because a block had more local maxima than the candidate buffer holds. */
  dropped = 0

  constructor (params: FingerprintParams, sink: PeakSink) {
    this.#p = params
    this.#bins = params.maxBin - params.minBin
    this.#rows = 2 * params.peakFrameRadius + 1
    this.#power = new Float32Array(this.#rows * this.#bins)
    this.#rowMean = new Float32Array(this.#rows)
    // A local maximum needs its own 2*radius+1 bins, so a frame holds at most bins/(radius+1) of them.
    const perFrame = Math.ceil(this.#bins / (params.peakBinRadius + 1)) + 1
    const cap = perFrame * params.blockFrames
    this.#candFrame = new Int32Array(cap)
    this.#candBin = new Int32Array(cap)
    this.#candScore = new Float32Array(cap)
    this.#candFrameFraction = new Float32Array(cap)
    this.#candBinFraction = new Float32Array(cap)
    this.#order = new Int32Array(cap)
    this.#sink = sink
  }

  /** Take the next frame (frames must arrive in order, starting at 0). */
  write (logPower: Float32Array, frame: number): void {
    if (frame !== this.#received) throw new Error(`frame ${frame} out of order, expected ${this.#received}`)
    const minBin = this.#p.minBin
    const bins = this.#bins
    const row = (frame % this.#rows) * bins
    const power = this.#power
    let sum = 0
    for (let b = 0; b < bins; b++) {
      const v = logPower[minBin + b]
      power[row + b] = v
      sum += v
    }
    this.#rowMean[frame % this.#rows] = sum / bins
    this.#received++
    const ready = this.#received - this.#p.peakFrameRadius
    while (this.#decided < ready) this.#decide(this.#decided++)
  }

  /** End of input: decide the remaining frames with no future frames, and emit the last block. */
  end (): void {
    while (this.#decided < this.#received) this.#decide(this.#decided++)
    this.#emitBlock()
  }

  #decide (frame: number): void {
    const p = this.#p
    const bins = this.#bins
    const rows = this.#rows
    const row = (frame % rows) * bins
    const power = this.#power
    const r = p.peakBinRadius
    const threshold = Math.max(this.#rowMean[frame % rows] + p.minPeakProminence, p.minPeakLogPower)
    const from = Math.max(0, frame - p.peakFrameRadius)
    const to = Math.min(this.#received - 1, frame + p.peakFrameRadius)
    for (let b = 0; b < bins; b++) {
      const v = power[row + b]
      // Cheapest tests first: the threshold, then the immediate neighbours, then the whole neighbourhood.
      if (v < threshold) continue
      if ((b > 0 && power[row + b - 1] > v) || (b + 1 < bins && power[row + b + 1] > v)) continue
      const lo = b - r < 0 ? 0 : b - r
      const hi = b + r >= bins ? bins - 1 : b + r
      if (!this.#isMax(v, row, lo, hi)) continue
      let isPeak = true
      for (let f = from; f <= to && isPeak; f++) {
        if (f !== frame && !this.#isMax(v, (f % rows) * bins, lo, hi)) isPeak = false
      }
      if (!isPeak) continue
      if (this.#candCount === this.#candFrame.length) { this.dropped++; continue }
      const c = this.#candCount++
      this.#candFrame[c] = frame
      this.#candBin[c] = b + p.minBin
      this.#candScore[c] = v - this.#rowMean[frame % rows]
      this.#candBinFraction[c] = vertex(b > 0 ? power[row + b - 1] : v, v, b + 1 < bins ? power[row + b + 1] : v)
      this.#candFrameFraction[c] = vertex(frame > from ? power[((frame - 1) % rows) * bins + b] : v, v,
        frame < to ? power[((frame + 1) % rows) * bins + b] : v)
    }
    if ((frame + 1) % p.blockFrames === 0) this.#emitBlock()
  }

  /** Whether v is at least every value of one ring row between bins lo and hi. */
  #isMax (v: number, row: number, lo: number, hi: number): boolean {
    const power = this.#power
    for (let k = lo; k <= hi; k++) if (power[row + k] > v) return false
    return true
  }

  /** Keep the block's most prominent candidates and emit them in (frame, bin) order. */
  #emitBlock (): void {
    const n = this.#candCount
    if (n === 0) return
    const order = this.#order
    const score = this.#candScore
    for (let i = 0; i < n; i++) order[i] = i
    const keep = Math.min(n, this.#p.peaksPerBlock)
    // Partial selection sort: keep is small. Ties go to the earlier candidate, so the choice is deterministic.
    for (let i = 0; i < keep; i++) {
      let best = i
      for (let j = i + 1; j < n; j++) if (score[order[j]] > score[order[best]]) best = j
      const t = order[i]; order[i] = order[best]; order[best] = t
    }
    // Candidates were collected in (frame, bin) order, so sorting the kept indices restores that order.
    for (let i = 1; i < keep; i++) {
      const v = order[i]
      let j = i - 1
      while (j >= 0 && order[j] > v) { order[j + 1] = order[j]; j-- }
      order[j + 1] = v
    }
    for (let i = 0; i < keep; i++) {
      const c = order[i]
      this.#sink(this.#candFrame[c], this.#candBin[c], this.#candFrameFraction[c], this.#candBinFraction[c])
    }
    this.#candCount = 0
  }
}

/** Where the vertex of the parabola through (-1, l), (0, c), (1, r) lies, for c a maximum: -0.5..0.5. */
function vertex (l: number, c: number, r: number): number {
  const d = l - 2 * c + r
  return d < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (l - r)) / d)) : 0
}
