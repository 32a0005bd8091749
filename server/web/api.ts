/**
 * The page's side of the HTTP API: JSON requests with the token of this tab, uploads with progress, and error
 * answers turned into sentences. The token (admin or client) is kept in sessionStorage: this tab only.
 */

const TOKEN_KEY = 'earshot.token'

/** An error answer of the API ({"error": {code, message}}), or a request that got no answer. */
export class ApiError extends Error {
  readonly code: string
  readonly status: number
  constructor (status: number, code: string, message: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
  }
}

export function getToken (): string {
  try { return sessionStorage.getItem(TOKEN_KEY) ?? '' } catch { return '' }
}

export function setToken (token: string): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token)
    else sessionStorage.removeItem(TOKEN_KEY)
  } catch { /* storage refused (private mode): the token lasts until reload */ }
  memoryToken = token
}

let memoryToken = ''

function token (): string { return getToken() || memoryToken }

/** The Authorization header of this tab's token, or none. */
export function authHeaders (): Record<string, string> {
  const t = token()
  return t ? { authorization: `Bearer ${t}` } : {}
}

/** The stream endpoint of the server that served this page. */
export function streamUrl (): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/stream`
}

/** The token to put in a stream's hello (undefined when none is set). */
export function streamToken (): string | undefined {
  return token() || undefined
}

async function errorOf (res: Response): Promise<ApiError> {
  try {
    const body = await res.json() as { error?: { code?: string, message?: string } }
    if (body.error?.code) return new ApiError(res.status, body.error.code, body.error.message ?? body.error.code)
  } catch { /* not the error body */ }
  return new ApiError(res.status, 'EAR_ERR_HTTP', `The server answered ${res.status} ${res.statusText}`)
}

/** A request whose answer is JSON (or nothing, for 204). */
export async function api<T> (path: string, init: RequestInit = {}): Promise<T> {
  let res: Response
  try {
    res = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers as Record<string, string> | undefined) } })
  } catch (err) {
    throw new ApiError(0, 'EAR_ERR_NETWORK', `Cannot reach the server (${(err as Error).message})`)
  }
  if (!res.ok) throw await errorOf(res)
  if (res.status === 204) return undefined as T
  return await res.json() as T
}

export interface UploadProgress {
  /** Bytes of the body sent so far, and in all. */
  loaded: number
  total: number
  /** The body is sent; the server is working on it. */
  sent: boolean
}

/**
 * POST a form with progress events (fetch reports no upload progress; XMLHttpRequest does). Resolves with the
 * status and JSON body of a success; rejects with an ApiError otherwise.
 */
export function upload<T> (path: string, form: FormData, onProgress: (p: UploadProgress) => void): Promise<{ status: number, body: T }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', path)
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v)
    xhr.responseType = 'json'
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress({ loaded: e.loaded, total: e.total, sent: false }) }
    xhr.upload.onload = () => onProgress({ loaded: 1, total: 1, sent: true })
    xhr.onerror = () => reject(new ApiError(0, 'EAR_ERR_NETWORK', 'The upload did not reach the server'))
    xhr.onload = () => {
      const body = xhr.response as { error?: { code?: string, message?: string } } | null
      if (xhr.status >= 200 && xhr.status < 300) { resolve({ status: xhr.status, body: body as T }); return }
      reject(new ApiError(xhr.status, body?.error?.code ?? 'EAR_ERR_HTTP', body?.error?.message ?? `The server answered ${xhr.status}`))
    }
    xhr.send(form)
  })
}

/** An error as one sentence for people, with what to do where that is known. */
export function describe (err: unknown): string {
  if (!(err instanceof ApiError)) return err instanceof Error ? err.message : String(err)
  switch (err.code) {
    case 'EAR_ERR_UNAUTHORIZED': return 'This needs a token: enter one under "Access token" at the bottom of the page.'
    case 'EAR_ERR_FORBIDDEN': return 'This needs an admin token (or, when the server has none configured, a browser on the server\'s own machine).'
    case 'EAR_ERR_RATE_LIMITED': return 'Too many requests for now; wait a minute and try again.'
    default: return /[.!?]$/.test(err.message) ? err.message : `${err.message}.`
  }
}
