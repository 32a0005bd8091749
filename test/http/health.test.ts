import t from 'tap'
import path from 'node:path'
import { buildCatalog } from '../helpers/catalog.js'
import { freePort, LOOPBACK_ADDRESSES, startServer, TRANSPORTS } from '../helpers/stream-helpers.js'
import { apiSettings, bodyOf, call, pollUntil } from '../helpers/api-helpers.js'

// /health says ok, degraded (200, with a reason per problem) or unhealthy (503). Each degraded cause is brought about
// for real: a disk under the configured minimum, a monitor whose source refuses connections, a webhook queue that
// overflows.

for (const transport of TRANSPORTS) {
  t.test(`/health over ${transport}`, async (t) => {
    const catalog = buildCatalog(path.join(t.testdir(), 'db'), [1], 10, 44100)
    t.teardown(() => catalog.index.close())

    t.test('ok, then degraded by a monitor that is down; ok again when it is removed', async (t) => {
      const { http: base } = await startServer(t, transport, catalog.index, apiSettings({ monitors: { initialBackoffMs: 60_000 }, network: { allowedAddresses: LOOPBACK_ADDRESSES } }), 0, path.join(t.testdir(), 'state'))
      const ok = await call(base, 'GET', '/health')
      t.equal(ok.status, 200)
      t.match(bodyOf(ok), { status: 'ok', problems: [], indexJobs: { queued: 0, running: null, runningSince: null }, connectionFaults: 0 })

      const closedPort = await freePort() // nothing listens there: the source refuses every connection
      const added = await call(base, 'POST', '/v1/monitors', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: `http://127.0.0.1:${closedPort}/radio.wav`, label: 'gone FM' }) })
      t.equal(added.status, 201, added.text)
      const down = await pollUntil(() => call(base, 'GET', '/health'), (a) => bodyOf(a).monitors.down === 1, 10_000, 'the monitor to be down')
      t.equal(down.status, 200, 'degraded still answers 200: the server identifies and streams')
      t.match(bodyOf(down), { status: 'degraded', problems: [/^1 of 1 monitors down/] })

      t.equal((await call(base, 'DELETE', `/v1/monitors/${bodyOf(added).id as string}`)).status, 204)
      t.match(bodyOf(await call(base, 'GET', '/health')), { status: 'ok', problems: [] })
    })

    t.test('degraded while the disk has less free space than minFreeDiskBytes', async (t) => {
      const settings = { ...apiSettings(), minFreeDiskBytes: Number.MAX_SAFE_INTEGER }
      const { http: base } = await startServer(t, transport, catalog.index, settings, 0, path.join(t.testdir(), 'state'))
      const a = await call(base, 'GET', '/health')
      t.equal(a.status, 200)
      t.match(bodyOf(a), { status: 'degraded', problems: [/^disk nearly full: \d+ bytes free/] })
    })

    t.test('degraded while the webhook queue drops events', async (t) => {
      const receiver = await freePort() // refuses: deliveries wait in the queue for their retry
      const settings = {
        ...apiSettings({ network: { allowedAddresses: LOOPBACK_ADDRESSES } }),
        webhooks: { ...apiSettings().webhooks, urls: [`http://127.0.0.1:${receiver}/hook`], secret: 'a-webhook-secret-0123456789', maxQueue: 2, initialBackoffMs: 60_000 },
      }
      const { http: base, server } = await startServer(t, transport, catalog.index, settings, 0, path.join(t.testdir(), 'state'))
      const hooks = server.services.webhooks!
      for (let i = 0; i < 3; i++) hooks.enqueue({ type: 'match.confirmed', data: { i } })
      const a = await call(base, 'GET', '/health')
      t.equal(a.status, 200)
      const body = bodyOf(a)
      t.equal(body.status, 'degraded')
      t.match(body.problems, [/^the webhook queue is full and drops events since \S+ \(1 deliveries dropped/])
      t.equal(body.webhooks.dropped, 1)
    })
  })
}
