import t from 'tap'
import { defaultFingerprint as params } from '../../server/src/config/fingerprint.js'
import { Fingerprinter } from '../../server/src/dsp/pipeline.js'
import { PeakPicker } from '../../server/src/dsp/peaks.js'
import { prng, sine, silence, song, whiteNoise } from '../helpers/signals.js'

interface Run { peaks: Array<[number, number]>, hashes: number, frames: number }

/** Run the whole pipeline on mono PCM, collecting the peaks it picks. */
function run (x: Float32Array, rate: number): Run {
  const peaks: Array<[number, number]> = []
  let hashes = 0
  const fp = new Fingerprinter(params, rate, () => { hashes++ }, { onPeak: (frame, bin) => peaks.push([frame, bin]) })
  fp.write(x)
  fp.end()
  return { peaks, hashes, frames: fp.frames }
}

const framesPerSecond = params.sampleRate / params.hopSize

t.test('the peaks of a tone are at its bin', async (t) => {
  for (const f of [440, 1000, 3000]) {
    const { peaks } = run(sine(f, 3, 44100, 0.5), 44100)
    const bin = Math.round((f * params.fftSize) / params.sampleRate)
    t.ok(peaks.length > 0, `${f} Hz has peaks`)
    t.ok(peaks.every(([, b]) => b === bin), `${f} Hz: every peak in bin ${bin}`)
  }
})

t.test('two tones far apart give peaks at both bins', async (t) => {
  const a = sine(500, 3, 44100, 0.3)
  const b = sine(2000, 3, 44100, 0.3)
  for (let i = 0; i < a.length; i++) a[i] += b[i]
  const bins = new Set(run(a, 44100).peaks.map(([, bin]) => bin))
  const bin = (f: number): number => Math.round((f * params.fftSize) / params.sampleRate)
  t.same([...bins].sort((x, y) => x - y), [bin(500), bin(2000)])
})

t.test('silence gives no peaks and no hashes', async (t) => {
  const r = run(silence(5, 44100), 44100)
  t.equal(r.peaks.length, 0)
  t.equal(r.hashes, 0)
  t.ok(r.frames > 200, 'frames were computed')
})

t.test('16-bit dither gives no peaks (the absolute floor)', async (t) => {
  // Triangular dither of ±1 LSB: about -100 dBFS, below minPeakLogPower.
  const rand = prng(3)
  const x = new Float32Array(5 * 44100)
  for (let i = 0; i < x.length; i++) x[i] = (rand() - rand()) / 32768
  const r = run(x, 44100)
  t.equal(r.peaks.length, 0)
  t.equal(r.hashes, 0)
})

t.test('peaks arrive in (frame, bin) order, inside the picking range', async (t) => {
  const { peaks } = run(song(4, 10, 44100), 44100)
  let ordered = true
  for (let i = 1; i < peaks.length; i++) {
    const [f0, b0] = peaks[i - 1]
    const [f1, b1] = peaks[i]
    if (f1 < f0 || (f1 === f0 && b1 <= b0)) ordered = false
  }
  t.ok(ordered)
  t.ok(peaks.every(([, b]) => b >= params.minBin && b < params.maxBin))
})

/** Several songs played at once: denser than any one of them. */
function mix (seeds: number[], seconds: number): Float32Array {
  const out = new Float32Array(seconds * 44100)
  for (const seed of seeds) {
    const x = song(seed, seconds, 44100)
    for (let i = 0; i < out.length; i++) out[i] += x[i] / seeds.length
  }
  return out
}

t.test('density: never more than peaksPerBlock per block, and near that for rich signals', async (t) => {
  const target = (params.peaksPerBlock / params.blockFrames) * framesPerSecond // ~32 a second
  // Rich signals fill most blocks; one synthetic song has its onsets further apart (measured: 12-17 a second).
  const signals: Array<[string, Float32Array, number]> = [
    ['white noise', whiteNoise(10, 44100, 0.3, 9), 0.6],
    ['five songs at once', mix([1, 2, 3, 4, 5], 15), 0.6],
    ['one song', song(2, 15, 44100), 0.3],
  ]
  for (const [name, x, least] of signals) {
    const { peaks, frames } = run(x, 44100)
    const perBlock = new Map<number, number>()
    for (const [f] of peaks) perBlock.set(Math.floor(f / params.blockFrames), (perBlock.get(Math.floor(f / params.blockFrames)) ?? 0) + 1)
    t.ok([...perBlock.values()].every((n) => n <= params.peaksPerBlock), `${name}: no block over ${params.peaksPerBlock}`)
    const rate = peaks.length / (frames / framesPerSecond)
    t.ok(rate <= target * 1.01, `${name}: ${rate.toFixed(1)} peaks/s, at most ${target.toFixed(1)}`)
    t.ok(rate >= target * least, `${name}: ${rate.toFixed(1)} peaks/s, at least ${(target * least).toFixed(1)}`)
  }
})

t.test('PeakPicker refuses frames out of order', async (t) => {
  const p = new PeakPicker(params, () => {})
  const lp = new Float32Array(params.fftSize / 2 + 1)
  p.write(lp, 0)
  t.throws(() => p.write(lp, 2), Error)
})
