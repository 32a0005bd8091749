/**
 * Streams on engine workers (setting `workers`): the same results as on the main thread, message for message; the
 * final results before `flushed`; plays filed by the main thread; an engine that dies is replaced and its sessions
 * go on; monitors run on engines too.
 */
import t from 'tap'
import path from 'node:path'
import { buildCatalog } from '../helpers/catalog.js'
import { clip, song, wavBytes } from '../helpers/signals.js'
import { allowLoopback, pollUntil, RawClient, startServer, testSettings, toS16, waitUntil, type Message } from '../helpers/stream-helpers.js'
import { startRadio } from '../helpers/radio.js'
import type { StreamEngines } from '../../server/src/stream/engines.js'
import type { MonitorInfo } from '../../server/src/monitor/monitors.js'
import type { Play } from '../../server/src/playlog/play-log.js'

const RATE = 44100
const dir = t.testdir()
const { index } = buildCatalog(path.join(dir, 'db'), [3, 5], 30, RATE)
t.teardown(() => index.close())

/** Song 3 from 2 s for 10 s, then song 5 from 4 s for 10 s: two matches, the first ended by the second. */
const program = ((): Int16Array => {
  const a = clip(song(3, 30, RATE), RATE, 2, 10)
  const b = clip(song(5, 30, RATE), RATE, 4, 10)
  const x = new Float32Array(a.length + b.length)
  x.set(a)
  x.set(b, a.length)
  return toS16(x)
})()

/** Stream the program in 100 ms frames as fast as the socket takes them, flush, and return every message. */
async function session (url: string, playLog = false): Promise<Message[]> {
  const c = await RawClient.open(url)
  c.hello(playLog ? { streamId: 'studio-1', playLog: true } : {})
  await c.next('ready')
  for (let at = 0; at < program.length; at += RATE / 10) c.audio(program.subarray(at, at + RATE / 10))
  c.control({ type: 'flush' })
  await c.next('flushed', 20_000)
  await c.close()
  return c.messages.filter((m) => m.type !== 'ready').map((m) => ({ ...m, sessionId: undefined }))
}

/** Settings for a server: streams sent faster than real time may wait in a busy test process longer than 2 s. */
const settings = (workers: number) => ({ ...testSettings({ idleTimeoutMs: 60_000 }), workers })

/** Where and what a play is, in stream time: what must not depend on the thread that matched it. */
const where = (p: Play) => ({ trackId: p.trackId, start: p.startStreamSeconds, end: p.endStreamSeconds, offset: p.startOffsetSeconds, open: p.open })

t.test('on two engines, a stream gets exactly the messages and plays it gets on the main thread', async (t) => {
  const inThread = await startServer(t, 'uws', index, settings(0), 0, path.join(dir, 'state-0'))
  const onEngines = await startServer(t, 'uws', index, settings(2), 0, path.join(dir, 'state-2'))
  t.ok(onEngines.server.context.engines, 'the server has engines')
  t.notOk(inThread.server.context.engines, 'workers 0: none')
  const a = await session(inThread.url, true)
  const b = await session(onEngines.url, true)
  t.same(b, a, 'the same messages in the same order')
  const matches = b.filter((m) => m.type === 'match' && m.state === 'confirmed').map((m) => m.id)
  t.same([...new Set(matches)], [1, 2], 'song 3, then song 5, confirmed')
  t.equal(b.at(-1)?.type, 'flushed', 'flushed comes after every final result')
  t.ok(b.some((m) => m.type === 'match-end' && m.id === 1), 'the first match ended')

  const plays = async (http: string): Promise<Play[]> => (await (await fetch(`${http}/v1/plays?stream=studio-1`)).json() as { plays: Play[] }).plays
  const [pa, pb] = [await plays(inThread.http), await plays(onEngines.http)]
  t.same(pb.map((p) => p.trackId).reverse(), [1, 2], 'two plays filed by the main thread, in order')
  t.same(pb.map(where), pa.map(where), 'at the same stream times as on the main thread')
})

t.test('an engine that dies is replaced; the sessions on it go on and match again', async (t) => {
  const s = await startServer(t, 'uws', index, settings(1), 0, path.join(dir, 'state-crash'))
  const engines = s.server.context.engines as StreamEngines
  const c = await RawClient.open(s.url)
  c.hello()
  await c.next('ready')
  const frame = RATE / 10
  let at = 0
  const send = (seconds: number): void => {
    for (const end = at + seconds * RATE; at < end && at < program.length; at += frame) c.audio(program.subarray(at, at + frame))
  }
  send(5)
  await c.next('match', 20_000)
  await engines.replace(0)
  t.same(engines.stats(), [{ sessions: 1, restarts: 1 }], 'replaced; the session moved to the new engine')
  const health = await (await fetch(`${s.http}/health`)).json() as { engines: unknown }
  t.same(health.engines, [{ sessions: 1, restarts: 1 }], '/health shows each engine')
  send(15) // the rest: song 3's end, then song 5
  c.control({ type: 'flush' })
  await c.next('flushed', 20_000)
  const after = c.messages.filter((m) => m.type === 'match' && m.id === 2 && m.state === 'confirmed')
  t.ok(after.length > 0, 'song 5 confirmed by the new engine')
  t.ok((after[0].streamSeconds as number) > 10, `at stream time ${after[0].streamSeconds as number} s, carried on from before`)
  await c.close()
})

t.test('a monitor runs on an engine', async (t) => {
  const parts = [clip(song(3, 30, RATE), RATE, 2, 12), clip(song(5, 30, RATE), RATE, 5, 12)]
  const radioProgram = new Float32Array(parts[0].length + parts[1].length)
  radioProgram.set(parts[0])
  radioProgram.set(parts[1], parts[0].length)
  const radio = await startRadio(radioProgram, RATE, 4)
  t.teardown(() => radio.close())
  const s = await startServer(t, 'uws', index, { ...allowLoopback(testSettings({ idleTimeoutMs: 60_000 })), workers: 2 }, 0, path.join(dir, 'state-monitor'))
  const created = await fetch(`${s.http}/v1/monitors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: radio.url, label: 'engine FM' }) })
  const monitor = await created.json() as MonitorInfo
  const info = (): Promise<MonitorInfo> => fetch(`${s.http}/v1/monitors/${monitor.id}`).then(async (r) => await r.json() as MonitorInfo)
  await pollUntil(info, (m) => m.current?.state === 'confirmed' && m.current.trackId === 1, 15_000, 'song 3 confirmed')
  t.ok((s.server.context.engines as StreamEngines).stats().some((e) => e.sessions === 1), 'its session is on an engine')
  await waitUntil(() => radio.position() > 20, 20_000, 'song 5 on air')
  await pollUntil(info, (m) => m.current?.state === 'confirmed' && m.current.trackId === 2, 15_000, 'song 5 confirmed')
  const { plays } = await (await fetch(`${s.http}/v1/plays?monitor=${monitor.id}`)).json() as { plays: Play[] }
  t.same(plays.map((p) => p.trackId).reverse(), [1, 2], 'both plays filed')
})

t.test('identify runs on an engine: the same answer as on the main thread, counted in /metrics', async (t) => {
  const inThread = await startServer(t, 'uws', index, settings(0), 0, path.join(dir, 'state-id-0'))
  const onEngines = await startServer(t, 'uws', index, settings(2), 0, path.join(dir, 'state-id-2'))
  const wav = new Uint8Array(wavBytes(clip(song(5, 30, RATE), RATE, 6, 5), RATE))
  const ask = async (http: string): Promise<{ matches: Array<Record<string, unknown>> }> => {
    const r = await fetch(`${http}/v1/identify`, { method: 'POST', headers: { 'content-type': 'audio/wav' }, body: wav })
    t.equal(r.status, 200)
    return await r.json() as { matches: Array<Record<string, unknown>> }
  }
  const [a, b] = [await ask(inThread.http), await ask(onEngines.http)]
  t.equal(b.matches[0]?.id, 2, 'song 5')
  t.same(b.matches, a.matches, 'the same matches')
  // Several at once spread over the engines, and every one is answered.
  const many = await Promise.all(Array.from({ length: 6 }, async () => await ask(onEngines.http)))
  t.ok(many.every((r) => r.matches[0]?.id === 2), 'six at once, all answered')
  const metrics = await (await fetch(`${onEngines.http}/metrics`)).text()
  t.match(metrics, /earshot_identify_requests_total\{outcome="match"\} 7/, 'counted by the main thread')
})

t.test('/metrics answers for every engine: two sessions on two engines are counted once each, by the main thread', async (t) => {
  const s = await startServer(t, 'uws', index, settings(2), 0, path.join(dir, 'state-metrics'))
  const engines = s.server.context.engines as StreamEngines
  const clients = await Promise.all([0, 1].map(async () => {
    const c = await RawClient.open(s.url)
    c.hello()
    await c.next('ready')
    return c
  }))
  t.same(engines.stats().map((e) => e.sessions), [1, 1], 'one session on each engine')
  const scrape = async (): Promise<string> => await (await fetch(`${s.http}/metrics`)).text()
  t.match(await scrape(), /earshot_sessions_active\{transport="uws",kind="client"\} 2/, 'both sessions active')
  for (const c of clients) {
    for (let at = 0; at < program.length; at += RATE / 10) c.audio(program.subarray(at, at + RATE / 10))
    c.control({ type: 'flush' })
  }
  for (const c of clients) await c.next('flushed', 20_000)
  const text = await scrape()
  const value = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1])
  t.equal(value('earshot_matches_confirmed_total'), 4, 'two songs confirmed in each session, counted once each')
  const hashes = value('earshot_hashes_total')
  t.ok(hashes > 0 && value('earshot_index_lookups_total') > 0, `the engines' lookups are counted (${hashes} hashes)`)
  t.equal(value('earshot_audio_seconds_total'), 2 * program.length / RATE, 'the audio of both')
  for (const c of clients) await c.close()
})
