/**
 * Plain HTTP routes served beside the WebSocket endpoint, as pure functions of the request line, so both
 * transports serve exactly the same answers.
 */
import type { StreamContext } from '../stream/connection.js'

export interface HttpAnswer { status: number, type: string, body: string }

export const STREAM_PATH = '/v1/stream'

const json = (status: number, value: unknown): HttpAnswer => ({ status, type: 'application/json', body: JSON.stringify(value) })

export function answerHttp (ctx: StreamContext, method: string, url: string): HttpAnswer {
  const path = url.split('?')[0]
  if (method !== 'GET' && method !== 'HEAD') return json(405, { error: { code: 'EAR_ERR_METHOD', message: `${method} is not allowed here` } })
  switch (path) {
    case '/health': {
      let index
      try {
        index = ctx.index.stats()
      } catch (err) {
        return json(503, { status: 'unhealthy', reason: `index unreadable: ${(err as Error).message}` })
      }
      return json(200, { status: 'ok', transport: ctx.transport, sessions: ctx.sessions, index })
    }
    case '/ping':
      return { status: 200, type: 'text/plain', body: 'pong' }
    case STREAM_PATH:
      return json(426, { error: { code: 'EAR_ERR_UPGRADE_REQUIRED', message: 'Connect with a WebSocket' } })
    default:
      return json(404, { error: { code: 'EAR_ERR_NOT_FOUND', message: `no route ${path}` } })
  }
}
