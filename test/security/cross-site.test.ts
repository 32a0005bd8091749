/**
 * Other web pages and rebound names against a server on the same machine (issue 10, finding 4), at the HTTP level over
 * both transports: a Host the server does not answer to is refused on every route and on the WebSocket upgrade; a
 * write sent by a page of another site is refused whatever its token; another site's page, a request through a
 * proxy, and any request where access.loopbackIsAdmin is false are not "this machine", so loopback is not admin for
 * them. Programs (no Origin), the server's own page (its Origin) and configured names and origins keep working.
 * The same attacks from a real Chromium are in cross-site-browser.test.ts.
 */
import t, { type Test } from 'tap'
import path from 'node:path'
import { defaults } from '../../server/src/config/defaults.js'
import { Access } from '../../server/src/http/access.js'
import type { TransportName } from '../../server/src/transport/types.js'
import { CloseCode } from '../../protocol/src/index.js'
import { buildCatalog } from '../helpers/catalog.js'
import { RawClient, refusedUpgrade, startServer, TRANSPORTS } from '../helpers/stream-helpers.js'
import {
  ADMIN_TOKEN, apiSettings, assertError, auditErrorAnswers, bodyOf, call, CLIENT_TOKEN, UNKNOWN_UUID, type Answer,
} from '../helpers/api-helpers.js'

const RATE = 44100
const catalog = buildCatalog(path.join(t.testdir(), 'db'), [1], 10, RATE)
t.teardown(() => catalog.index.close())

const ATTACKER = 'http://attacker.example'
const REBOUND = 'rebind.attacker.example'
/** A write that reaches its handler shows it by the handler's own 404. */
const removeMonitor = (base: string, headers: Record<string, string>, token?: string): Promise<Answer> =>
  call(base, 'DELETE', `/v1/monitors/${UNKNOWN_UUID}`, { headers, token })
const jsonJob = { 'content-type': 'application/json' }

async function suite (t: Test, transport: TransportName): Promise<void> {
  t.test('no token configured: loopback is admin only for itself, not for rebound names, other sites or proxies', async (t) => {
    const { http: base, port, url } = await startServer(t, transport, catalog.index, apiSettings())
    const own = `http://127.0.0.1:${port}`
    for (const host of [`${REBOUND}:${port}`, REBOUND, `earshot.example:${port}`]) {
      assertError(t, await call(base, 'GET', '/v1/tracks', { headers: { host } }), 'EAR_ERR_HOST_NOT_ALLOWED', `GET with Host ${host}`)
      assertError(t, await call(base, 'POST', '/v1/index-jobs', { headers: { host, ...jsonJob }, body: '{"paths":["/"]}' }), 'EAR_ERR_HOST_NOT_ALLOWED', `an index job with Host ${host}`)
      assertError(t, await call(base, 'GET', '/no/such/route', { headers: { host } }), 'EAR_ERR_HOST_NOT_ALLOWED', `an unknown route with Host ${host}`)
      assertError(t, await call(base, 'GET', '/health', { headers: { host } }), 'EAR_ERR_HOST_NOT_ALLOWED', `a public route with Host ${host}`)
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `app.localhost:${port}`, `[::1]:${port}`, '10.1.2.3']) {
      t.equal((await call(base, 'GET', '/v1/tracks', { headers: { host } })).status, 200, `Host ${host} is the server`)
    }
    // A page of another site: not even with the Origin of a name of this machine (another program's page).
    const foreign: Array<Record<string, string>> = [{ origin: ATTACKER }, { origin: 'null' }, { origin: `http://localhost:${port}` },
      { origin: 'http://127.0.0.1:1' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }]
    for (const headers of foreign) {
      const what = JSON.stringify(headers)
      assertError(t, await removeMonitor(base, headers), 'EAR_ERR_CROSS_ORIGIN', `a DELETE from ${what}`)
      assertError(t, await call(base, 'POST', '/v1/monitors', { headers: { ...headers, ...jsonJob }, body: '{"url":"http://127.0.0.1:22/"}' }), 'EAR_ERR_CROSS_ORIGIN', `a monitor from ${what}`)
      t.equal((await call(base, 'GET', '/v1/tracks', { headers })).status, 200, `a read from ${what} is answered (without CORS a page cannot read it)`)
    }
    t.equal((await call(base, 'GET', '/v1/monitors')).status, 200)
    t.same(bodyOf(await call(base, 'GET', '/v1/monitors')).monitors, [], 'no monitor was added')
    // The server's own page, and programs, still may.
    t.equal((await removeMonitor(base, { origin: own, 'sec-fetch-site': 'same-origin' })).status, 404, 'a DELETE from the server\'s own page reaches the route')
    t.equal((await removeMonitor(base, {})).status, 404, 'a DELETE from a program reaches the route')
    // Through a proxy on this machine every request is from loopback: a proxied one is not admin.
    for (const proxy of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
      assertError(t, await removeMonitor(base, { [proxy]: '203.0.113.9' }), 'EAR_ERR_FORBIDDEN', `a DELETE with ${proxy}`)
    }
    // The WebSocket: a rebound name and another site's page cannot stream (and read answers) on a server without tokens.
    for (const [headers, code] of [[{ host: `${REBOUND}:${port}` }, 'EAR_ERR_HOST_NOT_ALLOWED'], [{ origin: ATTACKER }, 'EAR_ERR_CROSS_ORIGIN']] as const) {
      const refused = await refusedUpgrade(url, headers)
      t.equal(refused.status, 403, `the upgrade with ${JSON.stringify(headers)} is refused with 403`)
      t.equal(JSON.parse(refused.body).error.code, code, code)
    }
    const mine = await RawClient.open(url, { origin: own })
    mine.hello()
    t.equal(typeof (await mine.next('ready')).sessionId, 'string', 'the server\'s own page streams')
    await mine.close()
  })

  t.test('tokens configured: another site\'s page streams with its token, and is never this machine', async (t) => {
    // Client tokens only: loopback is the administrator, and anonymous loopback may stream; another site's page may not.
    const { http: base, url } = await startServer(t, transport, catalog.index, apiSettings({ access: { clientTokens: [CLIENT_TOKEN] } }))
    assertError(t, await call(base, 'GET', '/v1/tracks', { headers: { origin: ATTACKER } }), 'EAR_ERR_UNAUTHORIZED', 'a read from another site without a token')
    t.equal((await call(base, 'GET', '/v1/tracks')).status, 200, 'the same read from a program on this machine')
    let c = await RawClient.open(url, { origin: ATTACKER })
    c.hello()
    t.equal((await c.next('error')).code, 'EAR_ERR_UNAUTHORIZED', 'another site\'s page without a token')
    t.equal((await c.waitClosed()).code, CloseCode.POLICY)
    c = await RawClient.open(url, { origin: ATTACKER })
    c.hello({ token: CLIENT_TOKEN })
    t.equal(typeof (await c.next('ready')).sessionId, 'string', 'another site\'s page with a client token streams (the browser SDK)')
    await c.close()
  })

  t.test('settings: public names, allowed origins, loopbackIsAdmin false', async (t) => {
    const { http: base, port, url } = await startServer(t, transport, catalog.index, apiSettings({
      access: { publicNames: ['earshot.example'], allowedOrigins: ['https://studio.example'], loopbackIsAdmin: false },
    }))
    t.equal((await call(base, 'GET', '/v1/tracks', { headers: { host: `earshot.example:${port}` } })).status, 200, 'a public name is the server')
    t.equal((await call(base, 'GET', '/v1/tracks', { headers: { host: 'EARSHOT.example.' } })).status, 200, 'in any case, with a final dot')
    assertError(t, await removeMonitor(base, {}), 'EAR_ERR_FORBIDDEN', 'with loopbackIsAdmin false, loopback is not admin')
    assertError(t, await removeMonitor(base, { origin: 'https://studio.example' }), 'EAR_ERR_FORBIDDEN', 'an allowed origin is not refused as cross-site; it still needs admin')
    assertError(t, await removeMonitor(base, { origin: 'https://earshot.example', host: '127.0.0.1' }), 'EAR_ERR_FORBIDDEN', 'nor the page of a public name behind a proxy')
    assertError(t, await removeMonitor(base, { origin: ATTACKER }), 'EAR_ERR_CROSS_ORIGIN', 'other origins still are')
    const c = await RawClient.open(url, { origin: 'https://studio.example' })
    c.hello()
    t.equal(typeof (await c.next('ready')).sessionId, 'string', 'an allowed origin streams on a server without tokens')
    await c.close()
  })

  t.test('an admin token from another site\'s page still cannot write', async (t) => {
    const { http: base } = await startServer(t, transport, catalog.index, apiSettings({ access: { adminTokens: [ADMIN_TOKEN] } }))
    assertError(t, await removeMonitor(base, { origin: ATTACKER }, ADMIN_TOKEN), 'EAR_ERR_CROSS_ORIGIN', 'a cross-site DELETE with the admin token')
    t.equal((await removeMonitor(base, {}, ADMIN_TOKEN)).status, 404, 'the token from a program reaches the route')
  })
}

for (const transport of TRANSPORTS) t.test(`cross-site requests over ${transport}`, (t) => suite(t, transport))

t.test('Access.peerOf: who is this machine', async (t) => {
  const headers = (h: Record<string, string>) => (name: string): string | undefined => h[name]
  const access = new Access(defaults.access)
  t.equal(access.peerOf('127.0.0.1', headers({})).local, true, 'loopback, no headers')
  t.equal(access.peerOf('::1', headers({ host: '[::1]:8080', origin: 'http://[::1]:8080' })).local, true, 'its own page')
  t.equal(access.peerOf('10.0.0.1', headers({})).local, false, 'another address')
  t.equal(access.peerOf('127.0.0.1', headers({ 'x-forwarded-for': '10.0.0.1' })).local, false, 'through a proxy')
  t.equal(access.peerOf('127.0.0.1', headers({ host: 'localhost:8080', origin: 'http://localhost:3000' })).local, false, 'another port\'s page')
  t.equal(new Access({ ...defaults.access, loopbackIsAdmin: false }).peerOf('127.0.0.1', headers({})).local, false, 'loopbackIsAdmin false')
})

t.test('every error answer is {"error":{"code","message"}} with its catalogued status and no stack trace', async (t) => {
  auditErrorAnswers(t)
})
