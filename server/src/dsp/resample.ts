/**
 * Streaming resampler: PCM at any rate in, PCM at the internal rate out.
 *
 * A polyphase FIR with a Kaiser-windowed sinc kernel, for any rational ratio L/M. Output sample n is computed from
 * the input around position n*M/L with the kernel phase (n*M mod L); it depends only on absolute sample positions,
 * so feeding the same audio in chunks of any size gives exactly the same output as feeding it whole.
 *
 * Written here rather than taken from a package: the WebAssembly ports on the registry allocate an output array per
 * call and do not promise chunk-size-independent output, which the streaming server relies on.
 */

/** Zero crossings of the sinc on each side, counted at the lower of the two rates: sets the transition width. */
const ZERO_CROSSINGS = 6
/** Kaiser window shape: ~50 dB stop band, ample for peaks picked 10 dB above their frame; fewer taps than 60 dB. */
const KAISER_BETA = 5
/** Cut-off as a fraction of the lower Nyquist frequency (-6 dB point). */
const CUTOFF = 0.9
/** Input samples buffered before the buffer is compacted; any chunk size works, larger ones are taken in pieces. */
const BLOCK = 1024

export type SampleSink = (samples: Float32Array, count: number) => void

function gcd (a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}

/** Zeroth-order modified Bessel function of the first kind, for the Kaiser window. */
function besselI0 (x: number): number {
  let sum = 1
  let term = 1
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) * (x / (2 * k))
    sum += term
    if (term < sum * 1e-12) break
  }
  return sum
}

/** Kernels depend only on the two rates: streams with the same rates share one (48 kHz -> 11025 Hz has 147 phases). */
const kernels = new Map<string, Float64Array>()

function sharedKernel (inputRate: number, outputRate: number, up: number, taps: number, half: number, cutoff: number): Float64Array {
  const key = `${inputRate}:${outputRate}`
  const cached = kernels.get(key)
  if (cached) return cached
  const kernel = new Float64Array(up * taps)
  const norm = besselI0(KAISER_BETA)
  for (let phase = 0; phase < up; phase++) {
    const frac = phase / up
    let sum = 0
    for (let j = 0; j < taps; j++) {
      // Tap j reads input (base - half + 1 + j); its distance from the output position is tau.
      const tau = j - half + 1 - frac
      const x = tau / half
      const w = Math.abs(x) >= 1 ? 0 : besselI0(KAISER_BETA * Math.sqrt(1 - x * x)) / norm
      const arg = 2 * cutoff * tau
      const sinc = arg === 0 ? 1 : Math.sin(Math.PI * arg) / (Math.PI * arg)
      const h = 2 * cutoff * sinc * w
      kernel[phase * taps + j] = h
      sum += h
    }
    // Unity gain at DC for every phase, so a constant stays constant.
    for (let j = 0; j < taps; j++) kernel[phase * taps + j] /= sum
  }
  kernels.set(key, kernel)
  return kernel
}

export class Resampler {
  readonly inputRate: number
  readonly outputRate: number
  readonly #up: number // L
  readonly #down: number // M
  readonly #half: number // taps on each side of the centre, in input samples
  readonly #taps: number
  readonly #kernel: Float64Array // #up phases x #taps
  readonly #folded: Float64Array // integer decimation: the one phase from its centre tap outwards (#half values)
  readonly #input: Float64Array
  readonly #output: Float32Array
  readonly #sink: SampleSink
  #bufferStart = 0 // absolute input index of #input[0]
  #bufferLength = 0
  #nextOutput = 0 // absolute index of the next output sample
  #ended = false

  /**
   * @param inputRate samples per second of the PCM given to `write`
   * @param outputRate samples per second delivered to `sink`
   * @param sink receives each block of output; the array is reused, read it before returning
   */
  constructor (inputRate: number, outputRate: number, sink: SampleSink) {
    if (!Number.isInteger(inputRate) || inputRate <= 0 || !Number.isInteger(outputRate) || outputRate <= 0) {
      throw new RangeError(`sample rates must be positive integers, got ${inputRate} and ${outputRate}`)
    }
    this.inputRate = inputRate
    this.outputRate = outputRate
    this.#sink = sink
    const g = gcd(inputRate, outputRate)
    this.#up = outputRate / g
    this.#down = inputRate / g
    const ratio = this.#up / this.#down
    // Cut-off in cycles per input sample, and kernel half-width in input samples.
    const cutoff = 0.5 * CUTOFF * Math.min(1, ratio)
    this.#half = Math.ceil(ZERO_CROSSINGS * Math.max(1, 1 / ratio))
    this.#half = Math.ceil(this.#half / 2) * 2 // taps a multiple of 4, for the unrolled loops
    this.#taps = 2 * this.#half
    this.#kernel = sharedKernel(inputRate, outputRate, this.#up, this.#taps, this.#half, cutoff)
    // With one phase the kernel is symmetric about tap #half - 1 (its last tap sits on the window's zero).
    this.#folded = this.#up === 1 ? this.#kernel.slice(this.#half - 1, this.#taps - 1) : this.#kernel
    this.#input = new Float64Array(BLOCK + this.#taps)
    this.#output = new Float32Array(Math.ceil((BLOCK * this.#up) / this.#down) + 2)
    // Samples before the start of the stream are zeros.
    this.#bufferStart = -this.#half
    this.#bufferLength = this.#half
  }

  /** Feed input PCM; output is delivered to the sink as soon as it is final. */
  write (samples: ArrayLike<number>, offset = 0, length = samples.length - offset): void {
    if (this.#ended) throw new Error('resampler already ended')
    let i = offset
    const end = offset + length
    while (i < end) {
      const room = this.#input.length - this.#bufferLength
      const n = Math.min(room, end - i)
      const dst = this.#input
      let k = this.#bufferLength
      for (let j = 0; j < n; j++) dst[k++] = samples[i + j]
      this.#bufferLength += n
      i += n
      this.#produce()
    }
  }

  /** End of input: pad with zeros so the last samples are delivered. */
  end (): void {
    if (this.#ended) return
    const zeros = new Float32Array(this.#half + 1)
    this.write(zeros)
    this.#ended = true
  }

  #produce (): void {
    const up = this.#up
    const down = this.#down
    const taps = this.#taps
    const kernel = this.#kernel
    const input = this.#input
    const out = this.#output
    let count = 0
    const available = this.#bufferStart + this.#bufferLength // absolute index one past the last input
    if (up === 1) {
      // Integer decimation (44.1 kHz -> 11025 Hz): one kernel phase, no position arithmetic per output, and the
      // phase is symmetric, so each coefficient weighs the sum of its two mirrored inputs: half the multiplications.
      const folded = this.#folded
      const half = this.#half
      let first = this.#nextOutput * down - half + 1
      let centre = first - this.#bufferStart + half - 1
      while (first + taps <= available) {
        let a0 = folded[0] * input[centre], a1 = 0, a2 = 0, a3 = 0
        let d = 1
        for (; d + 3 < half; d += 4) {
          a0 += folded[d] * (input[centre + d] + input[centre - d])
          a1 += folded[d + 1] * (input[centre + d + 1] + input[centre - d - 1])
          a2 += folded[d + 2] * (input[centre + d + 2] + input[centre - d - 2])
          a3 += folded[d + 3] * (input[centre + d + 3] + input[centre - d - 3])
        }
        for (; d < half; d++) a0 += folded[d] * (input[centre + d] + input[centre - d])
        out[count++] = (a0 + a1) + (a2 + a3)
        this.#nextOutput++
        first += down
        centre += down
        if (count === out.length) {
          this.#sink(out, count)
          count = 0
        }
      }
    }
    for (;;) {
      const pos = this.#nextOutput * down
      const base = Math.floor(pos / up) // input sample at or just before the output position
      const phase = pos - base * up
      const first = base - this.#half + 1 // first input tap
      if (first + taps > available) break
      const offset = first - this.#bufferStart
      const k0 = phase * taps
      // Four accumulators: the tap count is always even and V8 pipelines independent sums better.
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0
      let j = 0
      for (; j + 3 < taps; j += 4) {
        a0 += kernel[k0 + j] * input[offset + j]
        a1 += kernel[k0 + j + 1] * input[offset + j + 1]
        a2 += kernel[k0 + j + 2] * input[offset + j + 2]
        a3 += kernel[k0 + j + 3] * input[offset + j + 3]
      }
      for (; j < taps; j++) a0 += kernel[k0 + j] * input[offset + j]
      out[count++] = (a0 + a1) + (a2 + a3)
      this.#nextOutput++
      if (count === out.length) {
        this.#sink(out, count)
        count = 0
      }
    }
    if (count > 0) this.#sink(out, count)
    // Keep only what the next output still needs.
    const pos = this.#nextOutput * down
    const keepFrom = Math.floor(pos / up) - this.#half + 1
    const drop = Math.min(this.#bufferLength, Math.max(0, keepFrom - this.#bufferStart))
    if (drop > 0) {
      input.copyWithin(0, drop, this.#bufferLength)
      this.#bufferLength -= drop
      this.#bufferStart += drop
    }
  }
}
