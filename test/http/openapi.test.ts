import t from 'tap'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { errorCatalogue } from '../../server/src/errors.js'
import { router } from '../../server/src/http/routes.js'
import type { Route } from '../../server/src/http/router.js'
import { Value } from '@sinclair/typebox/value'
import { buildCatalog } from '../helpers/catalog.js'
import { clip } from '../helpers/signals.js'
import { allowLoopback, startServer, testSettings, toS16 } from '../helpers/stream-helpers.js'

// The OpenAPI document is generated from the route table's schemas. This test checks what the generator makes of
// them (every route, parameter, body, access level and error answer; every $ref resolves), then checks real answers
// of a real server (ws transport, a one-song catalog in a real LMDB) against the served document's schemas and
// against the routes' own response schemas.
const API_MD = fileURLToPath(new URL('../../../docs/API.md', import.meta.url))
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']
/** Each request of this test is answered well within this, in ms. */
const REQUEST_TIMEOUT_MS = 10_000

type Json = Record<string, any>

const catalog = buildCatalog(path.join(t.testdir(), 'db'), [1], 20)
t.teardown(() => catalog.index.close())

interface Answer { status: number, type: string, headers: http.IncomingHttpHeaders, body: string }

/** One request on a connection of its own, bounded in time. */
function request (method: string, url: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (s: string) => { text += s })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), headers: res.headers, body: text }))
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${REQUEST_TIMEOUT_MS} ms`)))
    req.on('error', reject)
    req.end(body)
  })
}

function openApiPath (route: Route): string {
  return route.path.replace(/:([a-zA-Z]+)/g, '{$1}')
}

/** Every operation of the document as [path, method, operation]. */
function operations (doc: Json): Array<[string, string, Json]> {
  const out: Array<[string, string, Json]> = []
  for (const [p, item] of Object.entries(doc.paths as Json)) {
    for (const m of HTTP_METHODS) if (item[m] !== undefined) out.push([p, m, item[m]])
  }
  return out
}

/** A local JSON pointer (`#/components/schemas/Track`), or undefined when it leads nowhere. */
function resolvePointer (doc: Json, pointer: string): unknown {
  if (!pointer.startsWith('#/')) return undefined
  let at: unknown = doc
  for (const raw of pointer.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, key)) return undefined
    at = (at as Json)[key]
  }
  return at
}

/** Every `$ref` value in the document, with where it sits. */
function refs (value: unknown, where = '#', out: Array<[string, string]> = []): Array<[string, string]> {
  if (Array.isArray(value)) value.forEach((v, i) => refs(v, `${where}/${i}`, out))
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref') out.push([where, String(v)])
      else refs(v, `${where}/${k}`, out)
    }
  }
  return out
}

/**
 * The ways `value` breaks `schema` (empty when it fits): the JSON Schema the document uses ($ref, anyOf, const, enum,
 * type with null, required, properties without extras unless allowed, items, minimum, maximum, lengths, pattern, the
 * formats date-time, date and uuid).
 */
function violations (doc: Json, schema: Json, value: unknown, at = '$'): string[] {
  if (schema.$ref !== undefined) {
    const target = resolvePointer(doc, schema.$ref)
    return target === undefined ? [`${at}: $ref ${String(schema.$ref)} leads nowhere`] : violations(doc, target as Json, value, at)
  }
  if (schema.anyOf !== undefined) {
    const each = (schema.anyOf as Json[]).map((s) => violations(doc, s, value, at))
    return each.some((v) => v.length === 0) ? [] : [`${at} = ${JSON.stringify(value)?.slice(0, 80)} fits no choice: ${each.flat().join('; ')}`]
  }
  if (schema.allOf !== undefined) return (schema.allOf as Json[]).flatMap((s) => violations(doc, s, value, at))
  const problems: string[] = []
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value
  const fits = schema.type === undefined || schema.type === type || (schema.type === 'number' && type === 'integer')
  if (!fits) return [`${at} is ${type}, not ${String(schema.type)}`]
  if (schema.const !== undefined && value !== schema.const) problems.push(`${at} = ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`)
  if (schema.enum !== undefined && !(schema.enum as unknown[]).includes(value)) problems.push(`${at} = ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`)
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${at} = ${value} < ${String(schema.minimum)}`)
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${at} = ${value} > ${String(schema.maximum)}`)
  }
  if (typeof value === 'string') {
    const formats: Record<string, RegExp> = { 'date-time': /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, date: /^\d{4}-\d\d-\d\d$/, uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/ }
    if (schema.format !== undefined && formats[schema.format]?.test(value) === false) problems.push(`${at} = ${value} is not a ${String(schema.format)}`)
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) problems.push(`${at} = ${value} does not match ${String(schema.pattern)}`)
    if (schema.maxLength !== undefined && value.length > schema.maxLength) problems.push(`${at} is longer than ${String(schema.maxLength)}`)
    if (schema.minLength !== undefined && value.length < schema.minLength) problems.push(`${at} is shorter than ${String(schema.minLength)}`)
  }
  if (Array.isArray(value) && schema.items !== undefined) value.forEach((v, i) => problems.push(...violations(doc, schema.items, v, `${at}[${i}]`)))
  if (type === 'object' && schema.properties !== undefined) {
    const obj = value as Json
    for (const k of schema.required ?? []) if (!(k in obj)) problems.push(`${at}.${String(k)} is missing`)
    for (const [k, v] of Object.entries(obj)) {
      const s = (schema.properties as Json)[k]
      if (s === undefined) { if (schema.additionalProperties !== true) problems.push(`${at}.${k} is not in the schema`) } else problems.push(...violations(doc, s, v, `${at}.${k}`))
    }
  }
  return problems
}

t.test('GET /openapi.json describes every route of the table, and only those', async (t) => {
  const { http: base } = await startServer(t, 'ws', catalog.index)
  const answer = await request('GET', `${base}/openapi.json`)
  t.equal(answer.status, 200)
  t.match(answer.type, /^application\/json/)
  const doc = JSON.parse(answer.body) as Json
  t.equal(doc.openapi, '3.1.0', 'an OpenAPI 3.1 document (its schemas are JSON Schema, as TypeBox writes them)')
  t.equal(doc.info?.title, 'earshot')
  t.ok(doc.components?.securitySchemes?.bearer && doc.components?.securitySchemes?.tokenQuery, 'both token schemes are defined')

  const ops = operations(doc)
  const key = (p: string, m: string): string => `${m.toUpperCase()} ${p}`
  t.same(ops.map(([p, m]) => key(p, m)).sort(), router.routes.map((r) => key(openApiPath(r), r.method)).sort(),
    'the same operations as the route table')
  const ids = ops.map(([, , op]) => op.operationId)
  t.equal(new Set(ids).size, ids.length, 'operationIds are unique')
  t.ok(ids.every((id) => typeof id === 'string' && id.length > 0), 'every operation has an operationId')

  const catalogueStatuses = new Set<number>(Object.values(errorCatalogue).flatMap((e) => 'status' in e ? [e.status] : []))
  const schemes = Object.keys(doc.components.securitySchemes as Json)

  for (const route of router.routes) {
    const p = openApiPath(route)
    const op = (doc.paths as Json)[p]?.[route.method.toLowerCase()] as Json | undefined
    if (op === undefined) continue // reported above
    const name = `${route.method} ${route.path}`
    t.equal(op.summary, route.summary, `${name}: the route's summary`)
    t.equal(op.operationId, route.operationId, `${name}: the route's operationId`)
    t.equal(op['x-earshot-access'], route.access, `${name}: x-earshot-access is the route's access level`)
    if (route.access === 'public') {
      t.same(op.security, [], `${name}: public, so security is []`)
    } else {
      t.ok(Array.isArray(op.security) && op.security.length > 0, `${name}: ${route.access}, so it needs a token`)
      for (const req of op.security as Json[]) t.ok(Object.keys(req).every((s) => schemes.includes(s)), `${name}: security names defined schemes`)
    }

    const statuses = Object.keys(op.responses as Json).map(Number)
    t.ok(statuses.some((s) => s >= 100 && s < 400), `${name}: has an answer that is not an error`)
    t.equal(statuses.includes(401), route.access !== 'public', `${name}: 401 exactly when a token may be needed`)
    t.equal(statuses.includes(403), route.access === 'admin', `${name}: 403 exactly on admin routes`)
    t.equal(statuses.includes(429), route.limited !== undefined, `${name}: 429 exactly when rate limited`)
    if (route.limited) t.ok(op.responses['429'].headers?.['Retry-After'], `${name}: 429 carries Retry-After`)

    t.equal(op.requestBody !== undefined, route.bodyLimit !== undefined, `${name}: a request body exactly when the route has a body limit`)
    if (route.bodyLimit) {
      t.ok(statuses.includes(408) && statuses.includes(413), `${name}: a body brings 408 and 413`)
      t.ok(Object.keys(op.requestBody.content as Json).length > 0, `${name}: the body has content types`)
    }

    for (const s of statuses.filter((s) => s >= 400)) {
      t.ok(catalogueStatuses.has(s), `${name}: ${s} is a status of the error catalogue`)
      const schema = op.responses[String(s)].content?.['application/json']?.schema
      // /health answers 503 with its Health body; every other error status carries the Error body.
      const expected = route.path === '/health' && s === 503 ? '#/components/schemas/Health' : '#/components/schemas/Error'
      t.equal(schema?.$ref, expected, `${name}: ${s} carries ${expected.split('/').pop()}`)
    }

    const names = [...route.path.matchAll(/:([a-zA-Z]+)/g)].map((m) => m[1])
    const pathParams = ((op.parameters ?? []) as Json[]).filter((x) => x.in === 'path')
    t.same(pathParams.map((x) => x.name).sort(), names.sort(), `${name}: its path parameters`)
    t.ok(pathParams.every((x) => x.required === true), `${name}: path parameters are required`)
    const queryParams = ((op.parameters ?? []) as Json[]).filter((x) => x.in === 'query')
    t.same(queryParams.map((x) => x.name).sort(), Object.keys(route.query?.properties ?? {}).sort(), `${name}: its query parameters`)
    for (const x of [...pathParams, ...queryParams]) t.ok(typeof x.schema?.type === 'string', `${name}: ${String(x.name)} has a typed schema`)
    if (route.body) {
      const schema = op.requestBody.content['application/json']?.schema
      t.equal(schema?.additionalProperties, false, `${name}: a JSON body refuses unknown fields`)
      t.same(Object.keys(schema?.properties ?? {}).sort(), Object.keys(route.body.properties).sort(), `${name}: the body's fields`)
    }
    for (const [status, spec] of Object.entries(route.responses)) {
      t.ok(op.responses[status], `${name}: answers ${status}`)
      if (spec.json) t.ok(op.responses[status].content?.['application/json']?.schema, `${name}: ${status} has its JSON schema`)
    }
  }

  for (const [where, target] of refs(doc)) t.ok(resolvePointer(doc, target) !== undefined, `${where}: $ref ${target} resolves`)
  t.ok(refs(doc).length > 20, 'the document uses its shared schemas')
  const used = new Set(refs(doc).map(([, target]) => target))
  for (const name of Object.keys(doc.components.schemas as Json)) t.ok(used.has(`#/components/schemas/${name}`), `component ${name} is referenced`)
  t.notMatch(answer.body, /"\$id"/, 'no $id is left: shared schemas are components')
  for (const name of ['Error', 'Track', 'Monitor', 'Play', 'IndexJob', 'Health']) t.ok(doc.components.schemas[name], `the component ${name}`)
})

t.test('the schema check of this test finds what does not fit', async (t) => {
  const { http: base } = await startServer(t, 'ws', catalog.index)
  const doc = JSON.parse((await request('GET', `${base}/openapi.json`)).body) as Json
  const track = { $ref: '#/components/schemas/Track' }
  const good = { id: 1, title: 'a', artist: 'b', album: 'c', durationSeconds: 1.5, source: 's', indexedAt: '2026-01-01T00:00:00.000Z', hashCount: 3 }
  t.same(violations(doc, track, good), [], 'a track fits')
  t.not(violations(doc, track, { ...good, id: 'x' }).length, 0, 'a string id does not')
  t.not(violations(doc, track, { ...good, extra: 1 }).length, 0, 'nor an undocumented field')
  t.not(violations(doc, track, { ...good, indexedAt: 'yesterday' }).length, 0, 'nor a time that is not ISO')
  const { hashCount: _, ...missing } = good
  t.not(violations(doc, track, missing).length, 0, 'nor a missing field')
  const page = doc.paths['/v1/tracks'].get.responses['200'].content['application/json'].schema
  t.same(violations(doc, page, { tracks: [good], nextCursor: null }), [], 'null where it is allowed')
  t.not(violations(doc, page, { tracks: null, nextCursor: null }).length, 0, 'not where it is not')
})

t.test('the schemas fit what the server answers', async (t) => {
  const { http: base } = await startServer(t, 'ws', catalog.index, allowLoopback(testSettings()))
  const doc = JSON.parse((await request('GET', `${base}/openapi.json`)).body) as Json
  const fits = (name: string, answer: Answer, path: string, method: string, status = answer.status): void => {
    t.equal(answer.status, status, `${name}: status ${status} (${answer.body.slice(0, 200)})`)
    const media = (doc.paths as Json)[path][method].responses[String(status)]?.content?.['application/json']
    t.ok(media, `${name}: ${status} is documented as JSON`)
    if (!media) return
    const body = JSON.parse(answer.body) as unknown
    t.same(violations(doc, media.schema, body), [], `${name}: the body fits its schema in the document`)
    const route = router.routes.find((r) => openApiPath(r) === path && r.method === method.toUpperCase())
    const own = route?.responses[status]?.json
    if (own) t.ok(Value.Check(own, body), `${name}: the body fits the route's own schema (${[...Value.Errors(own, body)].map((e) => `${e.path} ${e.message}`).slice(0, 3).join('; ')})`)
  }
  const post = (p: string, body: unknown): Promise<Answer> => request('POST', `${base}${p}`, JSON.stringify(body), { 'content-type': 'application/json' })

  fits('health', await request('GET', `${base}/health`), '/health', 'get', 200)
  fits('stats', await request('GET', `${base}/v1/stats`), '/v1/stats', 'get', 200)
  fits('track list', await request('GET', `${base}/v1/tracks?limit=1`), '/v1/tracks', 'get', 200)
  fits('one track', await request('GET', `${base}/v1/tracks/1`), '/v1/tracks/{id}', 'get', 200)
  // Catalog metadata on track 1: the answers below (the track, identify's match) carry it.
  const metadata = { isrc: 'US-RC1-76-07839', externalId: 'cat-1', labels: { genre: 'jazz' } }
  fits('edit a track', await request('PATCH', `${base}/v1/tracks/1`, JSON.stringify(metadata), { 'content-type': 'application/json' }), '/v1/tracks/{id}', 'patch', 200)
  fits('one track with metadata', await request('GET', `${base}/v1/tracks/1`), '/v1/tracks/{id}', 'get', 200)
  fits('a bad ISRC', await request('PATCH', `${base}/v1/tracks/1`, '{"isrc":"x"}', { 'content-type': 'application/json' }), '/v1/tracks/{id}', 'patch', 400)
  fits('no such track', await request('GET', `${base}/v1/tracks/99`), '/v1/tracks/{id}', 'get', 404)
  fits('bad limit', await request('GET', `${base}/v1/tracks?limit=0`), '/v1/tracks', 'get', 400)

  // 8 s of the song from 5 s, as raw PCM: identify answers with the track.
  const pcm = Buffer.from(toS16(clip(catalog.songs.get(1) as Float32Array, catalog.rate, 5, 8)).buffer)
  const identified = await request('POST', `${base}/v1/identify`, pcm, { 'content-type': `audio/pcm; rate=${catalog.rate}; encoding=s16le` })
  fits('identify', identified, '/v1/identify', 'post', 200)
  t.equal(JSON.parse(identified.body).matches?.[0]?.id, 1, 'identify finds the song')
  fits('identify, wrong type', await request('POST', `${base}/v1/identify`, 'x', { 'content-type': 'text/plain' }), '/v1/identify', 'post', 415)

  // A monitor of a loopback port that refuses connections: it is registered, then goes down and retries.
  const added = await post('/v1/monitors', { url: 'http://127.0.0.1:9/live.mp3', label: 'Test radio' })
  fits('add monitor', added, '/v1/monitors', 'post', 201)
  const monitor = JSON.parse(added.body) as Json
  t.equal(added.headers.location, `/v1/monitors/${String(monitor.id)}`, 'Location names the new monitor')
  fits('monitor twice', await post('/v1/monitors', { url: 'http://127.0.0.1:9/live.mp3' }), '/v1/monitors', 'post', 409)
  fits('monitor, unknown field', await post('/v1/monitors', { url: 'http://127.0.0.1:9/b', lable: 'typo' }), '/v1/monitors', 'post', 400)
  fits('monitor list', await request('GET', `${base}/v1/monitors`), '/v1/monitors', 'get', 200)
  fits('one monitor', await request('GET', `${base}/v1/monitors/${String(monitor.id)}`), '/v1/monitors/{id}', 'get', 200)
  t.equal((await request('DELETE', `${base}/v1/monitors/${String(monitor.id)}`)).status, 204, 'the monitor is removed')
  fits('removed monitor', await request('DELETE', `${base}/v1/monitors/${String(monitor.id)}`), '/v1/monitors/{id}', 'delete', 404)

  fits('plays', await request('GET', `${base}/v1/plays?limit=10`), '/v1/plays', 'get', 200)
  const csv = await request('GET', `${base}/v1/plays`, undefined, { accept: 'text/csv' })
  t.match(csv.type, /^text\/csv/, 'plays as CSV')
  t.match(csv.body, /^id,stream,kind,trackId,/, 'the CSV starts with its header line')
  t.ok((doc.paths as Json)['/v1/plays'].get.responses['200'].content['text/csv'], 'CSV is documented')
  fits('plays per day', await request('GET', `${base}/v1/plays/daily?from=2026-11-01T00:00:00Z&to=2026-11-22T00:00:00Z`), '/v1/plays/daily', 'get', 200)
  fits('plays per day, reversed range', await request('GET', `${base}/v1/plays/daily?from=2026-11-22&to=2026-11-01`), '/v1/plays/daily', 'get', 400)

  // A job of a path that does not exist is accepted, then fails.
  const job = await post('/v1/index-jobs', { path: path.join(t.testdir(), 'missing') })
  fits('index job', job, '/v1/index-jobs', 'post', 202)
  fits('index job progress', await request('GET', `${base}${String(job.headers.location)}`), '/v1/index-jobs/{id}', 'get', 200)
  fits('index job, not JSON', await request('POST', `${base}/v1/index-jobs`, '{', { 'content-type': 'application/json' }), '/v1/index-jobs', 'post', 400)
})

t.test('docs/API.md covers every route', async (t) => {
  const text = fs.readFileSync(API_MD, 'utf8')
  for (const route of router.routes) {
    const forms = [`${route.method} ${route.path}`, `${route.method} ${openApiPath(route)}`]
    t.ok(forms.some((f) => text.includes(f)), `docs/API.md names ${route.method} ${route.path}`)
  }
})
