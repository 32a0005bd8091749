import t, { type Test } from 'tap'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import http from 'node:http'
import { once } from 'node:events'
import { execFileSync } from 'node:child_process'
import { EarshotError } from '../../server/src/errors.js'
import type { PcmFormat } from '../../protocol/src/index.js'
import { SourcePuller, type SourceHandlers, type SourceStatus } from '../../server/src/monitor/source-puller.js'
import type { SourceOptions } from '../../server/src/monitor/source-options.js'
import { validateSourceUrl } from '../../server/src/monitor/source-url.js'
import { parseWavHeader } from '../../server/src/monitor/wav-header.js'
import { sine, song, wavBytes, writeWav } from '../helpers/signals.js'

// A SourcePuller against real HTTP servers on loopback and the real ffmpeg. Audio is made here: PCM that passes
// through must arrive byte for byte; audio decoded by ffmpeg must arrive as mono s16le at 11025 Hz, as long as sent.

const FFMPEG = 'ffmpeg'
/** Short timeouts and backoffs so that drops and retries take milliseconds. */
const FAST: SourceOptions = { connectTimeoutMs: 3000, stallTimeoutMs: 3000, initialBackoffMs: 20, maxBackoffMs: 100, resetAfterMs: 60_000 }
const WAIT_MS = 10_000
const dir = t.testdir()

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Wait for `cond` (polled every 5 ms) at most `ms`; fails with `what` when the time is up. */
async function until (cond: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(5)
  }
}

/** `p`, or a rejection naming `what` after `ms`. */
async function within<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((resolve, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms) })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

interface Received { format: PcmFormat, bytes: Buffer[], end?: string }

/** Records every callback, and the rules a caller relies on (format before pcm, whole frames, nothing after stop). */
class Recorder implements SourceHandlers {
  readonly log: string[] = []
  readonly connections: Received[] = []
  readonly states: SourceStatus[] = []
  readonly broken: string[] = []
  stopped = false

  #check (what: string): void { if (this.stopped) this.broken.push(`${what} after stop() resolved`) }
  format (f: PcmFormat): void {
    this.#check('format')
    const last = this.connections.at(-1)
    if (last && last.end === undefined) this.broken.push('format() before the previous connection ended')
    this.connections.push({ format: { ...f }, bytes: [] })
    this.log.push('format')
  }

  pcm (bytes: Uint8Array): void {
    this.#check('pcm')
    const c = this.connections.at(-1)
    if (!c || c.end !== undefined) { this.broken.push('pcm() without format()'); return }
    const frame = c.format.channels * (c.format.encoding === 's16le' ? 2 : 4)
    if (bytes.length === 0 || bytes.length % frame !== 0) this.broken.push(`pcm() of ${bytes.length} bytes (frames of ${frame})`)
    c.bytes.push(Buffer.from(bytes)) // a copy: the view is valid only during the call
  }

  end (reason: string): void {
    this.#check('end')
    const c = this.connections.at(-1)
    if (!c || c.end !== undefined) this.broken.push('end() without format()')
    else c.end = reason
    this.log.push('end')
  }

  state (s: SourceStatus): void {
    this.#check('state')
    this.states.push(s)
    this.log.push(s.state)
  }

  /** All PCM of connection `i`. */
  audio (i = 0): Buffer { return Buffer.concat(this.connections[i]?.bytes ?? []) }
  get last (): SourceStatus | undefined { return this.states.at(-1) }
}

/** Start a puller on `url`, stopped in teardown. */
function pull (t: Test, url: string, options: SourceOptions = {}): { puller: SourcePuller, rec: Recorder } {
  const rec = new Recorder()
  const puller = new SourcePuller(url, rec, { ...FAST, ...options })
  t.teardown(async () => { await puller.stop(); rec.stopped = true })
  puller.start()
  return { puller, rec }
}

/** An HTTP server on 127.0.0.1 at a free port, closed in teardown. Returns http://127.0.0.1:PORT. */
async function serve (t: Test, handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
}

/**
 * Write `bytes` as a live source would: first pieces of the `first` sizes, then `chunk`-byte pieces, one every
 * `everyMs`. Stops when the client leaves.
 */
async function trickle (res: http.ServerResponse, bytes: Uint8Array, chunk: number, everyMs: number, first: readonly number[] = []): Promise<void> {
  for (let at = 0, i = 0; at < bytes.length; i++) {
    if (res.destroyed) return
    const size = i < first.length ? first[i] : chunk
    res.write(bytes.subarray(at, at + size))
    at += size
    await sleep(everyMs)
  }
}

/** s16le PCM of float samples (interleaved when given several channels). */
function s16 (...channels: Float32Array[]): Buffer {
  const n = channels[0].length
  const out = Buffer.alloc(n * channels.length * 2)
  for (let i = 0, p = 0; i < n; i++) for (const ch of channels) { out.writeInt16LE(Math.round(Math.max(-1, Math.min(1, ch[i])) * 32767), p); p += 2 }
  return out
}

/** f32le PCM of float samples (interleaved). */
function f32 (...channels: Float32Array[]): Buffer {
  const n = channels[0].length
  const out = Buffer.alloc(n * channels.length * 4)
  for (let i = 0, p = 0; i < n; i++) for (const ch of channels) { out.writeFloatLE(ch[i], p); p += 4 }
  return out
}

/** The samples of mono s16le PCM. */
function samplesOf (pcm: Buffer): Int16Array {
  return new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + (pcm.length & ~1)))
}

/** The frequency of a pure tone, from its rising zero crossings. */
function toneHz (x: Int16Array, rate: number): number {
  let first = -1
  let last = -1
  let crossings = 0
  for (let i = 1; i < x.length; i++) {
    if (x[i - 1] < 0 && x[i] >= 0) {
      if (first < 0) first = i
      else crossings++
      last = i
    }
  }
  return crossings / ((last - first) / rate)
}

interface HeaderSpec { tag?: number, channels?: number, rate?: number, bits?: number, extensible?: boolean, list?: number, dataSize?: number }

/**
 * A WAV header as a live stream sends it: RIFF size and data size unknown (0xFFFFFFFF), an optional LIST chunk of
 * `list` bytes before the data, and an extensible fmt chunk (40 bytes) when asked.
 */
function wavHeader ({ tag = 1, channels = 1, rate = 8000, bits = 16, extensible = false, list = 0, dataSize = 0xffffffff }: HeaderSpec): Buffer {
  const fmtSize = extensible ? 40 : 16
  const parts: Buffer[] = []
  const riff = Buffer.alloc(12)
  riff.write('RIFF', 0, 'latin1'); riff.writeUInt32LE(0xffffffff, 4); riff.write('WAVE', 8, 'latin1')
  parts.push(riff)
  const fmt = Buffer.alloc(8 + fmtSize)
  fmt.write('fmt ', 0, 'latin1'); fmt.writeUInt32LE(fmtSize, 4)
  fmt.writeUInt16LE(extensible ? 0xfffe : tag, 8)
  fmt.writeUInt16LE(channels, 10); fmt.writeUInt32LE(rate, 12)
  fmt.writeUInt32LE(rate * channels * bits / 8, 16); fmt.writeUInt16LE(channels * bits / 8, 20); fmt.writeUInt16LE(bits, 22)
  if (extensible) {
    fmt.writeUInt16LE(22, 24) // cbSize
    fmt.writeUInt16LE(bits, 26) // valid bits
    fmt.writeUInt32LE(channels === 2 ? 3 : 4, 28) // channel mask
    fmt.writeUInt16LE(tag, 32) // the sub-format GUID opens with the real tag
    Buffer.from('000000001000800000aa00389b71', 'hex').copy(fmt, 34)
  }
  parts.push(fmt)
  if (list > 0) {
    const l = Buffer.alloc(8 + list + (list & 1), 0x61)
    l.write('LIST', 0, 'latin1'); l.writeUInt32LE(list, 4)
    parts.push(l)
  }
  const data = Buffer.alloc(8)
  data.write('data', 0, 'latin1'); data.writeUInt32LE(dataSize, 4)
  parts.push(data)
  return Buffer.concat(parts)
}

/** The ffmpeg processes this test process started that still exist (Linux /proc). */
function ffmpegChildren (): number[] {
  const pids: number[] = []
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let stat: string
    try { stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8') } catch { continue }
    const close = stat.lastIndexOf(')')
    const comm = stat.slice(stat.indexOf('(') + 1, close)
    const ppid = Number(stat.slice(close + 2).split(' ')[1])
    if (ppid === process.pid && comm === 'ffmpeg') pids.push(Number(name))
  }
  return pids
}

// Audio files made once with ffmpeg: an MP3 of a 3 s 440 Hz tone, and HLS segments (AAC in MPEG-TS) of a 3 s song.
const TONE_SECONDS = 3
const TONE_HZ = 440
writeWav(path.join(dir, 'tone.wav'), sine(TONE_HZ, TONE_SECONDS, 44100), 44100)
execFileSync(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', '-i', path.join(dir, 'tone.wav'), '-c:a', 'libmp3lame', '-b:a', '64k', path.join(dir, 'tone.mp3')])
const mp3 = fs.readFileSync(path.join(dir, 'tone.mp3'))
const HLS_SECONDS = 3
fs.mkdirSync(path.join(dir, 'hls'))
writeWav(path.join(dir, 'song.wav'), song(7, HLS_SECONDS, 44100), 44100)
execFileSync(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', '-i', path.join(dir, 'song.wav'), '-c:a', 'aac', '-b:a', '64k',
  '-f', 'hls', '-hls_time', '1', '-hls_list_size', '0', '-hls_playlist_type', 'vod', path.join(dir, 'hls', 'index.m3u8')])

t.test('validateSourceUrl: http and https with a host, nothing else', async (t) => {
  t.equal(validateSourceUrl('http://radio.example/live.mp3'), undefined)
  t.equal(validateSourceUrl('https://radio.example:8443/stream?token=abc'), undefined)
  t.equal(validateSourceUrl('http://127.0.0.1:8000/'), undefined)
  t.match(validateSourceUrl(''), /no URL/)
  t.match(validateSourceUrl('radio.example/live.mp3'), /not a valid absolute URL/)
  t.match(validateSourceUrl('http://'), /not a valid absolute URL/)
  t.match(validateSourceUrl('ftp://radio.example/live.mp3'), /only http: and https:.*not ftp:/)
  t.match(validateSourceUrl('file:///etc/passwd'), /only http: and https:.*not file:/)
  t.match(validateSourceUrl('rtsp://cam.example/audio'), /only http: and https:/)
  t.match(validateSourceUrl('http://dj:secret@radio.example/live'), /user name or password/)
  t.match(validateSourceUrl(`http://radio.example/${'a'.repeat(3000)}`), /longer than 2048/)
  for (const url of ['', 'ftp://x/', 'http://dj:secret@radio.example/live', 'http://']) {
    t.notOk(/\n/.test(validateSourceUrl(url) ?? ''), `one line for ${JSON.stringify(url)}`)
  }

  // The constructor refuses the same URLs, without echoing a password.
  try {
    new SourcePuller('http://dj:secret@radio.example/live', new Recorder())
    t.fail('expected EAR_ERR_SOURCE')
  } catch (err) {
    t.ok(err instanceof EarshotError)
    t.equal((err as EarshotError).code, 'EAR_ERR_SOURCE')
    t.notMatch((err as Error).message, /secret/)
  }
  t.throws(() => new SourcePuller('http://radio.example/', new Recorder(), { stallTimeoutMs: 0 }), RangeError)
  t.throws(() => new SourcePuller('http://radio.example/', new Recorder(), { ffmpegSampleRate: 1000 }), RangeError)
  t.throws(() => new SourcePuller('http://radio.example/', new Recorder(), { ffmpegPath: '' }), TypeError)
  t.equal(new SourcePuller('http://radio.example/', new Recorder()).status.state, 'down', 'down until started')
})

t.test('parseWavHeader reads headers from literal bytes, prefix by prefix', async (t) => {
  const plain = wavHeader({ channels: 2, rate: 22050 })
  t.equal(plain.length, 44)
  t.same(parseWavHeader(plain), { kind: 'pcm', format: { sampleRate: 22050, encoding: 's16le', channels: 2 }, dataOffset: 44 })
  // With a LIST chunk of odd size (padded) and an extensible float fmt chunk.
  const rich = wavHeader({ tag: 3, bits: 32, rate: 48000, extensible: true, list: 13 })
  t.equal(rich.length, 12 + 48 + 22 + 8)
  for (let n = 0; n < rich.length; n++) {
    if (parseWavHeader(rich, n).kind !== 'more') { t.fail(`prefix of ${n} bytes: ${JSON.stringify(parseWavHeader(rich, n))}`); break }
  }
  t.same(parseWavHeader(rich), { kind: 'pcm', format: { sampleRate: 48000, encoding: 'f32le', channels: 1 }, dataOffset: rich.length })
  // Layouts ffmpeg decodes instead.
  t.match(parseWavHeader(wavHeader({ bits: 24, channels: 2, rate: 44100 })), { kind: 'other', layout: 'format 1, 24-bit, 2 channels, 44100 Hz', dataOffset: 44 })
  t.match(parseWavHeader(wavHeader({ channels: 6 })), { kind: 'other' })
  t.match(parseWavHeader(wavHeader({ rate: 192000 })), { kind: 'other' })
  t.match(parseWavHeader(wavHeader({ tag: 7, bits: 8 })), { kind: 'other', layout: /format 7, 8-bit/ })
  // Not readable.
  const rifx = Buffer.from(plain)
  rifx.write('RIFX', 0, 'latin1')
  t.match(parseWavHeader(rifx), { kind: 'bad', reason: /no RIFF\/WAVE/ })
  const dataFirst = Buffer.concat([plain.subarray(0, 12), plain.subarray(36, 44)])
  t.match(parseWavHeader(dataFirst), { kind: 'bad', reason: /data chunk before its fmt chunk/ })
  const noChannels = Buffer.from(plain)
  noChannels.writeUInt16LE(0, 22)
  t.match(parseWavHeader(noChannels), { kind: 'bad', reason: /0 channels/ })
})

t.test('a live s16 stereo WAV in small odd chunks: format, then the exact PCM bytes; the end of the body is a drop', async (t) => {
  const rate = 22050
  const pcm = s16(sine(440, 1.5, rate, 0.5), song(3, 1.5, rate))
  const url = await serve(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'audio/wav' })
    void trickle(res, Buffer.concat([wavHeader({ channels: 2, rate, list: 101 }), pcm]), 999, 8).then(() => res.end())
  })
  const { puller, rec } = pull(t, `${url}/live.wav`)
  await until(() => rec.connections[0]?.end !== undefined, 'the first connection to end')
  t.same(rec.connections[0].format, { sampleRate: rate, encoding: 's16le', channels: 2 })
  t.equal(rec.audio(0).length, pcm.length, 'as many bytes as sent')
  t.ok(rec.audio(0).equals(pcm), 'the very bytes sent')
  t.equal(rec.connections[0].end, 'the stream ended')
  t.same(rec.log.slice(0, 4), ['connecting', 'format', 'listening', 'end'])
  await until(() => rec.states.length >= 4, 'a reconnect')
  t.same(rec.states.slice(2, 4).map((s) => s.state), ['down', 'connecting'])
  t.match(rec.states[2].lastError, /^EAR_ERR_SOURCE: Cannot read the audio source http:\/\/127\.0\.0\.1:\d+\/live\.wav: the stream ended$/)
  t.equal(rec.states[3].reconnects, 1)
  await puller.stop()
  t.same(rec.broken, [])
})

t.test('a float WAV with an extensible header, served as application/octet-stream, is sniffed and passed through', async (t) => {
  const pcm = f32(song(5, 1, 16000))
  const url = await serve(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    // 7 bytes are too few to sniff, 7 + 50 too few for the header: both must wait for more. The response stays
    // open: the test stops the puller first.
    void trickle(res, Buffer.concat([wavHeader({ tag: 3, bits: 32, rate: 16000, extensible: true }), pcm]), 1001, 1, [7, 50])
  })
  const { puller, rec } = pull(t, `${url}/stream`)
  await until(() => rec.audio(0).length >= pcm.length, 'all the audio')
  t.same(rec.connections[0].format, { sampleRate: 16000, encoding: 'f32le', channels: 1 })
  t.ok(rec.audio(0).equals(pcm), 'the very bytes sent')
  await puller.stop()
  t.equal(rec.connections[0].end, 'stopped')
  t.same(rec.log.slice(-2), ['end', 'down'])
  t.same(rec.broken, [])
})

t.test('audio/pcm passes through; audio/L16 is swapped to little-endian; redirects are followed', async (t) => {
  const f32Pcm = f32(sine(300, 0.5, 8000), sine(500, 0.5, 8000))
  const leStereo = s16(song(9, 1, 16000), sine(1000, 1, 16000))
  const beStereo = Buffer.from(leStereo).swap16()
  const url = await serve(t, (req, res) => {
    if (req.url === '/old') { res.writeHead(302, { location: '/older' }); res.end(); return }
    if (req.url === '/older') { res.writeHead(307, { location: `http://${req.headers.host}/l16` }); res.end(); return }
    if (req.url === '/pcm') {
      res.writeHead(200, { 'content-type': 'audio/pcm;rate=8000;encoding=f32le;channels=2' })
      void trickle(res, f32Pcm, 1001, 1)
      return
    }
    t.equal(req.headers['icy-metadata'], '0', 'asks for no in-band metadata')
    res.writeHead(200, { 'content-type': 'audio/L16; rate=16000; channels=2' })
    void trickle(res, beStereo, 333, 1) // odd: samples split across chunks
  })
  const pcm = pull(t, `${url}/pcm`)
  const l16 = pull(t, `${url}/old`)
  await until(() => pcm.rec.audio(0).length >= f32Pcm.length && l16.rec.audio(0).length >= leStereo.length, 'all the audio')
  t.same(pcm.rec.connections[0].format, { sampleRate: 8000, encoding: 'f32le', channels: 2 })
  t.ok(pcm.rec.audio(0).equals(f32Pcm), 'audio/pcm: the very bytes sent')
  t.same(l16.rec.connections[0].format, { sampleRate: 16000, encoding: 's16le', channels: 2 })
  t.ok(l16.rec.audio(0).equals(leStereo), 'audio/L16: every sample byte-swapped')
  t.ok(!l16.rec.audio(0).equals(beStereo))
  await pcm.puller.stop()
  await l16.puller.stop()
  t.same(pcm.rec.broken, [])
  t.same(l16.rec.broken, [])
})

t.test('bad raw parameters and bad WAV headers: down with the reason, then a retry', async (t) => {
  const url = await serve(t, (req, res) => {
    if (req.url === '/norate') { res.writeHead(200, { 'content-type': 'audio/pcm;encoding=s16le' }); res.end(Buffer.alloc(100)); return }
    const bad = wavHeader({})
    bad.write('fmt ', 36, 'latin1') // a second fmt chunk of unknown size where the data chunk should be
    res.writeHead(200, { 'content-type': 'audio/x-wav' })
    res.end(Buffer.concat([bad, Buffer.alloc(100)]))
  })
  const norate = pull(t, `${url}/norate`)
  const badWav = pull(t, `${url}/bad.wav`)
  await until(() => norate.rec.states.length >= 3 && badWav.rec.states.length >= 3, 'a failure and a retry of each')
  t.match(norate.rec.states[1], { state: 'down', lastError: /EAR_ERR_SOURCE: .*audio\/pcm needs rate=8000\.\.96000 in its content type, got none$/ })
  t.match(badWav.rec.states[1], { state: 'down', lastError: /EAR_ERR_SOURCE: .*WAV chunk 'fmt ' of unknown size/ })
  t.same(norate.rec.connections, [])
  t.same(badWav.rec.connections, [])
})

t.test('an MP3 served as audio/mpeg goes through ffmpeg: mono s16le at 11025 Hz, as long as the file', async (t) => {
  const url = await serve(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'audio/mpeg' })
    void trickle(res, mp3, 4096, 5).then(() => res.end())
  })
  const { puller, rec } = pull(t, `${url}/radio.mp3`)
  await until(() => rec.connections[0]?.end !== undefined, 'ffmpeg to finish the file')
  await puller.stop()
  t.same(rec.connections[0].format, { sampleRate: 11025, encoding: 's16le', channels: 1 })
  t.equal(rec.connections[0].end, 'the stream ended', 'ffmpeg exited 0 at the end of the body')
  const x = samplesOf(rec.audio(0))
  const seconds = x.length / 11025
  t.ok(Math.abs(seconds - TONE_SECONDS) < 0.15, `about ${TONE_SECONDS} s of audio: ${seconds.toFixed(3)} s`)
  const hz = toneHz(x.subarray(11025 / 2, x.length - 11025 / 2), 11025) // away from the codec's start and end
  t.ok(Math.abs(hz - TONE_HZ) < 2, `the 440 Hz tone: ${hz.toFixed(1)} Hz`)
  t.same(rec.broken, [])
})

t.test('a WAV layout that is not passed through (24-bit stereo 48 kHz) goes to ffmpeg', async (t) => {
  const wav = wavBytes([sine(TONE_HZ, 2, 48000), sine(TONE_HZ, 2, 48000)], 48000, 2, 24)
  const url = await serve(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'audio/wav' })
    res.end(wav)
  })
  const { puller, rec } = pull(t, `${url}/hq.wav`)
  await until(() => rec.connections[0]?.end !== undefined, 'ffmpeg to finish the file')
  await puller.stop()
  t.same(rec.connections[0].format, { sampleRate: 11025, encoding: 's16le', channels: 1 })
  const x = samplesOf(rec.audio(0))
  t.ok(Math.abs(x.length / 11025 - 2) < 0.05, `about 2 s: ${(x.length / 11025).toFixed(3)} s`)
  t.ok(Math.abs(toneHz(x, 11025) - TONE_HZ) < 2, 'the tone survives')
  t.same(rec.broken, [])
})

t.test('HLS: the playlist is handed to ffmpeg, which fetches the segments', async (t) => {
  const fetched: string[] = []
  const url = await serve(t, (req, res) => {
    const name = path.basename(req.url ?? '')
    fetched.push(name)
    const file = path.join(dir, 'hls', name)
    if (!fs.existsSync(file)) { res.writeHead(404); res.end(); return }
    res.writeHead(200, { 'content-type': name.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t' })
    res.end(fs.readFileSync(file))
  })
  const { puller, rec } = pull(t, `${url}/hls/index.m3u8`)
  await until(() => rec.connections[0]?.end !== undefined, 'ffmpeg to finish the playlist')
  await puller.stop()
  t.same(rec.connections[0].format, { sampleRate: 11025, encoding: 's16le', channels: 1 })
  const seconds = rec.audio(0).length / 2 / 11025
  t.ok(Math.abs(seconds - HLS_SECONDS) < 0.3, `about ${HLS_SECONDS} s of audio: ${seconds.toFixed(3)} s`)
  t.ok(fetched.includes('index0.ts') && fetched.includes('index2.ts'), `segments fetched: ${fetched.join(' ')}`)
  t.same(rec.broken, [])
})

t.test('a SHOUTcast v1 answer (ICY 200 OK) is read by ffmpeg', async (t) => {
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    socket.once('data', () => {
      socket.write('ICY 200 OK\r\ncontent-type: audio/mpeg\r\nicy-name: test\r\n\r\n')
      socket.end(mp3)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const { puller, rec } = pull(t, `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/;`)
  await until(() => rec.connections[0]?.end !== undefined, 'ffmpeg to finish the stream')
  await puller.stop()
  t.same(rec.connections[0].format, { sampleRate: 11025, encoding: 's16le', channels: 1 })
  const seconds = rec.audio(0).length / 2 / 11025
  t.ok(Math.abs(seconds - TONE_SECONDS) < 0.15, `about ${TONE_SECONDS} s: ${seconds.toFixed(3)} s`)
  t.same(rec.broken, [])
})

t.test('the server drops the connection mid-way: end, down, connecting, listening again', async (t) => {
  const pcm = s16(song(11, 0.5, 8000))
  let requests = 0
  const url = await serve(t, (req, res) => {
    requests++
    res.writeHead(200, { 'content-type': 'audio/pcm;rate=8000;encoding=s16le;channels=1' })
    res.write(pcm)
    setTimeout(() => res.socket?.destroy(), 50)
  })
  const { puller, rec } = pull(t, `${url}/drop`)
  await until(() => rec.states.filter((s) => s.state === 'listening').length >= 2, 'listening a second time')
  await puller.stop()
  t.same(rec.log.slice(0, 7), ['connecting', 'format', 'listening', 'end', 'down', 'connecting', 'format'])
  t.match(rec.connections[0].end, /the source closed the connection|connection lost/)
  t.ok(rec.audio(0).equals(pcm), 'the audio before the drop')
  const again = rec.states.filter((s) => s.state === 'listening')[1]
  t.equal(again.reconnects, 1, 'one reconnect')
  t.match(again.lastError, /^EAR_ERR_SOURCE: /, 'the drop stays as the last error')
  t.ok(requests >= 2)
  t.same(rec.broken, [])
})

t.test('HTTP 404: down with a clear error, then retries with a growing wait', async (t) => {
  const times: number[] = []
  const url = await serve(t, (req, res) => {
    times.push(Date.now())
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('no such mount')
  })
  const { puller, rec } = pull(t, `${url}/missing?token=secret`, { initialBackoffMs: 40, maxBackoffMs: 1000 })
  await until(() => times.length >= 4, 'three retries')
  await puller.stop()
  t.same(rec.log.slice(0, 4), ['connecting', 'down', 'connecting', 'down'])
  t.equal(rec.states[1].lastError, `EAR_ERR_SOURCE: Cannot read the audio source ${url}/missing: HTTP 404 Not Found`)
  t.same(rec.connections, [], 'no format() and no end(): there was never audio')
  t.equal(rec.states[2].reconnects, 1)
  t.equal(rec.states[4].reconnects, 2)
  // Waits of 40, 80, 160 ms ± 20 % (lower bounds only: timers never fire early).
  t.ok(times[2] - times[1] >= 60, `the second wait is longer: ${times[2] - times[1]} ms`)
  t.ok(times[3] - times[2] >= 125, `the third longer still: ${times[3] - times[2]} ms`)
  t.same(rec.broken, [])
})

t.test('a stall (headers, then nothing) is a drop after stallTimeoutMs', async (t) => {
  const url = await serve(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'audio/mpeg' })
    res.flushHeaders()
  })
  const started = Date.now()
  const { puller, rec } = pull(t, `${url}/silent.mp3`, { stallTimeoutMs: 300 })
  await until(() => rec.last?.state === 'down', 'the stall')
  const elapsed = Date.now() - started
  await puller.stop()
  t.ok(elapsed >= 295, `not before 300 ms: ${elapsed} ms`)
  t.match(rec.states[1].lastError, /: no audio for 300 ms$/)
  t.same(rec.log.slice(0, 2), ['connecting', 'down'])
})

t.test('no answer, a refused connection, a missing ffmpeg, not audio: each is a clear lastError', async (t) => {
  const silent = await serve(t, () => {}) // accepts, never answers
  const closed = net.createServer()
  closed.listen(0, '127.0.0.1')
  await once(closed, 'listening')
  const port = (closed.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  const mp3Server = await serve(t, (req, res) => { res.writeHead(200, { 'content-type': 'audio/mpeg' }); res.end(mp3) })
  const textServer = await serve(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'audio/mpeg' })
    res.end('this is not audio, just text. '.repeat(2000))
  })

  const noAnswer = pull(t, `${silent}/x`, { connectTimeoutMs: 200 })
  const refused = pull(t, `http://127.0.0.1:${port}/x`)
  const noFfmpeg = pull(t, `${mp3Server}/x.mp3`, { ffmpegPath: 'earshot-test-no-such-ffmpeg' })
  const notAudio = pull(t, `${textServer}/x.mp3`)
  const all = [noAnswer.rec, refused.rec, noFfmpeg.rec, notAudio.rec]
  await until(() => all.every((r) => r.states.some((s) => s.state === 'down')), 'four failures')
  t.match(noAnswer.rec.states[1].lastError, /: no response within 200 ms$/)
  t.match(refused.rec.states[1].lastError, /: cannot connect: .*ECONNREFUSED/)
  t.match(noFfmpeg.rec.states[1].lastError, /: cannot run ffmpeg \(earshot-test-no-such-ffmpeg\): .*ENOENT/)
  t.match(notAudio.rec.states[1].lastError, /: ffmpeg exited with 1: pipe:0: Invalid data found when processing input$/)
  for (const r of all) t.notOk(/\n/.test(r.states[1].lastError ?? ''), 'one line')
})

t.test('stop() kills ffmpeg and no callback follows', { skip: fs.existsSync('/proc/self/stat') ? false : 'needs /proc' }, async (t) => {
  // A live HLS playlist (no end: ffmpeg would reload it for ever) and an endless MP3 station, piped into ffmpeg.
  const live = fs.readFileSync(path.join(dir, 'hls', 'index.m3u8'), 'utf8').replace(/#EXT-X-(ENDLIST|PLAYLIST-TYPE:VOD)\n/g, '')
  const url = await serve(t, (req, res) => {
    if (req.url === '/live/index.m3u8') { res.writeHead(200, { 'content-type': 'application/x-mpegurl' }); res.end(live); return }
    if (req.url?.startsWith('/live/')) { res.writeHead(200, { 'content-type': 'video/mp2t' }); res.end(fs.readFileSync(path.join(dir, 'hls', path.basename(req.url)))); return }
    res.writeHead(200, { 'content-type': 'audio/mpeg' })
    void (async () => { while (!res.destroyed) await trickle(res, mp3, 2048, 10) })()
  })
  const before = ffmpegChildren().length
  const hls = pull(t, `${url}/live/index.m3u8`)
  const station = pull(t, `${url}/endless.mp3`)
  await until(() => hls.rec.audio(0).length > 11025 && station.rec.audio(0).length > 11025, 'audio from both ffmpegs')
  t.equal(ffmpegChildren().length, before + 2, 'two ffmpeg processes run')
  for (const { puller, rec } of [hls, station]) {
    await within(puller.stop(), 5000, 'stop() to resolve')
    rec.stopped = true
    t.equal(rec.connections[0].end, 'stopped')
    t.equal(puller.status.state, 'down')
  }
  t.equal(ffmpegChildren().length, before, 'no ffmpeg left once stop() resolves')
  await sleep(300)
  t.same(hls.rec.broken, [], 'no callback after stop()')
  t.same(station.rec.broken, [], 'no callback after stop()')
})

t.test('listening for resetAfterMs resets the backoff; audio keeps the stall timer off', async (t) => {
  let requests = 0
  const url = await serve(t, (req, res) => {
    if (++requests !== 4) { res.writeHead(503); res.end(); return }
    res.writeHead(200, { 'content-type': 'audio/pcm;rate=8000;encoding=s16le;channels=1' })
    void trickle(res, s16(song(2, 1, 8000)), 800, 50) // 0.05 s of audio every 50 ms for 1 s, then the end
      .then(() => res.end())
  })
  const { puller, rec } = pull(t, `${url}/flaky`, { initialBackoffMs: 40, maxBackoffMs: 5000, resetAfterMs: 300, stallTimeoutMs: 200 })
  await until(() => rec.states.filter((s) => s.state === 'connecting').length >= 5, 'the attempt after the audio')
  await puller.stop()
  t.equal(rec.connections[0].end, 'the stream ended', 'a second of audio in pieces 50 ms apart is no stall')
  t.equal(rec.audio(0).length, 16000)
  const at = (i: number): number => Date.parse(rec.states[i].since)
  // connecting, down (503) ×3, then connecting, listening, down (the end), connecting.
  t.same(rec.states.slice(0, 10).map((s) => s.state),
    ['connecting', 'down', 'connecting', 'down', 'connecting', 'down', 'connecting', 'listening', 'down', 'connecting'])
  t.ok(at(6) - at(5) >= 125, `after three failures, about 160 ms: ${at(6) - at(5)} ms`)
  // Without the reset this wait would be 320 ms ± 20 %; with it, 40 ms ± 20 %.
  t.ok(at(9) - at(8) < 200, `after a second of audio, about 40 ms again: ${at(9) - at(8)} ms`)
})
