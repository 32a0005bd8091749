/**
 * Where the server itself connects (issue 10, finding 14): monitor sources and webhook receivers on loopback, private,
 * link-local and other non-public addresses are refused unless network.allowedAddresses allows them: when the URL
 * is given (every address its name resolves to), on every connection (DNS may answer otherwise by then), and on
 * redirects. A refused source is never contacted, so a monitor's lastError cannot scan ports.
 */
import t, { type Test } from 'tap'
import http from 'node:http'
import path from 'node:path'
import type net from 'node:net'
import { open } from 'lmdb'
import { build } from '../../server/src/app.js'
import { SourcePuller, type SourceStatus } from '../../server/src/monitor/source-puller.js'
import { AddressPolicy } from '../../server/src/net/address-policy.js'
import type { TransportName } from '../../server/src/transport/types.js'
import { WebhookDispatcher, type DeliveryReport } from '../../server/src/webhooks/webhooks.js'
import { buildCatalog } from '../helpers/catalog.js'
import { silence, wavBytes } from '../helpers/signals.js'
import { LOOPBACK_ADDRESSES, pollUntil, startServer, testSettings, TRANSPORTS, waitUntil } from '../helpers/stream-helpers.js'
import { apiSettings, assertError, bodyOf, call } from '../helpers/api-helpers.js'

const RATE = 44100
const catalog = buildCatalog(path.join(t.testdir(), 'db'), [1], 10, RATE)
t.teardown(() => catalog.index.close())

/** A loopback HTTP server on `host` that counts its requests: what a refused URL must never reach. */
async function target (t: Test, host = '127.0.0.1', answer: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) => {
  res.writeHead(200, { 'content-type': 'audio/wav' }).end(wavBytes(silence(1, RATE), RATE))
}): Promise<{ port: number, hits: () => number }> {
  let hits = 0
  const server = http.createServer((req, res) => { hits++; answer(req, res) })
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { port: (server.address() as net.AddressInfo).port, hits: () => hits }
}

t.test('AddressPolicy: public unicast only, unless allowed', async (t) => {
  const none = new AddressPolicy([])
  for (const a of ['127.0.0.1', '127.9.9.9', '::1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', 'fe80::1', 'fc00::1',
    '100.64.0.1', '0.0.0.0', '::', '224.0.0.1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::1', '255.255.255.255']) {
    t.equal(none.refusal(a)?.code, 'EAR_ERR_ADDRESS_NOT_ALLOWED', `${a} is refused`)
  }
  for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111']) t.equal(none.refusal(a), undefined, `${a} is public`)
  t.match(none.refusal('127.0.0.1')?.message, /127\.0\.0\.1 is loopback.*network\.allowedAddresses/, 'the message says why and what to set')
  const some = new AddressPolicy(['192.168.1.0/24', '127.0.0.1', '::1/128', 'radio.lan'])
  t.equal(some.refusal('192.168.1.77'), undefined, 'an allowed range')
  t.equal(some.refusal('192.168.2.1')?.code, 'EAR_ERR_ADDRESS_NOT_ALLOWED', 'outside it')
  t.equal(some.refusal('127.0.0.1'), undefined, 'an allowed address')
  t.equal(some.refusal('::ffff:127.0.0.1'), undefined, 'as an IPv4-mapped address too')
  t.equal(some.refusal('127.0.0.2')?.code, 'EAR_ERR_ADDRESS_NOT_ALLOWED', 'its neighbour is not')
  t.equal(some.refusal('10.0.0.1', 'RADIO.lan.'), undefined, 'an allowed host name, whatever it resolves to')
  for (const bad of ['10.0.0.0/33', 'http://x', 'a b', '']) {
    t.throws(() => new AddressPolicy([bad]), { code: 'EAR_ERR_CONFIG' }, `${JSON.stringify(bad)} is not an entry`)
  }
  await t.rejects(none.checkUrl('http://localhost:9/'), { code: 'EAR_ERR_ADDRESS_NOT_ALLOWED' }, 'a name is resolved and checked')
  await t.rejects(none.checkUrl('http://[::1]:9/'), { code: 'EAR_ERR_ADDRESS_NOT_ALLOWED' }, 'an IPv6 literal')
  await t.resolves(none.checkUrl('http://name.invalid/'), 'a name that does not resolve now is left to connect time')
})

async function suite (t: Test, transport: TransportName): Promise<void> {
  t.test('POST /v1/monitors refuses non-public sources and stores nothing; the allowance lets them in', async (t) => {
    const source = await target(t)
    const { http: base } = await startServer(t, transport, catalog.index, apiSettings())
    const post = (url: string): Promise<import('../helpers/api-helpers.js').Answer> =>
      call(base, 'POST', '/v1/monitors', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url }) })
    for (const url of ['http://127.0.0.1:22/', `http://localhost:${source.port}/`, 'http://[::ffff:127.0.0.1]:22/', 'http://169.254.169.254/latest/',
      'http://10.0.0.1/', 'http://0x7f.1:22/']) {
      assertError(t, await post(url), 'EAR_ERR_ADDRESS_NOT_ALLOWED', url)
    }
    t.same(bodyOf(await call(base, 'GET', '/v1/monitors')).monitors, [], 'nothing stored')
    t.equal(source.hits(), 0, 'the source was never contacted')

    const allowed = await startServer(t, transport, catalog.index, apiSettings({ network: { allowedAddresses: LOOPBACK_ADDRESSES } }), 0, path.join(t.testdir(), 'allowed-state'))
    const added = await call(allowed.http, 'POST', '/v1/monitors', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: `http://127.0.0.1:${source.port}/` }) })
    t.equal(added.status, 201, 'allowed by network.allowedAddresses')
    await pollUntil(async () => source.hits(), (n) => n > 0, 10_000, 'the allowed source to be pulled')
    t.equal((await call(allowed.http, 'DELETE', `/v1/monitors/${bodyOf(added).id as string}`)).status, 204)
  })
}

for (const transport of TRANSPORTS) t.test(`monitor sources over ${transport}`, (t) => suite(t, transport))

/** Run a puller until its first failure; resolves with that status. */
async function firstFailure (t: Test, url: string, policy: AddressPolicy): Promise<SourceStatus> {
  let down: SourceStatus | undefined
  const puller = new SourcePuller(url, {
    format () {},
    pcm () {},
    end () {},
    state (s) { if (s.lastError !== undefined) down ??= s },
  }, { addressPolicy: policy, initialBackoffMs: 60_000, connectTimeoutMs: 5000 })
  t.teardown(() => puller.stop())
  puller.start()
  await waitUntil(() => down !== undefined, 10_000, 'the source to fail')
  return down!
}

t.test('at connect time: a name that resolves to loopback, and a redirect to a refused address, are never contacted', async (t) => {
  const local = await target(t)
  const byName = await firstFailure(t, `http://localhost:${local.port}/`, new AddressPolicy([]))
  t.match(byName.lastError, /localhost.*loopback/, `refused as it resolves: ${byName.lastError}`)
  t.equal(local.hits(), 0, 'not contacted')

  const other = await target(t, '127.0.0.2')
  const redirecting = await target(t, '127.0.0.1', (_req, res) => { res.writeHead(302, { location: `http://127.0.0.2:${other.port}/` }).end() })
  const redirected = await firstFailure(t, `http://127.0.0.1:${redirecting.port}/`, new AddressPolicy(['127.0.0.1']))
  t.equal(redirecting.hits(), 1, 'the allowed source answered with a redirect')
  t.match(redirected.lastError, /127\.0\.0\.2 is loopback/, `the redirect is refused: ${redirected.lastError}`)
  t.equal(other.hits(), 0, 'its target was never contacted')
})

t.test('webhooks: refused at startup and at every delivery unless allowed', async (t) => {
  const rx = await target(t, '127.0.0.1', (_req, res) => { res.writeHead(204).end() })
  const url = `http://127.0.0.1:${rx.port}/hook`
  const settings = testSettings()
  await t.rejects(build({ index: catalog.index, settings: { ...settings, webhooks: { ...settings.webhooks, urls: [url], secret: 's3cret' } }, transport: 'ws', stateDir: path.join(t.testdir(), 'state0') }),
    { code: 'EAR_ERR_ADDRESS_NOT_ALLOWED' }, 'a server with a webhook to loopback does not start')

  // Delivery checks the address of every connection (the URL's name may have been rebound since startup).
  const deliver = async (dir: string, target: string, policy: AddressPolicy): Promise<DeliveryReport> => {
    const root = open({ path: path.join(t.testdir(), dir), maxDbs: 8 })
    const reports: DeliveryReport[] = []
    const d = new WebhookDispatcher(root, { ...settings.webhooks, urls: [target], secret: 's3cret', maxAttempts: 1 }, { addressPolicy: policy, onDelivery: (e) => reports.push(e) })
    d.start()
    d.enqueue({ type: 'match.confirmed', data: {} })
    await waitUntil(() => reports.length > 0, 10_000, 'the delivery')
    await d.close()
    await root.close()
    return reports[0]
  }
  t.same(await deliver('a', url, new AddressPolicy([])), { url, status: 'error', attempt: 1, outcome: 'failed' }, 'an address: refused')
  const byName = `http://localhost:${rx.port}/hook`
  t.same(await deliver('b', byName, new AddressPolicy([])), { url: byName, status: 'error', attempt: 1, outcome: 'failed' }, 'a name resolving to loopback: refused')
  t.equal(rx.hits(), 0, 'the receiver was never contacted')
  t.same(await deliver('c', url, new AddressPolicy(['127.0.0.1'])), { url, status: 204, attempt: 1, outcome: 'delivered' }, 'allowed: delivered')
  t.equal(rx.hits(), 1)
})
