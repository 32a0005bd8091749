/**
 * The CLI's side of a server: the one address every command that talks to a server takes (--server or
 * EARSHOT_SERVER), and requests to the HTTP API (`earshot monitor`, `jobs`, `plays`, `identify --server`): the token
 * from --token or EARSHOT_TOKEN, and the server's error turned into EAR_ERR_API with the server's code and message.
 */
import { earshotError, wrapError } from '../errors.js'

export const DEFAULT_API = 'http://127.0.0.1:8080'

/** The WebSocket path of the stream protocol, added to the server's address by `earshot stream`. */
export const STREAM_PATH = '/v1/stream'

/** The --server flag every command that talks to a server takes. */
export const serverFlag = {
  server: { type: 'string', description: `Server address, http(s):// or ws(s)://host:port (default $EARSHOT_SERVER or ${DEFAULT_API})` },
} as const

export interface ApiOptions { server: string, token: string | undefined }

export interface ApiAnswer { status: number, type: string, text: string, headers: Headers }

/**
 * The server's base address from --server or EARSHOT_SERVER: one address for every command. http:// and ws:// name
 * the same server (https:// and wss:// too); a path is kept as a prefix (a server behind a proxy at /earshot), less
 * a trailing /v1/stream, so the stream URL a user already has works as well. Gives `{ http, ws }`: the HTTP API's base
 * and the stream protocol's full URL.
 */
export function serverAddress (values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env): { http: string, ws: string } {
  const given = (values.server as string | undefined) ?? (env.EARSHOT_SERVER || DEFAULT_API)
  const from = values.server === undefined && env.EARSHOT_SERVER ? 'EARSHOT_SERVER' : '--server'
  let url: URL | undefined
  try { url = new URL(given) } catch {}
  const secure = url?.protocol === 'https:' || url?.protocol === 'wss:'
  if (!url || !['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol) || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw earshotError('EAR_ERR_USAGE', `${from} must be an address like http://host:8080 or ws://host:8080, got '${given}'`)
  }
  const prefix = url.pathname.replace(/\/+$/, '').replace(/\/v1\/stream$/, '')
  return {
    http: `${secure ? 'https' : 'http'}://${url.host}${prefix}`,
    ws: `${secure ? 'wss' : 'ws'}://${url.host}${prefix}${STREAM_PATH}`,
  }
}

export function apiOptions (values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env): ApiOptions {
  return { server: serverAddress(values, env).http, token: (values.token as string | undefined) ?? (env.EARSHOT_TOKEN || undefined) }
}

/** Send a request; a non-2xx answer throws EAR_ERR_API carrying the server's error code and message. */
export async function callApi (o: ApiOptions, method: string, path: string, body?: unknown, accept = 'application/json'): Promise<ApiAnswer> {
  const headers: Record<string, string> = { accept }
  if (o.token) headers.authorization = `Bearer ${o.token}`
  // A form (an upload) sets its own content type, with its boundary.
  const form = body instanceof FormData
  if (body !== undefined && !form) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(o.server + path, { method, headers, body: body === undefined ? undefined : form ? body : JSON.stringify(body), signal: AbortSignal.timeout(form ? 120_000 : 30_000) })
  } catch (err) {
    throw wrapError('EAR_ERR_CONNECT', (err as Error).cause ?? err, o.server)
  }
  const text = await res.text()
  if (!res.ok) {
    let detail = `${res.status} ${res.statusText}`
    try {
      const e = (JSON.parse(text) as { error?: { code?: string, message?: string } }).error
      if (e?.code) detail = `${res.status} ${e.code}: ${e.message ?? ''}`
    } catch {}
    throw earshotError('EAR_ERR_API', detail)
  }
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, headers: res.headers }
}
