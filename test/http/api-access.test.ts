import t, { type Test } from 'tap'
import path from 'node:path'
import { defaults } from '../../server/src/config/defaults.js'
import { Access, isLoopback, requestToken } from '../../server/src/http/access.js'
import { router } from '../../server/src/http/routes.js'
import type { TransportName } from '../../server/src/transport/types.js'
import { CloseCode } from '../../protocol/src/index.js'
import { buildCatalog } from '../helpers/catalog.js'
import { clip, wavBytes } from '../helpers/signals.js'
import { RawClient, startServer, TRANSPORTS } from '../helpers/stream-helpers.js'
import {
  ADMIN_TOKEN, apiSettings, assertError, auditErrorAnswers, bodyOf, call, CLIENT_TOKEN, guardedSettings, OTHER_CLIENT_TOKEN,
  PROBES, routeKey, sendProbe, UNKNOWN_TOKEN, type Answer,
} from '../helpers/api-helpers.js'

// Who may call what: tokens on every route of the table (a new route without a probe fails), the loopback rule when
// no token is configured, the rate limits of identify (HTTP) and stream opens (WebSocket), and tokens on the
// WebSocket. Run against both transports; one catalog, read only, serves every server (they run one after another).
const RATE = 44100
const catalog = buildCatalog(path.join(t.testdir(), 'db'), [1, 2], 15, RATE)
t.teardown(() => catalog.index.close())
const identifyBody = wavBytes(clip(catalog.songs.get(1)!, RATE, 3, 4), RATE)

/** The probe got past the access check: the handler's own answer. */
function assertReached (t: Test, a: Answer, key: string, how: string): void {
  const p = PROBES[key]
  t.equal(a.status, p.status, `${key} ${how}: reaches the handler (${p.status})`)
  if (p.code) t.equal(bodyOf(a).error?.code, p.code, `${key} ${how}: the handler's ${p.code}`)
}

async function suite (t: Test, transport: TransportName): Promise<void> {
  t.test('tokens configured: every route checks them', async (t) => {
    const { http: base } = await startServer(t, transport, catalog.index, guardedSettings({ access: { identifyPerMinute: 10_000 } }))
    for (const route of router.routes) {
      const key = routeKey(route)
      t.ok(PROBES[key], `a probe for ${key}`)
      if (!PROBES[key]) continue
      if (route.access === 'public') {
        assertReached(t, await sendProbe(base, route), key, 'without a token')
        assertReached(t, await sendProbe(base, route, { value: UNKNOWN_TOKEN, as: 'header' }), key, 'with an unknown token')
        continue
      }
      assertError(t, await sendProbe(base, route), 'EAR_ERR_UNAUTHORIZED', `${key} without a token`)
      for (const as of ['header', 'query'] as const) {
        assertError(t, await sendProbe(base, route, { value: UNKNOWN_TOKEN, as }), 'EAR_ERR_UNAUTHORIZED', `${key} with an unknown token in the ${as}`)
        assertReached(t, await sendProbe(base, route, { value: ADMIN_TOKEN, as }), key, `with the admin token in the ${as}`)
        if (route.access === 'admin') {
          assertError(t, await sendProbe(base, route, { value: CLIENT_TOKEN, as }), 'EAR_ERR_FORBIDDEN', `${key} with a client token in the ${as}`)
        } else {
          assertReached(t, await sendProbe(base, route, { value: CLIENT_TOKEN, as }), key, `with a client token in the ${as}`)
          assertReached(t, await sendProbe(base, route, { value: OTHER_CLIENT_TOKEN, as }), key, `with the other client token in the ${as}`)
        }
      }
      // Not a bearer token: counted as a wrong token, never as none (and never as the token in the query).
      const p = PROBES[key]
      const basic = await call(base, route.method, `${p.path}${p.path.includes('?') ? '&' : '?'}token=${ADMIN_TOKEN}`,
        { headers: { ...p.headers, authorization: `Basic ${Buffer.from(`x:${ADMIN_TOKEN}`).toString('base64')}` }, body: p.body })
      assertError(t, basic, 'EAR_ERR_UNAUTHORIZED', `${key} with a Basic authorization header`)
    }
  })

  t.test('no token configured: every route is open from loopback', async (t) => {
    const { http: base } = await startServer(t, transport, catalog.index, apiSettings())
    for (const route of router.routes) {
      const key = routeKey(route)
      if (!PROBES[key]) { t.fail(`no probe for ${key}`); continue }
      assertReached(t, await sendProbe(base, route), key, `(${route.access}) without a token`)
    }
  })

  t.test('identify beyond identifyPerMinute is 429 EAR_ERR_RATE_LIMITED with Retry-After', async (t) => {
    const { http: base } = await startServer(t, transport, catalog.index, guardedSettings({ access: { identifyPerMinute: 2 } }))
    const identify = (token: string): Promise<Answer> => call(base, 'POST', '/v1/identify', { token, headers: { 'content-type': 'audio/wav' }, body: identifyBody })
    for (const n of [1, 2]) {
      const a = await identify(CLIENT_TOKEN)
      t.equal(a.status, 200, `identify ${n} is answered`)
      t.equal(bodyOf(a).matches[0]?.id, 1, `identify ${n} finds the track`)
    }
    const third = await identify(CLIENT_TOKEN)
    assertError(t, third, 'EAR_ERR_RATE_LIMITED', 'the third identify')
    const retry = String(third.headers['retry-after'])
    t.match(retry, /^\d+$/, `Retry-After ${retry} is whole seconds`)
    t.ok(Number(retry) >= 1 && Number(retry) <= 60, `Retry-After ${retry} is 1..60 s`)
    // Every request here comes from the one loopback address, whose own limit is spent too: another token does not
    // help from here (the per-token bucket is shown apart below, through Access with several addresses).
    assertError(t, await identify(OTHER_CLIENT_TOKEN), 'EAR_ERR_RATE_LIMITED', 'another token from the same address')
    // Unauthorized requests are refused before they are counted; other routes are not limited.
    assertError(t, await identify(UNKNOWN_TOKEN), 'EAR_ERR_UNAUTHORIZED', 'an unknown token is refused first')
    t.equal((await call(base, 'GET', '/v1/tracks', { token: CLIENT_TOKEN })).status, 200, 'listing is not limited')
    // A WebSocket stream open counts against its own limit, not identify's.
    const c = await RawClient.open(`${base.replace('http', 'ws')}/v1/stream`)
    c.hello({ token: CLIENT_TOKEN })
    await c.next('ready')
    await c.close()
  })

  t.test('stream opens beyond streamOpensPerMinute are refused with EAR_ERR_RATE_LIMITED', async (t) => {
    const { url } = await startServer(t, transport, catalog.index, apiSettings({ access: { streamOpensPerMinute: 2 } }))
    for (const n of [1, 2]) {
      const c = await RawClient.open(url)
      c.hello()
      const ready = await c.next('ready')
      t.equal(typeof ready.sessionId, 'string', `stream ${n} opens`)
      await c.close()
    }
    const c = await RawClient.open(url)
    c.hello()
    const error = await c.next('error')
    t.equal(error.code, 'EAR_ERR_RATE_LIMITED', 'the third is refused')
    t.match(error.message, /retry in \d+ s/)
    const closed = await c.waitClosed()
    t.equal(closed.code, CloseCode.TRY_AGAIN_LATER, 'and closed with 1013 (try again later)')
    t.equal(c.all('ready').length, 0, 'no session')
  })

  t.test('behind a trusted proxy, each client of X-Forwarded-For has limits of its own; elsewhere the header is not believed', async (t) => {
    const behind = await startServer(t, transport, catalog.index, apiSettings({ access: { identifyPerMinute: 1, trustedProxies: ['127.0.0.1', '::1'], streamOpensPerMinute: 1 } }))
    const identify = (base: string, forwardedFor: string): Promise<Answer> =>
      call(base, 'POST', '/v1/identify', { headers: { 'content-type': 'audio/wav', 'x-forwarded-for': forwardedFor }, body: identifyBody })
    t.equal((await identify(behind.http, '203.0.113.5')).status, 200, 'a first client')
    assertError(t, await identify(behind.http, '203.0.113.5'), 'EAR_ERR_RATE_LIMITED', 'the same client again')
    t.equal((await identify(behind.http, '203.0.113.6')).status, 200, 'another client has its own limit')
    // A client may send any X-Forwarded-For: only what the trusted proxy added, the right end, names it.
    assertError(t, await identify(behind.http, '198.51.100.1, 203.0.113.6'), 'EAR_ERR_RATE_LIMITED', 'a made-up first entry changes nothing')
    t.equal((await identify(behind.http, '203.0.113.7, 127.0.0.1')).status, 200, 'trusted hops on the right are passed over')
    // Streams are counted the same way.
    const first = await RawClient.open(behind.url, { 'x-forwarded-for': '203.0.113.8' })
    first.hello()
    await first.next('ready')
    await first.close()
    const again = await RawClient.open(behind.url, { 'x-forwarded-for': '203.0.113.8' })
    again.hello()
    t.equal((await again.next('error')).code, 'EAR_ERR_RATE_LIMITED', 'a second stream open of that client is refused')
    await again.waitClosed()
    const other = await RawClient.open(behind.url, { 'x-forwarded-for': '203.0.113.9' })
    other.hello()
    await other.next('ready')
    await other.close()

    // A server that trusts no proxy counts the connecting address, whatever the header says.
    const direct = await startServer(t, transport, catalog.index, apiSettings({ access: { identifyPerMinute: 1 } }), 0, path.join(t.testdir(), 'direct-state'))
    t.equal((await identify(direct.http, '203.0.113.5')).status, 200)
    assertError(t, await identify(direct.http, '203.0.113.6'), 'EAR_ERR_RATE_LIMITED', 'X-Forwarded-For from an untrusted peer is not believed')
  })

  t.test('WebSocket with tokens configured', async (t) => {
    const { url } = await startServer(t, transport, catalog.index, guardedSettings())
    const refused = async (client: RawClient, what: string): Promise<void> => {
      const error = await client.next('error')
      t.equal(error.code, 'EAR_ERR_UNAUTHORIZED', `${what}: EAR_ERR_UNAUTHORIZED`)
      const closed = await client.waitClosed()
      t.equal(closed.code, CloseCode.POLICY, `${what}: closed with 1008`)
      t.equal(client.all('ready').length, 0, `${what}: no session`)
    }
    const admitted = async (client: RawClient, what: string): Promise<void> => {
      const ready = await client.next('ready')
      t.equal(typeof ready.sessionId, 'string', `${what}: admitted`)
      await client.close()
    }
    let c = await RawClient.open(url)
    c.hello()
    await refused(c, 'no token')
    c = await RawClient.open(url)
    c.hello({ token: UNKNOWN_TOKEN })
    await refused(c, 'an unknown token in hello')
    c = await RawClient.open(`${url}?token=${UNKNOWN_TOKEN}`)
    c.hello()
    await refused(c, 'an unknown token in the URL')
    c = await RawClient.open(url)
    c.hello({ token: CLIENT_TOKEN })
    await admitted(c, 'a client token in hello')
    c = await RawClient.open(url)
    c.hello({ token: ADMIN_TOKEN })
    await admitted(c, 'the admin token in hello')
    c = await RawClient.open(`${url}?token=${CLIENT_TOKEN}`)
    c.hello()
    await admitted(c, 'a client token in the URL')
    c = await RawClient.open(`${url}?token=${UNKNOWN_TOKEN}`)
    c.hello({ token: CLIENT_TOKEN })
    await admitted(c, 'hello.token wins over the URL')
    c = await RawClient.open(url, { authorization: `Bearer ${CLIENT_TOKEN}` })
    c.hello()
    await admitted(c, 'a client token as the upgrade\'s bearer token')
    c = await RawClient.open(url, { authorization: `Bearer ${UNKNOWN_TOKEN}` })
    c.hello()
    await refused(c, 'an unknown bearer token on the upgrade')
  })
}

for (const transport of TRANSPORTS) t.test(`access over ${transport}`, (t) => suite(t, transport))

/** A request without headers, as programs send (no Origin, no proxy headers). */
const noHeaders = (): undefined => undefined

t.test('Access: the loopback rule for a server without tokens (requests cannot come from elsewhere in a test)', async (t) => {
  const open = new Access(defaults.access)
  t.equal(open.guarded, false)
  for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) {
    t.equal(isLoopback(address), true, `${address} is loopback`)
    t.equal(open.check('admin', undefined, open.peerOf(address, noHeaders)), undefined, `admin from ${address}`)
  }
  for (const address of ['10.1.2.3', '192.168.0.7', '::ffff:10.0.0.1', '2001:db8::1', '']) {
    t.equal(isLoopback(address), false, `${JSON.stringify(address)} is not loopback`)
    t.equal(open.check('admin', undefined, open.peerOf(address, noHeaders))?.code, 'EAR_ERR_FORBIDDEN', `admin from ${JSON.stringify(address)} is forbidden`)
    t.equal(open.check('client', undefined, open.peerOf(address, noHeaders)), undefined, `client routes are open from ${JSON.stringify(address)}`)
    t.equal(open.check('public', undefined, open.peerOf(address, noHeaders)), undefined, 'public routes are open')
  }
  t.equal(open.check('client', UNKNOWN_TOKEN, open.peerOf('10.1.2.3', noHeaders))?.code, 'EAR_ERR_UNAUTHORIZED', 'a token nobody configured is wrong, even on an open server')

  const guarded = new Access({ ...defaults.access, adminTokens: [ADMIN_TOKEN], clientTokens: [CLIENT_TOKEN] })
  t.equal(guarded.check('admin', ADMIN_TOKEN, guarded.peerOf('10.1.2.3', noHeaders)), undefined, 'the admin token works from anywhere')
  t.equal(guarded.check('client', CLIENT_TOKEN, guarded.peerOf('10.1.2.3', noHeaders)), undefined, 'a client token works from anywhere')
  t.equal(guarded.check('admin', undefined, guarded.peerOf('127.0.0.1', noHeaders))?.code, 'EAR_ERR_UNAUTHORIZED', 'with an admin token configured, loopback needs it too')
  t.equal(guarded.check('admin', CLIENT_TOKEN, guarded.peerOf('127.0.0.1', noHeaders))?.code, 'EAR_ERR_FORBIDDEN')
  t.equal(guarded.check('client', '', guarded.peerOf('10.1.2.3', noHeaders))?.code, 'EAR_ERR_UNAUTHORIZED', 'an empty token is no token')
  t.equal(guarded.roleOf(ADMIN_TOKEN.slice(0, -1)), undefined, 'a prefix of a token is not the token')

  // Client tokens only: loopback is still the administrator, so it may do what a client may as well.
  const clientsOnly = new Access({ ...defaults.access, clientTokens: [CLIENT_TOKEN] })
  t.equal(clientsOnly.check('admin', undefined, clientsOnly.peerOf('127.0.0.1', noHeaders)), undefined, 'admin from loopback with no admin token configured')
  t.equal(clientsOnly.check('client', undefined, clientsOnly.peerOf('127.0.0.1', noHeaders)), undefined, 'and client routes from loopback too')
  t.equal(clientsOnly.check('client', undefined, clientsOnly.peerOf('10.1.2.3', noHeaders))?.code, 'EAR_ERR_UNAUTHORIZED', 'elsewhere a client token is needed')
  t.equal(clientsOnly.check('admin', undefined, clientsOnly.peerOf('10.1.2.3', noHeaders))?.code, 'EAR_ERR_FORBIDDEN', 'and admin routes stay loopback-only')

  t.equal(requestToken('Bearer abc', new URLSearchParams('token=def')), 'abc', 'the header wins over the query')
  t.equal(requestToken('bearer   abc  ', new URLSearchParams()), 'abc', 'the scheme is case-insensitive')
  t.equal(requestToken(undefined, new URLSearchParams('token=def')), 'def')
  t.equal(requestToken(undefined, new URLSearchParams()), undefined)
})

t.test('Access: the client behind trusted proxies', async (t) => {
  const access = new Access({ ...defaults.access, trustedProxies: ['10.0.0.0/8', '::1', '192.0.2.1'] })
  const xff = (value: string) => (name: string): string | undefined => name === 'x-forwarded-for' ? value : undefined
  const cases: Array<[string, string, string, string]> = [
    ['10.1.2.3', '203.0.113.5', '203.0.113.5', 'one client behind one proxy'],
    ['10.1.2.3', '198.51.100.1, 203.0.113.5', '203.0.113.5', 'the rightmost untrusted entry, not what the client wrote first'],
    ['10.1.2.3', '203.0.113.5, 10.9.9.9, 192.0.2.1', '203.0.113.5', 'past every trusted hop'],
    ['10.1.2.3', '10.0.0.1, 10.0.0.2', '10.0.0.1', 'only trusted hops: the first of them'],
    ['10.1.2.3', 'garbage, 203.0.113.5', '203.0.113.5', 'an entry left of the client is not read'],
    ['10.1.2.3', '203.0.113.5, not-an-address', '10.1.2.3', 'an entry that is no address ends the chain at the proxy'],
    ['10.1.2.3', '', '10.1.2.3', 'no header: the proxy itself'],
    ['::ffff:10.1.2.3', '2001:db8::7', '2001:db8::7', 'an IPv4-mapped proxy address is trusted as IPv4'],
    ['::1', '::ffff:203.0.113.5', '203.0.113.5', 'an IPv4-mapped client is named as IPv4'],
    ['203.0.113.9', '198.51.100.1', '203.0.113.9', 'an untrusted peer is the client, whatever it sends'],
  ]
  for (const [peer, header, client, what] of cases) t.equal(access.peerOf(peer, xff(header)).address, client, what)
  t.equal(access.peerOf('::1', xff('127.0.0.1')).local, false, 'a forwarded request is never local, even from loopback')
  t.throws(() => new Access({ ...defaults.access, trustedProxies: ['nginx.lan'] }), { code: 'EAR_ERR_CONFIG' }, 'a name is refused: a proxy is an address')
})

t.test('Access.limit: each token and each address has a bucket of its own', async (t) => {
  const access = new Access({ ...defaults.access, identifyPerMinute: 2, streamOpensPerMinute: 1 })
  const now = 1_700_000_000_000
  t.equal(access.limit('identify', 'token-a', '10.0.0.1', now), 0)
  t.equal(access.limit('identify', 'token-a', '10.0.0.1', now), 0)
  const wait = access.limit('identify', 'token-a', '10.0.0.1', now)
  t.ok(Number.isInteger(wait) && wait >= 1, `the third waits ${wait} s`)
  t.equal(access.limit('identify', 'token-b', '10.0.0.2', now), 0, 'another token from another address is not limited')
  t.ok(access.limit('identify', 'token-a', '10.0.0.3', now) >= 1, 'a spent token is limited from a new address too')
  t.ok(access.limit('identify', 'token-c', '10.0.0.1', now) >= 1, 'a spent address is limited with a new token too')
  t.equal(access.limit('stream', 'token-a', '10.0.0.1', now), 0, 'stream opens have their own buckets')
  t.ok(access.limit('stream', 'token-a', '10.0.0.1', now) >= 1)
  t.ok(access.limit('identify', 'token-a', '10.0.0.1', now + 1000) >= 1, 'not refilled after a second')
  t.equal(access.limit('identify', 'token-a', '10.0.0.1', now + 30_000), 0, 'one request back after 30 s (2 a minute)')

  // A request one limit refuses costs the other nothing.
  const one = new Access({ ...defaults.access, identifyPerMinute: 1 })
  t.equal(one.limit('identify', 'token-x', '10.0.0.5', now), 0)
  t.ok(one.limit('identify', 'token-x', '10.0.0.6', now) >= 1, 'the spent token is refused from a fresh address')
  t.equal(one.limit('identify', 'token-y', '10.0.0.6', now), 0, 'and that refusal did not spend the address')
  t.ok(one.limit('identify', 'token-z', '10.0.0.5', now) >= 1, 'a spent address is refused with a fresh token')
  t.equal(one.limit('identify', 'token-z', '10.0.0.7', now), 0, 'and that refusal did not spend the token')
})

t.test('every error answer is {"error":{"code","message"}} with its catalogued status and no stack trace', async (t) => {
  auditErrorAnswers(t)
})
