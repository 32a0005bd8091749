/**
 * Helpers for the HTTP API tests: one-off requests on connections of their own (node:http with `agent: false`, so no
 * keep-alive socket outlives a test), a raw socket for bodies that only declare their length, grow past a limit or
 * stall, the documented error shape, and one side-effect-free probe per route: a request whose answer shows that it
 * got past the access check and reached the route's handler.
 */
import http from 'node:http'
import net from 'node:net'
import type { Test } from 'tap'
import type { AccessSettings, HttpLimits, MonitorSettings, NetworkSettings, Settings, StreamLimits } from '../../server/src/config/defaults.js'
import { errorCatalogue, httpStatus, type ErrorCode } from '../../server/src/errors.js'
import type { Route } from '../../server/src/http/router.js'
import { testSettings } from './stream-helpers.js'
export { pollUntil } from './stream-helpers.js'

/** Tokens of the guarded servers (at least 16 characters, as configuration demands). */
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef'
export const CLIENT_TOKEN = 'client-token-0123456789abcdef'
export const OTHER_CLIENT_TOKEN = 'client-token-fedcba9876543210'
/** Well formed, configured nowhere. */
export const UNKNOWN_TOKEN = 'unknown-token-0123456789abcdef'

/** Ids that are well formed and name nothing. */
export const UNKNOWN_TRACK_ID = '999999'
export const UNKNOWN_UUID = '00000000-0000-4000-8000-000000000000'

/** A request waits at most this long for its answer, in ms. */
const CALL_TIMEOUT_MS = 15_000

export interface SettingsPatch {
  http?: Partial<HttpLimits>
  access?: Partial<AccessSettings>
  stream?: Partial<StreamLimits>
  monitors?: Partial<MonitorSettings>
  network?: Partial<NetworkSettings>
}

/**
 * The test settings with `patch` spread over each group. The free-disk minimum is 0, so /health answers 'ok' on any
 * test machine; monitors retry slowly, so a monitor whose source ends stays quiet during a test.
 */
export function apiSettings (patch: SettingsPatch = {}): Settings {
  const base = testSettings(patch.stream)
  return {
    ...base,
    minFreeDiskBytes: 0,
    http: { ...base.http, ...patch.http },
    access: { ...base.access, ...patch.access },
    monitors: { ...base.monitors, initialBackoffMs: 30_000, maxBackoffMs: 60_000, ...patch.monitors },
    network: { ...base.network, ...patch.network },
  }
}

/** Settings with the admin and client tokens configured. */
export function guardedSettings (patch: SettingsPatch = {}): Settings {
  return apiSettings({ ...patch, access: { adminTokens: [ADMIN_TOKEN], clientTokens: [CLIENT_TOKEN, OTHER_CLIENT_TOKEN], ...patch.access } })
}

export interface Answer {
  method: string
  path: string
  status: number
  /** Header names in lower case. */
  headers: http.IncomingHttpHeaders
  body: Buffer
  text: string
}

/** Every answer of this process, for the error shape audit at the end of a file. */
export const answers: Answer[] = []

/** The body of an answer as JSON; fails with the text when it is not JSON. */
export function bodyOf (a: Answer): any {
  try {
    return JSON.parse(a.text)
  } catch {
    throw new Error(`${a.method} ${a.path} answered ${a.status} with a body that is not JSON: ${a.text.slice(0, 200)}`)
  }
}

export interface CallOptions {
  headers?: Record<string, string>
  body?: string | Uint8Array
  /** Sent as `Authorization: Bearer TOKEN`. */
  token?: string
}

/** One request on a connection of its own; resolves with the whole answer, rejects after CALL_TIMEOUT_MS. */
export function call (base: string, method: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body))
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => {
        clearTimeout(timer)
        const body = Buffer.concat(chunks)
        const a: Answer = { method, path, status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') }
        answers.push(a)
        resolve(a)
      })
    })
    const timer = setTimeout(() => req.destroy(new Error(`no answer to ${method} ${path} within ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS)
    req.on('error', (err) => { clearTimeout(timer); reject(err) })
    req.end(options.body)
  })
}

/** `path` with `token` added to its query. */
export function withQueryToken (path: string, token: string): string {
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`
}

/** What is wrong with an error answer's shape; undefined when it is the documented one. */
export function errorShapeProblem (a: Answer): string | undefined {
  if (!/^application\/json\b/.test(String(a.headers['content-type']))) return `content type ${String(a.headers['content-type'])}`
  let body: unknown
  try { body = JSON.parse(a.text) } catch { return `not JSON: ${a.text.slice(0, 200)}` }
  if (typeof body !== 'object' || body === null || Object.keys(body).join() !== 'error') return `not {"error": …}: ${a.text.slice(0, 200)}`
  const e = (body as { error: unknown }).error as Record<string, unknown>
  if (typeof e !== 'object' || e === null || Object.keys(e).sort().join() !== 'code,message') return `error is not {code, message}: ${a.text.slice(0, 200)}`
  if (typeof e.code !== 'string' || !(e.code in errorCatalogue)) return `uncatalogued code ${String(e.code)}`
  if (typeof e.message !== 'string' || e.message === '') return 'empty message'
  if (httpStatus(e.code as ErrorCode) !== a.status) return `status ${a.status}, but ${e.code} is ${httpStatus(e.code as ErrorCode)}`
  // A stack trace shows as "at fn (file:line:col)" lines or as file positions.
  if (/\n\s*at |\.[jt]s:\d+:\d+/.test(e.message)) return `a stack trace in the message: ${e.message}`
  return undefined
}

/** Assert an error answer: the code, its catalogued status, the documented shape, no stack trace. */
export function assertError (t: Test, a: Answer, code: ErrorCode, what: string): void {
  t.equal(a.status, httpStatus(code), `${what}: status ${httpStatus(code)}`)
  const problem = a.method === 'HEAD' ? undefined : errorShapeProblem(a)
  t.notOk(problem, `${what}: the documented error body${problem ? ` (${problem})` : ''}`)
  if (a.method !== 'HEAD' && !problem) t.equal(bodyOf(a).error.code, code, `${what}: ${code}`)
}

/** Every error answer the file saw has the documented shape and its catalogued status. */
export function auditErrorAnswers (t: Test): void {
  const errors = answers.filter((a) => a.status >= 400 && a.method !== 'HEAD')
  const bad = errors.map((a) => [a, errorShapeProblem(a)] as const).filter(([, p]) => p !== undefined)
  t.ok(errors.length > 0, `${errors.length} error answers seen`)
  t.same(bad.map(([a, p]) => `${a.method} ${a.path} ${a.status}: ${p}`), [], 'every error answer is {"error":{"code","message"}} with its catalogued status')
}

/** A step of a raw request: bytes to write, or a pause. */
export type Step = string | Uint8Array | { waitMs: number }

/** The head of a request, `Connection: close` included. */
export function requestHead (method: string, path: string, headers: Record<string, string | number>): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close']
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`)
  return lines.join('\r\n') + '\r\n\r\n'
}

/** One chunk of a chunked body. */
export function chunk (data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')])
}

/**
 * A request written step by step on a raw socket; writing stops as soon as the answer starts (a server that refused
 * a body does not read the rest). Resolves with the parsed answer (by its Content-Length), rejects after `timeoutMs`
 * or when the connection closes without a whole answer.
 */
export function rawCall (port: number, steps: readonly Step[], timeoutMs = 10_000): Promise<Answer> {
  const first = typeof steps[0] === 'string' ? steps[0].split(' ', 2) : ['?', '?']
  const [method, path] = first
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let got = Buffer.alloc(0)
    let answering = false
    let settled = false
    const settle = (err: Error | undefined, a?: Answer): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (err) reject(err)
      else { answers.push(a!); resolve(a!) }
    }
    const timer = setTimeout(() => settle(new Error(`no whole answer to ${method} ${path} within ${timeoutMs} ms (got ${JSON.stringify(got.toString('latin1').slice(0, 300))})`)), timeoutMs)
    const tryParse = (ended: boolean): void => {
      const end = got.indexOf('\r\n\r\n')
      if (end < 0) return
      const lines = got.subarray(0, end).toString('latin1').split('\r\n')
      const status = Number(lines[0].split(' ')[1])
      const headers: http.IncomingHttpHeaders = {}
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':')
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
      }
      const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length'])
      const body = got.subarray(end + 4)
      if (length === undefined ? !ended : body.length < length) return
      const bytes = Buffer.from(length === undefined ? body : body.subarray(0, length))
      settle(undefined, { method, path, status, headers, body: bytes, text: bytes.toString('utf8') })
    }
    socket.on('data', (c: Buffer) => { answering = true; got = Buffer.concat([got, c]); tryParse(false) })
    socket.on('end', () => { tryParse(true); settle(new Error(`the server closed the connection of ${method} ${path} without a whole answer (got ${JSON.stringify(got.toString('latin1').slice(0, 300))})`)) })
    socket.on('error', (err) => { tryParse(true); settle(new Error(`${method} ${path}: ${err.message} (got ${got.length} bytes)`)) })
    socket.once('connect', () => {
      void (async () => {
        for (const step of steps) {
          if (answering || settled) return
          if (typeof step === 'object' && 'waitMs' in step) await new Promise((resolve) => setTimeout(resolve, step.waitMs))
          else await new Promise<void>((resolve) => socket.write(step, () => resolve()))
        }
      })().catch(() => { /* a write after the server closed: the answer (or its absence) tells */ })
    })
  })
}

/** `METHOD /path/:pattern`: the key of a route in the case tables. */
export function routeKey (r: Pick<Route, 'method' | 'path'>): string {
  return `${r.method} ${r.path}`
}

/** The path of a route with every `:name` replaced by `id`. */
export function fillPath (pattern: string, id: string): string {
  return pattern.replace(/:[a-zA-Z]+/g, id)
}

/**
 * A request that changes nothing and reaches the route's handler: its status proves that access was granted (no
 * 401 or 403) and that the route, not the router, answered. `code` is the error the handler gives, if any.
 */
export interface Probe {
  path: string
  headers?: Record<string, string>
  body?: string
  status: number
  code?: ErrorCode
}

const TEXT = { 'content-type': 'text/plain' }
const JSON_TYPE = { 'content-type': 'application/json' }

/** One probe per route; a route without one fails the tests that loop over the route table. */
export const PROBES: Readonly<Record<string, Probe>> = {
  'GET /health': { path: '/health', status: 200 },
  'GET /ping': { path: '/ping', status: 200 },
  'GET /metrics': { path: '/metrics', status: 200 },
  'GET /openapi.json': { path: '/openapi.json', status: 200 },
  'GET /v1/stats': { path: '/v1/stats', status: 200 },
  'GET /v1/stream': { path: '/v1/stream', status: 426, code: 'EAR_ERR_UPGRADE_REQUIRED' },
  'POST /v1/identify': { path: '/v1/identify', headers: TEXT, body: 'x', status: 415, code: 'EAR_ERR_CONTENT_TYPE' },
  'GET /v1/tracks': { path: '/v1/tracks?limit=1', status: 200 },
  'GET /v1/tracks/:id': { path: `/v1/tracks/${UNKNOWN_TRACK_ID}`, status: 404, code: 'EAR_ERR_TRACK_NOT_FOUND' },
  'POST /v1/tracks': { path: '/v1/tracks', headers: TEXT, body: 'x', status: 415, code: 'EAR_ERR_CONTENT_TYPE' },
  'DELETE /v1/tracks/:id': { path: `/v1/tracks/${UNKNOWN_TRACK_ID}`, status: 404, code: 'EAR_ERR_TRACK_NOT_FOUND' },
  'PATCH /v1/tracks/:id': { path: `/v1/tracks/${UNKNOWN_TRACK_ID}`, headers: JSON_TYPE, body: '{}', status: 404, code: 'EAR_ERR_TRACK_NOT_FOUND' },
  'POST /v1/index-jobs': { path: '/v1/index-jobs', headers: JSON_TYPE, body: '{}', status: 400, code: 'EAR_ERR_BAD_REQUEST' },
  'GET /v1/index-jobs/:id': { path: `/v1/index-jobs/${UNKNOWN_UUID}`, status: 404, code: 'EAR_ERR_JOB_NOT_FOUND' },
  'GET /v1/index-jobs': { path: '/v1/index-jobs', status: 200 },
  'DELETE /v1/index-jobs/:id': { path: `/v1/index-jobs/${UNKNOWN_UUID}`, status: 404, code: 'EAR_ERR_JOB_NOT_FOUND' },
  'POST /v1/identify-jobs': { path: '/v1/identify-jobs', headers: TEXT, body: 'x', status: 415, code: 'EAR_ERR_CONTENT_TYPE' },
  'GET /v1/identify-jobs/:id': { path: `/v1/identify-jobs/${UNKNOWN_UUID}`, status: 404, code: 'EAR_ERR_JOB_NOT_FOUND' },
  'GET /v1/identify-jobs': { path: '/v1/identify-jobs', status: 200 },
  'DELETE /v1/identify-jobs/:id': { path: `/v1/identify-jobs/${UNKNOWN_UUID}`, status: 404, code: 'EAR_ERR_JOB_NOT_FOUND' },
  'POST /v1/monitors': { path: '/v1/monitors', headers: JSON_TYPE, body: '{}', status: 400, code: 'EAR_ERR_BAD_REQUEST' },
  'GET /v1/monitors': { path: '/v1/monitors', status: 200 },
  'GET /v1/monitors/:id': { path: `/v1/monitors/${UNKNOWN_UUID}`, status: 404, code: 'EAR_ERR_MONITOR_NOT_FOUND' },
  'DELETE /v1/monitors/:id': { path: `/v1/monitors/${UNKNOWN_UUID}`, status: 404, code: 'EAR_ERR_MONITOR_NOT_FOUND' },
  'GET /v1/plays': { path: '/v1/plays', status: 200 },
  'GET /v1/plays/daily': { path: '/v1/plays/daily', status: 200 },
  'POST /v1/webhooks/replay': { path: '/v1/webhooks/replay', headers: JSON_TYPE, body: '{}', status: 400, code: 'EAR_ERR_BAD_REQUEST' },
  // The web page and the browser SDK, built into dist/web by `npm run build`.
  'GET /': { path: '/', status: 200 },
  'GET /web/app.js': { path: '/web/app.js', status: 200 },
  'GET /web/style.css': { path: '/web/style.css', status: 200 },
  'GET /sdk/earshot.js': { path: '/sdk/earshot.js', status: 200 },
  'GET /sdk/earshot-worklet.js': { path: '/sdk/earshot-worklet.js', status: 200 },
}

/** Send a route's probe, with a token as a bearer header or in the query. */
export function sendProbe (base: string, route: Route, token?: { value: string, as: 'header' | 'query' }): Promise<Answer> {
  const p = PROBES[routeKey(route)]
  if (!p) throw new Error(`no probe for ${routeKey(route)}: add one to PROBES`)
  const path = token?.as === 'query' ? withQueryToken(p.path, token.value) : p.path
  return call(base, route.method, path, { headers: p.headers, body: p.body, token: token?.as === 'header' ? token.value : undefined })
}

/** Serve `bytes` with `type` to every GET on loopback (a monitor's source); closed in t's teardown. Resolves with its URL. */
export async function serveBytes (t: Test, bytes: Uint8Array, type = 'audio/wav'): Promise<string> {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': type, 'content-length': bytes.length })
    res.end(bytes)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/stream.wav`
}

/** A multipart/form-data body of text fields and one file (field `audio`), encoded by the WHATWG Request. */
export async function multipart (fields: Record<string, string>, file: { name: string, bytes: Uint8Array, type: string }): Promise<{ body: Buffer, type: string }> {
  const form = new FormData()
  for (const [k, v] of Object.entries(fields)) form.append(k, v)
  form.append('audio', new Blob([new Uint8Array(file.bytes)], { type: file.type }), file.name)
  const r = new Request('http://earshot.invalid/', { method: 'POST', body: form })
  return { body: Buffer.from(await r.arrayBuffer()), type: r.headers.get('content-type') ?? '' }
}

/** Mono float PCM as 16-bit integers, little- or big-endian (audio/L16 is big-endian). */
export function pcm16 (x: Float32Array, bigEndian = false): Buffer {
  const out = Buffer.alloc(x.length * 2)
  for (let i = 0; i < x.length; i++) {
    const v = Math.max(-1, Math.min(1, x[i]))
    const s = Math.round(v * 32767)
    if (bigEndian) out.writeInt16BE(s, i * 2)
    else out.writeInt16LE(s, i * 2)
  }
  return out
}

