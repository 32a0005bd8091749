/**
 * The browser SDK: listen({ url }) opens the microphone, streams it to earshot over a WebSocket and reports what it
 * recognises, with the same wire protocol and the same match / match-end / error events as the Node SDK.
 *
 *   const listener = await listen({ url: 'wss://earshot.example/v1/stream', token })
 *   listener.on('match', (m) => show(m.state, m.title, m.confidence))
 *   listener.on('close', (c) => { if (c.lost) offerRetry() })
 *   await listener.stop()
 *
 * Pipeline: getUserMedia → MediaStreamAudioSourceNode → AudioWorkletNode (pcm-worklet.ts: mono s16le chunks and
 * their level) → binary audio frames on the socket. Audio goes at the AudioContext's rate, which is the
 * microphone's own where the browser allows it; the server resamples. The processor's code is built into this
 * bundle and loaded from a blob: URL, so the SDK is one file; `workletUrl` loads it from a URL instead (for pages
 * whose Content-Security-Policy refuses blob: scripts).
 *
 * A live microphone cannot wait: when the socket is backed up beyond `maxBufferedBytes`, chunks are dropped
 * (counted in `droppedBytes`) rather than queued, and matching resumes with the audio that follows.
 */
import {
  MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, PROTOCOL_VERSION, decodeControl, encodeAudio, encodeControl, earshotError, errorFromServer,
  EarshotError, FrameTag, wrapError, type ErrorMessage, type Hello, type Match, type MatchEnd, type Ready, type ServerMessage,
} from '../../../protocol/src/index.js'
import { PROCESSOR_NAME, type PcmChunk, type ProcessorOptions } from './pcm-chunk.js'

/** The processor's bundled source, put in by the build (scripts/build-web.js). */
declare const __EARSHOT_WORKLET_SOURCE__: string

export interface ListenOptions {
  /** The stream endpoint: `ws://` or `wss://…/v1/stream`. */
  url: string
  /** A client or admin token, where the server requires one (sent in the hello). */
  token?: string
  /** The caller's name for the stream, and a label for people (see protocol/README.md). */
  streamId?: string
  label?: string
  /** File confirmed matches in the server's play log under streamId. */
  playLog?: boolean
  /** Audio per frame sent, in ms (default 50); also how often 'level' fires. */
  chunkMs?: number
  /** Bytes waiting in the socket beyond which new audio is dropped (default 512 KiB). */
  maxBufferedBytes?: number
  /** Time allowed for the connection and the server's `ready`, in ms (default 10000). */
  connectTimeoutMs?: number
  /** How long stop() waits for the server's final results, in ms (default 2000). */
  flushTimeoutMs?: number
  /** Extra microphone constraints; echo cancellation, noise suppression and gain control are off by default (they damage music). */
  audio?: MediaTrackConstraints
  /** Load the AudioWorklet processor from this URL (the build's earshot-worklet.js) instead of a blob: URL. */
  workletUrl?: string
}

/** Codes of the errors the SDK raises itself (from earshot's one catalogue); the server's are those of protocol/README.md. */
export const ListenErrorCode = Object.freeze({
  /** The user or the browser's settings refused the microphone. */
  MIC_DENIED: 'EAR_ERR_MIC_DENIED',
  /** No microphone, one in use by another program, or a page that is not a secure context (https or localhost). */
  MIC_UNAVAILABLE: 'EAR_ERR_MIC_UNAVAILABLE',
  /** The WebSocket did not open, or closed before the server's `ready`, or `ready` did not come in time. */
  CONNECT: 'EAR_ERR_CONNECT',
} as const)

/**
 * What listen() and a Listener raise: an error of earshot's catalogue (one of ListenErrorCode, or the server's code:
 * EAR_ERR_UNAUTHORIZED, EAR_ERR_RATE_LIMITED…), an instance of its built-in class (TypeError, RangeError or Error).
 */
export const ListenError = EarshotError
export type ListenError = EarshotError

/** The microphone's level over the last chunk, 0..1 of full scale. */
export interface Level { rms: number, peak: number }

export interface CloseInfo {
  /** The WebSocket close code (1006: the connection dropped without one). */
  code: number
  reason: string
  /** True when the connection ended without stop(): the server went away, the network dropped, or the server closed the session. */
  lost: boolean
}

export interface ListenerEvents {
  match: Match
  'match-end': MatchEnd
  /** An error message of the server (the session may go on; see protocol/README.md), or the microphone ending. */
  error: ErrorMessage | ListenError
  level: Level
  /** The session is over; the microphone is released. */
  close: CloseInfo
}

type Handler<T> = (value: T) => void

const DEFAULTS = {
  chunkMs: 50,
  maxBufferedBytes: 512 * 1024,
  connectTimeoutMs: 10_000,
  flushTimeoutMs: 2000,
}

/** Microphone processing made for voice calls; each one smears or cuts music. */
const RAW_AUDIO: MediaTrackConstraints = { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 }

export class Listener {
  /** The rate audio is sent at, in Hz: the AudioContext's. */
  readonly sampleRate: number
  readonly sessionId: string
  readonly limits: Ready['limits']
  /** Audio bytes dropped because the socket was backed up. */
  droppedBytes = 0
  /** Audio bytes handed to the socket. */
  sentBytes = 0
  readonly #ws: WebSocket
  readonly #media: MediaStream
  readonly #context: AudioContext
  readonly #node: AudioWorkletNode
  readonly #maxBuffered: number
  readonly #flushTimeoutMs: number
  readonly #handlers = new Map<keyof ListenerEvents, Set<Handler<never>>>()
  #flushed: (() => void) | undefined
  #stopping = false
  #closed = false

  /** Use listen(): the parts arrive connected and the session ready. */
  constructor (parts: { ws: WebSocket, media: MediaStream, context: AudioContext, node: AudioWorkletNode, ready: Ready }, options: Required<Pick<ListenOptions, 'maxBufferedBytes' | 'flushTimeoutMs'>>) {
    this.#ws = parts.ws
    this.#media = parts.media
    this.#context = parts.context
    this.#node = parts.node
    this.sampleRate = parts.context.sampleRate
    this.sessionId = parts.ready.sessionId
    this.limits = parts.ready.limits
    this.#maxBuffered = options.maxBufferedBytes
    this.#flushTimeoutMs = options.flushTimeoutMs
    this.#ws.onmessage = (e) => this.#onMessage(e)
    this.#ws.onclose = (e) => this.#onClose(e.code, e.reason)
    this.#node.port.onmessage = (e: MessageEvent<PcmChunk>) => this.#onChunk(e.data)
    for (const track of this.#media.getAudioTracks()) {
      track.onended = () => {
        if (this.#stopping) return
        this.#emit('error', earshotError(ListenErrorCode.MIC_UNAVAILABLE, 'it stopped (unplugged, or taken by another program)'))
        void this.stop()
      }
    }
  }

  on<E extends keyof ListenerEvents> (event: E, handler: Handler<ListenerEvents[E]>): this {
    let set = this.#handlers.get(event)
    if (!set) this.#handlers.set(event, set = new Set())
    set.add(handler as Handler<never>)
    return this
  }

  off<E extends keyof ListenerEvents> (event: E, handler: Handler<ListenerEvents[E]>): this {
    this.#handlers.get(event)?.delete(handler as Handler<never>)
    return this
  }

  /** True until the session has ended. */
  get active (): boolean { return !this.#closed }

  /**
   * Stop listening: release the microphone at once, ask the server for its final results (match-end events), then
   * close the connection. Resolves once closed; calling it again is harmless.
   */
  async stop (): Promise<void> {
    if (this.#stopping) return
    this.#stopping = true
    this.#releaseAudio()
    const ws = this.#ws
    if (ws.readyState === WebSocket.OPEN) {
      const flushed = new Promise<void>((resolve) => {
        this.#flushed = resolve
        setTimeout(resolve, this.#flushTimeoutMs)
      })
      ws.send(encodeControl({ type: 'flush' }))
      await flushed
    }
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) {
      const closed = new Promise<void>((resolve) => {
        ws.addEventListener('close', () => resolve(), { once: true })
        setTimeout(resolve, this.#flushTimeoutMs)
      })
      ws.close(1000, 'done')
      await closed
    }
    // A socket that never reported its close still ends the session for the caller.
    this.#onClose(1000, 'done')
  }

  #emit<E extends keyof ListenerEvents> (event: E, value: ListenerEvents[E]): void {
    for (const h of [...(this.#handlers.get(event) ?? [])]) {
      try { (h as Handler<ListenerEvents[E]>)(value) } catch (err) { setTimeout(() => { throw err }) } // a handler's bug must not stop the stream
    }
  }

  #onChunk (chunk: PcmChunk): void {
    this.#emit('level', { rms: chunk.rms, peak: chunk.peak })
    const ws = this.#ws
    if (this.#stopping || ws.readyState !== WebSocket.OPEN) return
    if (ws.bufferedAmount > this.#maxBuffered) { this.droppedBytes += chunk.pcm.byteLength; return }
    const frame = encodeAudio(new Uint8Array(chunk.pcm))
    ws.send(frame)
    this.sentBytes += chunk.pcm.byteLength
  }

  #onMessage (e: MessageEvent): void {
    const m = decodeServerFrame(e.data)
    if (!m) return
    switch (m.type) {
      case 'match': this.#emit('match', m); break
      case 'match-end': this.#emit('match-end', m); break
      case 'error': this.#emit('error', m); break
      case 'flushed': this.#flushed?.(); break
      default: break
    }
  }

  #onClose (code: number, reason: string): void {
    if (this.#closed) return
    this.#closed = true
    this.#releaseAudio()
    this.#flushed?.()
    this.#emit('close', { code, reason, lost: !this.#stopping })
  }

  #releaseAudio (): void {
    this.#node.port.onmessage = null
    for (const track of this.#media.getTracks()) { track.onended = null; track.stop() }
    this.#node.disconnect()
    if (this.#context.state !== 'closed') this.#context.close().catch(() => {})
  }
}

/** A server frame as a message; undefined for anything that is not a control frame (the server sends none). */
function decodeServerFrame (data: unknown): ServerMessage | undefined {
  if (!(data instanceof ArrayBuffer) || data.byteLength < 2) return undefined
  const bytes = new Uint8Array(data)
  if (bytes[0] !== FrameTag.CONTROL) return undefined
  try { return decodeControl(bytes) as unknown as ServerMessage } catch { return undefined }
}

/** The microphone, with errors turned into ListenErrors people can act on. */
async function openMicrophone (extra: MediaTrackConstraints | undefined): Promise<MediaStream> {
  if (!globalThis.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    throw earshotError(ListenErrorCode.MIC_UNAVAILABLE, 'the microphone needs a secure page: open it over https, or on localhost')
  }
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: { ...RAW_AUDIO, ...extra }, video: false })
  } catch (err) {
    const name = (err as { name?: string }).name
    if (name === 'NotAllowedError' || name === 'SecurityError') {
      throw wrapError(ListenErrorCode.MIC_DENIED, err, 'access was denied')
    }
    const why = name === 'NotFoundError' ? 'none was found' : name === 'NotReadableError' ? 'it is in use by another program' : 'it could not be opened'
    throw wrapError(ListenErrorCode.MIC_UNAVAILABLE, err, why)
  }
}

/** An AudioContext at the microphone's own rate where the browser allows it, else at its default rate. */
function openContext (media: MediaStream): AudioContext {
  const rate = media.getAudioTracks()[0]?.getSettings().sampleRate
  if (rate !== undefined && rate >= MIN_SAMPLE_RATE && rate <= MAX_SAMPLE_RATE) {
    try { return new AudioContext({ sampleRate: rate, latencyHint: 'playback' }) } catch { /* a rate the browser will not run at */ }
  }
  return new AudioContext({ latencyHint: 'playback' })
}

async function loadProcessor (context: AudioContext, workletUrl: string | undefined): Promise<void> {
  if (workletUrl !== undefined) { await context.audioWorklet.addModule(workletUrl); return }
  const url = URL.createObjectURL(new Blob([__EARSHOT_WORKLET_SOURCE__], { type: 'text/javascript' }))
  try { await context.audioWorklet.addModule(url) } finally { URL.revokeObjectURL(url) }
}

/** Open the socket, send the hello and wait for `ready`; rejects with the server's error or EAR_ERR_CONNECT. */
function openSession (url: string, hello: Hello, timeoutMs: number): Promise<{ ws: WebSocket, ready: Ready }> {
  return new Promise((resolve, reject) => {
    let ws: WebSocket
    try { ws = new WebSocket(url) } catch (err) { reject(wrapError(ListenErrorCode.CONNECT, err, `${url} (not a WebSocket URL)`)); return }
    ws.binaryType = 'arraybuffer'
    let settled = false
    const fail = (err: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null
      if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close()
      reject(err)
    }
    const timer = setTimeout(() => fail(earshotError(ListenErrorCode.CONNECT, `${url} (no answer within ${timeoutMs} ms)`)), timeoutMs)
    ws.onopen = () => ws.send(encodeControl(hello))
    ws.onmessage = (e) => {
      const m = decodeServerFrame(e.data)
      if (m?.type === 'error') { fail(errorFromServer(m.code, m.message)); return }
      if (m?.type !== 'ready' || settled) return
      settled = true
      clearTimeout(timer)
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null
      resolve({ ws, ready: m })
    }
    // Browsers hide why a WebSocket failed; the close that follows an error says no more.
    ws.onclose = (e) => fail(earshotError(ListenErrorCode.CONNECT, `${url} (the connection closed before the session opened: ${e.code})`))
  })
}

/** `p`, or the error of `fail()` after `ms`. */
function bounded<T> (p: Promise<T>, ms: number, fail: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([p, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(fail()), ms) })]).finally(() => clearTimeout(timer))
}

/**
 * Open the microphone and a streaming session; resolves once audio flows. Call it from a user gesture (a click):
 * browsers start an AudioContext only then.
 */
export async function listen (options: ListenOptions): Promise<Listener> {
  const o = { ...DEFAULTS, ...options }
  const media = await openMicrophone(o.audio)
  let context: AudioContext | undefined
  let ws: WebSocket | undefined
  try {
    context = openContext(media)
    // Browsers start audio only after a user gesture; without one, resume() waits for ever.
    await bounded(context.resume(), o.connectTimeoutMs, () => earshotError(ListenErrorCode.MIC_UNAVAILABLE, 'the browser did not start the audio: call listen() from a click or a key press'))
    await loadProcessor(context, o.workletUrl)
    const hello: Hello = { type: 'hello', v: PROTOCOL_VERSION, sampleRate: context.sampleRate, encoding: 's16le', channels: 1 }
    if (o.streamId !== undefined) hello.streamId = o.streamId
    if (o.label !== undefined) hello.label = o.label
    if (o.token) hello.token = o.token
    if (o.playLog !== undefined) hello.playLog = o.playLog
    const session = await openSession(o.url, hello, o.connectTimeoutMs)
    ws = session.ws
    // The graph starts once the session is ready, so no audio is captured that could not be sent.
    const processorOptions: ProcessorOptions = { chunkFrames: Math.round(context.sampleRate * o.chunkMs / 1000) }
    const node = new AudioWorkletNode(context, PROCESSOR_NAME, { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1], processorOptions })
    const source = context.createMediaStreamSource(media)
    source.connect(node)
    // The node writes no output (silence): connected to the destination only so the graph pulls it.
    node.connect(context.destination)
    return new Listener({ ws, media, context, node, ready: session.ready }, o)
  } catch (err) {
    for (const track of media.getTracks()) track.stop()
    if (context && context.state !== 'closed') context.close().catch(() => {})
    if (ws && ws.readyState === WebSocket.OPEN) ws.close()
    // The catalogue's errors and the server's (whatever its code) go as they are.
    const code = (err as { code?: unknown }).code
    throw typeof code === 'string' && code.startsWith('EAR_ERR_') ? err : wrapError(ListenErrorCode.MIC_UNAVAILABLE, err, `the audio pipeline could not start: ${(err as Error).message}`)
  }
}
