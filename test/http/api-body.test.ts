import t, { type Test } from 'tap'
import path from 'node:path'
import { router } from '../../server/src/http/routes.js'
import type { Route } from '../../server/src/http/router.js'
import type { TransportName } from '../../server/src/transport/types.js'
import { buildCatalog } from '../helpers/catalog.js'
import { startServer, TRANSPORTS } from '../helpers/stream-helpers.js'
import {
  apiSettings, assertError, auditErrorAnswers, bodyOf, call, chunk, fillPath, rawCall, requestHead, routeKey, type Answer, type Step,
} from '../helpers/api-helpers.js'

// Request bodies on every route that takes one (the routes with a bodyLimit): JSON errors, content types, unknown
// and missing fields, bodies over the limit (declared, or chunked and growing), a body exactly at the limit, and a
// body that stalls. Small limits, all different, so a route's limit tells which kind of body it takes.
const settings = apiSettings({ http: { maxIdentifyBytes: 2048, maxRecordingBytes: 2560, maxUploadBytes: 3072, maxJsonBytes: 1024, bodyTimeoutMs: 300 } })
const bodyRoutes = router.routes.filter((r) => r.bodyLimit)
const isJson = (r: Route): boolean => r.bodyLimit!(settings) === settings.http.maxJsonBytes
const jsonRoutes = bodyRoutes.filter(isJson)
const audioRoutes = bodyRoutes.filter((r) => !isJson(r))

const catalog = buildCatalog(path.join(t.testdir(), 'db'), [1], 10)
t.teardown(() => catalog.index.close())

/** A body of exactly `size` bytes the route accepts as far as its size goes (the handler may refuse its content). */
function bodyOfSize (r: Route, size: number): { type: string, body: Buffer } {
  if (isJson(r)) return { type: 'application/json', body: Buffer.from('{}'.padEnd(size, ' ')) }
  // Silence as raw PCM: the route reads it whole before it judges it.
  return { type: 'audio/pcm;rate=8000;encoding=s16le;channels=1', body: Buffer.alloc(size - (size % 2)) }
}

const typeOf = (r: Route): string => isJson(r) ? 'application/json' : 'audio/wav'
/** Where a route is called: its path, with track 1 (which the catalog holds) for an id. */
const target = (r: Route): string => fillPath(r.path, '1')
/** Whether a JSON route needs a field (a merge patch needs none: an empty one changes nothing). */
const requires = (r: Route): boolean => r.mergePatch !== true

async function suite (t: Test, transport: TransportName): Promise<void> {
  const { http: base, port } = await startServer(t, transport, catalog.index, settings)

  t.test('the route table has JSON and audio body routes', async (t) => {
    t.same(jsonRoutes.map(routeKey).sort(), ['PATCH /v1/tracks/:id', 'POST /v1/index-jobs', 'POST /v1/monitors', 'POST /v1/webhooks/replay'])
    t.same(audioRoutes.map(routeKey).sort(), ['POST /v1/identify', 'POST /v1/identify-jobs', 'POST /v1/tracks'])
  })

  t.test('JSON routes: bad JSON 400, wrong content type 415, unknown or missing field 400', async (t) => {
    for (const r of jsonRoutes) {
      const key = routeKey(r)
      const post = (body: string, type: string | null = 'application/json'): Promise<Answer> =>
        call(base, r.method, target(r), { headers: type === null ? {} : { 'content-type': type }, body })
      for (const bad of ['{"path":', '{bad}', '', 'nul', '[]', 'null', '"text"', '42', '{"a":1}{"b":2}']) {
        assertError(t, await post(bad), 'EAR_ERR_BAD_JSON', `${key} ${JSON.stringify(bad)}`)
      }
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx', 'multipart/form-data; boundary=x', null]) {
        assertError(t, await post('{}', type), 'EAR_ERR_CONTENT_TYPE', `${key} as ${type ?? 'no content type'}`)
      }
      const unknown = await post('{"bogus":1}')
      assertError(t, unknown, 'EAR_ERR_BAD_REQUEST', `${key} with an unknown field`)
      t.match(bodyOf(unknown).error.message, /bogus/, 'the message names the unknown field')
      const missing = await post('{}', 'application/json; charset=utf-8')
      if (!requires(r)) { t.equal(missing.status, 200, `${key}: nothing is required (and a charset parameter)`); continue }
      assertError(t, missing, 'EAR_ERR_BAD_REQUEST', `${key} with a required field missing (and a charset parameter)`)
      t.match(bodyOf(missing).error.message, /required/)
    }
  })

  t.test('audio routes: wrong content type 415, empty body 400', async (t) => {
    for (const r of audioRoutes) {
      const key = routeKey(r)
      for (const type of ['text/plain', 'application/json', 'image/png']) {
        assertError(t, await call(base, r.method, r.path, { headers: { 'content-type': type }, body: 'RIFF' }), 'EAR_ERR_CONTENT_TYPE', `${key} as ${type}`)
      }
      assertError(t, await call(base, r.method, r.path, { body: 'RIFF' }), 'EAR_ERR_CONTENT_TYPE', `${key} without a content type`)
      for (const type of ['audio/wav', 'application/octet-stream', 'audio/pcm;rate=44100']) {
        assertError(t, await call(base, r.method, r.path, { headers: { 'content-type': type }, body: '' }), 'EAR_ERR_FILE_EMPTY', `${key} empty as ${type}`)
      }
    }
  })

  t.test('a body over the route\'s limit is 413 EAR_ERR_BODY_TOO_LARGE', async (t) => {
    for (const r of bodyRoutes) {
      const key = routeKey(r)
      const limit = r.bodyLimit!(settings)
      // Declared: refused from the headers alone, before a byte of the body is sent. (uWS itself drops a connection
      // that declares 2 GiB or more before earshot sees the request: hence under 1 GB here.)
      for (const declared of [limit + 1, 999_999_999]) {
        const a = await rawCall(port, [requestHead(r.method, target(r), { 'content-type': typeOf(r), 'content-length': declared })])
        assertError(t, a, 'EAR_ERR_BODY_TOO_LARGE', `${key} declaring ${declared} bytes (limit ${limit})`)
        t.match(bodyOf(a).error.message, String(limit), 'the message names the limit')
      }
      // Chunked: no length given, the body grows past the limit; it never ends, so only the limit can answer 413.
      const steps: Step[] = [requestHead(r.method, target(r), { 'content-type': typeOf(r), 'transfer-encoding': 'chunked' })]
      for (let sent = 0; sent <= 2 * limit; sent += 256) steps.push(chunk(Buffer.alloc(256, 0x20)), { waitMs: 2 })
      assertError(t, await rawCall(port, steps), 'EAR_ERR_BODY_TOO_LARGE', `${key} chunked past ${limit} bytes`)
      // Just over, sent whole with its length, as an ordinary client does.
      const over = bodyOfSize(r, limit + 2)
      const a = await rawCall(port, [requestHead(r.method, target(r), { 'content-type': over.type, 'content-length': over.body.length }), over.body])
      assertError(t, a, 'EAR_ERR_BODY_TOO_LARGE', `${key} with ${over.body.length} bytes`)
    }
  })

  t.test('a body exactly at the limit is read (chunked or not)', async (t) => {
    for (const r of bodyRoutes) {
      const key = routeKey(r)
      const limit = r.bodyLimit!(settings)
      const { type, body } = bodyOfSize(r, limit)
      const whole = await call(base, r.method, target(r), { headers: { 'content-type': type }, body })
      t.not(whole.status, 413, `${key} with ${body.length} bytes: not too large (${whole.status} ${whole.text.slice(0, 120)})`)
      t.ok(whole.status < 500, `${key}: answered by the handler`)
      if (isJson(r) && requires(r)) assertError(t, whole, 'EAR_ERR_BAD_REQUEST', `${key}: {} padded to the limit reaches the field check`)
      const chunked = await rawCall(port, [requestHead(r.method, target(r), { 'content-type': type, 'transfer-encoding': 'chunked' }),
        chunk(body.subarray(0, 512)), chunk(body.subarray(512)), '0\r\n\r\n'])
      t.equal(chunked.status, whole.status, `${key} chunked: the same answer (${chunked.status})`)
    }
  })

  t.test('a body that stops half way is 408 EAR_ERR_BODY_TIMEOUT after bodyTimeoutMs', async (t) => {
    for (const r of bodyRoutes) {
      const key = routeKey(r)
      const limit = r.bodyLimit!(settings)
      const { type, body } = bodyOfSize(r, limit)
      const started = Date.now()
      const a = await rawCall(port, [requestHead(r.method, target(r), { 'content-type': type, 'content-length': body.length }), body.subarray(0, body.length >> 1)], 5000)
      assertError(t, a, 'EAR_ERR_BODY_TIMEOUT', `${key} after half its body`)
      t.ok(Date.now() - started >= settings.http.bodyTimeoutMs - 50, `${key}: not before the timeout (${Date.now() - started} ms)`)
      t.match(bodyOf(a).error.message, String(settings.http.bodyTimeoutMs), 'the message names the timeout')
      // A chunked body that stalls after its first chunk.
      const c = await rawCall(port, [requestHead(r.method, target(r), { 'content-type': type, 'transfer-encoding': 'chunked' }), chunk(body.subarray(0, 100))], 5000)
      assertError(t, c, 'EAR_ERR_BODY_TIMEOUT', `${key} chunked, stalled`)
    }
  })

  t.test('the server still serves', async (t) => {
    const a = await call(base, 'POST', '/v1/monitors', { headers: { 'content-type': 'application/json' }, body: '{"url":"ftp://example.invalid/x"}' })
    assertError(t, a, 'EAR_ERR_BAD_REQUEST', 'a JSON body after all that')
    t.equal((await call(base, 'GET', '/ping')).text, 'pong')
  })
}

for (const transport of TRANSPORTS) t.test(`request bodies over ${transport}`, (t) => suite(t, transport))

t.test('every error answer is {"error":{"code","message"}} with its catalogued status and no stack trace', async (t) => {
  auditErrorAnswers(t)
})
