import t from 'tap'
import { Spectrogram } from '../../server/src/dsp/spectrogram.js'
import { prng, sine, song } from '../helpers/signals.js'

const RATE = 11025
const FFT = 1024
const HOP = 256

/** Every frame's log power, copied out of the reused array. */
function frames (x: Float32Array, sizes?: () => number): Float32Array[] {
  const out: Float32Array[] = []
  const s = new Spectrogram(FFT, HOP, (lp, frame) => {
    if (frame !== out.length) throw new Error(`frame ${frame} out of order`)
    out.push(lp.slice())
  })
  if (!sizes) {
    s.write(x, x.length)
  } else {
    for (let i = 0; i < x.length;) {
      const n = Math.min(sizes(), x.length - i)
      s.write(x.subarray(i, i + n), n)
      i += n
    }
  }
  return out
}

function argmax (x: Float32Array): number {
  let best = 0
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i
  return best
}

t.test('a sine peaks in bin round(f * fftSize / sampleRate)', async (t) => {
  for (const f of [200, 440, 1000, 2500, 4321]) {
    const spectra = frames(sine(f, 1, RATE, 0.5))
    const bin = Math.round((f * FFT) / RATE)
    t.ok(spectra.length > 0)
    t.ok(spectra.every((lp) => argmax(lp) === bin), `${f} Hz peaks in bin ${bin} in every frame`)
  }
})

t.test('a full-scale sine centred on a bin has log power near 0', async (t) => {
  for (const bin of [50, 100, 300]) {
    const spectra = frames(sine((bin * RATE) / FFT, 1, RATE, 1))
    for (const lp of [spectra[0], spectra[spectra.length - 1]]) {
      t.ok(Math.abs(lp[bin]) < 0.01, `bin ${bin}: log power ${lp[bin].toFixed(4)}`)
    }
    // Half amplitude is a quarter of the power: log power ln(1/4).
    const half = frames(sine((bin * RATE) / FFT, 1, RATE, 0.5))
    t.ok(Math.abs(half[0][bin] - Math.log(0.25)) < 0.01, `bin ${bin} at half amplitude: ${half[0][bin].toFixed(4)}`)
  }
})

t.test('silence gives a finite floor', async (t) => {
  const spectra = frames(new Float32Array(RATE))
  t.ok(spectra[0].every((v) => Number.isFinite(v) && v < -30))
})

t.test('frame k covers samples [k*hop, k*hop + fftSize)', async (t) => {
  // A click at sample 3000 is seen by frames 8..11 (3000 - 1024 < 256k <= 3000), and by no other frame.
  const x = new Float32Array(RATE)
  x[3000] = 1
  const spectra = frames(x)
  t.equal(spectra.length, Math.floor((RATE - FFT) / HOP) + 1, 'frame count')
  const lit = spectra.map((lp, k) => (lp[100] > -30 ? k : -1)).filter((k) => k >= 0)
  t.same(lit, [8, 9, 10, 11])
})

t.test('chunked writes give identical frames', async (t) => {
  const rand = prng(5)
  const x = song(11, 3, RATE)
  const whole = frames(x)
  for (const [name, sizes] of [['1 sample', () => 1], ['hop', () => HOP], ['random', () => 1 + Math.floor(rand() * 3000)]] as const) {
    const chunked = frames(x, sizes)
    t.equal(chunked.length, whole.length, `${name}: frame count`)
    t.ok(chunked.every((lp, k) => Buffer.from(lp.buffer).equals(Buffer.from(whole[k].buffer))), `${name}: same bits`)
  }
})
