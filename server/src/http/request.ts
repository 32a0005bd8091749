/**
 * What a transport hands the HTTP API (HttpRequest) and what it gets back (HttpReply): plain data, so ws (node:http)
 * and uWebSockets.js serve exactly the same answers from the same handlers.
 */
import { EarshotError, httpStatus, type ErrorCode } from '../errors.js'

export interface HttpRequest {
  /** Upper case; HEAD is answered as GET without a body. */
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  /** A header by lower-case name. */
  header (name: string): string | undefined
  /** The peer's IP address as text. */
  readonly remoteAddress: string
  /**
   * The whole body, at most the route's limit. Rejects with EAR_ERR_BODY_TOO_LARGE or EAR_ERR_BODY_TIMEOUT.
   * Transports start reading at once, before the handler runs (uWS drops data nobody listens to).
   */
  body (): Promise<Buffer>
}

export interface HttpReply {
  status: number
  type: string
  body: string | Uint8Array
  headers?: Record<string, string>
}

export function json (status: number, value: unknown, headers?: Record<string, string>): HttpReply {
  return { status, type: 'application/json', body: JSON.stringify(value), headers }
}

/** The documented error body: {"error": {"code", "message"}}. */
export function errorReply (code: ErrorCode, message: string, headers?: Record<string, string>): HttpReply {
  return json(httpStatus(code), { error: { code, message } }, headers)
}

/** Any thrown value as an error reply; anything uncatalogued is internal, without its details. */
export function replyForError (err: unknown): HttpReply {
  if (err instanceof EarshotError) {
    const cause = err.cause instanceof Error && err.code !== 'EAR_ERR_INTERNAL' ? `: ${err.cause.message}` : ''
    const headers = (err as EarshotError & { headers?: Record<string, string> }).headers
    return errorReply(err.code, err.message + cause, headers)
  }
  return errorReply('EAR_ERR_INTERNAL', 'Internal error; the server log has the details')
}

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout', 409: 'Conflict', 413: 'Payload Too Large',
  415: 'Unsupported Media Type', 422: 'Unprocessable Entity', 426: 'Upgrade Required', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
}
