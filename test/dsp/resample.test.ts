import t from 'tap'
import { Resampler } from '../../server/src/dsp/resample.js'
import { prng, sine, song } from '../helpers/signals.js'

const OUT = 11025

/** Resample `x` in one write (or in the chunk sizes `sizes` gives) and return all output. */
function resample (x: Float32Array, inputRate: number, outputRate = OUT, sizes?: () => number): Float32Array {
  const parts: Float32Array[] = []
  const r = new Resampler(inputRate, outputRate, (s, n) => { parts.push(s.slice(0, n)) })
  if (!sizes) {
    r.write(x)
  } else {
    for (let i = 0; i < x.length;) {
      const n = Math.min(sizes(), x.length - i)
      r.write(x, i, n)
      i += n
    }
  }
  r.end()
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0))
  let k = 0
  for (const p of parts) { out.set(p, k); k += p.length }
  return out
}

/** RMS in dB relative to `ref`, over the steady middle (the first and last `edge` samples skipped). */
function levelDb (y: Float32Array, ref: number, edge: number): number {
  let s = 0
  for (let i = edge; i < y.length - edge; i++) s += y[i] * y[i]
  return 20 * Math.log10(Math.sqrt(s / (y.length - 2 * edge)) / ref)
}

/** RMS difference in dB (relative to the tone's RMS) between `y` and the ideal tone sampled at the output rate. */
function errorDb (y: Float32Array, freq: number, amp: number, edge: number): number {
  let e = 0
  for (let i = edge; i < y.length - edge; i++) e += (y[i] - amp * Math.sin((2 * Math.PI * freq * i) / OUT)) ** 2
  return 20 * Math.log10(Math.sqrt(e / (y.length - 2 * edge)) / (amp / Math.SQRT2))
}

for (const rate of [44100, 48000, 8000]) {
  t.test(`a 1 kHz tone at ${rate} Hz keeps its level, frequency and phase at ${OUT} Hz`, async (t) => {
    const amp = 0.5
    const y = resample(sine(1000, 2, rate, amp), rate)
    t.ok(Math.abs(y.length - 2 * OUT) <= 2, `2 s of input give 2 s of output (${y.length} samples)`)
    const edge = Math.round(0.1 * OUT)
    const level = levelDb(y, amp / Math.SQRT2, edge)
    t.ok(Math.abs(level) < 0.5, `level within 0.5 dB (${level.toFixed(3)} dB)`)
    // The same tone, same frequency and no delay: the output is the tone sampled at 11025 Hz, up to a small error.
    const err = errorDb(y, 1000, amp, edge)
    t.ok(err < -40, `output matches the ideal 1 kHz tone to ${err.toFixed(1)} dB`)
    // And not some other frequency: the same comparison against 1010 Hz fails.
    t.ok(errorDb(y, 1010, amp, edge) > -10, 'a tone 10 Hz away does not fit')
  })
}

t.test('a 7 kHz tone, above the output Nyquist frequency, is rejected by more than 40 dB', async (t) => {
  for (const rate of [44100, 48000]) {
    const y = resample(sine(7000, 2, rate, 0.5), rate)
    const level = levelDb(y, 0.5 / Math.SQRT2, Math.round(0.1 * OUT))
    t.ok(level < -40, `${rate} Hz: ${level.toFixed(1)} dB`)
  }
})

t.test('same rate in and out passes the signal through', async (t) => {
  const y = resample(sine(1000, 1, OUT, 0.5), OUT)
  t.ok(errorDb(y, 1000, 0.5, 1000) < -40)
})

t.test('chunked writes give bit-identical output to one write', async (t) => {
  const rand = prng(42)
  const cases: Array<[string, number, number, () => number]> = [
    ['1 sample', 44100, 0.5, () => 1],
    ['441 samples', 44100, 3, () => 441],
    ['random sizes', 44100, 3, () => 1 + Math.floor(rand() * 5000)],
    ['random sizes at 48000', 48000, 3, () => 1 + Math.floor(rand() * 3000)],
    ['random sizes at 8000', 8000, 3, () => 1 + Math.floor(rand() * 700)],
    ['blocks larger than the internal buffer', 44100, 3, () => 20000],
  ]
  for (const [name, rate, seconds, sizes] of cases) {
    const x = song(7, seconds, rate)
    const whole = resample(x, rate)
    const chunked = resample(x, rate, OUT, sizes)
    t.equal(chunked.length, whole.length, `${name}: same length`)
    t.ok(Buffer.from(chunked.buffer).equals(Buffer.from(whole.buffer)), `${name}: same bits`)
  }
})

t.test('write honours offset and length', async (t) => {
  const x = song(3, 1, 44100)
  const whole = resample(x.subarray(1000, 30000), 44100)
  const parts: number[] = []
  const r = new Resampler(44100, OUT, (s, n) => { for (let i = 0; i < n; i++) parts.push(s[i]) })
  r.write(x, 1000, 29000)
  r.end()
  t.same(Float32Array.from(parts), whole)
})

t.test('write after end throws', async (t) => {
  const r = new Resampler(44100, OUT, () => {})
  r.end()
  t.throws(() => r.write(new Float32Array(10)), Error)
})

t.test('bad rates throw RangeError', async (t) => {
  for (const [a, b] of [[0, OUT], [-44100, OUT], [44100.5, OUT], [NaN, OUT], [Infinity, OUT], [44100, 0], [44100, -1], [44100, 11025.5]]) {
    t.throws(() => new Resampler(a, b, () => {}), RangeError, `${a} -> ${b}`)
  }
})
