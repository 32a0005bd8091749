/**
 * The Node client SDK: connect(url, options) opens a streaming session and returns an EarshotClient.
 *
 *   const client = await connect('ws://127.0.0.1:8080/v1/stream', { sampleRate: 44100, encoding: 's16le', channels: 1 })
 *   client.on('match', (m) => console.log(m.state, m.title))
 *   if (!client.write(pcm)) await once(client, 'drain')
 *   await client.flush(); client.close()
 *
 * Audio goes out as binary frames (no JSON). `write` returns false once more than `highWaterMark` bytes wait to be
 * sent; 'drain' follows when they have gone. With `reconnect` (default on), a dropped connection is reopened with
 * exponential backoff and a new session resumes from the audio written after it; 'reconnected' tells the caller.
 */
import { EventEmitter } from 'node:events'
import WebSocket from 'ws'
import {
  BYTES_PER_SAMPLE, PROTOCOL_VERSION, SPREAD_JITTER, FrameTag, backoffDelayMs, decodeControl, earshotError, encodeControl, errorFromServer, type Encoding,
  type ErrorMessage, type Hello, type Match, type MatchEnd, type Ready, type ServerMessage,
} from '../../protocol/src/index.js'

export interface ConnectOptions {
  sampleRate: number
  encoding?: Encoding
  channels?: 1 | 2
  streamId?: string
  label?: string
  token?: string
  /** File this stream's confirmed matches in the server's play log under streamId (which it then needs). */
  playLog?: boolean
  /** Reopen dropped connections (default true). */
  reconnect?: boolean
  /** First and longest wait between reconnect attempts, in ms. */
  minReconnectDelayMs?: number
  maxReconnectDelayMs?: number
  /** Give up after this many failed attempts in a row (default Infinity). */
  maxReconnectAttempts?: number
  /** Bytes queued before write() returns false (default 256 KiB). */
  highWaterMark?: number
  /**
   * For a wss:// server: the certificate authorities (PEM) its certificate must chain to, instead of Node's usual
   * ones; a self-signed certificate is its own. NODE_EXTRA_CA_CERTS=FILE adds to the usual ones for a whole process.
   */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>
}

/**
 * The largest message assumed when a server's `ready` announces none (every earshot server does): 64 KiB, far below
 * the default of 1 MiB.
 */
const FALLBACK_MAX_FRAME_BYTES = 64 * 1024

/** Errors that a reconnect would only repeat. */
const FATAL_CODES = new Set(['EAR_ERR_PROTOCOL_VERSION', 'EAR_ERR_BAD_HELLO', 'EAR_ERR_UNAUTHORIZED', 'EAR_ERR_SESSION_TOO_LONG'])

export interface EarshotClientEvents {
  ready: [Ready]
  match: [Match]
  'match-end': [MatchEnd]
  error: [ErrorMessage | Error]
  reconnected: [Ready]
  drain: []
  close: [number]
}

export class EarshotClient extends EventEmitter<EarshotClientEvents> {
  readonly url: string
  readonly options: Required<Omit<ConnectOptions, 'streamId' | 'label' | 'token' | 'playLog' | 'ca'>> & Pick<ConnectOptions, 'streamId' | 'label' | 'token' | 'playLog' | 'ca'>
  #ws: WebSocket | undefined
  #queued = 0 // bytes handed to ws and not yet written to the socket
  #closing = false
  #fatal = false
  #attempt = 0
  #sessions = 0
  #flushWaiters: Array<{ resolve: (streamSeconds: number) => void, reject: (err: Error) => void }> = []
  #frame = new Uint8Array(0) // reused audio frame buffer
  /**
   * PCM bytes one audio frame carries at most: the announced limit less the tag byte, in whole sample frames. Kept
   * from the last `ready` (audio written between a reconnect's open and its `ready` goes to the same server).
   */
  #maxPcmBytes: number
  sessionId = ''

  constructor (url: string, options: ConnectOptions) {
    super()
    this.url = url
    this.options = {
      encoding: 's16le',
      channels: 1,
      reconnect: true,
      minReconnectDelayMs: 250,
      maxReconnectDelayMs: 10_000,
      maxReconnectAttempts: Infinity,
      highWaterMark: 256 * 1024,
      ...options,
    }
    this.#maxPcmBytes = maxPcmBytes(undefined, this.options)
  }

  /** Open the socket and wait for `ready`. */
  open (): Promise<Ready> {
    return new Promise((resolve, reject) => {
      // `ca` undefined: Node's usual certificate authorities.
      const ws = new WebSocket(this.url, { perMessageDeflate: false, ca: this.options.ca as string | Buffer | Array<string | Buffer> | undefined })
      ws.binaryType = 'nodebuffer'
      this.#ws = ws
      let settled = false
      ws.on('open', () => {
        const o = this.options
        const hello: Hello = { type: 'hello', v: PROTOCOL_VERSION, sampleRate: o.sampleRate, encoding: o.encoding, channels: o.channels }
        if (o.streamId !== undefined) hello.streamId = o.streamId
        if (o.label !== undefined) hello.label = o.label
        if (o.token !== undefined) hello.token = o.token
        if (o.playLog !== undefined) hello.playLog = o.playLog
        ws.send(encodeControl(hello))
      })
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary || data.length === 0 || data[0] !== FrameTag.CONTROL) return
        let m: ServerMessage
        try { m = decodeControl(data) as unknown as ServerMessage } catch { return }
        if (m.type === 'ready') {
          this.sessionId = m.sessionId
          this.#maxPcmBytes = maxPcmBytes(m, this.options)
          this.#attempt = 0
          this.#sessions++
          if (!settled) { settled = true; resolve(m) }
          if (this.#sessions > 1) this.emit('reconnected', m)
          else this.emit('ready', m)
          return
        }
        if (m.type === 'error' && !settled) { settled = true; if (FATAL_CODES.has(m.code)) this.#fatal = true; reject(errorFromServer(m.code, m.message)); return }
        this.#dispatch(m)
      })
      ws.on('error', (err) => {
        if (!settled) { settled = true; reject(err) } else if (this.listenerCount('error') > 0) this.emit('error', err)
      })
      ws.on('close', (code) => {
        if (this.#ws === ws) this.#ws = undefined
        this.#queued = 0
        // Flushes of this session will never be answered: the audio they wait for is gone with it.
        for (const w of this.#flushWaiters.splice(0)) w.reject(Object.assign(new Error(`connection closed (${code}) before flushed`), { code }))
        if (!settled) { settled = true; reject(earshotError('EAR_ERR_CONNECT', `${this.url} (the connection closed before the session opened: ${code})`)) }
        if (this.#closing || this.#fatal || !this.options.reconnect) { this.emit('close', code); return }
        this.#scheduleReconnect()
      })
    })
  }

  #dispatch (m: ServerMessage): void {
    switch (m.type) {
      case 'match': this.emit('match', m); break
      case 'match-end': this.emit('match-end', m); break
      case 'flushed': this.#flushWaiters.shift()?.resolve(m.streamSeconds); break
      case 'error':
        if (FATAL_CODES.has(m.code)) this.#fatal = true
        if (this.listenerCount('error') > 0) this.emit('error', m)
        break
      default: break
    }
  }

  #scheduleReconnect (): void {
    const o = this.options
    if (this.#attempt >= o.maxReconnectAttempts) { this.emit('close', 1006); return }
    this.#attempt++
    const delay = backoffDelayMs(this.#attempt, o.minReconnectDelayMs, o.maxReconnectDelayMs, SPREAD_JITTER)
    setTimeout(() => {
      if (this.#closing) return
      this.open().catch(() => { /* the close handler schedules the next attempt */ })
    }, delay).unref()
  }

  /** Whether a session is open now. */
  get connected (): boolean { return this.#ws !== undefined && this.#ws.readyState === WebSocket.OPEN && this.sessionId !== '' }

  /**
   * Send PCM in the session's encoding (bytes, or an Int16Array/Float32Array of interleaved samples), of any length:
   * it goes out in as many audio frames as the server's announced `maxFrameBytes` needs (a larger message would end
   * the session). Returns false when the caller should wait for 'drain'. Audio written while disconnected is dropped:
   * a live stream resumes from what comes next.
   */
  write (pcm: Uint8Array | Int16Array | Float32Array): boolean {
    const ws = this.#ws
    if (!ws || ws.readyState !== WebSocket.OPEN) return true
    const bytes = pcm instanceof Uint8Array ? pcm : new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength)
    const most = this.#maxPcmBytes
    for (let at = 0; at < bytes.length; at += most) this.#sendAudio(ws, bytes.subarray(at, at + most))
    if (this.#queued > this.options.highWaterMark) { this.#wantDrain = true; return false }
    return true
  }

  /** One audio frame. ws copies the data when it frames it, so one frame buffer serves every send. */
  #sendAudio (ws: WebSocket, bytes: Uint8Array): void {
    if (this.#frame.length < bytes.length + 1) this.#frame = new Uint8Array(bytes.length + 1)
    const frame = this.#frame.subarray(0, bytes.length + 1)
    frame[0] = FrameTag.AUDIO
    frame.set(bytes, 1)
    const size = frame.length
    this.#queued += size
    ws.send(frame, { binary: true }, () => {
      this.#queued -= size
      if (this.#queued <= this.options.highWaterMark / 2 && this.#wantDrain) { this.#wantDrain = false; this.emit('drain') }
    })
  }

  #wantDrain = false

  /**
   * End of input: resolves with the stream length once the server has sent every final result. Each flush is answered
   * in turn; one still waiting when the connection closes rejects.
   */
  flush (): Promise<number> {
    const ws = this.#ws
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error('not connected'))
    return new Promise((resolve, reject) => {
      this.#flushWaiters.push({ resolve, reject })
      ws.send(encodeControl({ type: 'flush' }))
    })
  }

  /** Close for good (no reconnect). */
  close (): Promise<void> {
    this.#closing = true
    const ws = this.#ws
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve()
    return new Promise((resolve) => {
      ws.once('close', () => resolve())
      ws.close(1000, 'done')
    })
  }
}

/** PCM bytes per audio frame under the session's limit: whole sample frames, at least one. */
function maxPcmBytes (ready: Ready | undefined, o: { encoding: Encoding, channels: number }): number {
  const sampleFrame = BYTES_PER_SAMPLE[o.encoding] * o.channels
  const announced = ready?.limits?.maxFrameBytes
  const limit = typeof announced === 'number' && announced > sampleFrame ? announced : FALLBACK_MAX_FRAME_BYTES
  return Math.max(sampleFrame, Math.floor((limit - 1) / sampleFrame) * sampleFrame)
}

/** Connect and wait for the session to be ready. */
export async function connect (url: string, options: ConnectOptions): Promise<EarshotClient> {
  const client = new EarshotClient(url, options)
  await client.open()
  return client
}
