/**
 * A full webhook queue: drops are visible (stats.dropped, droppingSince, earshot_webhook_drops_total, a log line when
 * dropping starts and one when it stops) and recoverable: POST /v1/webhooks/replay re-enqueues the play log's events
 * of a time range with the ids they had the first time, so a receiver de-duplicating by event or delivery id ends up
 * with every event exactly once. Plays come from a real client stream through the server's own publish path.
 */
import t, { type Test } from 'tap'
import http from 'node:http'
import type net from 'node:net'
import path from 'node:path'
import { once } from 'node:events'
import { Writable } from 'node:stream'
import { connect } from '../../client-sdk/src/index.js'
import { build } from '../../server/src/app.js'
import { createLogger } from '../../server/src/log.js'
import type { Play } from '../../server/src/playlog/play-log.js'
import { buildCatalog } from '../helpers/catalog.js'
import { clip, prng, song } from '../helpers/signals.js'
import { allowLoopback, testSettings, toS16, TRANSPORTS, waitUntil, within, writeChunks } from '../helpers/stream-helpers.js'

const RATE = 44100
const SECRET = 'test-secret-with-enough-length'

interface Got { event: string, delivery: string, type: string, play: Play }

/** A receiver that answers 503 until `accept` is set, and keeps every request it answered 2xx. */
async function receiver (t: Test): Promise<{ url: string, got: Got[], refused: number, accept: boolean }> {
  const r = { url: '', got: [] as Got[], refused: 0, accept: false }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (!r.accept) { r.refused++; res.writeHead(503).end(); return }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string, type: string, data: Play }
      r.got.push({ event: body.id, delivery: String(req.headers['x-earshot-delivery']), type: body.type, play: body.data })
      res.writeHead(204).end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  r.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook`
  return r
}

for (const transport of TRANSPORTS) {
  t.test(`${transport}: dropped webhook events are counted, logged and replayed from the play log with their original ids`, async (t) => {
    const { index } = buildCatalog(path.join(t.testdir(), 'db'), [3, 5], 30, RATE)
    t.teardown(() => index.close())
    const rx = await receiver(t)
    const settings = allowLoopback(testSettings())
    // Room for two deliveries: the first play's two events; the second play's two are dropped.
    settings.webhooks = { ...settings.webhooks, urls: [rx.url], secret: SECRET, maxQueue: 2, maxAttempts: 1000, initialBackoffMs: 20, maxBackoffMs: 100 }
    const lines: Array<Record<string, unknown>> = []
    const logger = createLogger({ pretty: false, level: 'debug', destination: new Writable({ write (chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l)); done() } }) })
    const server = await build({ index, settings, transport, logger })
    t.teardown(() => server.close())
    const port = await server.listen('127.0.0.1', 0)
    const base = `http://127.0.0.1:${port}`
    const from = new Date(Date.now() - 1000).toISOString()

    // Song 3, unknown music, song 5: two plays, four events.
    const pcm = new Float32Array(RATE * 30)
    pcm.set(clip(song(3, 30, RATE), RATE, 4, 10), 0)
    pcm.set(clip(song(99, 30, RATE), RATE, 0, 8), RATE * 10)
    pcm.set(clip(song(5, 30, RATE), RATE, 4, 10), RATE * 18)
    const client = await connect(`ws://127.0.0.1:${port}/v1/stream`, { sampleRate: RATE, reconnect: false, streamId: 'kiosk-1', playLog: true })
    await writeChunks(client, toS16(pcm), 1, prng(7))
    await client.flush()
    const closed = once(client, 'close')
    await client.close()
    await within(closed, 5000, 'the stream to close')
    const plays = (await (await fetch(`${base}/v1/plays?stream=kiosk-1`)).json() as { plays: Play[] }).plays.reverse()
    t.same(plays.map((p) => p.trackId), [1, 2], 'two plays filed')

    // Visible: counters, the time it began, the metric, the log.
    const stats = server.services.webhooks?.stats
    t.equal(stats?.dropped, 2, 'the second play\'s two events were dropped')
    t.ok(typeof stats?.droppingSince === 'string', `the queue is dropping since ${String(stats?.droppingSince)}`)
    const metrics = await (await fetch(`${base}/metrics`)).text()
    t.match(metrics, /^earshot_webhook_drops_total 2$/m, 'earshot_webhook_drops_total counts them')
    t.ok(lines.some((l) => l.component === 'webhooks' && l.level === 40 && /queue full/.test(String(l.msg))), 'a warning when dropping starts')

    // The receiver comes back: the queued events arrive, and the queue takes events again.
    rx.accept = true
    const drained = (what: string): Promise<void> => waitUntil(() => server.services.webhooks?.stats.queueDepth === 0, 10_000, what)
    await drained('the two queued deliveries')
    const first = rx.got.map((g) => ({ ...g }))
    t.same(first.map((g) => [g.type, g.play.trackId]), [['match.confirmed', 1], ['match.ended', 1]])

    // Recoverable: replay the range; the dropped events arrive, the others again with the same ids. The queue holds
    // one play's events at a time, so the replay stops at a whole play and says where to go on.
    const replay = async (body: unknown): Promise<{ status: number, body: any }> => {
      const res = await fetch(`${base}/v1/webhooks/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      return { status: res.status, body: await res.json() }
    }
    const to = new Date().toISOString()
    const part = await replay({ from, to })
    t.equal(part.status, 202)
    t.same(part.body, { events: 2, complete: false, next: { from: plays[1].startedAt, to } }, 'the first play fits; the rest of the range is named')
    t.equal(server.services.webhooks?.stats.dropped, 2, 'a replay that does not fit drops nothing')
    await drained('the first play\'s replayed deliveries')
    const rest = await replay(part.body.next)
    t.same([rest.status, rest.body], [202, { events: 2, complete: true, next: null }], 'the rest of the range')
    await drained('the second play\'s replayed deliveries')
    t.equal(rx.got.length, 6, 'six deliveries in all')
    t.equal(server.services.webhooks?.stats.droppingSince, null, 'no longer dropping')
    const stopped = lines.find((l) => l.component === 'webhooks' && /accepts events again/.test(String(l.msg)))
    t.equal(stopped?.dropped, 2, 'a warning when it stops, with the count')
    t.same([stopped?.from, stopped?.to], [plays[1].startedAt, new Date(Date.parse(plays[1].endedAt ?? '') + 1).toISOString()],
      'and the range to replay: from the second play\'s start to just past its end')
    const replayed = rx.got.slice(2)
    t.same(replayed.map((g) => [g.type, g.play.trackId]), [['match.confirmed', 1], ['match.ended', 1], ['match.confirmed', 2], ['match.ended', 2]], 'oldest play first')
    t.same(replayed.slice(0, 2).map((g) => [g.event, g.delivery]), first.map((g) => [g.event, g.delivery]), 'a replayed event has its original event and delivery ids')
    const unique = new Map(rx.got.map((g) => [g.delivery, g]))
    t.equal(unique.size, 4, 'de-duplicated by delivery id, the receiver has each of the four events once')
    t.equal(new Set(rx.got.map((g) => g.event)).size, 4, 'and by event id too')
    t.same([...unique.values()].map((g) => g.play.id), [plays[0].id, plays[0].id, plays[1].id, plays[1].id])
    t.ok(rx.got.every((g) => typeof g.play.speed === 'number' && Math.abs(g.play.speed - 1) < 0.005), 'every event\'s play carries its speed (normal here)')

    // Bad ranges answer a coded error.
    const bad = await fetch(`${base}/v1/webhooks/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from: 'yesterday' }) })
    t.equal(bad.status, 400)
    t.equal(((await bad.json()) as { error: { code: string } }).error.code, 'EAR_ERR_BAD_REQUEST')
  })
}
