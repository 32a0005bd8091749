/**
 * Pulling a monitored stream: a radio stream's URL in, its PCM out (through callbacks), for as long as it runs.
 *
 * One GET per connection (node:http, so the body streams with backpressure; `Icy-MetaData: 0` keeps in-band title
 * blocks out of the audio; up to 5 redirects). What happens to the body depends on its content type and first bytes:
 *
 *   audio/wav (or a body opening RIFF....WAVE)  the header is read from the stream; 16-bit integer or 32-bit float,
 *                                               1 or 2 channels at 8000..96000 Hz pass through; any other WAV goes
 *                                               to ffmpeg
 *   audio/pcm;rate=R;encoding=E;channels=C      raw, passed through
 *   audio/L16;rate=R;channels=C                 raw big-endian, swapped to little-endian in a reused buffer
 *   HLS (playlist type, or a path ending .m3u8) the response is closed and ffmpeg reads the URL itself
 *   anything else (MP3, AAC, Ogg…)              the body is piped into ffmpeg's stdin; no second request
 *   an `ICY 200 OK` answer (SHOUTcast v1)       node cannot parse it: ffmpeg reads the URL itself
 *
 * ffmpeg outputs mono s16le at `ffmpegSampleRate` (11025 Hz: earshot fingerprints at that rate, so the audio is
 * resampled once). Whatever ends a connection (an HTTP error, a refused connection, a timeout, no audio for a while,
 * ffmpeg exiting, a bad header, or the body simply ending: a live source has no end) makes the source 'down' and a
 * new attempt follows after an exponential backoff with jitter.
 *
 * A finite source is the exception: a response with a Content-Length that is neither SHOUTcast/Icecast (no `icy-*`
 * header) nor HLS, i.e. a file on a web server. Read as fast as it comes, a 68 s song would take a second, be filed
 * as a 1 s play, and be filed again on every reconnect. So it is read at real-time pace: PCM passed through by
 * audio duration (reading pauses while the audio handed on runs more than PACE_LEAD_MS ahead of the wall clock
 * since its first audio), a body piped into ffmpeg by ffmpeg itself (`-re`; its stdin's backpressure reaches the
 * socket). Pausing ffmpeg's output instead does not hold: node resumes a child's stdout when the child exits, and a
 * short file's PCM fits the pipe. When the whole body has been read (and decoded) the source is 'finished': no
 * reconnect, nothing heard twice.
 *
 * Per chunk nothing is allocated but views: odd bytes wait in a carry buffer and L16 is swapped into a swap buffer,
 * both made once per puller.
 */
import http from 'node:http'
import https from 'node:https'
import type { ChildProcess } from 'node:child_process'
import type { Writable } from 'node:stream'
import { performance } from 'node:perf_hooks'
import { EarshotError, describeError } from '../errors.js'
import type { AddressPolicy } from '../net/address-policy.js'
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, SPREAD_JITTER, backoffDelayMs, type PcmFormat } from '../../../protocol/src/index.js'
import { DEFAULT_FFMPEG_PATH, FfmpegDecoder, STDIN_INPUT } from '../audio/ffmpeg.js'
import { PcmFramer, SWAP_BUFFER_BYTES } from '../audio/pcm-framer.js'
import { frameBytesOf } from '../audio/pcm-to-mono.js'
import { parseContentType, rawPcmType } from '../net/content-type.js'
import { isWavMagic, parseWavHeader } from './wav-header.js'


export type SourceState = 'connecting' | 'listening' | 'down' | 'finished'

export interface SourceStatus {
  state: SourceState
  /** When the state last changed (ISO 8601). */
  since: string
  /** Attempts after the first since start(). */
  reconnects: number
  /** The latest failure, one line (`EAR_ERR_SOURCE: …`); kept after the source recovers. */
  lastError?: string
}

/** Callbacks of a SourcePuller. They run synchronously on the puller's events and must not throw. */
export interface SourceHandlers {
  /** A new connection produced audio: its format. Called once per connection, before its first pcm(). */
  format (f: PcmFormat): void
  /** PCM of the current connection: whole sample frames only. May be a view valid only during the call. */
  pcm (bytes: Uint8Array): void
  /** The current connection ended (dropped, stalled, ffmpeg exited, stop()…). Once per connection that produced format(). */
  end (reason: string): void
  /**
   * State changes: connecting -> listening (first audio) -> down (on failure, until the next attempt) -> connecting…;
   * a finite source that was read to its end: listening -> finished, and no further attempt.
   */
  state (s: SourceStatus): void
}

export interface SourceOptions {
  /** [ffmpegPath='ffmpeg'] the ffmpeg executable, looked up on the PATH unless absolute. */
  ffmpegPath?: string
  /** [ffmpegSampleRate=11025] Hz of ffmpeg's output (mono s16le), 8000..96000. */
  ffmpegSampleRate?: number
  /** [connectTimeoutMs=10000] from the request to the response headers, redirects included. */
  connectTimeoutMs?: number
  /** [stallTimeoutMs=15000] no audio bytes for this long (from the response on) and the source counts as dropped. */
  stallTimeoutMs?: number
  /** [initialBackoffMs=1000] wait before the first retry; doubled per failed attempt in a row, ±20 % jitter. */
  initialBackoffMs?: number
  /** [maxBackoffMs=60000] the longest wait between attempts. */
  maxBackoffMs?: number
  /** [resetAfterMs=30000] listening at least this long makes the next failure wait initialBackoffMs again. */
  resetAfterMs?: number
  /** [maxHeaderBytes=65536] bytes read to sniff the body or find a WAV header's data chunk before giving up. */
  maxHeaderBytes?: number
  /** [addressPolicy=null] checks the address of every connection and redirect; null: any address. */
  addressPolicy?: AddressPolicy | null
}

/** The defaults, one line each; options are spread over them. */
export const sourceDefaults: Readonly<Required<SourceOptions>> = Object.freeze({
  ffmpegPath: DEFAULT_FFMPEG_PATH, // found on the PATH
  ffmpegSampleRate: 11025, // Hz: the fingerprint rate, so audio is resampled once
  connectTimeoutMs: 10_000, // a live server answers in well under a second; DNS and TLS can take a few
  stallTimeoutMs: 15_000, // longer than a slow HLS segment fetch or a stream's start-up buffering
  initialBackoffMs: 1000, // first retry after about a second
  maxBackoffMs: 60_000, // a source that is down for hours is still tried every minute
  resetAfterMs: 30_000, // half a minute of audio means the source works again
  maxHeaderBytes: 65_536, // a WAV header with a large LIST chunk still fits
  addressPolicy: null, // the server passes its own
})

const MAX_REDIRECTS = 5
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])
/** How far the audio of a finite source may run ahead of the wall clock before reading pauses, in ms. */
const PACE_LEAD_MS = 500
/** Bytes needed to tell a WAV (RIFF....WAVE) or a playlist (#EXTM3U) from anything else. */
const SNIFF_BYTES = 12
const HLS_MAGIC = '#EXTM3U'
/** Reasons longer than this are cut, so lastError stays one readable line. */
const MAX_REASON_CHARS = 300
const MAX_URL_CHARS = 2048
/** setTimeout fires at once for longer delays (a 32-bit signed count of ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1
const USER_AGENT = 'earshot'

const HLS_TYPES = new Set(['application/vnd.apple.mpegurl', 'application/x-mpegurl', 'audio/mpegurl', 'audio/x-mpegurl'])
const WAV_TYPES = new Set(['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave'])

/**
 * Whether `url` can be monitored: undefined when it can, otherwise a one-line reason. Only http: and https: URLs
 * with a host; no user name or password in the URL, since a URL shows in logs, status and metrics.
 */
export function validateSourceUrl (url: string): string | undefined {
  if (typeof url !== 'string' || url.trim() === '') return 'no URL given'
  if (url.length > MAX_URL_CHARS) return `the URL is longer than ${MAX_URL_CHARS} characters`
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return 'not a valid absolute URL (expected http://host/path or https://host/path)'
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `only http: and https: streams can be monitored, not ${u.protocol}`
  if (u.hostname === '') return 'the URL has no host'
  if (u.username !== '' || u.password !== '') return 'the URL holds a user name or password, which would show in logs and status'
  return undefined
}

/** The URL for messages: scheme, host and path; the query is left out, since stream tokens often live there. */
function displayUrl (url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}`
  } catch {
    return url.slice(0, 100)
  }
}

function oneLine (s: string): string {
  const line = s.replace(/\s+/g, ' ').trim()
  return line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS - 1)}…` : line
}

function resolveOptions (options: SourceOptions): Readonly<Required<SourceOptions>> {
  const o = { ...sourceDefaults }
  for (const [key, value] of Object.entries(options)) {
    if (key in sourceDefaults && value !== undefined) (o as Record<string, unknown>)[key] = value
  }
  if (typeof o.ffmpegPath !== 'string' || o.ffmpegPath === '') throw new TypeError('SourceOptions.ffmpegPath must be a non-empty string')
  const positive = ['connectTimeoutMs', 'stallTimeoutMs', 'initialBackoffMs', 'maxBackoffMs', 'resetAfterMs'] as const
  for (const key of positive) {
    const v = o[key]
    if (typeof v !== 'number' || !(v > 0 && v <= MAX_TIMER_MS)) throw new RangeError(`SourceOptions.${key} must be from 1 to ${MAX_TIMER_MS} ms, got ${String(v)}`)
  }
  if (!Number.isInteger(o.ffmpegSampleRate) || o.ffmpegSampleRate < MIN_SAMPLE_RATE || o.ffmpegSampleRate > MAX_SAMPLE_RATE) {
    throw new RangeError(`SourceOptions.ffmpegSampleRate must be an integer from ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz, got ${String(o.ffmpegSampleRate)}`)
  }
  if (!Number.isInteger(o.maxHeaderBytes) || o.maxHeaderBytes < 64) throw new RangeError(`SourceOptions.maxHeaderBytes must be an integer of at least 64, got ${String(o.maxHeaderBytes)}`)
  return Object.freeze(o)
}

type Body =
  | { kind: 'raw', format: PcmFormat, bigEndian: boolean }
  | { kind: 'wav' | 'hls' | 'sniff' }
  | { kind: 'bad', reason: string }

/** What to do with a response body, from its content type and the URL's path. */
function classifyBody (contentType: string | undefined, pathname: string): Body {
  const ct = parseContentType(contentType)
  if (HLS_TYPES.has(ct.type) || pathname.toLowerCase().endsWith('.m3u8')) return { kind: 'hls' }
  if (WAV_TYPES.has(ct.type)) return { kind: 'wav' }
  const pcm = rawPcmType(ct)
  if (pcm === undefined) return { kind: 'sniff' }
  if (pcm.problem !== undefined) return { kind: 'bad', reason: pcm.problem }
  return { kind: 'raw', format: pcm.format, bigEndian: pcm.bigEndian }
}

/** Buffers made once per puller and reused by each of its connections (one runs at a time). */
interface SharedBuffers {
  /** The start of a body, while its WAV header is read or its kind sniffed. */
  head: Buffer
  /** L16 samples swapped to little-endian. */
  swap: Uint8Array
}

/** What a connection reports to its puller. Nothing is reported after the connection is closed. */
interface ConnectionSink {
  format (f: PcmFormat): void
  pcm (bytes: Uint8Array): void
  /** `finished`: a finite source was read to its end (not a failure; nothing to reconnect to). */
  ended (reason: string, finished: boolean): void
  spawned (child: ChildProcess): void
}

/**
 * One attempt: the request, its response, and ffmpeg when one runs. It ends once, through sink.ended(reason), or
 * by close() (which reports nothing).
 */
class Connection {
  readonly #options: Readonly<Required<SourceOptions>>
  readonly #buffers: SharedBuffers
  readonly #sink: ConnectionSink
  #url: URL
  #closed = false
  #req: http.ClientRequest | undefined
  #res: http.IncomingMessage | undefined
  #ffmpeg: FfmpegDecoder | undefined
  #connectTimer: NodeJS.Timeout | undefined
  #stallTimer: NodeJS.Timeout | undefined
  /** head: reading the WAV header or sniffing; pcm: body bytes are audio; ffmpeg: audio comes from ffmpeg. */
  #mode: 'head' | 'pcm' | 'ffmpeg' = 'head'
  #sniffing = false
  #headLength = 0
  #format: PcmFormat | undefined
  #frameBytes = 1
  readonly #framer: PcmFramer
  #producedAudio = false
  /** A finite source (see the header): paced, and finished at its end. */
  #finite = false
  /** The whole body was read (a finite source's end, not a drop). */
  #bodyEnded = false
  /** Pacing of a finite source's PCM: where it is read from, since when (performance.now()), bytes handed on. */
  #audioFrom: NodeJS.ReadableStream | undefined
  #pacedSince = 0
  #pacedBytes = 0
  #paceTimer: NodeJS.Timeout | undefined

  constructor (url: URL, options: Readonly<Required<SourceOptions>>, buffers: SharedBuffers, sink: ConnectionSink) {
    this.#url = url
    this.#options = options
    this.#buffers = buffers
    this.#sink = sink
    this.#framer = new PcmFramer(this.#deliver, buffers.swap)
  }

  /** Whether format() was reported: end() is due when this connection ends. */
  get producedAudio (): boolean { return this.#producedAudio }

  start (): void {
    this.#connectTimer = setTimeout(() => this.#fail(`no response within ${this.#options.connectTimeoutMs} ms`), this.#options.connectTimeoutMs)
    this.#request(0)
  }

  /** End everything this connection holds, without reporting. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#framer.halt()
    clearTimeout(this.#connectTimer)
    clearTimeout(this.#stallTimer)
    clearTimeout(this.#paceTimer)
    const res = this.#res
    const req = this.#req
    const ffmpeg = this.#ffmpeg
    this.#res = this.#req = this.#ffmpeg = undefined
    res?.destroy()
    req?.destroy()
    ffmpeg?.kill()
  }

  #fail (reason: string): void {
    if (this.#closed) return
    this.close()
    this.#sink.ended(reason, false)
  }

  /** The stream ended: a finite source read to its end is finished; a live one that ends has dropped. */
  #ended (): void {
    if (!this.#finite || !this.#bodyEnded) { this.#fail('the stream ended'); return }
    if (this.#closed) return
    this.close()
    this.#sink.ended('the file ended', true)
  }

  #request (redirects: number): void {
    const url = this.#url
    const get = url.protocol === 'https:' ? https.get : http.get
    const policy = this.#options.addressPolicy // an address here; a name in its lookup, as it resolves
    const refused = policy?.literalRefusal(url.hostname)
    if (refused) { this.#fail(`cannot connect: ${refused.message}`); return }
    const req = get(url, { agent: false, lookup: policy?.lookup, headers: { 'Icy-MetaData': '0', 'User-Agent': USER_AGENT, Accept: '*/*' } })
    this.#req = req
    req.on('error', (err) => {
      if (req !== this.#req) return
      if (isIcyAnswer(err)) this.#decodeUrl()
      else this.#fail(`cannot connect: ${err.message}`)
    })
    req.on('response', (res) => {
      if (req !== this.#req) { res.destroy(); return }
      this.#onResponse(res, redirects)
    })
  }

  #onResponse (res: http.IncomingMessage, redirects: number): void {
    const status = res.statusCode ?? 0
    const location = res.headers.location
    if (REDIRECT_STATUSES.has(status) && location) {
      res.on('error', () => {}) // its body is not wanted
      res.destroy()
      if (redirects >= MAX_REDIRECTS) { this.#fail(`more than ${MAX_REDIRECTS} redirects`); return }
      let next: URL
      try {
        next = new URL(location, this.#url)
      } catch {
        this.#fail(`HTTP ${status} redirects to an invalid URL`)
        return
      }
      const invalid = validateSourceUrl(next.href)
      if (invalid) { this.#fail(`HTTP ${status} redirects to a URL that cannot be monitored: ${invalid}`); return }
      this.#url = next
      this.#request(redirects + 1)
      return
    }
    clearTimeout(this.#connectTimer)
    this.#res = res
    let ended = false
    res.on('error', (err) => { if (res === this.#res) this.#fail(`connection lost: ${err.message}`) })
    res.on('end', () => {
      ended = true
      if (res !== this.#res) return
      this.#bodyEnded = true
      // Piped into ffmpeg, the body's end reaches ffmpeg, which flushes its last audio and exits: that ends it.
      if (this.#mode !== 'ffmpeg') this.#ended()
    })
    res.on('close', () => { if (!ended && res === this.#res) this.#fail('the source closed the connection') })
    if (status < 200 || status >= 300) { // 4xx and 5xx, and a 3xx without a Location
      this.#fail(`HTTP ${status}${res.statusMessage ? ` ${oneLine(res.statusMessage).slice(0, 60)}` : ''}`)
      return
    }
    this.#armStallTimer()
    const body = classifyBody(res.headers['content-type'], this.#url.pathname)
    this.#finite = isFiniteSource(res.headers, body)
    switch (body.kind) {
      case 'bad': this.#fail(body.reason); return
      case 'hls': this.#decodeUrl(); return
      case 'raw':
        this.#setFormat(body.format, body.bigEndian)
        this.#mode = 'pcm'
        this.#paceFrom(res)
        break
      case 'wav': this.#mode = 'head'; break
      case 'sniff': this.#mode = 'head'; this.#sniffing = true; break
    }
    res.on('data', this.#onBody)
  }

  /** Body bytes while they are read here (not piped into ffmpeg). */
  readonly #onBody = (chunk: Buffer): void => {
    if (this.#closed) return
    if (this.#mode === 'pcm') this.#onAudio(chunk)
    else if (this.#mode === 'head') this.#onHead(chunk)
  }

  /** A finite source's audio ran ahead of the wall clock: stop reading until it no longer does. */
  #pace (from: NodeJS.ReadableStream, bytes: number): void {
    const now = performance.now()
    if (this.#pacedBytes === 0) this.#pacedSince = now
    this.#pacedBytes += bytes
    const format = this.#format as PcmFormat
    const aheadMs = (this.#pacedBytes / (this.#frameBytes * format.sampleRate)) * 1000 - (now - this.#pacedSince)
    if (aheadMs <= PACE_LEAD_MS || this.#paceTimer !== undefined) return
    from.pause()
    this.#stallTimer?.refresh() // a pause is not a stall
    this.#paceTimer = setTimeout(() => {
      this.#paceTimer = undefined
      if (this.#closed) return
      this.#stallTimer?.refresh()
      from.resume()
    }, aheadMs - PACE_LEAD_MS / 2)
  }

  /** Collect the start of the body until it says what it is: WAV (with where its audio starts), HLS, or other. */
  #onHead (chunk: Buffer): void {
    const head = this.#buffers.head
    const taken = Math.min(head.length - this.#headLength, chunk.length)
    chunk.copy(head, this.#headLength, 0, taken)
    const length = this.#headLength += taken
    if (this.#sniffing) {
      if (length < SNIFF_BYTES) return
      this.#sniffing = false
      if (head.toString('latin1', 0, HLS_MAGIC.length) === HLS_MAGIC) { this.#decodeUrl(); return }
      if (!isWavMagic(head, length)) { this.#pipeToFfmpeg(length, chunk, taken); return }
    }
    const wav = parseWavHeader(head, length)
    switch (wav.kind) {
      case 'more':
        if (length === head.length) this.#fail(`no WAV data chunk in the first ${length} bytes`)
        return
      case 'bad': this.#fail(wav.reason); return
      case 'other': this.#pipeToFfmpeg(length, chunk, taken); return
      case 'pcm':
        this.#setFormat(wav.format, false)
        this.#mode = 'pcm'
        this.#paceFrom(this.#res as http.IncomingMessage)
        if (length > wav.dataOffset) this.#onAudio(head.subarray(wav.dataOffset, length))
        if (taken < chunk.length && !this.#closed) this.#onAudio(chunk.subarray(taken))
    }
  }

  #setFormat (format: PcmFormat, bigEndian: boolean): void {
    this.#format = format
    this.#frameBytes = frameBytesOf(format)
    this.#framer.reset(this.#frameBytes, bigEndian)
  }

  /** Audio bytes in the current format, from the body or from ffmpeg: passed on as whole frames. */
  readonly #onAudio = (chunk: Buffer): void => {
    if (this.#closed) return
    this.#stallTimer?.refresh()
    this.#framer.push(chunk)
  }

  readonly #deliver = (bytes: Uint8Array): void => {
    if (!this.#producedAudio) {
      this.#producedAudio = true
      this.#sink.format(this.#format as PcmFormat)
      if (this.#closed) return // a handler stopped the puller
    }
    this.#sink.pcm(bytes)
    if (this.#audioFrom !== undefined && !this.#closed) this.#pace(this.#audioFrom, bytes.length)
  }

  /** Pace the PCM read from `from` (the response body) when the source is finite. */
  #paceFrom (from: NodeJS.ReadableStream): void {
    if (this.#finite) this.#audioFrom = from
  }

  #armStallTimer (): void {
    this.#stallTimer ??= setTimeout(() => this.#fail(`no audio for ${this.#options.stallTimeoutMs} ms`), this.#options.stallTimeoutMs)
  }

  /**
   * ffmpeg fetches the URL itself: for HLS (the playlist and its segments), and for a SHOUTcast v1 server, whose
   * 'ICY 200 OK' status line node's HTTP parser refuses and ffmpeg reads. This request is no longer needed.
   */
  #decodeUrl (): void {
    this.#finite = false // HLS (live or not) and SHOUTcast: ffmpeg reads them at their own pace
    const res = this.#res
    const req = this.#req
    this.#res = this.#req = undefined
    res?.destroy()
    req?.destroy()
    clearTimeout(this.#connectTimer)
    this.#armStallTimer()
    this.#startFfmpeg(this.#url.href)
  }

  /** Anything but WAV, raw PCM or HLS: the bytes read so far, then the rest of the body, into ffmpeg's stdin. */
  #pipeToFfmpeg (headLength: number, chunk: Buffer, taken: number): void {
    const res = this.#res as http.IncomingMessage
    const stdin = this.#startFfmpeg(STDIN_INPUT).stdin as Writable
    // A copy: the head buffer is the puller's, and this write may wait in the pipe's queue.
    stdin.write(Buffer.from(this.#buffers.head.subarray(0, headLength)))
    if (taken < chunk.length) stdin.write(chunk.subarray(taken))
    res.off('data', this.#onBody)
    res.pipe(stdin) // backpressure: a slow ffmpeg pauses the socket
  }

  #startFfmpeg (input: string): FfmpegDecoder {
    const o = this.#options
    // A finite source piped in is decoded at real-time pace (see the header); HLS and SHOUTcast come at their own.
    const ffmpeg = new FfmpegDecoder({ ffmpegPath: o.ffmpegPath, input, sampleRate: o.ffmpegSampleRate, encoding: 's16le', realtime: this.#finite })
    this.#ffmpeg = ffmpeg
    this.#mode = 'ffmpeg'
    this.#setFormat({ sampleRate: o.ffmpegSampleRate, encoding: 's16le', channels: 1 }, false)
    this.#sink.spawned(ffmpeg.process)
    ffmpeg.stdout.on('data', this.#onAudio)
    ffmpeg.process.on('error', (err) => { if (ffmpeg === this.#ffmpeg) this.#fail(ffmpeg.startFailure(err)) })
    ffmpeg.process.on('close', (code, signal) => {
      if (ffmpeg !== this.#ffmpeg) return
      if (code === 0) this.#ended()
      else this.#fail(ffmpeg.exitFailure(code, signal))
    })
    return ffmpeg
  }
}

/** node's HTTP parser failing on a SHOUTcast v1 answer (`ICY 200 OK` instead of `HTTP/1.0 200 OK`). */
function isIcyAnswer (err: Error): boolean {
  const raw = (err as { rawPacket?: unknown }).rawPacket
  return (err as NodeJS.ErrnoException).code === 'HPE_INVALID_CONSTANT' && Buffer.isBuffer(raw) && raw.toString('latin1', 0, 4) === 'ICY '
}

/** Whether a response is a finite source (see the header): a known length, not SHOUTcast/Icecast, not HLS. */
function isFiniteSource (headers: http.IncomingHttpHeaders, body: Body): boolean {
  if (body.kind === 'hls' || headers['content-length'] === undefined) return false
  return !Object.keys(headers).some((name) => name.startsWith('icy-'))
}

/**
 * Pulls one stream for as long as it runs: connects, passes its audio on, and reconnects whenever it drops.
 *
 *   const puller = new SourcePuller('https://radio.example/live.mp3', handlers)
 *   puller.start()
 *   …
 *   await puller.stop()
 */
export class SourcePuller {
  readonly url: string
  readonly #target: URL
  readonly #display: string
  readonly #handlers: SourceHandlers
  readonly #options: Readonly<Required<SourceOptions>>
  readonly #buffers: SharedBuffers
  #status: SourceStatus
  #running = false
  #connection: Connection | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #failures = 0 // failed attempts in a row
  #reconnects = 0
  #listeningAt = 0 // performance.now() when the current connection produced audio
  #lastError: string | undefined
  /** Exits of ffmpeg processes that may still run; stop() waits for them. */
  readonly #exits = new Set<Promise<void>>()

  /**
   * @throws EAR_ERR_SOURCE for a URL that validateSourceUrl refuses; TypeError or RangeError for bad options
   */
  constructor (url: string, handlers: SourceHandlers, options: SourceOptions = {}) {
    const invalid = validateSourceUrl(url)
    if (invalid) throw new EarshotError('EAR_ERR_SOURCE', [displayUrl(String(url))], { cause: new TypeError(invalid) })
    this.url = url
    this.#target = new URL(url)
    this.#display = displayUrl(url)
    this.#handlers = handlers
    this.#options = resolveOptions(options)
    this.#buffers = {
      head: Buffer.alloc(this.#options.maxHeaderBytes),
      swap: new Uint8Array(SWAP_BUFFER_BYTES),
    }
    this.#status = Object.freeze({ state: 'down', since: new Date().toISOString(), reconnects: 0 })
  }

  /** The current state; a new frozen object at each change. */
  get status (): SourceStatus { return this.#status }

  /** Start pulling (again, after stop()). Does nothing while running. */
  start (): void {
    if (this.#running) return
    this.#running = true
    this.#failures = 0
    this.#reconnects = 0
    this.#connect()
  }

  /**
   * Stop: end the current connection (ffmpeg is killed), cancel the retry. A connection that produced audio gets
   * end('stopped') and the state becomes 'down', both before this returns; no callback follows. Resolves once no
   * ffmpeg process of this puller remains.
   */
  async stop (): Promise<void> {
    this.#running = false
    clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    const connection = this.#connection
    this.#connection = undefined
    if (connection) {
      connection.close()
      if (connection.producedAudio) this.#handlers.end('stopped')
    }
    if (this.#status.state !== 'down' && this.#status.state !== 'finished') this.#setState('down')
    await Promise.all(this.#exits)
  }

  #connect (): void {
    this.#setState('connecting')
    if (!this.#running) return // a state handler stopped the puller
    const connection: Connection = new Connection(this.#target, this.#options, this.#buffers, {
      format: (f) => this.#onFormat(connection, f),
      pcm: (bytes) => this.#handlers.pcm(bytes),
      ended: (reason, finished) => this.#onEnded(connection, reason, finished),
      spawned: (child) => this.#track(child),
    })
    this.#connection = connection
    connection.start()
  }

  #onFormat (connection: Connection, f: PcmFormat): void {
    this.#handlers.format(f)
    if (connection !== this.#connection) return
    this.#listeningAt = performance.now()
    this.#setState('listening')
  }

  #onEnded (connection: Connection, reason: string, finished: boolean): void {
    if (connection !== this.#connection) return
    this.#connection = undefined
    const line = oneLine(reason)
    if (connection.producedAudio) {
      this.#handlers.end(line)
      if (performance.now() - this.#listeningAt >= this.#options.resetAfterMs) this.#failures = 0
    }
    if (finished) {
      this.#running = false
      this.#setState('finished')
      return
    }
    this.#failures++
    this.#lastError = oneLine(describeError(new EarshotError('EAR_ERR_SOURCE', [this.#display], { cause: new Error(line) })))
    this.#setState('down')
    if (!this.#running || this.#connection || this.#retryTimer) return // stopped or restarted by a handler
    const o = this.#options
    this.#retryTimer = setTimeout(this.#retry, backoffDelayMs(this.#failures, o.initialBackoffMs, o.maxBackoffMs, SPREAD_JITTER))
  }

  readonly #retry = (): void => {
    this.#retryTimer = undefined
    if (!this.#running) return
    this.#reconnects++
    this.#connect()
  }

  #setState (state: SourceState): void {
    const s: SourceStatus = { state, since: new Date().toISOString(), reconnects: this.#reconnects }
    if (this.#lastError !== undefined) s.lastError = this.#lastError
    this.#status = Object.freeze(s)
    this.#handlers.state(this.#status)
  }

  #track (child: ChildProcess): void {
    const exit = new Promise<void>((resolve) => {
      child.once('exit', () => resolve())
      child.once('error', () => resolve()) // it never started
    })
    this.#exits.add(exit)
    void exit.then(() => this.#exits.delete(exit))
  }
}
