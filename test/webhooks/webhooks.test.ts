import t, { type Test } from 'tap'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { createHmac } from 'node:crypto'
import { open, type RootDatabase } from 'lmdb'
import { EarshotError } from '../../server/src/errors.js'
import {
  parseRetryAfter, signBody, verifySignature, SIGNATURE_HEADER, WebhookDispatcher,
  type DeliveryReport, type WebhookDispatcherOptions, type WebhookSettings,
} from '../../server/src/webhooks/webhooks.js'
import { childEnv, spawnNode } from '../helpers/child-env.js'

// Every test posts to a real node:http receiver on 127.0.0.1 from a dispatcher on a real LMDB in t.testdir().
// Backoffs are tens of ms so retries are quick; every wait is bounded and fails with what it waited for.
const SECRET = 'test-secret'
const FAST = { maxQueue: 100, maxAttempts: 5, initialBackoffMs: 20, maxBackoffMs: 100, timeoutMs: 5_000 }
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
/** A wait that should take milliseconds gets this long before the test fails instead of hanging. */
const WAIT_MS = 5_000

interface Received {
  path: string
  headers: http.IncomingHttpHeaders
  raw: Buffer
  json: { id: string, type: string, createdAt: string, data: { n: number } }
  at: number
}

/** How the receiver answers its n-th request (0-based) to a path: a status, optionally with headers, or never ('hang'). */
type Answer = (req: Received, n: number) => number | { status: number, headers: Record<string, string> } | 'hang'

interface Receiver {
  port: number
  url: (p: string) => string
  got: Received[]
  on: (p: string) => Received[]
}

/** Start a receiver on `port` (0: any), closed in teardown; hanging requests are cut then. */
async function receiver (t: Test, answer: Answer, port = 0): Promise<Receiver> {
  const got: Received[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      const r: Received = { path: req.url ?? '', headers: req.headers, raw, json: JSON.parse(raw.toString('utf8')), at: Date.now() }
      got.push(r)
      const a = answer(r, got.filter((x) => x.path === r.path).length - 1)
      if (a === 'hang') return
      const { status, headers } = typeof a === 'number' ? { status: a, headers: {} } : a
      res.writeHead(status, headers).end('ok')
    })
  })
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const bound = (server.address() as net.AddressInfo).port
  return { port: bound, url: (p) => `http://127.0.0.1:${bound}${p}`, got, on: (p) => got.filter((r) => r.path === p) }
}

/** A loopback port with nothing listening on it: connections are refused. */
async function refusedPort (): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

interface Opened { root: RootDatabase, d: WebhookDispatcher, reports: DeliveryReport[], close: () => Promise<void> }

/** A dispatcher on an LMDB in `dir`; `close` closes both once, and teardown calls it. */
function dispatcher (
  t: Test, dir: string, settings: Partial<WebhookSettings> & { urls: string[] }, options: WebhookDispatcherOptions = {},
): Opened {
  const root = open({ path: dir, maxDbs: 8 })
  const reports: DeliveryReport[] = []
  const d = new WebhookDispatcher(root, { ...FAST, secret: SECRET, ...settings }, { onDelivery: (e) => reports.push(e), ...options })
  let closing: Promise<void> | undefined
  const close = (): Promise<void> => (closing ??= d.close().then(() => root.close()))
  t.teardown(close)
  return { root, d, reports, close }
}

/** Wait for `cond` (polled every 10 ms) at most `ms`; rejects with `what` when the time is up. */
async function waitUntil (cond: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Resolve with `p`, or reject with `what` after `ms`. */
async function within<T> (p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

const event = (n: number): { type: 'match.confirmed', data: { n: number } } => ({ type: 'match.confirmed', data: { n } })
const header = (r: Received, name: string): string | undefined => r.headers[name] as string | undefined
const ns = (rs: Received[]): number[] => rs.map((r) => r.json.data.n)

t.test('signBody and verifySignature', async (t) => {
  // RFC 4231 test case 2: HMAC-SHA256 of "what do ya want for nothing?" under the key "Jefe".
  const golden = 'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'
  t.equal(signBody('Jefe', 'what do ya want for nothing?'), golden)
  t.equal(signBody('Jefe', new TextEncoder().encode('what do ya want for nothing?')), golden, 'bytes sign like the string')
  t.ok(verifySignature('Jefe', 'what do ya want for nothing?', golden))
  t.ok(verifySignature('Jefe', 'what do ya want for nothing?', golden.toUpperCase().replace('SHA256=', 'sha256=')), 'hex in either case')
  t.notOk(verifySignature('jefe', 'what do ya want for nothing?', golden), 'wrong secret')
  t.notOk(verifySignature('Jefe', 'what do ya want for nothing!', golden), 'other body')
  const hex = golden.slice('sha256='.length)
  for (const bad of [undefined, '', hex, 'sha1=' + hex, golden.slice(0, -1), golden.slice(0, -1) + 'g', golden + '00']) {
    t.notOk(verifySignature('Jefe', 'what do ya want for nothing?', bad), `malformed header ${JSON.stringify(bad)}`)
  }
})

t.test('a delivery: headers, body and signature as the receiver sees them', async (t) => {
  const rx = await receiver(t, () => 204)
  const { d, reports } = dispatcher(t, path.join(t.testdir(), 'db'), { urls: [rx.url('/hook')] })
  d.start()
  const data = { n: 1, title: 'Überlied', trackId: 42 }
  t.equal(d.enqueue({ type: 'match.ended', data }), true)
  await waitUntil(() => d.stats.delivered === 1, 'the delivery')
  t.equal(rx.got.length, 1)
  const r = rx.got[0]
  t.equal(r.headers['content-type'], 'application/json')
  t.equal(r.headers['x-earshot-event'], 'match.ended')
  t.match(header(r, 'x-earshot-delivery'), UUID)
  t.match(r.json.id, UUID)
  t.not(r.json.id, header(r, 'x-earshot-delivery'), 'the event id and the delivery id differ')
  t.equal(r.json.type, 'match.ended')
  t.equal(new Date(r.json.createdAt).toISOString(), r.json.createdAt, 'createdAt is an ISO date')
  t.same(r.json.data, data)
  t.same(Object.keys(r.json), ['id', 'type', 'createdAt', 'data'])
  // The receiver checks the raw bytes it got, with the library and by hand.
  const sig = header(r, SIGNATURE_HEADER)
  t.ok(verifySignature(SECRET, r.raw, sig), 'verifySignature on the received bytes')
  t.equal(sig, 'sha256=' + createHmac('sha256', SECRET).update(r.raw).digest('hex'), 'a hand-computed HMAC')
  t.notOk(verifySignature('another-secret', r.raw, sig), 'a wrong secret fails')
  t.same(d.stats, { delivered: 1, retried: 0, failed: 0, dropped: 0, queueDepth: 0, droppingSince: null })
  t.same(reports, [{ url: rx.url('/hook'), status: 204, attempt: 1, outcome: 'delivered' }])
})

t.test('5xx is retried with the same delivery id and body until it is delivered', async (t) => {
  const rx = await receiver(t, (_r, n) => n < 2 ? 500 : 200)
  const { d, reports } = dispatcher(t, path.join(t.testdir(), 'db'), { urls: [rx.url('/')] })
  d.start()
  d.enqueue(event(7))
  await waitUntil(() => d.stats.delivered === 1, 'the delivery after two 500s')
  t.equal(rx.got.length, 3)
  t.equal(new Set(rx.got.map((r) => header(r, 'x-earshot-delivery'))).size, 1, 'one delivery id on every attempt')
  t.ok(rx.got.every((r) => r.raw.equals(rx.got[0].raw)), 'the same bytes on every attempt')
  t.same(d.stats, { delivered: 1, retried: 2, failed: 0, dropped: 0, queueDepth: 0, droppingSince: null })
  t.same(reports.map((e) => [e.status, e.attempt, e.outcome]), [[500, 1, 'retry'], [500, 2, 'retry'], [200, 3, 'delivered']])
})

t.test('a timeout is retried; after maxAttempts a delivery is failed', async (t) => {
  const rx = await receiver(t, (r, n) => r.path === '/slow' ? (n === 0 ? 'hang' : 200) : 503)
  const { d, reports } = dispatcher(t, path.join(t.testdir(), 'db'), { urls: [rx.url('/slow'), rx.url('/down')], maxAttempts: 3, timeoutMs: 200 })
  d.start()
  d.enqueue(event(1))
  await waitUntil(() => d.stats.delivered === 1 && d.stats.failed === 1, 'one delivered, one failed')
  const slow = rx.on('/slow')
  t.equal(slow.length, 2)
  t.equal(header(slow[0], 'x-earshot-delivery'), header(slow[1], 'x-earshot-delivery'), 'the retry after a timeout keeps its id')
  t.same(reports.filter((e) => e.url === rx.url('/slow')).map((e) => [e.status, e.outcome]), [['error', 'retry'], [200, 'delivered']])
  t.equal(rx.on('/down').length, 3, 'maxAttempts requests')
  t.same(reports.filter((e) => e.url === rx.url('/down')).map((e) => [e.status, e.attempt, e.outcome]),
    [[503, 1, 'retry'], [503, 2, 'retry'], [503, 3, 'failed']])
  t.same(d.stats, { delivered: 1, retried: 3, failed: 1, dropped: 0, queueDepth: 0, droppingSince: null })
  const [f] = d.recentFailures()
  t.match(f, { url: rx.url('/down'), attempts: 3, status: 503, reason: 'gave up after 3 attempts (last: HTTP 503)', type: 'match.confirmed' })
  t.equal(f.id, header(rx.on('/down')[0], 'x-earshot-delivery'))
})

t.test('4xx and redirects are failed at once; the next delivery goes on; the last keepFailed are kept', async (t) => {
  const answers = [400, 404, { status: 302, headers: { location: '/elsewhere' } }, 200]
  const rx = await receiver(t, (_r, n) => answers[n] ?? 500)
  const { d, reports } = dispatcher(t, path.join(t.testdir(), 'db'), { urls: [rx.url('/')] }, { keepFailed: 2 })
  d.start()
  for (let n = 0; n < 4; n++) d.enqueue(event(n))
  await waitUntil(() => d.stats.queueDepth === 0, 'an empty queue')
  t.same(ns(rx.got), [0, 1, 2, 3], 'one request each, in order; the redirect is not followed')
  t.same(d.stats, { delivered: 1, retried: 0, failed: 3, dropped: 0, queueDepth: 0, droppingSince: null })
  t.same(reports.map((e) => [e.status, e.attempt, e.outcome]), [[400, 1, 'failed'], [404, 1, 'failed'], [302, 1, 'failed'], [200, 1, 'delivered']])
  const failures = d.recentFailures()
  t.same(failures.map((f) => [f.status, f.reason]), [[302, 'refused (HTTP 302)'], [404, 'refused (HTTP 404)']], 'newest first, two kept')
  t.equal(failures[1].body, rx.got[1].raw.toString('utf8'), 'the body kept is the one sent')
  t.equal(failures[1].id, header(rx.got[1], 'x-earshot-delivery'))
})

t.test('429 with Retry-After: waits as asked, bounded by maxBackoffMs', async (t) => {
  const rx = await receiver(t, (_r, n) => n === 0 ? { status: 429, headers: { 'retry-after': '3600' } } : 200)
  const { d, reports } = dispatcher(t, path.join(t.testdir(), 'db'), { urls: [rx.url('/')], initialBackoffMs: 20, maxBackoffMs: 300 })
  d.start()
  d.enqueue(event(1))
  await waitUntil(() => d.stats.delivered === 1, 'the delivery after a 429 (Retry-After capped at 300 ms)')
  t.equal(rx.got.length, 2)
  // Without Retry-After the retry would come within 20 ms; an hour is capped at maxBackoffMs.
  t.ok(rx.got[1].at - rx.got[0].at >= 290, `the retry waited ${rx.got[1].at - rx.got[0].at} ms (asked 1 h, capped at 300 ms)`)
  t.same(reports.map((e) => [e.status, e.outcome]), [[429, 'retry'], [200, 'delivered']])
  t.equal(d.stats.retried, 1)
})

t.test('parseRetryAfter', async (t) => {
  const now = Date.parse('2026-01-02T03:04:05.000Z')
  t.equal(parseRetryAfter('120', now), 120_000)
  t.equal(parseRetryAfter(' 5 ', now), 5_000)
  t.equal(parseRetryAfter('0', now), 0)
  t.equal(parseRetryAfter(new Date(now + 30_000).toUTCString(), now), 30_000, 'an HTTP date')
  t.equal(parseRetryAfter(new Date(now - 30_000).toUTCString(), now), 0, 'a date in the past: now')
  t.equal(parseRetryAfter('soon', now), undefined)
  t.equal(parseRetryAfter('-5', now), undefined)
  t.equal(parseRetryAfter(null, now), undefined)
})

t.test('restart: deliveries persisted while the receiver is down arrive exactly once per URL, in order', async (t) => {
  const dir = path.join(t.testdir(), 'db')
  const port = await refusedPort()
  const urls = [`http://127.0.0.1:${port}/a`, `http://127.0.0.1:${port}/b`]
  const settings = { urls, maxAttempts: 1000 }
  const first = dispatcher(t, dir, settings)
  first.d.start()
  for (let n = 0; n < 5; n++) t.equal(first.d.enqueue(event(n)), true)
  const triedBefore = (url: string): number => first.reports.filter((e) => e.url === url).length
  await waitUntil(() => triedBefore(urls[0]) >= 2 && triedBefore(urls[1]) >= 2, 'refused attempts on both URLs')
  await first.close()
  t.ok(first.reports.every((e) => e.status === 'error' && e.outcome === 'retry'), 'connection refused is retried')
  t.equal(first.d.stats.delivered, 0)

  const second = dispatcher(t, dir, settings)
  t.equal(second.d.stats.queueDepth, 10, 'the new process sees every delivery')
  const rx = await receiver(t, () => 200, port)
  second.d.start()
  await waitUntil(() => second.d.stats.queueDepth === 0, 'the persisted deliveries')
  t.equal(rx.got.length, 10)
  t.equal(new Set(rx.got.map((r) => header(r, 'x-earshot-delivery'))).size, 10, 'no delivery twice')
  t.same(ns(rx.on('/a')), [0, 1, 2, 3, 4], 'in order to /a')
  t.same(ns(rx.on('/b')), [0, 1, 2, 3, 4], 'in order to /b')
  t.same(rx.on('/a').map((r) => r.json.id), rx.on('/b').map((r) => r.json.id), 'one event id for both URLs')
  t.same(second.d.stats, { delivered: 10, retried: 0, failed: 0, dropped: 0, queueDepth: 0, droppingSince: null })
  // Attempts carried over: each URL's first delivery had been tried (and refused) before the restart.
  for (const url of urls) {
    t.equal(second.reports.find((e) => e.url === url)?.attempt, triedBefore(url) + 1, `attempt numbers continue across the restart (${url})`)
  }
})

t.test('a URL no longer configured: its persisted deliveries are failed, not sent', async (t) => {
  const dir = path.join(t.testdir(), 'db')
  const rx = await receiver(t, () => 200)
  const first = dispatcher(t, dir, { urls: [rx.url('/kept'), rx.url('/removed')] })
  first.d.enqueue(event(1))
  await first.close()
  const second = dispatcher(t, dir, { urls: [rx.url('/kept')] })
  t.equal(second.d.stats.queueDepth, 2)
  second.d.start()
  await waitUntil(() => second.d.stats.queueDepth === 0, 'an empty queue')
  t.same(rx.got.map((r) => r.path), ['/kept'])
  t.same(second.d.stats, { delivered: 1, retried: 0, failed: 1, dropped: 0, queueDepth: 0, droppingSince: null })
  t.match(second.d.recentFailures(), [{ url: rx.url('/removed'), status: null, attempts: 0, reason: 'url no longer configured' }])
})

t.test('queue bound: events past maxQueue are dropped and counted; queued ones are all delivered', async (t) => {
  const rx = await receiver(t, () => 200)
  const { d } = dispatcher(t, path.join(t.testdir(), 'db'), { urls: [rx.url('/')], maxQueue: 3 })
  t.same([0, 1, 2, 3, 4].map((n) => d.enqueue(event(n))), [true, true, true, false, false])
  const { droppingSince, ...counts } = d.stats
  t.same(counts, { delivered: 0, retried: 0, failed: 0, dropped: 2, queueDepth: 3 })
  t.ok(droppingSince !== null && Date.parse(droppingSince) <= Date.now(), `dropping since ${droppingSince}`)
  d.start()
  await waitUntil(() => d.stats.delivered === 3, 'the three queued')
  t.same(ns(rx.got), [0, 1, 2])
  t.equal(d.enqueue(event(5)), true, 'room again once delivered')
  t.equal(d.stats.droppingSince, null, 'no longer dropping once an event is taken')
  await waitUntil(() => d.stats.delivered === 4, 'the one queued after draining')

  // An event goes to every URL or to none: with 2 URLs and room for 3, the second event does not fit.
  const two = dispatcher(t, path.join(t.testdir(), 'db2'), { urls: [rx.url('/x'), rx.url('/y')], maxQueue: 3 })
  t.equal(two.d.enqueue(event(0)), true)
  t.equal(two.d.enqueue(event(1)), false)
  t.match(two.d.stats, { delivered: 0, retried: 0, failed: 0, dropped: 2, queueDepth: 2, droppingSince: String })
})

t.test('a URL that is down or hangs does not hold back the others', async (t) => {
  const down = `http://127.0.0.1:${await refusedPort()}/down`
  const rx = await receiver(t, (r) => r.path === '/hang' ? 'hang' : 200)
  const urls = [down, rx.url('/hang'), rx.url('/ok')]
  const { d, close } = dispatcher(t, path.join(t.testdir(), 'db'), { urls, maxAttempts: 1000, timeoutMs: 60_000 })
  d.start()
  for (let n = 0; n < 3; n++) d.enqueue(event(n))
  await waitUntil(() => d.stats.delivered === 3, 'all three delivered to the working URL')
  t.same(ns(rx.on('/ok')), [0, 1, 2])
  t.equal(rx.on('/hang').length, 1, 'one request in flight per URL')
  t.equal(d.stats.delivered, 3)
  t.equal(d.stats.queueDepth, 6, 'the others still wait')
  await within(close(), 'close with a hanging request and a retry timer')
})

t.test('close() with a request in flight returns promptly; the delivery stays queued and is sent again', async (t) => {
  const dir = path.join(t.testdir(), 'db')
  let hang = true
  const rx = await receiver(t, () => hang ? 'hang' : 200)
  const first = dispatcher(t, dir, { urls: [rx.url('/')], timeoutMs: 60_000 })
  first.d.start()
  first.d.enqueue(event(1))
  await waitUntil(() => rx.got.length === 1, 'the request to arrive')
  await within(first.d.close(), 'close() with a request in flight')
  t.same(first.d.stats, { delivered: 0, retried: 0, failed: 0, dropped: 0, queueDepth: 1, droppingSince: null })
  t.same(first.reports, [], 'an aborted attempt is not reported')
  t.equal(first.d.enqueue(event(2)), true, 'enqueue after close still persists')
  await first.close()

  hang = false
  const second = dispatcher(t, dir, { urls: [rx.url('/')] })
  second.d.start()
  await waitUntil(() => second.d.stats.queueDepth === 0, 'the redelivery')
  t.same(ns(rx.got), [1, 1, 2])
  t.equal(header(rx.got[1], 'x-earshot-delivery'), header(rx.got[0], 'x-earshot-delivery'), 'the receiver can tell it is the same delivery')
  t.same(second.reports.map((e) => e.attempt), [1, 1], 'the aborted attempt did not count')
})

t.test('a pending retry timer does not keep the process alive', async (t) => {
  const dir = path.join(t.testdir(), 'db')
  const port = await refusedPort()
  const moduleUrl = new URL('../../server/src/webhooks/webhooks.js', import.meta.url).href
  // The child retries a refused URL with a 30-60 s backoff and then returns without close(): it must exit at once.
  const script = `
    import { open } from ${JSON.stringify(import.meta.resolve('lmdb'))}
    import { WebhookDispatcher } from ${JSON.stringify(moduleUrl)}
    const root = open({ path: ${JSON.stringify(dir)}, maxDbs: 8 })
    const d = new WebhookDispatcher(root, {
      urls: ['http://127.0.0.1:${port}/'], secret: 's', maxQueue: 10, maxAttempts: 10, initialBackoffMs: 60000, maxBackoffMs: 60000, timeoutMs: 60000,
    })
    d.start()
    d.enqueue({ type: 'match.confirmed', data: 1 })
    while (d.stats.retried === 0) await new Promise((resolve) => setTimeout(resolve, 10))
    console.log('retried', d.stats.retried)
  `
  const child = spawnNode(['--input-type=module', '-e', script], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (s: string) => { out += s })
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { out += s })
  t.teardown(() => { child.kill() })
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  const code = await within(exited, 'the child to exit (does a timer keep it alive?)', 15_000)
  t.equal(code, 0, out)
  t.equal(out.trim(), 'retried 1')
})

t.test('bad settings and events are refused', async (t) => {
  const root = open({ path: path.join(t.testdir(), 'db'), maxDbs: 8 })
  t.teardown(() => root.close())
  const base: WebhookSettings = { ...FAST, urls: ['https://example.com/hook'], secret: SECRET }
  const bad: Array<[string, Partial<WebhookSettings>]> = [
    ['not a URL', { urls: ['nope'] }],
    ['not http', { urls: ['ftp://example.com/'] }],
    ['no secret', { secret: '' }],
    ['maxQueue 0', { maxQueue: 0 }],
    ['maxAttempts 1.5', { maxAttempts: 1.5 }],
    ['negative backoff', { initialBackoffMs: -1 }],
    ['timeout 0', { timeoutMs: 0 }],
  ]
  for (const [what, change] of bad) {
    try {
      new WebhookDispatcher(root, { ...base, ...change })
      t.fail(`${what}: expected EAR_ERR_CONFIG`)
    } catch (err) {
      t.ok(err instanceof EarshotError && err.code === 'EAR_ERR_CONFIG', what)
    }
  }
  t.doesNotThrow(() => new WebhookDispatcher(root, { ...base, urls: [], secret: '' }), 'no URLs need no secret')
  const d = new WebhookDispatcher(root, base)
  t.throws(() => d.enqueue({ type: 'match.started' as 'match.ended', data: 1 }), { code: 'EAR_ERR_INTERNAL' })
  t.equal(d.stats.queueDepth, 0)
  await d.close()
})
