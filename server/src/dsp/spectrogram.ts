/**
 * Spectrogram: PCM at the internal rate in, one log-power spectrum per hop out.
 *
 * Frame k covers samples [k*hop, k*hop + fftSize). Every buffer is made once per stream, the fft.js plan and the
 * Hann window once per size; `write` allocates nothing but a view per block.
 */
import FFT from 'fft.js'

export type FrameSink = (logPower: Float32Array, frame: number) => void

/** Added to |X|^2 before the log, so digital silence gives a finite floor (~-160 dB) instead of -Infinity. */
const POWER_FLOOR = 1e-16

interface Plan { fft: FFT, window: Float32Array, scale: number, windowed: Float64Array, spectrum: number[] }
const plans = new Map<number, Plan>()

/**
 * The FFT plan and the Hann window depend only on the size, and the transform's scratch is filled and read within one
 * synchronous call (JavaScript runs one transform at a time), so every stream of one size shares them.
 */
function sharedPlan (size: number): Plan {
  let plan = plans.get(size)
  if (!plan) {
    const window = new Float32Array(size)
    let sum = 0
    for (let i = 0; i < size; i++) {
      window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / size)
      sum += window[i]
    }
    // A full-scale sine centred on a bin gives power 1 (log power 0).
    const fft = new FFT(size)
    // Scratch for one transform at a time: written and read within #emit, so streams share it too.
    plan = { fft, window, scale: 4 / (sum * sum), windowed: new Float64Array(size), spectrum: fft.createComplexArray() as number[] }
    plans.set(size, plan)
  }
  return plan
}

export class Spectrogram {
  readonly fftSize: number
  readonly hopSize: number
  readonly #samples: Float32Array // the current window's worth of samples
  readonly #plan: Plan
  readonly #logPower: Float32Array
  readonly #sink: FrameSink
  readonly #firstBin: number
  readonly #endBin: number
  #filled = 0
  #frame = 0

  /**
   * @param fftSize window length in samples, a power of two
   * @param hopSize samples between frames
   * @param sink receives each frame's log power for bins 0..fftSize/2; the array is reused
   * @param bins only bins in [bins[0], bins[1]) are computed (the log is the costly part); the rest stay 0
   */
  constructor (fftSize: number, hopSize: number, sink: FrameSink, bins: readonly [number, number] = [0, fftSize / 2 + 1]) {
    this.fftSize = fftSize
    this.hopSize = hopSize
    this.#plan = sharedPlan(fftSize)
    this.#samples = new Float32Array(fftSize)
    this.#logPower = new Float32Array(fftSize / 2 + 1)
    this.#sink = sink
    this.#firstBin = bins[0]
    this.#endBin = bins[1]
  }

  /** Frames emitted so far. */
  get frames (): number { return this.#frame }

  write (samples: Float32Array, count: number): void {
    const buf = this.#samples
    const size = this.fftSize
    let i = 0
    while (i < count) {
      const n = Math.min(size - this.#filled, count - i)
      buf.set(n === samples.length ? samples : samples.subarray(i, i + n), this.#filled) // a view, no copy
      this.#filled += n
      i += n
      if (this.#filled === size) {
        this.#emit()
        buf.copyWithin(0, this.hopSize, size)
        this.#filled = size - this.hopSize
      }
    }
  }

  #emit (): void {
    const size = this.fftSize
    const plan = this.#plan
    const win = plan.window
    const x = plan.windowed
    const s = this.#samples
    for (let i = 0; i < size; i++) x[i] = s[i] * win[i]
    const out = plan.spectrum
    plan.fft.realTransform(out, x)
    const lp = this.#logPower
    const scale = plan.scale
    for (let b = this.#firstBin, end = this.#endBin; b < end; b++) {
      const re = out[2 * b]
      const im = out[2 * b + 1]
      lp[b] = Math.log((re * re + im * im) * scale + POWER_FLOOR)
    }
    this.#sink(lp, this.#frame++)
  }
}
