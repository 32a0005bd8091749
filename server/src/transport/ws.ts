/**
 * The `ws` transport: node:http for plain routes, ws (noServer) for /v1/stream upgrades.
 */
import http from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket, type RawData } from 'ws'
import { StreamConnection, type StreamContext } from '../stream/connection.js'
import { answerHttp, STREAM_PATH } from '../http/routes.js'
import type { Transport } from './types.js'

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

export function createWsTransport (ctx: StreamContext): Transport {
  const server = http.createServer((req, res) => {
    const a = answerHttp(ctx, req.method ?? 'GET', req.url ?? '/')
    res.writeHead(a.status, { 'content-type': a.type, 'content-length': Buffer.byteLength(a.body) })
    res.end(req.method === 'HEAD' ? undefined : a.body)
  })
  const wss = new WebSocketServer({ noServer: true, maxPayload: ctx.settings.stream.maxFrameBytes, perMessageDeflate: false })
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((req.url ?? '').split('?')[0] !== STREAM_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const s = ws as Socket
      s[kConnection] = new StreamConnection(ctx, {
        send: (bytes) => { s.send(bytes, { binary: true }); return true },
        bufferedAmount: () => s.bufferedAmount,
        close: (code, reason) => s.close(code, reason),
        terminate: () => s.terminate(),
      })
      s.on('message', socketOnMessage)
      s.on('close', socketOnClose)
      s.on('error', socketOnError)
    })
  })
  return {
    name: 'ws',
    listen: (host, port) => new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
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
