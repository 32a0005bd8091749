/**
 * One interface in front of the WebSocket servers: uWebSockets.js (default) and ws. Each carries bytes between
 * sockets and StreamConnection, and HTTP requests to the API; neither knows the protocol or the routes.
 */
import type { HttpReply, HttpRequest } from '../http/request.js'

export type TransportName = 'uws' | 'ws'

export interface Transport {
  readonly name: TransportName
  /** Listen; resolves with the port (useful with port 0). */
  listen (host: string, port: number): Promise<number>
  /** Stop listening and close every connection with `code`. */
  close (code: number, reason: string): Promise<void>
}

/** The HTTP API as a transport sees it. */
export interface HttpHandler {
  /** Largest body of a request to `path`, in bytes, known before reading it. */
  bodyLimit (method: string, path: string): number
  /** A body must arrive whole within this, in ms. */
  readonly bodyTimeoutMs: number
  handle (req: HttpRequest): Promise<HttpReply>
}

/** Split `/a/b?x=1` into its path and query. */
export function splitUrl (url: string): { path: string, query: URLSearchParams } {
  const q = url.indexOf('?')
  return q < 0 ? { path: url, query: new URLSearchParams() } : { path: url.slice(0, q), query: new URLSearchParams(url.slice(q + 1)) }
}
