import t, { type Test } from 'tap'
import path from 'node:path'
import type { TransportName } from '../../server/src/transport/types.js'
import { buildCatalog } from '../helpers/catalog.js'
import { httpGet, RawClient, startServer, testSettings, TRANSPORTS, waitUntil } from '../helpers/stream-helpers.js'

// Connections that hold a server's resources without streaming: pings alone kept a session open for ever, and one
// address could open connections without bound. Both transports.
const catalog = buildCatalog(path.join(t.testdir(), 'db'), [1], 5)
t.teardown(() => catalog.index.close())

const IDLE_MS = 1500 // well above a stall of a loaded test machine: the streamer must not time out
const PER_ADDRESS = 3

async function suite (t: Test, transport: TransportName): Promise<void> {
  const { server, url, http } = await startServer(t, transport, catalog.index,
    testSettings({ idleTimeoutMs: IDLE_MS, maxConnectionsPerAddress: PER_ADDRESS }))

  t.test('pings alone do not keep a session open: EAR_ERR_IDLE_TIMEOUT, close 1008', async (t) => {
    const pinger = await RawClient.open(url)
    const streamer = await RawClient.open(url)
    for (const c of [pinger, streamer]) { c.hello(); await c.next('ready') }
    // For up to three idle timeouts: the pinger pings, the streamer sends a little silence, both every 100 ms.
    const until = Date.now() + 3 * IDLE_MS
    let pings = 0
    while (Date.now() < until && !pinger.isClosed) {
      pinger.control({ type: 'ping', id: ++pings })
      streamer.audio(new Int16Array(441))
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    t.ok(pinger.isClosed, 'the pinging session is closed while it pings')
    t.same(await pinger.waitClosed(), { code: 1008, reason: 'EAR_ERR_IDLE_TIMEOUT' }, 'with close 1008')
    t.equal(pinger.all('error')[0]?.code, 'EAR_ERR_IDLE_TIMEOUT', 'with its error')
    t.ok(pinger.all('pong').length > 0, `its pings were answered meanwhile (${pinger.all('pong').length})`)
    t.equal(streamer.isClosed, false, 'a session that sends audio stays open')
    await streamer.roundTrip(1)
    await streamer.close()
  })

  t.test(`a connection past ${PER_ADDRESS} from one address is closed with EAR_ERR_TOO_MANY_CONNECTIONS, 1013`, async (t) => {
    await waitUntil(() => server.context.connections.size === 0, 5000, 'the earlier connections to go')
    const open = await Promise.all(Array.from({ length: PER_ADDRESS }, () => RawClient.open(url)))
    const extra = await RawClient.open(url)
    const closed = await extra.waitClosed()
    t.same(closed, { code: 1013, reason: 'EAR_ERR_TOO_MANY_CONNECTIONS' }, 'the extra connection is closed')
    t.equal(extra.all('error')[0]?.code, 'EAR_ERR_TOO_MANY_CONNECTIONS', 'with its error')
    for (const c of open) { c.hello(); await c.next('ready') }
    t.pass(`the first ${PER_ADDRESS} are served`)
    const metrics = (await httpGet(`${http}/metrics`)).body
    t.match(metrics, /earshot_protocol_errors_total\{code="EAR_ERR_TOO_MANY_CONNECTIONS"\} 1\b/, 'counted in the metrics')
    await open[0].close()
    await waitUntil(() => server.context.connections.size === PER_ADDRESS - 1, 5000, 'the count to drop')
    const next = await RawClient.open(url)
    next.hello()
    await next.next('ready')
    t.pass('a connection closed makes room for another')
    await Promise.all([...open.slice(1), next].map((c) => c.close()))
    await waitUntil(() => server.context.addresses.size === 0, 5000, 'no address counted once all are closed')
  })
}

for (const transport of TRANSPORTS) t.test(`stream connection limits over ${transport}`, (t) => suite(t, transport))
