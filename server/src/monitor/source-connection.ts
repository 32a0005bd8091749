/**
 * One attempt at a monitored stream: its request, its response body and ffmpeg when one runs, until it ends. It
 * turns whatever the body is (source-body.ts) into PCM handed on in whole frames; the puller decides what follows.
 *
 * A WAV or raw PCM body is read here; anything else goes to ffmpeg (audio/ffmpeg.ts), which outputs mono s16le at
 * `ffmpegSampleRate` (11025 Hz: earshot fingerprints at that rate, so the audio is resampled once). Whatever ends a
 * connection (an HTTP error, a refused connection, a timeout, no audio for a while, ffmpeg exiting, a bad header, or
 * the body simply ending: a live source has no end) is reported as a failure.
 *
 * A finite source is the exception (source-body.ts isFiniteSource): a file on a web server. It is read at real-time
 * pace (read-pacer.ts), a body piped into ffmpeg by ffmpeg itself (`-re`; its stdin's backpressure reaches the
 * socket). Pausing ffmpeg's output instead does not hold: node resumes a child's stdout when the child exits, and a
 * short file's PCM fits the pipe. When the whole body has been read (and decoded) the connection is 'finished'.
 *
 * Per chunk nothing is allocated but views: the body's head and the L16 swap buffer are the puller's, made once.
 */
import type http from 'node:http'
import type { ChildProcess } from 'node:child_process'
import type { Writable } from 'node:stream'
import type { PcmFormat } from '../../../protocol/src/index.js'
import { FfmpegDecoder, STDIN_INPUT } from '../audio/ffmpeg.js'
import { PcmFramer } from '../audio/pcm-framer.js'
import { frameBytesOf } from '../audio/pcm-to-mono.js'
import { ReadPacer } from './read-pacer.js'
import { classifyBody, isFiniteSource, sniffBody } from './source-body.js'
import type { ResolvedSourceOptions } from './source-options.js'
import { SourceRequest } from './source-request.js'
import { parseWavHeader } from './wav-header.js'

/** Buffers made once per puller and reused by each of its connections (one runs at a time). */
export interface ConnectionBuffers {
  /** The start of a body, while its WAV header is read or its kind sniffed. */
  head: Buffer
  /** L16 samples swapped to little-endian. */
  swap: Uint8Array
}

/** What a connection reports to its puller. Nothing is reported after the connection is closed. */
export interface ConnectionSink {
  format (f: PcmFormat): void
  pcm (bytes: Uint8Array): void
  /** `finished`: a finite source was read to its end (not a failure; nothing to reconnect to). */
  ended (reason: string, finished: boolean): void
  spawned (child: ChildProcess): void
}

/** The output of every ffmpeg the monitor starts: mono 16-bit, at the fingerprint rate. */
const FFMPEG_ENCODING = 's16le'

/** One attempt. It ends once, through sink.ended(reason), or by close() (which reports nothing). */
export class SourceConnection {
  readonly #options: ResolvedSourceOptions
  readonly #buffers: ConnectionBuffers
  readonly #sink: ConnectionSink
  readonly #request: SourceRequest
  readonly #framer: PcmFramer
  #closed = false
  #res: http.IncomingMessage | undefined
  #ffmpeg: FfmpegDecoder | undefined
  #stallTimer: NodeJS.Timeout | undefined
  /** head: reading the WAV header or sniffing; pcm: body bytes are audio; ffmpeg: audio comes from ffmpeg. */
  #mode: 'head' | 'pcm' | 'ffmpeg' = 'head'
  #sniffing = false
  #headLength = 0
  #format: PcmFormat | undefined
  #producedAudio = false
  /** A finite source (see the header): paced, and finished at its end. */
  #finite = false
  /** The whole body was read (a finite source's end, not a drop). */
  #bodyEnded = false
  /** Paces a finite source's PCM read from its body. */
  #pacer: ReadPacer | undefined

  constructor (url: URL, options: ResolvedSourceOptions, buffers: ConnectionBuffers, sink: ConnectionSink) {
    this.#options = options
    this.#buffers = buffers
    this.#sink = sink
    this.#framer = new PcmFramer(this.#deliver, buffers.swap)
    this.#request = new SourceRequest(url, options, {
      response: (res) => this.#onResponse(res),
      icy: () => this.#decodeUrl(),
      failed: (reason) => this.#fail(reason),
    })
  }

  /** Whether format() was reported: end() is due when this connection ends. */
  get producedAudio (): boolean { return this.#producedAudio }

  start (): void {
    this.#request.start()
  }

  /** End everything this connection holds, without reporting. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#framer.halt()
    this.#request.close()
    clearTimeout(this.#stallTimer)
    this.#pacer?.close()
    const res = this.#res
    const ffmpeg = this.#ffmpeg
    this.#res = this.#ffmpeg = undefined
    res?.destroy()
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

  #onResponse (res: http.IncomingMessage): void {
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
    this.#armStallTimer()
    const body = classifyBody(res.headers['content-type'], this.#request.url.pathname)
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

  /** Collect the start of the body until it says what it is: WAV (with where its audio starts), HLS, or other. */
  #onHead (chunk: Buffer): void {
    const head = this.#buffers.head
    const taken = Math.min(head.length - this.#headLength, chunk.length)
    chunk.copy(head, this.#headLength, 0, taken)
    const length = this.#headLength += taken
    if (this.#sniffing) {
      const sniffed = sniffBody(head, length)
      if (sniffed === 'more') return
      this.#sniffing = false
      if (sniffed === 'hls') { this.#decodeUrl(); return }
      if (sniffed === 'other') { this.#pipeToFfmpeg(length, chunk, taken); return }
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
    this.#framer.reset(frameBytesOf(format), bigEndian)
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
    if (!this.#closed) this.#pacer?.handedOn(bytes.length)
  }

  /** Pace the PCM read from `from` (the response body) when the source is finite. */
  #paceFrom (from: NodeJS.ReadableStream): void {
    if (!this.#finite) return
    const format = this.#format as PcmFormat
    this.#pacer = new ReadPacer(from, frameBytesOf(format) * format.sampleRate, () => this.#stallTimer?.refresh())
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
    this.#res = undefined
    res?.destroy()
    this.#request.close()
    this.#armStallTimer()
    this.#startFfmpeg(this.#request.url.href)
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
    const ffmpeg = new FfmpegDecoder({ ffmpegPath: o.ffmpegPath, input, sampleRate: o.ffmpegSampleRate, encoding: FFMPEG_ENCODING, realtime: this.#finite })
    this.#ffmpeg = ffmpeg
    this.#mode = 'ffmpeg'
    this.#setFormat({ sampleRate: o.ffmpegSampleRate, encoding: FFMPEG_ENCODING, channels: 1 }, false)
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
