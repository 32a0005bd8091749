/**
 * One interface in front of the WebSocket servers: uWebSockets.js (default) and ws. Each carries bytes between
 * sockets and StreamConnection; neither knows the protocol.
 */
export type TransportName = 'uws' | 'ws'

export interface Transport {
  readonly name: TransportName
  /** Listen; resolves with the port (useful with port 0). */
  listen (host: string, port: number): Promise<number>
  /** Stop listening and close every connection with `code`. */
  close (code: number, reason: string): Promise<void>
}
