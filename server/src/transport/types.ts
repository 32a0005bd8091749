/**
 * One interface in front of the WebSocket servers: uWebSockets.js (default) and ws. Each carries bytes between
 * sockets and StreamConnection, and HTTP requests to the API; neither knows the protocol or the routes.
 */
import type { HttpReply, HttpRequest } from '../http/request.js'
import { earshotError, wrapError, type EarshotError } from '../errors.js'

export type TransportName = 'uws' | 'ws'

export interface Transport {
  readonly name: TransportName
  /**
   * Listen, alone: a port another process holds is refused (EAR_ERR_LISTEN), never shared. Resolves with the port
   * (useful with port 0).
   */
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

const LISTEN_REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the port is in use by another process',
  EADDRNOTAVAIL: 'the address is not one of this host\'s',
}

/** EAR_ERR_LISTEN for a failed listen on host:port: the reason in words, or the system's error as the cause. */
export function listenError (host: string, port: number, cause: NodeJS.ErrnoException): EarshotError {
  const reason = LISTEN_REASONS[cause.code ?? '']
  return reason ? earshotError('EAR_ERR_LISTEN', `${host}:${port}`, reason) : wrapError('EAR_ERR_LISTEN', cause, `${host}:${port}`, 'refused')
}
