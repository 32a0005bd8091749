import t, { type Test } from 'tap'
import net from 'node:net'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import type { TransportName } from '../../server/src/transport/types.js'
import { build } from '../../server/src/app.js'
import { createLogger } from '../../server/src/log.js'
import { buildCatalog } from '../helpers/catalog.js'
import { pollUntil, TRANSPORTS } from '../helpers/stream-helpers.js'
import { apiSettings, assertError, auditErrorAnswers, call, rawCall, requestHead, type Answer } from '../helpers/api-helpers.js'

// HTTP requests that are framed wrongly or ambiguously, sent on raw sockets to both transports. node:http (the ws
// transport) refuses them itself; uWebSockets.js takes some (two Content-Lengths, 20 KB of headers) to the routes,
// drops some at once (a bad Content-Length, Transfer-Encoding beside it) and holds others unanswered until its own
// timeout (absolute-form targets, HTTP/1.0, bare LF, folded headers). What it takes to the routes, earshot's adapter
// now refuses as node does; a slow or aborted upload ends the same way on both.
const settings = apiSettings({ http: { maxIdentifyBytes: 4096, bodyTimeoutMs: 400 } })
const catalog = buildCatalog(path.join(t.testdir(), 'db'), [1], 5)
t.teardown(() => catalog.index.close())

const PING = (extra: string): string => `GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${extra}\r\n`

/** An answer, or what happened instead: 'dropped' (closed without a byte) or 'silent' (nothing within `ms`). */
async function outcome (port: number, text: string, ms = 3000): Promise<Answer | 'dropped' | 'silent'> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let got = ''
    const timer = setTimeout(() => { socket.destroy(); resolve('silent') }, ms)
    socket.on('data', (c: Buffer) => { got += c.toString('latin1') })
    socket.on('close', () => {
      clearTimeout(timer)
      if (got === '') { resolve('dropped'); return }
      const end = got.indexOf('\r\n\r\n')
      const [first, ...fields] = got.slice(0, end).split('\r\n')
      const headers: Record<string, string> = {}
      for (const f of fields) headers[f.slice(0, f.indexOf(':')).toLowerCase()] = f.slice(f.indexOf(':') + 1).trim()
      const body = got.slice(end + 4)
      resolve({ method: text.split(' ')[0], path: text.split(' ')[1], status: Number(first.split(' ')[1]), headers, body: Buffer.from(body), text: body })
    })
    socket.on('error', () => {})
    socket.write(text)
  })
}

const statusOf = (o: Answer | 'dropped' | 'silent'): number | string => typeof o === 'string' ? o : o.status

async function suite (t: Test, transport: TransportName): Promise<void> {
  const lines: string[] = []
  const destination = new PassThrough()
  destination.setEncoding('utf8').on('data', (s: string) => lines.push(...s.split('\n').filter(Boolean)))
  const server = await build({ index: catalog.index, settings, transport, logger: createLogger({ pretty: false, destination }) })
  const port = await server.listen('127.0.0.1', 0)
  t.teardown(() => server.close())
  const base = `http://127.0.0.1:${port}`

  t.test('two different Content-Lengths: 400, never routed', async (t) => {
    const a = await outcome(port, `GET /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 12\r\nConnection: close\r\n\r\nab`)
    t.equal(statusOf(a), 400, `refused (${typeof a === 'string' ? a : a.text.slice(0, 100)})`)
    if (transport === 'uws' && typeof a !== 'string') assertError(t, a, 'EAR_ERR_BAD_REQUEST', 'the adapter refuses it')
  })

  t.test('headers over 16 KiB: 431', async (t) => {
    const a = await outcome(port, PING(`X-Filler: ${'a'.repeat(20_000)}\r\n`))
    t.equal(statusOf(a), 431, 'refused')
    if (transport === 'uws' && typeof a !== 'string') assertError(t, a, 'EAR_ERR_HEADERS_TOO_LARGE', 'the adapter refuses them')
    t.equal(statusOf(await outcome(port, PING(`X-Filler: ${'a'.repeat(8_000)}\r\n`))), 200, '8 KB of headers are served')
  })

  t.test('an absolute-form or asterisk target is never served', async (t) => {
    for (const target of ['http://127.0.0.1/ping', '*']) {
      const a = await outcome(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`, 1500)
      if (transport === 'ws') {
        t.equal(statusOf(a), 400, `${target}: 400`)
        if (typeof a !== 'string') assertError(t, a, 'EAR_ERR_BAD_REQUEST', target)
      } else {
        t.equal(a, 'silent', `${target}: uWS never takes it to a route`)
      }
    }
  })

  t.test('malformed framing is refused, never routed', async (t) => {
    const cases: Record<string, string> = {
      'Content-Length: abc': PING('Content-Length: abc\r\n'),
      'Content-Length: -1': PING('Content-Length: -1\r\n'),
      'Content-Length: +2': PING('Content-Length: +2\r\n'),
      'Content-Length: 2, 2': PING('Content-Length: 2, 2\r\n'),
      'Content-Length with Transfer-Encoding': PING('Content-Length: 2\r\nTransfer-Encoding: chunked\r\n'),
      'Transfer-Encoding: gzip': PING('Transfer-Encoding: gzip\r\n'),
      'bare LF': 'GET /ping HTTP/1.1\nHost: x\nConnection: close\n\n',
      'a folded header': PING('X-A: a\r\n b\r\n'),
      'a space before the colon': PING('X-A : a\r\n'),
      'a NUL in a header': PING('X-A: a\0b\r\n'),
    }
    const results = await Promise.all(Object.entries(cases).map(async ([name, text]) => [name, await outcome(port, text, 1500)] as const))
    for (const [name, o] of results) {
      // node answers 400; uWS drops the connection, or holds it unanswered until its own timeout.
      if (transport === 'ws' || statusOf(o) === 400) t.equal(statusOf(o), 400, `${name}: 400`)
      else t.ok(o === 'dropped' || o === 'silent', `${name}: ${statusOf(o)}`)
    }
  })

  t.test('a body that trickles in slower than bodyTimeoutMs: 408 EAR_ERR_BODY_TIMEOUT', async (t) => {
    const steps = [requestHead('POST', '/v1/identify', { 'content-type': 'audio/wav', 'content-length': 4000 })]
    const trickle: Array<string | { waitMs: number }> = []
    for (let i = 0; i < 40; i++) trickle.push('RIFF', { waitMs: 50 })
    const a = await rawCall(port, [...steps, ...trickle], 5000)
    assertError(t, a, 'EAR_ERR_BODY_TIMEOUT', 'a trickle')
  })

  t.test('an upload the client aborts is no internal error: counted as 499, not logged as a fault', async (t) => {
    const socket = net.connect(port, '127.0.0.1')
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    socket.write(requestHead('POST', '/v1/identify', { 'content-type': 'audio/wav', 'content-length': 4000 }))
    socket.write(Buffer.alloc(1000))
    await new Promise((resolve) => setTimeout(resolve, 100))
    socket.destroy()
    const metrics = await pollUntil(async () => (await call(base, 'GET', '/metrics')).text,
      (text) => /earshot_http_requests_total\{route="\/v1\/identify",method="POST",status="(499|500)"\}/.test(text), 5000, 'the aborted request to be counted')
    const statuses = [...metrics.matchAll(/earshot_http_requests_total\{route="\/v1\/identify",method="POST",status="(\d+)"\}/g)].map((m) => m[1])
    t.ok(statuses.includes('499'), `counted with status 499, nginx's "client closed request" (${statuses.join(', ')})`)
    t.notOk(statuses.includes('500'), 'not as a 500')
    t.same(lines.filter((l) => /internal error|"level":50/.test(l)), [], 'nothing logged as an internal error')
  })
}

for (const transport of TRANSPORTS) t.test(`HTTP framing over ${transport}`, (t) => suite(t, transport))

t.test('every error answer is {"error":{"code","message"}} with its catalogued status and no stack trace', async (t) => {
  auditErrorAnswers(t)
})
