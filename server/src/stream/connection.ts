/**
 * The protocol state machine of one WebSocket connection, independent of the transport that carries it:
 * hello -> ready -> audio / flush / ping ... -> close. Every bad frame gets an `error` with a stable code; the
 * codes that end a session close it with their WebSocket close code. Each entry point a transport calls is guarded:
 * a fault in it fails that one connection (EAR_ERR_INTERNAL, close 1011) and is logged; it never reaches the process.
 */
import {
  CloseCode, FrameTag, PROTOCOL_VERSION, decodeControl, encodeControl, errorMessage, protocolErrors, validateClientMessage,
  type Hello, type ProtocolErrorCode, type ServerMessage,
} from '../../../protocol/src/index.js'
import { randomUUID } from 'node:crypto'
import type { Settings } from '../config/defaults.js'
import type { Index } from '../index/types.js'
import { EarshotError } from '../errors.js'
import type { Metrics } from '../metrics/metrics.js'
import type { Logger } from '../log.js'
import { round } from '../round.js'
import { matchEndMessage, matchMessage } from './messages.js'
import type { StreamEngines } from './engines.js'
import { Stream, type StreamListener } from './stream.js'

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

/** Who is at the other end of a connection, as access control sees it. */
export interface Peer {
  /** The peer's IP address as text (rate limits). */
  readonly address: string
  /** Whether the peer counts as the server's own machine (http/access.ts says when). */
  readonly local: boolean
}

/** Admission of a new session: a refusal's code and message (the catalogue's, filled in), or undefined to admit. */
export type Gate = (hello: Hello, token: string | undefined, peer: Peer) => { code: ProtocolErrorCode, message: string } | undefined

/** Tell the client of something that does not end the session (an `error` message with a code whose close is 0). */
export type Notify = (code: ProtocolErrorCode, detail: string) => void

/** Shared by every connection of one server. */
export interface StreamContext {
  readonly index: Index
  readonly settings: Settings
  readonly transport: string
  sessions: number
  readonly connections: Set<StreamConnection>
  /** Open connections by peer address (the per-address cap). */
  readonly addresses: Map<string, number>
  /** Connections failed by a fault of the server (EAR_ERR_INTERNAL) since it started: for /health. */
  faults: number
  /** Tokens and rate limits; everyone is admitted without one. */
  gate?: Gate
  /** The server's metrics; none in tests that do not need them. */
  metrics?: Metrics
  /** Where connection faults are logged (a child logger of the stream component); none: not logged. */
  log?: Logger
  /** Worker threads that run the sessions; none: they run in this thread. */
  engines?: StreamEngines
  /** Another listener of a session that asked for one (hello.playLog: its play recorder), or undefined. */
  observe?: (hello: Hello, sessionId: string, token: string | undefined, peer: Peer, notify: Notify) => StreamListener | undefined
  /**
   * A WebSocket upgrade from `address`, before it is accepted: the peer, or the error to answer it with (a Host the
   * server does not answer to, a page of another site). Transports call it in their upgrade handler, with a reader of
   * the upgrade request's headers by lower-case name.
   */
  admit (address: string, header: (name: string) => string | undefined): Peer | EarshotError
}

export class StreamConnection {
  readonly #ctx: StreamContext
  readonly #wire: Wire
  readonly #peer: Peer
  readonly #urlToken: string | undefined
  #session: Stream | undefined
  #closeReason = 'normal'
  readonly #openedAt = Date.now()
  /** When the client last sent hello, audio or flush: pings alone do not keep a session open. */
  #activeAt = this.#openedAt
  #closed = false
  #counted = false
  sessionId = ''

  /**
   * @param peer who connected, from ctx.admit (tokens, rate limits)
   * @param urlToken the upgrade request's bearer token or `?token=` (browsers cannot send headers); hello.token wins
   */
  constructor (ctx: StreamContext, peer: Peer, urlToken: string | undefined, wire: Wire) {
    this.#ctx = ctx
    this.#wire = wire
    this.#peer = peer
    this.#urlToken = urlToken
    ctx.connections.add(this)
    ctx.addresses.set(peer.address, (ctx.addresses.get(peer.address) ?? 0) + 1)
  }

  /**
   * Admit the connection, or close it when its address holds too many. Called by the transport once its close event
   * reaches this connection (uWS may run the close handler within `end`).
   */
  open (): void {
    const most = this.#ctx.settings.stream.maxConnectionsPerAddress
    if (this.#ctx.addresses.get(this.#peer.address)! > most) this.fail('EAR_ERR_TOO_MANY_CONNECTIONS', `${most} from one address`)
  }

  /** Close the connection if it is past its hello or idle timeout. Called by the server's one sweep timer. */
  sweep (now: number): void {
    try { this.#sweep(now) } catch (err) { this.#fault(err, 'sweep') }
  }

  #sweep (now: number): void {
    const l = this.#ctx.settings.stream
    if (!this.#session && now - this.#openedAt > l.helloTimeoutMs) this.fail('EAR_ERR_HELLO_TIMEOUT', `no hello within ${l.helloTimeoutMs} ms`)
    else if (now - this.#activeAt > l.idleTimeoutMs) this.fail('EAR_ERR_IDLE_TIMEOUT', `no audio for ${l.idleTimeoutMs} ms`)
  }

  /** A message from the client. The bytes are only valid during this call. */
  onMessage (data: Uint8Array, isBinary: boolean): void {
    if (this.#closed) return
    try { this.#onMessage(data, isBinary) } catch (err) { this.#fault(err, 'message') }
  }

  #onMessage (data: Uint8Array, isBinary: boolean): void {
    if (!isBinary) { this.fail('EAR_ERR_TEXT_FRAME'); return }
    if (data.length === 0) { this.#error('EAR_ERR_BAD_FRAME', 'empty frame'); return }
    if (data[0] === FrameTag.AUDIO) { this.#activeAt = Date.now(); this.#onAudio(data.subarray(1)); return }
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
    if (m.type === 'ping') { this.#send(m.id === undefined ? { type: 'pong' } : { type: 'pong', id: m.id }); return }
    this.#activeAt = Date.now()
    if (m.type === 'hello') { this.#onHello(m); return }
    if (!this.#session) { this.fail('EAR_ERR_HELLO_REQUIRED'); return }
    try { this.#flush(this.#session) } catch (err) { this.#sessionFailed(err, 'flush') }
  }

  /** The final results, then `flushed` (again for a later flush). */
  #flush (session: Stream, then?: () => void): void {
    session.flush(() => {
      this.#send({ type: 'flushed', streamSeconds: round(session.streamSeconds, 3) })
      then?.()
    })
  }

  #onHello (hello: Hello): void {
    if (this.#session) { this.#error('EAR_ERR_HELLO_TWICE'); return }
    const ctx = this.#ctx
    const token = hello.token ?? this.#urlToken
    const refused = ctx.gate?.(hello, token, this.#peer)
    if (refused) { this.#end(refused.code, refused.message); return }
    if (ctx.sessions >= ctx.settings.stream.maxSessions) { this.fail('EAR_ERR_TOO_MANY_SESSIONS', `limit ${ctx.settings.stream.maxSessions}`); return }
    ctx.sessions++
    this.#counted = true
    this.sessionId = randomUUID()
    const client: StreamListener = {
      match: (e) => this.#send(matchMessage(e)),
      matchEnd: (e) => this.#send(matchEndMessage(e)),
      fault: (err) => this.#sessionFailed(err, 'audio'),
    }
    const observer = ctx.observe?.(hello, this.sessionId, token, this.#peer, (code, detail) => this.#error(code, detail))
    this.#session = new Stream({
      index: ctx.index,
      settings: ctx.settings,
      format: hello,
      labels: { transport: ctx.transport, kind: 'client' },
      metrics: ctx.metrics,
      listeners: observer ? [observer, client] : [client],
      engines: ctx.engines,
    })
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
    try {
      session.write(pcm)
    } catch (err) {
      this.#sessionFailed(err, 'audio')
      return
    }
    const max = this.#ctx.settings.stream.maxSessionSeconds
    if (session.streamSeconds > max) {
      const end = (): void => this.fail('EAR_ERR_SESSION_TOO_LONG', `limit ${max} s`)
      try { this.#flush(session, end) } catch { end() } // the session ends here either way
    }
  }

  /** The transport drained its queue. */
  onDrain (): void {}

  /** The socket closed, for whatever reason. */
  onClose (): void {
    this.#closed = true
    // The server's own counts first: they cannot throw, and must be right whatever the observers do.
    if (this.#counted) { this.#ctx.sessions--; this.#counted = false }
    if (this.#ctx.connections.delete(this)) {
      const left = (this.#ctx.addresses.get(this.#peer.address) ?? 1) - 1
      if (left > 0) this.#ctx.addresses.set(this.#peer.address, left)
      else this.#ctx.addresses.delete(this.#peer.address)
    }
    const session = this.#session
    this.#session = undefined
    try { session?.close(this.#closeReason) } catch (err) { this.#fault(err, 'close') }
  }

  /** The session threw: a damaged index page ends this session only (the index counts it for /health); else a fault. */
  #sessionFailed (err: unknown, during: string): void {
    if (err instanceof EarshotError && err.code === 'EAR_ERR_INDEX_READ') {
      this.#ctx.log?.error({ err, during, sessionId: this.sessionId || undefined }, 'index read failed')
      this.fail('EAR_ERR_INTERNAL', err.code)
    } else {
      this.#fault(err, during)
    }
  }

  /**
   * A bug met while handling this connection: log it with its stack, tell the client only the code, close with 1011.
   * Should even that fail, drop the socket.
   */
  #fault (err: unknown, during: string): void {
    this.#ctx.faults++
    this.#ctx.log?.error({ err, during, sessionId: this.sessionId || undefined }, 'stream connection fault')
    try {
      this.fail('EAR_ERR_INTERNAL')
    } catch {
      this.#closed = true
      try { this.#wire.terminate() } catch {}
    }
  }

  /** Send an error (the catalogue's message, then the detail) and close with its close code. */
  fail (code: ProtocolErrorCode, detail?: string): void {
    this.#end(code, withDetail(code, detail))
  }

  #end (code: ProtocolErrorCode, message: string): void {
    if (this.#closed) return
    this.#sendError(code, message)
    const close = protocolErrors[code].close || CloseCode.POLICY
    this.#closeReason = code
    this.#closed = true
    this.#wire.close(close, code)
  }

  #error (code: ProtocolErrorCode, detail?: string): void {
    this.#sendError(code, withDetail(code, detail))
  }

  #sendError (code: ProtocolErrorCode, message: string): void {
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
    this.#wire.send(encodeControl(m))
  }
}

/** A code's message, then what went wrong in this case. */
function withDetail (code: ProtocolErrorCode, detail: string | undefined): string {
  return detail ? `${errorMessage(code)}: ${detail}` : errorMessage(code)
}
