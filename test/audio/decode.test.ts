import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { decodeBytes, decodeStream } from '../../server/src/audio/decode.js'
import { recordingFfmpeg } from '../helpers/ffmpeg.js'
import { sine, wavBytes } from '../helpers/signals.js'

const haveFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0

t.test('decoding stops at the limit and says whether audio was left', async (t) => {
  const wav = wavBytes(sine(440, 10, 44100), 44100, 2)
  const start = await decodeBytes(wav, 'ten.wav', 3)
  t.equal(start.samples.length, 3 * 44100, 'the first 3 s, mixed to mono')
  t.equal(start.cut, true, 'cut: audio goes on past the limit')
  t.ok(Math.abs(start.samples[100] - 0.5 * Math.sin(2 * Math.PI * 440 * 100 / 44100)) < 1e-3, 'the samples themselves')
  const whole = await decodeBytes(wav, 'ten.wav', 20)
  t.equal(whole.samples.length, 10 * 44100)
  t.equal(whole.cut, false, 'not cut: the file ends before the limit')
  t.equal(whole.damaged, undefined)
})

t.test('blocks stream to the sink; none is larger than what a few KiB of input decode to', async (t) => {
  const wav = wavBytes(sine(440, 10, 44100), 44100)
  let largest = 0
  let total = 0
  const summary = await decodeStream(wav, 'ten.wav', 60, (block) => { largest = Math.max(largest, block.length); total += block.length })
  t.equal(total, 10 * 44100)
  t.equal(summary.samples, total)
  t.ok(largest <= 4096, `blocks of at most 4096 samples (largest ${largest})`)
})

t.test('decodeBytes holds at most maxSeconds at 192 kHz, whatever rate the file declares', async (t) => {
  const wav = wavBytes(sine(1000, 2, 384000), 384000)
  const a = await decodeBytes(wav, 'fast.wav', 1)
  t.equal(a.sampleRate, 384000)
  t.equal(a.samples.length, 192000, 'half a second at 384 kHz: the samples of one second at 192 kHz')
})

t.test('the ffmpeg fallback stops at the limit too', { skip: !haveFfmpeg && 'ffmpeg is not installed' }, async (t) => {
  const dir = t.testdir()
  const au = path.join(dir, 'ten.au') // Sun audio: no in-process decoder knows it
  const r = spawnSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=f=440:r=44100:d=10', '-y', au])
  t.equal(r.status, 0)
  const start = await decodeBytes(fs.readFileSync(au), 'ten.au', 3)
  t.equal(start.samples.length, 3 * 44100)
  t.equal(start.cut, true)
  const whole = await decodeBytes(fs.readFileSync(au), 'ten.au', 30)
  t.equal(whole.samples.length, 10 * 44100)
  t.equal(whole.cut, false)
})

t.test('the ffmpeg fallback runs the configured executable, and names it when it cannot', { skip: !haveFfmpeg && 'ffmpeg is not installed' }, async (t) => {
  const dir = t.testdir()
  const au = path.join(dir, 'two.au')
  t.equal(spawnSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=f=440:r=8000:d=2', '-y', au]).status, 0)
  const mine = recordingFfmpeg(dir)
  const audio = await decodeBytes(fs.readFileSync(au), 'two.au', 30, mine.path)
  t.equal(audio.samples.length, 2 * audio.sampleRate, 'decoded: 2 s')
  t.equal(mine.runs(), 1, 'by the configured ffmpeg')
  const missing = path.join(dir, 'no-such-ffmpeg')
  const err = await decodeBytes(fs.readFileSync(au), 'two.au', 30, missing).then(() => undefined, (e: unknown) => e as Error & { code: string })
  t.equal(err?.code, 'EAR_ERR_NOT_AUDIO', 'a missing ffmpeg: the format cannot be decoded here')
  t.match((err?.cause as Error | undefined)?.message, `cannot run ffmpeg (${missing})`, 'and the cause names the executable')
})
