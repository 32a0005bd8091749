import t, { type Test } from 'tap'
import path from 'node:path'
import type { TransportName } from '../../server/src/transport/types.js'
import { buildCatalog } from '../helpers/catalog.js'
import { song, wavBytes } from '../helpers/signals.js'
import { LOOPBACK_ADDRESSES, startServer, TRANSPORTS } from '../helpers/stream-helpers.js'
import {
  apiSettings, assertError, auditErrorAnswers, bodyOf, call, pollUntil, serveBytes, UNKNOWN_UUID, type Answer,
} from '../helpers/api-helpers.js'

// Monitors and the play log over HTTP, lightly (test/monitor covers monitoring in depth): registering, listing and
// removing a monitor of a local WAV server, bad URLs, and the play log's empty page, cursors, CSV and daily report.
// Each transport gets an index and a server state of its own, so its play log starts empty.
const RATE = 44100
const MAX_MONITORS = 2

async function suite (t: Test, transport: TransportName): Promise<void> {
  const catalog = buildCatalog(path.join(t.testdir(), 'db'), [1, 2], 15, RATE)
  t.teardown(() => catalog.index.close())
  const { http: base } = await startServer(t, transport, catalog.index, apiSettings({ monitors: { maxMonitors: MAX_MONITORS }, network: { allowedAddresses: LOOPBACK_ADDRESSES } }))
  const source = await serveBytes(t, wavBytes(song(1, 6, RATE), RATE))
  const postMonitor = (body: unknown): Promise<Answer> =>
    call(base, 'POST', '/v1/monitors', { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

  t.test('the play log: an empty page, bad cursors and parameters, CSV', async (t) => {
    const empty = await call(base, 'GET', '/v1/plays')
    t.equal(empty.status, 200)
    t.match(empty.headers['content-type'], /^application\/json/)
    t.same(bodyOf(empty), { plays: [], nextCursor: null })
    t.same(bodyOf(await call(base, 'GET', `/v1/plays?monitor=${UNKNOWN_UUID}&track=1&limit=5&from=2024-01-01&to=${Date.now()}`)), { plays: [], nextCursor: null }, 'filtered')
    const fake = Buffer.from('c1:not-an-id').toString('base64url')
    for (const cursor of ['abc', '!!!', 'x'.repeat(100), fake, '%00']) {
      assertError(t, await call(base, 'GET', `/v1/plays?cursor=${encodeURIComponent(cursor)}`), 'EAR_ERR_BAD_CURSOR', `cursor ${JSON.stringify(cursor.slice(0, 20))}`)
    }
    for (const bad of ['limit=0', 'limit=1001', 'limit=x', 'track=abc', 'track=0', 'from=yesterday', 'to=2024-13-45']) {
      assertError(t, await call(base, 'GET', `/v1/plays?${bad}`), 'EAR_ERR_BAD_REQUEST', bad)
    }
    for (const [how, p, headers] of [['Accept: text/csv', '/v1/plays', { accept: 'text/csv' }], ['?format=csv', '/v1/plays?format=csv', {}]] as const) {
      const csv = await call(base, 'GET', p, { headers })
      t.equal(csv.status, 200, how)
      t.match(csv.headers['content-type'], /^text\/csv/, `${how}: text/csv`)
      t.match(csv.headers['content-disposition'], /attachment; filename="plays\.csv"/)
      const lines = csv.text.split('\r\n')
      t.match(lines[0], /^id,stream,kind,trackId,title,artist,album,startedAt,endedAt\b/, `${how}: the header line`)
      t.same(lines.slice(1), [''], `${how}: no rows`)
      t.notOk(csv.headers.link, 'no next page')
    }
  })

  t.test('the daily report', async (t) => {
    const a = await call(base, 'GET', '/v1/plays/daily')
    t.equal(a.status, 200)
    const r = bodyOf(a)
    t.same(r.days, [])
    t.equal(Date.parse(r.to) - Date.parse(r.from), 30 * 86_400_000, 'the last 30 days by default')
    assertError(t, await call(base, 'GET', '/v1/plays/daily?from=2024-02-01&to=2024-01-01'), 'EAR_ERR_BAD_REQUEST', 'from after to')
    assertError(t, await call(base, 'GET', '/v1/plays/daily?from=2020-01-01&to=2024-01-01'), 'EAR_ERR_BAD_REQUEST', 'over 400 days')
    assertError(t, await call(base, 'GET', '/v1/plays/daily?from=soon'), 'EAR_ERR_BAD_REQUEST', 'a bad time')
  })

  t.test('POST /v1/monitors with a bad body or URL is 400', async (t) => {
    const bad: unknown[] = [
      { url: 'not a url' }, { url: 'ftp://example.invalid/stream' }, { url: 'file:///etc/passwd' }, { url: 'http://user:secret@example.invalid/s' },
      { url: '' }, { url: '   ' }, { url: 5 }, { label: 'no url' }, { url: `http://example.invalid/${'x'.repeat(3000)}` },
      { url: 'http://example.invalid/s', label: 5 }, { url: 'http://example.invalid/s', label: 'x'.repeat(201) },
    ]
    for (const body of bad) assertError(t, await postMonitor(body), 'EAR_ERR_BAD_REQUEST', JSON.stringify(body).slice(0, 60))
    t.same(bodyOf(await call(base, 'GET', '/v1/monitors')), { monitors: [] }, 'nothing was registered')
  })

  t.test('a monitor of a local WAV server: 201, listed, heard, 409 twice, removed', async (t) => {
    const a = await postMonitor({ url: source, label: 'Local WAV' })
    t.equal(a.status, 201)
    const m = bodyOf(a)
    t.match(m, { url: source, label: 'Local WAV', reconnects: 0, current: null })
    t.match(m.id, /^[0-9a-f-]{36}$/)
    t.ok(['connecting', 'listening', 'down'].includes(m.state), `state ${m.state}`)
    t.equal(a.headers.location, `/v1/monitors/${m.id}`)
    t.same(bodyOf(await call(base, 'GET', '/v1/monitors')).monitors.map((x: { id: string }) => x.id), [m.id], 'listed')
    const heard = await pollUntil(() => call(base, 'GET', `/v1/monitors/${m.id}`).then(bodyOf), (x) => x.streamSeconds > 0, 10_000, 'the monitor to hear audio')
    t.ok(heard.streamSeconds > 0, `heard ${heard.streamSeconds} s`)
    const stats = bodyOf(await call(base, 'GET', '/v1/stats'))
    t.equal(stats.monitors.total, 1, 'counted in the stats')

    assertError(t, await postMonitor({ url: source }), 'EAR_ERR_MONITOR_EXISTS', 'the same URL again')
    const second = bodyOf(await postMonitor({ url: `${source}?second` }))
    assertError(t, await postMonitor({ url: `${source}?third` }), 'EAR_ERR_TOO_MANY_MONITORS', `beyond maxMonitors (${MAX_MONITORS})`)

    for (const id of [m.id, second.id]) {
      const removed = await call(base, 'DELETE', `/v1/monitors/${id}`)
      t.equal(removed.status, 204, 'removed')
      t.equal(removed.text, '')
      assertError(t, await call(base, 'GET', `/v1/monitors/${id}`), 'EAR_ERR_MONITOR_NOT_FOUND', 'GET after removal')
      assertError(t, await call(base, 'DELETE', `/v1/monitors/${id}`), 'EAR_ERR_MONITOR_NOT_FOUND', 'DELETE twice')
    }
    t.same(bodyOf(await call(base, 'GET', '/v1/monitors')), { monitors: [] }, 'the list is empty again')
    t.equal((await postMonitor({ url: source })).status, 201, 'the URL can be registered again after removal')
  })
}

for (const transport of TRANSPORTS) t.test(`monitors and plays over ${transport}`, (t) => suite(t, transport))

t.test('every error answer is {"error":{"code","message"}} with its catalogued status and no stack trace', async (t) => {
  auditErrorAnswers(t)
})
