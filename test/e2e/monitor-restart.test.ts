/**
 * Crash and restart of a monitoring server, as a user runs it: `earshot serve` in a child process with webhooks
 * configured, a monitor added with `earshot monitor add`, then kill -9 in the middle of a song. After the restart the
 * play left open is closed at the last audio seen, the monitor resumes by itself, no row is duplicated, and every
 * webhook delivery queued before the crash still arrives, signed, after the receiver's 500s.
 */
import t from 'tap'
import http from 'node:http'
import type net from 'node:net'
import path from 'node:path'
import { once } from 'node:events'
import { type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import { buildCatalog } from '../helpers/catalog.js'
import { childEnv, EARSHOT_MAIN, runEarshot, spawnNode } from '../helpers/child-env.js'
import { clip, song } from '../helpers/signals.js'
import { startRadio } from '../helpers/radio.js'
import { freePort, pollUntil, waitUntil } from '../helpers/stream-helpers.js'
import { verifySignature } from '../../server/src/webhooks/webhooks.js'
import type { Play } from '../../server/src/playlog/play-log.js'
import type { MonitorInfo } from '../../server/src/monitor/monitors.js'

const RATE = 44100
const SECRET = 'test-secret-with-enough-length'

interface Delivery { id: string, type: string, status: number, signed: boolean, play: Play }

/** A webhook receiver that answers 500 until told otherwise. */
async function startReceiver (): Promise<{ url: string, log: Delivery[], accept: boolean, close (): Promise<void> }> {
  const r = { url: '', log: [] as Delivery[], accept: false, close: async () => {} }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const status = r.accept ? 200 : 500
      const parsed = JSON.parse(body.toString()) as { type: string, data: Play }
      r.log.push({
        id: String(req.headers['x-earshot-delivery']),
        type: parsed.type,
        status,
        signed: verifySignature(SECRET, body, req.headers['x-earshot-signature'] as string | undefined),
        play: parsed.data,
      })
      res.writeHead(status).end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  r.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook`
  r.close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  return r
}

function startServe (db: string, port: number, config: string, receiver: string): ChildProcess {
  const child = spawnNode([EARSHOT_MAIN, 'serve', '--db', db, '--port', String(port), '--transport', 'ws', '--config', config], {
    env: childEnv({ EARSHOT_WEBHOOK_URLS: receiver, EARSHOT_WEBHOOK_SECRET: SECRET }),
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { if (/EAR_ERR|Error/.test(s)) process.stderr.write(`[serve] ${s}`) })
  return child
}

async function get<T> (url: string): Promise<T | undefined> {
  try {
    const res = await fetch(url)
    return res.ok ? await res.json() as T : undefined
  } catch {
    return undefined // not up yet
  }
}


/** Poll until `probe` answers (the server is up) and its answer satisfies `ok`. */
function until<T> (probe: () => Promise<T | undefined>, ok: (v: T) => boolean, ms: number, what: string): Promise<T> {
  return pollUntil(probe, (v) => v !== undefined && ok(v), ms, what, 100) as Promise<T>
}

t.test('kill -9 mid-song: the open play is closed, the monitor resumes, no duplicate rows, no webhook lost', async (t) => {
  const dir = t.testdir()
  const db = path.join(dir, 'db')
  buildCatalog(db, [3, 5], 60, RATE).index.close()
  const config = path.join(dir, 'earshot.json')
  fs.writeFileSync(config, JSON.stringify({
    monitors: { initialBackoffMs: 200, maxBackoffMs: 1000 },
    // Retries every 0.1-0.4 s, as many as the receiver's outage needs: the default 12 attempts last 2-4 s at this
    // pace, and the outage (the crash, the restart, the monitor resuming, a new play) can take longer on a busy
    // machine; the deliveries then failed for good and the test waited for them in vain.
    webhooks: { initialBackoffMs: 100, maxBackoffMs: 400, maxAttempts: 300 },
    network: { allowedAddresses: ['127.0.0.0/8'] }, // the radio and the receiver run on loopback
  }))
  const radio = await startRadio(clip(song(3, 60, RATE), RATE, 0, 60), RATE, 2)
  t.teardown(() => radio.close())
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const port = await freePort()
  const api = `http://127.0.0.1:${port}`
  let child = startServe(db, port, config, receiver.url)
  t.teardown(() => { child.kill('SIGKILL') })
  await until(() => get(`${api}/health`), () => true, 10_000, 'the server to start')

  const added = await runEarshot(dir, ['monitor', 'add', radio.url, '--label', 'station one', '--server', api, '--json'])
  t.equal(added.code, 0, `earshot monitor add exits 0 ${added.stderr}`)
  const monitorId = (JSON.parse(added.stdout) as MonitorInfo).id

  const playsUrl = `${api}/v1/plays?monitor=${monitorId}`
  const before = await until(() => get<{ plays: Play[] }>(playsUrl), (p) => p.plays.length === 1 && p.plays[0].lastStreamSeconds - p.plays[0].startStreamSeconds > 3, 20_000, 'an open play 3 s long')
  t.equal(before.plays[0].open, true)
  await waitUntil(() => receiver.log.some((d) => d.type === 'match.confirmed'), 10_000, 'a match.confirmed delivery attempt')

  // Crash.
  child.kill('SIGKILL')
  await once(child, 'exit')
  const crashedAt = before.plays[0]

  child = startServe(db, port, config, receiver.url)
  const after = await until(() => get<{ plays: Play[] }>(playsUrl), (p) => p.plays.some((x) => x.id === crashedAt.id && !x.open), 10_000, 'the crashed play to be closed')
  const closed = after.plays.find((p) => p.id === crashedAt.id) as Play
  // A crash loses at most the touches not yet written: one touch interval (1 s) and the write in flight, which the
  // API may already show (a busy machine's CI run lost 1.02 s).
  t.ok(closed.endStreamSeconds !== null && closed.endStreamSeconds >= crashedAt.lastStreamSeconds - 2, `closed at ${closed.endStreamSeconds} s, at most a touch before the last audio seen before the kill (${crashedAt.lastStreamSeconds} s)`)
  t.ok((closed.endStreamSeconds ?? 0) - crashedAt.lastStreamSeconds < 3, 'and not later than a few seconds of unseen touches')
  t.equal(closed.endedAt, closed.lastSeenAt, 'its wall-clock end is the last time audio was seen')

  // The monitor resumes by itself, and song 3 (still on air) opens a new play.
  const listed = await until(() => get<{ monitors: MonitorInfo[] }>(`${api}/v1/monitors`), (m) => m.monitors.length === 1 && m.monitors[0].state === 'listening', 10_000, 'the monitor to resume')
  t.equal(listed.monitors[0].id, monitorId, 'the same monitor')
  const resumed = await until(() => get<{ plays: Play[] }>(playsUrl), (p) => p.plays.some((x) => x.open), 20_000, 'a new open play')
  t.equal(resumed.plays.length, 2, 'two rows: the closed one and the new one, nothing duplicated')
  t.equal(new Set(resumed.plays.map((p) => p.id)).size, 2, 'distinct ids')
  t.ok(resumed.plays.every((p) => p.trackId === 1), 'both of song 3')

  // The receiver comes back: every delivery queued across the crash arrives.
  receiver.accept = true
  await waitUntil(() => {
    const ok = receiver.log.filter((d) => d.status === 200)
    return ok.some((d) => d.type === 'match.ended' && d.play.id === crashedAt.id) && ok.filter((d) => d.type === 'match.confirmed').length >= 2
  }, 20_000, 'the deliveries to arrive')
  const delivered = receiver.log.filter((d) => d.status === 200)
  t.ok(receiver.log.every((d) => d.signed), 'every request carries a valid signature')
  t.ok(receiver.log.some((d) => d.status === 500), 'the receiver refused some attempts first')
  const retried = receiver.log.filter((d) => d.status === 500).map((d) => d.id)
  t.ok(retried.every((id) => delivered.some((d) => d.id === id)), 'every refused delivery was retried until it arrived')
  const confirmedIds = delivered.filter((d) => d.type === 'match.confirmed').map((d) => d.play.id).sort()
  t.same(confirmedIds, resumed.plays.map((p) => p.id).sort(), 'one match.confirmed per play, the one from before the crash included')
  t.equal(new Set(delivered.map((d) => d.id)).size, delivered.length, 'no delivery accepted twice')

  const health = await get<{ webhooks: { delivered: number, queueDepth: number } }>(`${api}/health`)
  t.ok(health && health.webhooks.delivered >= 2, 'health counts deliveries')

  // A clean stop closes the open play.
  child.kill('SIGTERM')
  const [code] = await once(child, 'exit') as [number | null]
  t.equal(code, 0, 'serve exits 0 on SIGTERM')
})
