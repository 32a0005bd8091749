/**
 * The protocol state machine of one WebSocket connection, independent of the transport that carries it:
 * hello -> ready -> audio / flush / ping ... -> close. Every bad frame gets an `error` with a stable code; the
 * codes that end a session close it with their WebSocket close code.
 */
import {
  CloseCode, FrameTag, PROTOCOL_VERSION, decodeControl, encodeControl, protocolErrors, validateClientMessage,
  type Hello, type ProtocolErrorCode, type ServerMessage,
} from '../../../protocol/src/index.js'
import { randomUUID } from 'node:crypto'
import type { Settings } from '../config/defaults.js'
import type { Index } from '../index/types.js'
import { EarshotError } from '../errors.js'
import { StreamSession } from './session.js'
import type { Metrics } from '../metrics/metrics.js'
import { SessionMeter } from '../metrics/session-meter.js'

/** What a transport gives a connection: sending, its queue, closing. */
export interface Wire {
  /** Queue a binary message; false when the transport reports backpressure. */
  send (bytes: Uint8Array): boolean
  /** Bytes queued and not yet written to the socket. */
  bufferedAmount (): number
  close (code: number, reason: string): void
  /** Drop the socket at once, without a closing handshake (for a peer that no longer reads). */
  terminate (): void
}

/** What a session's owner sees of it besides the client: for the play log and metrics. */
export interface SessionObserver {
  /** Every message the session sends. */
  message (m: ServerMessage): void
  /** After each audio frame: the session's stream time, in seconds. */
  audio (streamSeconds: number): void
  /** The session ended (closed or flushed), at this stream time. */
  end (streamSeconds: number): void
}

/** Admission of a new session: a refusal's code and detail, or undefined to admit. */
export type Gate = (token: string | undefined, address: string) => { code: ProtocolErrorCode, detail: string } | undefined

/** Shared by every connection of one server. */
export interface StreamContext {
  readonly index: Index
  readonly settings: Settings
  readonly transport: string
  sessions: number
  readonly connections: Set<StreamConnection>
  /** Tokens and rate limits; everyone is admitted without one. */
  gate?: Gate
  /** The server's metrics; none in tests that do not need them. */
  metrics?: Metrics
  /** An observer for a session that asked for one (hello.playLog), or undefined. */
  observe?: (hello: Hello, sessionId: string) => SessionObserver | undefined
}

export class StreamConnection {
  readonly #ctx: StreamContext
  readonly #wire: Wire
  readonly #address: string
  readonly #urlToken: string | undefined
  #session: StreamSession | undefined
  #observer: SessionObserver | undefined
  #meter: SessionMeter | undefined
  /** performance.now() when the audio frame being processed arrived; 0 outside audio processing. */
  #audioAt = 0
  #closeReason = 'normal'
  readonly #openedAt = Date.now()
  #lastMessageAt = this.#openedAt
  #closed = false
  #counted = false
  sessionId = ''

  /**
   * @param address the peer's IP address (rate limits)
   * @param urlToken the upgrade request's bearer token or `?token=` (browsers cannot send headers); hello.token wins
   */
  constructor (ctx: StreamContext, address: string, urlToken: string | undefined, wire: Wire) {
    this.#ctx = ctx
    this.#wire = wire
    this.#address = address
    this.#urlToken = urlToken
    ctx.connections.add(this)
  }

  /** Close the connection if it is past its hello or idle timeout. Called by the server's one sweep timer. */
  sweep (now: number): void {
    const l = this.#ctx.settings.stream
    if (!this.#session && now - this.#openedAt > l.helloTimeoutMs) this.fail('EAR_ERR_HELLO_TIMEOUT', `no hello within ${l.helloTimeoutMs} ms`)
    else if (now - this.#lastMessageAt > l.idleTimeoutMs) this.fail('EAR_ERR_IDLE_TIMEOUT', `nothing for ${l.idleTimeoutMs} ms`)
  }

  /** A message from the client. The bytes are only valid during this call. */
  onMessage (data: Uint8Array, isBinary: boolean): void {
    if (this.#closed) return
    this.#lastMessageAt = Date.now()
    if (!isBinary) { this.fail('EAR_ERR_TEXT_FRAME'); return }
    if (data.length === 0) { this.#error('EAR_ERR_BAD_FRAME', 'empty frame'); return }
    if (data[0] === FrameTag.AUDIO) { this.#onAudio(data.subarray(1)); return }
    if (data[0] !== FrameTag.CONTROL) { this.#error('EAR_ERR_BAD_FRAME', `unknown frame tag 0x${data[0].toString(16)}`); return }
    let raw: Record<string, unknown>
    try {
      raw = decodeControl(data)
    } catch (err) {
      this.#error('EAR_ERR_BAD_MESSAGE', `malformed msgpack: ${(err as Error).message}`)
      return
    }
    const v = validateClientMessage(raw)
    if (!v.ok) {
      if (!this.#session && v.code === 'EAR_ERR_BAD_MESSAGE' && raw.type !== 'ping') this.fail('EAR_ERR_HELLO_REQUIRED', v.detail)
      else if (protocolErrors[v.code].close) this.fail(v.code, v.detail)
      else this.#error(v.code, v.detail)
      return
    }
    const m = v.message
    if (m.type === 'hello') { this.#onHello(m); return }
    if (m.type === 'ping') { this.#send(m.id === undefined ? { type: 'pong' } : { type: 'pong', id: m.id }); return }
    if (!this.#session) { this.fail('EAR_ERR_HELLO_REQUIRED'); return }
    try { this.#session.flush() } catch (err) { this.fail('EAR_ERR_INTERNAL', failureCode(err)) }
  }

  #onHello (hello: Hello): void {
    if (this.#session) { this.#error('EAR_ERR_HELLO_TWICE'); return }
    const ctx = this.#ctx
    const refused = ctx.gate?.(hello.token ?? this.#urlToken, this.#address)
    if (refused) { this.fail(refused.code, refused.detail); return }
    if (ctx.sessions >= ctx.settings.stream.maxSessions) { this.fail('EAR_ERR_TOO_MANY_SESSIONS', `limit ${ctx.settings.stream.maxSessions}`); return }
    ctx.sessions++
    this.#counted = true
    this.sessionId = randomUUID()
    const observer = ctx.observe?.(hello, this.sessionId)
    this.#observer = observer
    const meter = ctx.metrics && new SessionMeter(ctx.metrics, { transport: ctx.transport, kind: 'client' })
    this.#meter = meter
    this.#session = new StreamSession(ctx.index, ctx.settings, hello, observer
      ? (msg) => { observer.message(msg); this.#send(msg) }
      : (msg) => this.#send(msg), meter?.tick)
    const l = ctx.settings.stream
    this.#send({
      type: 'ready',
      v: PROTOCOL_VERSION,
      sessionId: this.sessionId,
      limits: {
        maxFrameBytes: l.maxFrameBytes,
        maxSessionSeconds: l.maxSessionSeconds,
        idleTimeoutMs: l.idleTimeoutMs,
        helloTimeoutMs: l.helloTimeoutMs,
        maxBufferedBytes: l.maxOutgoingBytes,
      },
    })
  }

  #onAudio (pcm: Uint8Array): void {
    const session = this.#session
    if (!session) { this.fail('EAR_ERR_HELLO_REQUIRED', 'audio before hello'); return }
    if (session.flushed) { this.#error('EAR_ERR_AUDIO_AFTER_FLUSH'); return }
    const problem = session.check(pcm)
    if (problem) { this.#error(problem, `${pcm.length} bytes of ${session.format.encoding} x${session.format.channels}`); return }
    const before = session.streamSeconds
    this.#audioAt = performance.now()
    try {
      session.write(pcm)
    } catch (err) {
      // A damaged index page (EAR_ERR_INDEX_READ) ends this session, not the process.
      this.fail('EAR_ERR_INTERNAL', failureCode(err))
      return
    } finally {
      this.#audioAt = 0
    }
    this.#meter?.audio(pcm.length, session.streamSeconds - before)
    this.#observer?.audio(session.streamSeconds)
    if (session.streamSeconds > this.#ctx.settings.stream.maxSessionSeconds) {
      try { session.flush() } catch {} // the session ends here either way
      this.fail('EAR_ERR_SESSION_TOO_LONG', `limit ${this.#ctx.settings.stream.maxSessionSeconds} s`)
    }
  }

  /** The transport drained its queue. */
  onDrain (): void {}

  /** The socket closed, for whatever reason. */
  onClose (): void {
    this.#closed = true
    if (this.#counted) { this.#ctx.sessions--; this.#counted = false }
    if (this.#session && this.#observer) this.#observer.end(this.#session.streamSeconds)
    this.#observer = undefined
    this.#meter?.close(this.#closeReason)
    this.#meter = undefined
    this.#session = undefined
    this.#ctx.connections.delete(this)
  }

  /** Send an error and close with its close code. */
  fail (code: ProtocolErrorCode, detail?: string): void {
    if (this.#closed) return
    this.#error(code, detail)
    const close = protocolErrors[code].close || CloseCode.POLICY
    this.#closeReason = code
    this.#closed = true
    this.#wire.close(close, code)
  }

  #error (code: ProtocolErrorCode, detail?: string): void {
    const message = detail ? `${protocolErrors[code].message}: ${detail}` : protocolErrors[code].message
    this.#ctx.metrics?.protocolErrors.labels({ code }).inc()
    this.#send({ type: 'error', code, message })
  }

  #send (m: ServerMessage): void {
    if (this.#closed) return
    if (this.#wire.bufferedAmount() > this.#ctx.settings.stream.maxOutgoingBytes) {
      // The client stopped reading: do not grow its queue.
      // A closing handshake would wait on the same unread queue: drop the socket.
      this.#closeReason = 'EAR_ERR_SLOW_CONSUMER'
      this.#ctx.metrics?.protocolErrors.labels({ code: 'EAR_ERR_SLOW_CONSUMER' }).inc()
      this.#closed = true
      this.#wire.terminate()
      return
    }
    this.#meter?.message(m, this.#audioAt > 0 ? (performance.now() - this.#audioAt) / 1000 : undefined)
    this.#wire.send(encodeControl(m))
  }
}

/** The code of a failure inside a session, for the client: never the server's message (it may name its folders). */
function failureCode (err: unknown): string {
  return err instanceof EarshotError ? err.code : 'internal error'
}
