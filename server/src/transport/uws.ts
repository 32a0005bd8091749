/**
 * The uWebSockets.js transport. uWS hands each message as an ArrayBuffer valid only during the callback: the
 * connection decodes it synchronously. A WebSocket must not be touched after its close event, hence `closed`.
 */
import net from 'node:net'
import type { HttpRequest as UwsRequest, HttpResponse as UwsResponse, TemplatedApp, WebSocket, us_listen_socket } from 'uWebSockets.js'
import { StreamConnection, type Peer, type StreamContext } from '../stream/connection.js'
import { STREAM_PATH } from '../../../protocol/src/index.js'
import { requestToken } from '../http/access.js'
import { EarshotError, earshotError } from '../errors.js'
import { replyForError, STATUS_TEXT, type HttpReply, type HttpRequest } from '../http/request.js'
import { listenError, type HttpHandler, type Transport } from './types.js'
import type { TlsFiles } from './tls.js'

interface UserData { connection?: StreamConnection, closed: boolean, peer: Peer, token: string | undefined }

const EMPTY = Buffer.alloc(0)

/** ListenOptions.LIBUS_LISTEN_EXCLUSIVE_PORT of docs/index.d.ts (a declared enum: no value at run time). */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1

/** node:http's limit on a request's line and headers together (its default maxHeaderSize), in bytes. */
const MAX_HEAD_BYTES = 16 * 1024

/**
 * What node:http refuses and uWS takes to the routes: more than one Content-Length, a Transfer-Encoding other than
 * chunked, a head over MAX_HEAD_BYTES. (uWS itself drops a malformed Content-Length, or one beside
 * Transfer-Encoding, and never hands on absolute-form targets, HTTP/1.0, bare LF or folded headers.)
 */
function headRefusal (headers: Record<string, string>, lengths: number, headBytes: number): EarshotError | undefined {
  if (headBytes > MAX_HEAD_BYTES) return earshotError('EAR_ERR_HEADERS_TOO_LARGE', MAX_HEAD_BYTES)
  if (lengths > 1) return earshotError('EAR_ERR_BAD_REQUEST', 'more than one Content-Length')
  const te = headers['transfer-encoding']
  if (te !== undefined && te.toLowerCase() !== 'chunked') return earshotError('EAR_ERR_BAD_REQUEST', 'a Transfer-Encoding other than chunked')
  return undefined
}

/** Write an answer; `close` ends the connection after it. Call within a cork. */
function writeReply (res: UwsResponse, method: string, a: HttpReply, close: boolean): void {
  res.writeStatus(`${a.status} ${STATUS_TEXT[a.status] ?? ''}`)
  if (a.status !== 204) res.writeHeader('content-type', a.type)
  for (const [k, v] of Object.entries(a.headers ?? {})) res.writeHeader(k, v)
  // A 204 goes out with "Content-Length: 0": uWS adds it, and endWithoutBody() without a length leaves the
  // connection waiting for a body. Clients ignore it; the ws transport omits it.
  if (method === 'HEAD') res.endWithoutBody(Buffer.byteLength(a.body), close)
  else res.end(a.body, close)
}

/**
 * Serve one HTTP request. Everything of `req` is read before the first await (it dies when the handler returns), and
 * the body is collected from the start: uWS drops data that nobody listens to. Chunks are copied: uWS reuses them.
 */
function serveHttp (api: HttpHandler, res: UwsResponse, req: UwsRequest): void {
  const method = req.getMethod().toUpperCase()
  const path = req.getUrl()
  const rawQuery = req.getQuery() ?? ''
  const headers: Record<string, string> = {}
  let lengths = 0
  let headBytes = method.length + path.length + rawQuery.length + 12 // "M /p?q HTTP/1.1\r\n"
  req.forEach((k, v) => {
    headers[k] = v
    headBytes += k.length + v.length + 4
    if (k === 'content-length') lengths++
  })
  const bad = headRefusal(headers, lengths, headBytes)
  if (bad) { res.cork(() => writeReply(res, method, replyForError(bad), true)); return }
  const query = new URLSearchParams(rawQuery)
  const remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString()
  let done = false // answered or aborted: res must not be touched again
  let refused = false // the body was refused: close the connection after answering
  let fail: (err: Error) => void = () => {}
  res.onAborted(() => { done = true; fail(earshotError('EAR_ERR_ABORTED')) })
  const limit = api.bodyLimit(method, path)
  const body = new Promise<Buffer>((resolve, reject) => {
    const declared = Number(headers['content-length'] ?? 0)
    if (declared > limit) { refused = true; reject(earshotError('EAR_ERR_BODY_TOO_LARGE', limit)); return }
    if (!(declared > 0) && headers['transfer-encoding'] === undefined) { resolve(EMPTY); return }
    const chunks: Buffer[] = []
    let size = 0
    let settled = false
    const timer = setTimeout(() => { fail(earshotError('EAR_ERR_BODY_TIMEOUT', api.bodyTimeoutMs)) }, api.bodyTimeoutMs)
    fail = (err) => { if (settled) return; settled = true; refused = true; clearTimeout(timer); reject(err) }
    res.onData((chunk, isLast) => {
      if (settled) return
      size += chunk.byteLength
      if (size > limit) { fail(earshotError('EAR_ERR_BODY_TOO_LARGE', limit)); return }
      chunks.push(Buffer.from(new Uint8Array(chunk))) // a copy
      if (isLast) { settled = true; clearTimeout(timer); resolve(Buffer.concat(chunks, size)) }
    })
  })
  body.catch(() => {}) // a handler that never asks for its body must not leave an unhandled rejection
  const request: HttpRequest = { method, path, query, remoteAddress, header: (name) => headers[name], body: () => body }
  api.handle(request).catch(replyForError).then((a: HttpReply) => {
    if (done) return
    done = true
    // Answered before the whole body (401, 429…): stop its timer (it would hold the process for bodyTimeoutMs once
    // the client goes) and close the connection after the answer. A no-op when the body was read or refused.
    fail(new Error('answered before the whole body arrived'))
    res.cork(() => writeReply(res, method, a, refused))
  }, () => {})
}

/** Why host:port cannot be listened on, found by listening there with node:net (uWS gives no reason). */
function whyNotListen (host: string, port: number): Promise<NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const probe = net.createServer()
    probe.once('error', resolve)
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(new Error('uWebSockets.js refused it'))))
  })
}

type Uws = typeof import('uWebSockets.js')

/** Load uWebSockets.js; undefined when its native binary does not load on this platform. */
export async function loadUws (): Promise<Uws | undefined> {
  try {
    const mod = await import('uWebSockets.js')
    return ((mod as { default?: Uws }).default ?? mod) as Uws
  } catch {
    return undefined
  }
}

/** @param tls a checked certificate and key (tls.ts): https and wss (SSLApp); without, http and ws */
export function createUwsTransport (uws: Uws, ctx: StreamContext, api: HttpHandler, tls?: TlsFiles): Transport {
  const sockets = new Set<WebSocket<UserData>>()
  let listenSocket: us_listen_socket | undefined
  let closed = false
  // SSLApp reads the files itself, by name; tls.ts has read and checked the same files.
  const app: TemplatedApp = tls
    ? uws.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile, ...(tls.passphrase === undefined ? {} : { passphrase: tls.passphrase }) })
    : uws.App()
  app.ws<UserData>(STREAM_PATH, {
    maxPayloadLength: ctx.settings.stream.maxFrameBytes,
    maxBackpressure: ctx.settings.stream.maxOutgoingBytes * 2, // the connection closes slow consumers first
    idleTimeout: 0, // the connection runs its own hello and idle timeouts, the same for both transports
    compression: uws.DISABLED,
    upgrade: (res, req, context) => {
      const token = requestToken(req.getHeader('authorization') || undefined, new URLSearchParams(req.getQuery() ?? ''))
      const peer = ctx.admit(Buffer.from(res.getRemoteAddressAsText()).toString(), (name) => req.getHeader(name) || undefined)
      if (peer instanceof EarshotError) {
        const a = replyForError(peer)
        res.cork(() => res.writeStatus(`${a.status} ${STATUS_TEXT[a.status] ?? ''}`).writeHeader('content-type', a.type).end(a.body, true))
        return
      }
      res.upgrade<UserData>({ closed: false, peer, token }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'), context)
    },
    open: (ws) => {
      sockets.add(ws)
      const data = ws.getUserData()
      data.connection = new StreamConnection(ctx, data.peer, data.token, {
        send: (bytes) => data.closed ? false : ws.send(bytes, true, false) === 1,
        bufferedAmount: () => data.closed ? 0 : ws.getBufferedAmount(),
        close: (code, reason) => { if (!data.closed) ws.end(code, reason) },
        terminate: () => { if (!data.closed) ws.close() },
      })
      data.connection.open()
    },
    message: (ws, message, isBinary) => {
      ws.getUserData().connection?.onMessage(new Uint8Array(message), isBinary)
    },
    close: (ws) => {
      const data = ws.getUserData()
      data.closed = true
      sockets.delete(ws)
      data.connection?.onClose()
    },
  })
  app.any('/*', (res, req) => {
    // uWS keeps open the HTTP connections of a closed app (kept alive by a client or a proxy), and no call closes
    // them: each is answered 503 and closed on its next request, so that the client connects again, to the server
    // that listens now (a cluster node that loaded a new index) or to another one.
    if (closed) {
      const a = replyForError(earshotError('EAR_ERR_SHUTTING_DOWN'))
      res.cork(() => res.writeStatus(`${a.status} ${STATUS_TEXT[a.status] ?? ''}`).writeHeader('content-type', a.type).end(a.body, true))
      return
    }
    serveHttp(api, res, req)
  })
  return {
    name: 'uws',
    listen: (host, port) => new Promise((resolve, reject) => {
      // uWS shares a port by default (SO_REUSEPORT): a second server would start silently and take every other
      // connection. Exclusive, the listen fails instead; uWS says no more than that, so a probe finds the reason.
      const listen = app.listen as unknown as (host: string, port: number, options: number, cb: (token: us_listen_socket | false) => void) => void
      listen.call(app, host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, (token) => {
        if (!token) { void whyNotListen(host, port).then((err) => reject(listenError(host, port, err))); return }
        listenSocket = token
        resolve(uws.us_socket_local_port(token as never))
      })
    }),
    close: async (code, reason) => {
      closed = true
      if (listenSocket) uws.us_listen_socket_close(listenSocket)
      listenSocket = undefined
      for (const ws of sockets) if (!ws.getUserData().closed) ws.end(code, reason)
    },
  }
}
