/**
 * The CLI's side of the HTTP API (`earshot monitor`, `earshot plays`): one request, the token from --token or
 * EARSHOT_TOKEN, and the server's error turned into EAR_ERR_API with the server's code and message.
 */
import { earshotError, wrapError } from '../errors.js'

export const DEFAULT_API = 'http://127.0.0.1:8080'

export interface ApiOptions { server: string, token: string | undefined }

export interface ApiAnswer { status: number, type: string, text: string, headers: Headers }

export function apiOptions (values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env): ApiOptions {
  const server = ((values.server as string | undefined) ?? env.EARSHOT_SERVER ?? DEFAULT_API).replace(/\/+$/, '')
  if (!/^https?:\/\/[^/]+$/.test(server)) throw earshotError('EAR_ERR_USAGE', `--server must be http://host:port, got '${server}'`)
  return { server, token: (values.token as string | undefined) ?? (env.EARSHOT_TOKEN || undefined) }
}

/** Send a request; a non-2xx answer throws EAR_ERR_API carrying the server's error code and message. */
export async function callApi (o: ApiOptions, method: string, path: string, body?: unknown, accept = 'application/json'): Promise<ApiAnswer> {
  const headers: Record<string, string> = { accept }
  if (o.token) headers.authorization = `Bearer ${o.token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(o.server + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) })
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
