/**
 * Fingerprinting speed per stage, on one core: `npm run bench:dsp`.
 *
 * Runs each stage over the same 60 s of music-like audio (or a real file given as the first argument), 7 times
 * after a warm-up, and prints the median time and the multiple of real time. Stages are measured side by side in
 * one run so that the machine's noise hits them alike.
 */
import { defaults } from '../server/src/config/defaults.js'
import { Resampler } from '../server/src/dsp/resample.js'
import { Spectrogram } from '../server/src/dsp/spectrogram.js'
import { PeakPicker } from '../server/src/dsp/peaks.js'
import { LandmarkHasher } from '../server/src/dsp/landmarks.js'
import { fingerprint } from '../server/src/dsp/pipeline.js'
import { decodeFile } from '../server/src/audio/decode.js'

const RUNS = 7
const p = defaults.fingerprint

function synth (seconds: number, rate: number): Float32Array {
  const x = new Float32Array(seconds * rate)
  let s = 12345
  const rnd = (): number => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 }
  for (let n = 0; n < seconds * 6; n++) {
    const f = 110 * 2 ** (Math.floor(rnd() * 36) / 12)
    const start = Math.floor((n * rate) / 6)
    for (let i = 0; i < rate / 2 && start + i < x.length; i++) {
      const env = Math.exp((-i / rate) * 4)
      const ph = (2 * Math.PI * f * (start + i)) / rate
      x[start + i] += 0.2 * env * (Math.sin(ph) + 0.5 * Math.sin(2 * ph) + 0.25 * Math.sin(3 * ph))
    }
  }
  for (let i = 0; i < x.length; i++) x[i] += 0.02 * (rnd() - 0.5)
  return x
}

function median (xs: number[]): number { return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] }

async function main (): Promise<void> {
  const file = process.argv[2]
  const audio = file ? await decodeFile(file) : { samples: synth(60, 44100), sampleRate: 44100, durationSeconds: 60 }
  const seconds = audio.samples.length / audio.sampleRate
  // Inputs of each stage, prepared once.
  const resampled: number[] = []
  new Resampler(audio.sampleRate, p.sampleRate, (s, n) => { for (let i = 0; i < n; i++) resampled.push(s[i]) }).write(audio.samples)
  const atRate = Float32Array.from(resampled)
  const frames: Float32Array[] = []
  new Spectrogram(p.fftSize, p.hopSize, (lp) => frames.push(Float32Array.from(lp))).write(atRate, atRate.length)
  const peaks: number[] = []
  const picker = new PeakPicker(p, (f, b) => peaks.push(f, b))
  frames.forEach((f, i) => picker.write(f, i)); picker.end()

  const stages: Record<string, () => void> = {
    resample: () => { const r = new Resampler(audio.sampleRate, p.sampleRate, () => {}); r.write(audio.samples); r.end() },
    spectrogram: () => { new Spectrogram(p.fftSize, p.hopSize, () => {}).write(atRate, atRate.length) },
    peaks: () => { const k = new PeakPicker(p, () => {}); frames.forEach((f, i) => k.write(f, i)); k.end() },
    landmarks: () => { const h = new LandmarkHasher(p, () => {}); for (let i = 0; i < peaks.length; i += 2) h.write(peaks[i], peaks[i + 1]); h.end() },
    'whole pipeline': () => { fingerprint(p, audio.samples, audio.sampleRate) },
  }
  const times: Record<string, number[]> = {}
  for (let run = -2; run < RUNS; run++) {
    for (const [name, fn] of Object.entries(stages)) {
      const t0 = performance.now(); fn(); const ms = performance.now() - t0
      if (run >= 0) (times[name] ??= []).push(ms)
    }
  }
  const hashes = fingerprint(p, audio.samples, audio.sampleRate).count
  console.log(`${file ?? 'synthetic music'}: ${seconds.toFixed(1)} s at ${audio.sampleRate} Hz, ${peaks.length / 2 / seconds | 0} peaks/s, ${hashes / seconds | 0} hashes/s; median of ${RUNS} runs`)
  console.log('| stage | ms | x real time |')
  console.log('|---|---:|---:|')
  for (const [name, ts] of Object.entries(times)) console.log(`| ${name} | ${median(ts).toFixed(1)} | ${(seconds * 1000 / median(ts)).toFixed(0)} |`)
}

main().catch((err: unknown) => { console.error(err); process.exitCode = 1 })
