/**
 * The uWebSockets.js transport. uWS hands each message as an ArrayBuffer valid only during the callback: the
 * connection decodes it synchronously. A WebSocket must not be touched after its close event, hence `closed`.
 */
import type { TemplatedApp, WebSocket, us_listen_socket } from 'uWebSockets.js'
import { StreamConnection, type StreamContext } from '../stream/connection.js'
import { answerHttp, STREAM_PATH } from '../http/routes.js'
import type { Transport } from './types.js'

interface UserData { connection?: StreamConnection, closed: boolean }

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 404: 'Not Found', 405: 'Method Not Allowed', 426: 'Upgrade Required', 503: 'Service Unavailable' }

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

export function createUwsTransport (uws: Uws, ctx: StreamContext): Transport {
  const sockets = new Set<WebSocket<UserData>>()
  let listenSocket: us_listen_socket | undefined
  const app: TemplatedApp = uws.App()
  app.ws<UserData>(STREAM_PATH, {
    maxPayloadLength: ctx.settings.stream.maxFrameBytes,
    maxBackpressure: ctx.settings.stream.maxOutgoingBytes * 2, // the connection closes slow consumers first
    idleTimeout: 0, // the connection runs its own hello and idle timeouts, the same for both transports
    compression: uws.DISABLED,
    upgrade: (res, req, context) => {
      res.upgrade<UserData>({ closed: false }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'), context)
    },
    open: (ws) => {
      sockets.add(ws)
      const data = ws.getUserData()
      data.connection = new StreamConnection(ctx, {
        send: (bytes) => data.closed ? false : ws.send(bytes, true, false) === 1,
        bufferedAmount: () => data.closed ? 0 : ws.getBufferedAmount(),
        close: (code, reason) => { if (!data.closed) ws.end(code, reason) },
        terminate: () => { if (!data.closed) ws.close() },
      })
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
    const a = answerHttp(ctx, req.getMethod().toUpperCase(), req.getUrl() + (req.getQuery() ? `?${req.getQuery()}` : ''))
    res.cork(() => {
      res.writeStatus(`${a.status} ${STATUS_TEXT[a.status] ?? ''}`).writeHeader('content-type', a.type).end(a.body)
    })
  })
  return {
    name: 'uws',
    listen: (host, port) => new Promise((resolve, reject) => {
      app.listen(host, port, (token) => {
        if (!token) { reject(new Error(`cannot listen on ${host}:${port}`)); return }
        listenSocket = token
        resolve(uws.us_socket_local_port(token as never))
      })
    }),
    close: async (code, reason) => {
      if (listenSocket) uws.us_listen_socket_close(listenSocket)
      listenSocket = undefined
      for (const ws of sockets) if (!ws.getUserData().closed) ws.end(code, reason)
    },
  }
}
