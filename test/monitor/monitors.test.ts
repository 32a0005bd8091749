/**
 * Monitoring end to end in one process: a live WAV station on loopback plays two catalog songs with unknown music
 * between them; the server pulls it as a monitor and files plays. The station's link drops during the second song:
 * the monitor goes down, reconnects and goes on.
 */
import t from 'tap'
import fs from 'node:fs'
import { createServer } from 'node:http'
import path from 'node:path'
import { once } from 'node:events'
import { spawnSync } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import { buildCatalog } from '../helpers/catalog.js'
import { recordingFfmpeg } from '../helpers/ffmpeg.js'
import { clip, song, writeWav } from '../helpers/signals.js'
import { allowLoopback, pollUntil, startServer, testSettings, waitUntil } from '../helpers/stream-helpers.js'
import { startRadio } from '../helpers/radio.js'
import type { MonitorInfo } from '../../server/src/monitor/monitors.js'
import type { Play } from '../../server/src/playlog/play-log.js'

const RATE = 44100
/** Seconds of program per wall-clock second: the test hears 40 s of radio in about 10 s. */
const SPEED = 4
const haveFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0

async function getJson<T> (url: string): Promise<T> {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`)
  return await res.json() as T
}

// The two stations play in (sped-up) real time, each to an earshot server of its own: they run side by side.
t.jobs = 2

t.test('a monitored station: the play log holds each song, nothing for unknown music, and survives a dropped link', async (t) => {
  const { index } = buildCatalog(path.join(t.testdir(), 'db'), [3, 5], 30, RATE)
  t.teardown(() => index.close())
  // Program: song 3 (0–14 s), unknown music (14–24 s), song 5 (24–40 s), then silence.
  const parts = [clip(song(3, 30, RATE), RATE, 2, 14), clip(song(99, 30, RATE), RATE, 0, 10), clip(song(5, 30, RATE), RATE, 5, 16)]
  const program = new Float32Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { program.set(p, at); at += p.length }
  const radio = await startRadio(program, RATE, SPEED)
  t.teardown(() => radio.close())

  const settings = allowLoopback(testSettings({ idleTimeoutMs: 60_000 }))
  settings.monitors = { ...settings.monitors, initialBackoffMs: 100, maxBackoffMs: 500, stallTimeoutMs: 2000 }
  const { http } = await startServer(t, 'uws', index, settings)

  const created = await fetch(`${http}/v1/monitors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: radio.url, label: 'test FM' }) })
  t.equal(created.status, 201, 'monitor created')
  const monitor = await created.json() as MonitorInfo
  t.equal(monitor.label, 'test FM')
  t.match(monitor.state, /^(connecting|listening)$/)

  const info = (): Promise<MonitorInfo> => getJson<MonitorInfo>(`${http}/v1/monitors/${monitor.id}`)
  // While song 3 airs, the monitor is listening and shows it confirmed.
  const seen: MonitorInfo | undefined = await pollUntil(info, (m) => m.current?.state === 'confirmed', 15_000, 'song 3 confirmed on the monitor')
  t.equal(seen?.state, 'listening')
  t.equal(seen?.current?.trackId, 1, 'the current match is song 3 (track 1)')
  t.ok(Math.abs((seen?.current?.speed ?? NaN) - 1) < 0.005, `at normal speed (${String(seen?.current?.speed)})`)
  const open = await getJson<{ plays: Play[] }>(`${http}/v1/plays?monitor=${monitor.id}`)
  t.equal(open.plays.length, 1, 'one play while song 3 airs')
  t.equal(open.plays[0].open, true, 'it is open')
  t.equal(open.plays[0].endedAt, null)

  // Drop the link 6 s into song 5 (program 30 s).
  await waitUntil(() => radio.position() > 30, 20_000, 'program time 30 s')
  radio.drop()
  await pollUntil(info, (m) => m.reconnects >= 1, 10_000, 'the monitor to reconnect')
  await pollUntil(info, (m) => m.state === 'listening', 10_000, 'listening again')
  t.ok(radio.connections >= 2, 'the station saw the monitor come back')

  // Let the program end and the last match close on the silence after it.
  await waitUntil(() => radio.position() > 46, 30_000, 'the end of the program')
  await pollUntil(info, (m) => m.current === null, 10_000, 'the last match to end')
  const { plays } = await getJson<{ plays: Play[] }>(`${http}/v1/plays?monitor=${monitor.id}`)
  plays.reverse() // oldest first
  t.same(plays.map((p) => p.trackId), [1, 2, 2], 'song 3, then song 5 before and after the drop; nothing for the unknown music')
  t.ok(plays.every((p) => !p.open && p.endedAt !== null), 'every play is closed')
  const [a, b1, b2] = plays
  t.ok(Math.abs(a.startStreamSeconds - 0) < 2, `song 3 starts at ${a.startStreamSeconds} s (truth 0)`)
  t.ok(Math.abs((a.endStreamSeconds ?? 0) - 14) < 2, `song 3 ends at ${a.endStreamSeconds} s (truth 14)`)
  t.ok(Math.abs(a.startOffsetSeconds - 2) < 1, `song 3 was joined ${a.startOffsetSeconds} s in (truth 2)`)
  t.ok(Math.abs(b1.startStreamSeconds - 24) < 2, `song 5 starts at ${b1.startStreamSeconds} s (truth 24)`)
  t.ok((b1.endStreamSeconds ?? 0) <= 31 && (b1.endStreamSeconds ?? 0) > 28, `song 5 is cut off by the drop at ${b1.endStreamSeconds} s (about 30)`)
  t.ok(b2.startStreamSeconds >= (b1.endStreamSeconds ?? 0), 'the second part starts after the first ends')
  t.ok(b2.startOffsetSeconds > b1.startOffsetSeconds + 6, `the second part joins song 5 later in the track (${b2.startOffsetSeconds} s)`)
  for (const p of plays) t.ok(p.peakConfidence >= settings.minConfidence, `peak confidence ${p.peakConfidence}`)
  for (const p of plays) t.ok(Math.abs(p.speed - 1) < 0.005, `speed ${p.speed}`)
  t.ok(Date.parse(a.startedAt) <= Date.parse(a.endedAt ?? ''), 'wall-clock times in order')

  // CSV export of the same log.
  const csv = await fetch(`${http}/v1/plays?monitor=${monitor.id}`, { headers: { accept: 'text/csv' } })
  t.match(csv.headers.get('content-type'), /^text\/csv/)
  const lines = (await csv.text()).trim().split(/\r?\n/)
  t.equal(lines.length, 4, 'a header and three rows')

  // Removing the monitor keeps its plays.
  t.equal((await fetch(`${http}/v1/monitors/${monitor.id}`, { method: 'DELETE' })).status, 204)
  t.equal((await fetch(`${http}/v1/monitors/${monitor.id}`)).status, 404)
  t.equal((await getJson<{ plays: Play[] }>(`${http}/v1/plays?monitor=${monitor.id}`)).plays.length, 3, 'the plays stay')
})

t.test('a station in MP3 is decoded by the ffmpeg of the settings (ffmpegPath)', { skip: !haveFfmpeg && 'ffmpeg is not installed' }, async (t) => {
  const dir = t.testdir()
  const { index } = buildCatalog(path.join(dir, 'db'), [3], 20, RATE)
  t.teardown(() => index.close())
  const wav = path.join(dir, 'station.wav')
  writeWav(wav, clip(song(3, 20, RATE), RATE, 2, 8), RATE)
  const mp3 = path.join(dir, 'station.mp3')
  t.equal(spawnSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-i', wav, '-b:a', '128k', '-y', mp3]).status, 0)
  const station = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'audio/mpeg' }); res.end(fs.readFileSync(mp3)) })
  station.listen(0, '127.0.0.1')
  await once(station, 'listening')
  t.teardown(() => { station.closeAllConnections(); station.close() })

  const mine = recordingFfmpeg(dir)
  const settings = { ...allowLoopback(testSettings({ idleTimeoutMs: 60_000 })), ffmpegPath: mine.path }
  const { http: api } = await startServer(t, 'uws', index, settings)
  const url = `http://127.0.0.1:${(station.address() as AddressInfo).port}/station.mp3`
  const created = await fetch(`${api}/v1/monitors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url, label: 'mp3 FM' }) })
  t.equal(created.status, 201)
  const monitor = await created.json() as MonitorInfo
  const seen = await pollUntil(() => getJson<MonitorInfo>(`${api}/v1/monitors/${monitor.id}`), (m) => m.current?.state === 'confirmed', 20_000, 'song 3 confirmed')
  t.equal(seen?.current?.trackId, 1, 'song 3, decoded from MP3')
  t.ok(mine.runs() >= 1, 'by the configured ffmpeg')
})
