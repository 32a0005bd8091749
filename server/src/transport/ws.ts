/**
 * The `ws` transport: node:http (node:https with a certificate) for plain routes, ws (noServer) for /v1/stream
 * upgrades.
 */
import http from 'node:http'
import https from 'node:https'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket, type RawData } from 'ws'
import { StreamConnection, type StreamContext } from '../stream/connection.js'
import { STREAM_PATH } from '../../../protocol/src/index.js'
import { requestToken } from '../http/access.js'
import { EarshotError, earshotError } from '../errors.js'
import { errorReply, replyForError, STATUS_TEXT, type HttpReply, type HttpRequest } from '../http/request.js'
import { listenError, splitUrl, type HttpHandler, type Transport } from './types.js'
import type { TlsFiles } from './tls.js'

const kConnection = Symbol('earshot.connection')
type Socket = WebSocket & { [kConnection]: StreamConnection }

function toBytes (data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data)
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data
}

// Named handlers: one function each for every socket, bound through `this`.
function socketOnMessage (this: WebSocket, data: RawData, isBinary: boolean): void { (this as Socket)[kConnection].onMessage(toBytes(data), isBinary) }
function socketOnClose (this: WebSocket): void { (this as Socket)[kConnection].onClose() }
function socketOnError (this: WebSocket): void { /* ws closes the socket itself (e.g. 1009 on a too large frame) */ }

/**
 * Read a request's body up to `limit` bytes within `timeoutMs`. A declared length over the limit is refused before
 * any byte is read.
 */
/** After refusing a body, the rest is read and dropped for at most this long, in ms. */
const DRAIN_MS = 5000

function readBody (req: http.IncomingMessage, res: http.ServerResponse, limit: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0)
    if (declared > limit) { reject(earshotError('EAR_ERR_BODY_TOO_LARGE', limit)); return }
    const chunks: Buffer[] = []
    let size = 0
    const timer = setTimeout(() => finish(earshotError('EAR_ERR_BODY_TIMEOUT', timeoutMs)), timeoutMs)
    const finish = (err?: Error): void => {
      clearTimeout(timer)
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose)
      res.off('close', onClose)
      if (!err) { resolve(Buffer.concat(chunks, size)); return }
      // Drain what is still coming so the client reads the error answer instead of a reset; bounded in time.
      req.resume()
      setTimeout(() => req.socket.destroy(), DRAIN_MS).unref()
      reject(err)
    }
    const onData = (c: Buffer): void => {
      size += c.length
      if (size > limit) finish(earshotError('EAR_ERR_BODY_TOO_LARGE', limit))
      else chunks.push(c)
    }
    const onEnd = (): void => finish()
    const onError = (e: Error): void => finish(e)
    const onClose = (): void => { if (!req.complete) finish(earshotError('EAR_ERR_ABORTED')) }
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose)
    // An answer given before the whole body (401, 429…) ends the request: node stops parsing the connection, so
    // neither 'end' nor the request's 'close' would come, and the timer would hold the process for bodyTimeoutMs.
    res.on('close', onClose)
  })
}

function toRequest (req: http.IncomingMessage, res: http.ServerResponse, api: HttpHandler): HttpRequest {
  const method = (req.method ?? 'GET').toUpperCase()
  const { path, query } = splitUrl(req.url ?? '/')
  const body = readBody(req, res, api.bodyLimit(method, path), api.bodyTimeoutMs)
  body.catch(() => {}) // a handler that never asks for its body must not leave an unhandled rejection
  return {
    method,
    path,
    query,
    remoteAddress: req.socket.remoteAddress ?? '',
    header: (name) => headerOf(req, name),
    body: () => body,
  }
}

function headerOf (req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v.join(', ') : v
}

/** An answer written on a raw socket (an upgrade refused before it was accepted). */
function rawReply (a: HttpReply): string {
  return `HTTP/1.1 ${a.status} ${STATUS_TEXT[a.status] ?? ''}\r\nContent-Type: ${a.type}\r\nContent-Length: ${Buffer.byteLength(a.body)}\r\nConnection: close\r\n\r\n${String(a.body)}`
}

function writeReply (req: http.IncomingMessage, res: http.ServerResponse, a: HttpReply): void {
  if (res.headersSent || res.destroyed) return
  // After an unread or refused body, the connection cannot be reused: close it.
  const close = !req.complete
  if (a.status === 204) { // RFC 9110: no content, and no Content-Length either
    res.writeHead(204, { ...a.headers, ...(close ? { connection: 'close' } : {}) })
    res.end()
    return
  }
  res.writeHead(a.status, { ...a.headers, 'content-type': a.type, 'content-length': Buffer.byteLength(a.body), ...(close ? { connection: 'close' } : {}) })
  res.end(req.method === 'HEAD' ? undefined : a.body)
}

/** @param tls a checked certificate and key (tls.ts): https and wss; without, http and ws */
export function createWsTransport (ctx: StreamContext, api: HttpHandler, tls?: TlsFiles): Transport {
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    // Origin-form only (a path): uWS never serves absolute-form or `*` targets, and a route must not see a URL.
    if (!req.url?.startsWith('/')) { writeReply(req, res, errorReply('EAR_ERR_BAD_REQUEST', 'the request target must be a path')); return }
    api.handle(toRequest(req, res, api)).catch(replyForError).then((a) => writeReply(req, res, a), () => {})
  }
  const server = tls
    ? https.createServer({ cert: tls.cert, key: tls.key, passphrase: tls.passphrase }, onRequest)
    : http.createServer(onRequest)
  const wss = new WebSocketServer({ noServer: true, maxPayload: ctx.settings.stream.maxFrameBytes, perMessageDeflate: false })
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((req.url ?? '').split('?')[0] !== STREAM_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    const peer = ctx.admit(req.socket.remoteAddress ?? '', (name) => headerOf(req, name))
    if (peer instanceof EarshotError) { socket.end(rawReply(replyForError(peer))); return }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const s = ws as Socket
      const token = requestToken(req.headers.authorization, splitUrl(req.url ?? '').query)
      s[kConnection] = new StreamConnection(ctx, peer, token, {
        send: (bytes) => { s.send(bytes, { binary: true }); return true },
        bufferedAmount: () => s.bufferedAmount,
        close: (code, reason) => s.close(code, reason),
        terminate: () => s.terminate(),
      })
      s.on('message', socketOnMessage)
      s.on('close', socketOnClose)
      s.on('error', socketOnError)
      s[kConnection].open()
    })
  })
  return {
    name: 'ws',
    listen: (host, port) => new Promise((resolve, reject) => {
      const refused = (err: NodeJS.ErrnoException): void => reject(listenError(host, port, err))
      server.once('error', refused)
      server.listen(port, host, () => {
        server.off('error', refused)
        const a = server.address()
        resolve(typeof a === 'object' && a ? a.port : port)
      })
    }),
    close: (code, reason) => new Promise((resolve) => {
      for (const ws of wss.clients) ws.close(code, reason)
      wss.close()
      server.close(() => resolve())
      server.closeAllConnections()
    }),
  }
}
