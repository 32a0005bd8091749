import t from 'tap'
import { defaultFingerprint as params } from '../../server/src/config/fingerprint.js'
import { Fingerprinter, fingerprint } from '../../server/src/dsp/pipeline.js'
import { prng, song } from '../helpers/signals.js'

/** Feed `x` to a Fingerprinter in chunks of the sizes `sizes` gives; return the (hash, frame) sequence. */
function streamed (x: Float32Array, rate: number, sizes: () => number): { hashes: number[], frames: number[], frameCount: number } {
  const hashes: number[] = []
  const frames: number[] = []
  const fp = new Fingerprinter(params, rate, (h, f) => { hashes.push(h); frames.push(f) })
  for (let i = 0; i < x.length;) {
    const n = Math.min(sizes(), x.length - i)
    fp.write(x, i, n)
    i += n
  }
  fp.end()
  return { hashes, frames, frameCount: fp.frames }
}

for (const rate of [44100, 48000, 11025]) {
  t.test(`chunked == whole at ${rate} Hz`, async (t) => {
    const x = song(21, 12, rate)
    const whole = fingerprint(params, x, rate)
    t.ok(whole.count > 500, `the clip has hashes (${whole.count})`)
    const wholeHashes = Array.from(whole.hashes.subarray(0, whole.count))
    const wholeFrames = Array.from(whole.frames.subarray(0, whole.count))
    const rand = prng(rate)
    const cases: Array<[string, Float32Array, () => number]> = [
      ['20 ms chunks', x, () => Math.round(0.02 * rate)],
      ['1 s chunks', x, () => rate],
      ['random chunks', x, () => 1 + Math.floor(rand() * rate * 0.3)],
    ]
    for (const [name, clip, sizes] of cases) {
      const s = streamed(clip, rate, sizes)
      t.equal(s.hashes.length, whole.count, `${name}: hash count`)
      t.ok(s.hashes.every((h, i) => h === wholeHashes[i]) && s.frames.every((f, i) => f === wholeFrames[i]), `${name}: same (hash, frame) sequence`)
      t.equal(s.frameCount, whole.frameCount, `${name}: frame count`)
    }
    // One sample at a time, on a 3 s clip.
    const short = x.subarray(0, 3 * rate)
    const ref = fingerprint(params, short, rate)
    const one = streamed(short, rate, () => 1)
    t.ok(ref.count > 50, `the short clip has hashes (${ref.count})`)
    t.same(one.hashes, Array.from(ref.hashes.subarray(0, ref.count)), '1-sample chunks: same hashes')
    t.same(one.frames, Array.from(ref.frames.subarray(0, ref.count)), '1-sample chunks: same frames')
  })
}

t.test('the same audio at different input rates gives mostly the same hashes', async (t) => {
  // The resampler makes the input rate nearly irrelevant: most hashes of a 44.1 kHz rendering are found at 48 kHz.
  const a = fingerprint(params, song(22, 10, 44100), 44100)
  const b = fingerprint(params, song(22, 10, 48000), 48000)
  const set = new Set<string>()
  for (let i = 0; i < a.count; i++) set.add(`${a.hashes[i]}@${a.frames[i]}`)
  let common = 0
  for (let i = 0; i < b.count; i++) if (set.has(`${b.hashes[i]}@${b.frames[i]}`)) common++
  t.ok(common / b.count > 0.5, `${(100 * common / b.count).toFixed(0)}% in common`)
})

t.test('inputSeconds and frames track the input', async (t) => {
  const fp = new Fingerprinter(params, 44100, () => {})
  fp.write(new Float32Array(44100))
  fp.write(new Float32Array(22050))
  t.equal(fp.inputSeconds, 1.5)
  fp.end()
  // 1.5 s is 16537.5 samples at 11025 Hz: floor((16538 - 1024) / 256) + 1 = 61 frames, give or take the end padding.
  t.ok(Math.abs(fp.frames - 61) <= 1, `${fp.frames} frames`)
  fp.end() // a second end is harmless
  t.ok(Math.abs(fp.frames - 61) <= 1)
})

t.test('hash frames are anchor frames within the clip', async (t) => {
  const list = fingerprint(params, song(23, 8, 44100), 44100)
  let ok = true
  for (let i = 0; i < list.count; i++) if (list.frames[i] >= list.frameCount) ok = false
  t.ok(ok)
  t.ok(list.hashes.length >= list.count && list.frames.length >= list.count)
})
