/**
 * HTTP API and monitoring cost: `node dist/bench/api.bench.js` (after `npx tsc -p .`).
 *
 * Consumes nothing but ffmpeg (for the MP3 clips): the catalogue is synthetic (test/helpers/catalog.ts). Produces a
 * report on stdout, markdown tables side by side, of three parts run one after another:
 *
 *  1. identify: `earshot serve` as a child process on a fresh index of synthetic songs; clips of indexed songs posted
 *     to POST /v1/identify as WAV, MP3 and raw PCM, sequentially, the three kinds interleaved. Round trip and the
 *     server's processingTimeMs (median, p95), and how many answers name the right track.
 *  2. monitors: a second child on the same index; N monitors pull one local live station (test/helpers/radio.ts,
 *     real time) that plays indexed songs. After a warm-up, the child's CPU time (/proc/PID/stat utime+stime, as
 *     bench/stream.ts reads it) over a sampling window gives CPU per monitor and monitors per core; RSS with the
 *     monitors minus RSS before them, per monitor. GET /v1/monitors at the end: listening, confirmed, right track.
 *  3. play log: in this process, a PlayLog on a fresh LMDB environment opened as the server opens its state store.
 *     Inserts of closed plays (one synced open and close per play, as a recorder writes them; then the rest in bulk
 *     transactions, to keep the run short), then reads timed over repeated runs: pages with each filter, a page deep
 *     behind 50 cursors, a one-day range, the per-track-per-day report and CSV.
 *
 * Environment: EARSHOT_BENCH_PARTS (default "identify,monitors,playlog"), EARSHOT_BENCH_SONGS (20),
 * EARSHOT_BENCH_SONG_SECONDS (60), EARSHOT_BENCH_REQUESTS (40 per kind), EARSHOT_BENCH_CLIP_SECONDS (10),
 * EARSHOT_BENCH_MONITORS (20), EARSHOT_BENCH_WARMUP_SECONDS (10), EARSHOT_BENCH_SAMPLE_SECONDS (30),
 * EARSHOT_BENCH_PLAYS (100000), EARSHOT_BENCH_SYNCED_PLAYS (5000; set it to EARSHOT_BENCH_PLAYS to write every play
 * the slow way), EARSHOT_BENCH_RUNS (20 per play log read), EARSHOT_BENCH_TRANSPORT (uws), EARSHOT_BENCH_NODE_ARGS
 * (extra node flags for the server), FFMPEG (the ffmpeg binary).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { openStateStore } from '../server/src/state/state-store.js'
import { PlayLog, playsToCsv, type NewPlay, type Play } from '../server/src/playlog/play-log.js'
import { buildCatalog, type Catalog } from '../test/helpers/catalog.js'
import { clip, prng, wavBytes } from '../test/helpers/signals.js'
import { startRadio } from '../test/helpers/radio.js'
import { call, pcm16, type Answer } from '../test/helpers/api-helpers.js'
import { childEnv, EARSHOT_MAIN } from '../test/helpers/child-env.js'

const RATE = 44100
const FFMPEG = process.env.FFMPEG ?? 'ffmpeg'
/** The server must print its listening line within this, in ms. */
const SERVER_START_TIMEOUT_MS = 30_000
/** A server that does not exit this long after SIGTERM is killed, in ms. */
const SERVER_STOP_TIMEOUT_MS = 10_000
/** Wait after the server starts before the idle readings, in ms (first GC, lazy module loads). */
const SETTLE_MS = 1000
/** Idle CPU of the monitor server is read over this, in ms. */
const IDLE_SAMPLE_MS = 2000
/** After the sampling window, monitors not yet all confirmed get this long to get there, in ms. */
const CONFIRM_GRACE_MS = 15_000
/** A monitor may still show the previous song this long after the station moved to the next, in seconds. */
const SONG_CHANGE_LAG_SECONDS = 15
/** Bulk-loaded plays per write transaction. */
const BULK_PLAYS_PER_TXN = 1000
const DAY_MS = 86_400_000
const PLAYLOG_DAYS = 30
const PLAYLOG_STREAMS = 50
const PLAYLOG_TRACKS = 1000
/** Rows of the CSV export. */
const CSV_ROWS = 1000
/** Cursors followed before the deep page. */
const DEEP_PAGES = 50

function envNumber (name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const v = Number(raw)
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number, got '${raw}'`)
  return v
}

/** Nearest-rank quantile: the smallest value with at least q of the values at or below it. */
function quantile (xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]
}

function ms (x: number): string {
  return Number.isNaN(x) ? 'n/a' : x < 1 ? x.toFixed(3) : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0)
}

function mb (bytes: number): string { return (bytes / 1024 / 1024).toFixed(1) }

/** utime + stime of a process, in seconds (clock ticks of 1/100 s, as bench/stream.ts reads them). */
function cpuSeconds (pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}

/** Resident memory of a process, in bytes: all of it, and the anonymous part (heap, buffers; not the mapped index). */
function rss (pid: number): { total: number, anon: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number => {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)
    return m ? Number(m[1]) * 1024 : NaN
  }
  return { total: kb('VmRSS'), anon: kb('RssAnon') }
}

interface Server { child: ChildProcess, port: number, base: string, transport: string, stop: () => Promise<void> }

/** `earshot serve` on `db` at a free port; resolves once it listens. */
async function startServer (db: string, config: string, transport: string): Promise<Server> {
  const nodeArgs = (process.env.EARSHOT_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)
  const child = spawn(process.execPath, [...nodeArgs, EARSHOT_MAIN, 'serve', '--db', db, '--port', '0', '--transport', transport, '--config', config],
    { env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { err = (err + s).slice(-8192) })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const listening = await new Promise<{ port: number, transport: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not listen within ${SERVER_START_TIMEOUT_MS} ms: ${err}`)), SERVER_START_TIMEOUT_MS)
    const onData = (): void => {
      const m = /listening on ws:\/\/[^:]+:(\d+)\S* and \S+ \((\w+),/.exec(err)
      if (m) { clearTimeout(timer); child.stderr!.off('data', onData); resolve({ port: Number(m[1]), transport: m[2] }) }
    }
    child.stderr!.on('data', onData)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the server exited with ${String(code)}: ${err}`)) })
  }).catch((e: unknown) => { child.kill('SIGKILL'); throw e })
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const killer = setTimeout(() => child.kill('SIGKILL'), SERVER_STOP_TIMEOUT_MS)
    await exited
    clearTimeout(killer)
  }
  return { child, port: listening.port, base: `http://127.0.0.1:${listening.port}`, transport: listening.transport, stop }
}

/** MP3 bytes (libmp3lame CBR) of mono PCM, through ffmpeg's pipes. */
function mp3Bytes (x: Float32Array, rate: number, kbps: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(FFMPEG, ['-hide_banner', '-nostats', '-loglevel', 'error', '-f', 's16le', '-ar', String(rate), '-ac', '1', '-i', 'pipe:0',
      '-c:a', 'libmp3lame', '-b:a', `${kbps}k`, '-f', 'mp3', 'pipe:1'], { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let err = ''
    child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new Error(`ffmpeg not found (tried "${FFMPEG}"); set FFMPEG to its path`) : e))
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c: Buffer) => { err = (err + c.toString()).slice(-4096) })
    child.on('close', (code) => code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`ffmpeg failed (${String(code)}): ${err.trim()}`)))
    child.stdin.on('error', () => {}) // ffmpeg may exit early; its stderr says why
    child.stdin.end(pcm16(x))
  })
}

function json (a: Answer): any {
  try { return JSON.parse(a.text) } catch { throw new Error(`${a.method} ${a.path} answered ${a.status} with a body that is not JSON: ${a.text.slice(0, 200)}`) }
}

// ------------------------------------------------------------------------------------------------------ 1. identify

type Kind = 'wav' | 'mp3' | 'pcm'
const KINDS: readonly Kind[] = ['wav', 'mp3', 'pcm']
const KIND_LABEL: Record<Kind, string> = { wav: 'WAV 44.1 kHz s16 mono', mp3: 'MP3 128 kbit/s', pcm: 'raw audio/pcm s16le 44.1 kHz' }
const KIND_TYPE: Record<Kind, string> = { wav: 'audio/wav', mp3: 'audio/mpeg', pcm: 'audio/pcm;rate=44100;encoding=s16le' }

interface Probe { trackId: number, at: number, bodies: Record<Kind, Buffer> }
interface KindStats { rtt: number[], processing: number[], correct: number, bytes: number }

async function prepareProbes (catalog: Catalog, count: number, clipSeconds: number, songSeconds: number): Promise<Probe[]> {
  const ids = [...catalog.songs.keys()]
  const rand = prng(11)
  const probes: Probe[] = []
  for (let i = 0; i < count; i++) {
    const trackId = ids[i % ids.length]
    const at = Math.round(rand() * (songSeconds - clipSeconds) * 10) / 10
    const x = clip(catalog.songs.get(trackId)!, RATE, at, clipSeconds)
    probes.push({ trackId, at, bodies: { wav: wavBytes(x, RATE), mp3: await mp3Bytes(x, RATE, 128), pcm: pcm16(x) } })
  }
  return probes
}

async function identifyOnce (base: string, probe: Probe, kind: Kind): Promise<{ rtt: number, processing: number, correct: boolean }> {
  const t0 = performance.now()
  const a = await call(base, 'POST', '/v1/identify', { headers: { 'content-type': KIND_TYPE[kind] }, body: probe.bodies[kind] })
  const rtt = performance.now() - t0
  if (a.status !== 200) throw new Error(`identify (${kind}) answered ${a.status}: ${a.text.slice(0, 300)}`)
  const r = json(a)
  return { rtt, processing: Number(r.processingTimeMs), correct: r.matches?.[0]?.id === probe.trackId }
}

async function benchIdentify (db: string, config: string, transport: string, probes: Probe[]): Promise<void> {
  const server = await startServer(db, config, transport)
  const stats = Object.fromEntries(KINDS.map((k) => [k, { rtt: [], processing: [], correct: 0, bytes: 0 }])) as unknown as Record<Kind, KindStats>
  const started = performance.now()
  try {
    // Warm-up, not counted: the first decode starts the worker pool, and the first requests are compiled cold.
    for (const k of KINDS) await identifyOnce(server.base, probes[0], k)
    for (let i = 0; i < probes.length; i++) {
      // Rotate the order per round, so no kind always follows the same one.
      for (let j = 0; j < KINDS.length; j++) {
        const k = KINDS[(i + j) % KINDS.length]
        const r = await identifyOnce(server.base, probes[i], k)
        stats[k].rtt.push(r.rtt)
        stats[k].processing.push(r.processing)
        if (r.correct) stats[k].correct++
        stats[k].bytes += probes[i].bodies[k].length
      }
    }
  } finally {
    await server.stop()
  }
  const seconds = (performance.now() - started) / 1000
  console.log(`## 1. POST /v1/identify (${server.transport}), ${probes.length} requests per kind, sequential, interleaved (${seconds.toFixed(0)} s)`)
  console.log('')
  console.log('| body | size | round trip median / p95 | server processingTimeMs median / p95 | right track |')
  console.log('|---|---:|---:|---:|---:|')
  for (const k of KINDS) {
    const s = stats[k]
    console.log(`| ${KIND_LABEL[k]} | ${(s.bytes / probes.length / 1024).toFixed(0)} KB | ${ms(quantile(s.rtt, 0.5))} / ${ms(quantile(s.rtt, 0.95))} ms | ` +
      `${ms(quantile(s.processing, 0.5))} / ${ms(quantile(s.processing, 0.95))} ms | ${s.correct}/${s.rtt.length} |`)
  }
  console.log('')
  console.log('Round trip: from the request to the whole answer, each on a new loopback connection. processingTimeMs: the server\'s own')
  console.log('time for the request, decoding included (WAV and MP3 are decoded in a worker thread; raw PCM is read in place).')
  console.log('')
}

// ------------------------------------------------------------------------------------------------------ 2. monitors

interface MonitorView { state: string, current: { state: string, trackId: number } | null }

async function benchMonitors (db: string, config: string, transport: string, catalog: Catalog, n: number, warmSeconds: number, sampleSeconds: number, songSeconds: number): Promise<void> {
  const ids = [...catalog.songs.keys()]
  // Enough songs for the whole phase, the grace period included, with one to spare.
  const count = Math.min(ids.length, Math.ceil((warmSeconds + sampleSeconds + CONFIRM_GRACE_MS / 1000 + 10) / songSeconds) + 1)
  const songs = ids.slice(0, count).map((id) => catalog.songs.get(id)!)
  const program = new Float32Array(songs.reduce((s, x) => s + x.length, 0))
  songs.reduce((at, x) => { program.set(x, at); return at + x.length }, 0)
  const radio = await startRadio(program, RATE, 1)
  const server = await startServer(db, config, transport)
  const pid = server.child.pid!
  try {
    await sleep(SETTLE_MS)
    const idle0 = cpuSeconds(pid)
    await sleep(IDLE_SAMPLE_MS)
    const idleShare = (cpuSeconds(pid) - idle0) / (IDLE_SAMPLE_MS / 1000)
    const before = rss(pid)
    for (let i = 0; i < n; i++) {
      // One station; each monitor needs a URL of its own, and the station ignores the query.
      const body = JSON.stringify({ url: `${radio.url}?listener=${i}`, label: `bench ${i}` })
      const a = await call(server.base, 'POST', '/v1/monitors', { headers: { 'content-type': 'application/json' }, body })
      if (a.status !== 201) throw new Error(`adding monitor ${i} answered ${a.status}: ${a.text.slice(0, 300)}`)
    }
    await sleep(warmSeconds * 1000)
    const cpu0 = cpuSeconds(pid)
    const own0 = process.cpuUsage()
    const t0 = performance.now()
    await sleep(sampleSeconds * 1000)
    const elapsed = (performance.now() - t0) / 1000
    const share = (cpuSeconds(pid) - cpu0) / elapsed
    const own = process.cpuUsage(own0)
    const ownShare = (own.user + own.system) / 1e6 / elapsed
    const after = rss(pid)

    const look = async (): Promise<{ listening: number, confirmed: number, onAir: number }> => {
      const position = radio.position()
      const a = await call(server.base, 'GET', '/v1/monitors')
      if (a.status !== 200) throw new Error(`GET /v1/monitors answered ${a.status}: ${a.text.slice(0, 300)}`)
      const list = json(a).monitors as MonitorView[]
      if (list.length !== n) throw new Error(`GET /v1/monitors lists ${list.length} monitors, not ${n}`)
      const airing = new Set([ids[Math.floor(position / songSeconds)], ids[Math.floor(Math.max(0, position - SONG_CHANGE_LAG_SECONDS) / songSeconds)]])
      return {
        listening: list.filter((m) => m.state === 'listening').length,
        confirmed: list.filter((m) => m.current?.state === 'confirmed').length,
        onAir: list.filter((m) => m.current?.state === 'confirmed' && airing.has(m.current.trackId)).length,
      }
    }
    const atEnd = await look()
    let last = atEnd
    const graceStart = performance.now()
    while ((last.listening < n || last.onAir < n) && performance.now() - graceStart < CONFIRM_GRACE_MS) {
      await sleep(500)
      last = await look()
    }
    const graceSeconds = (performance.now() - graceStart) / 1000

    console.log(`## 2. Monitors (${server.transport}): ${n} monitors of one local WAV station (44.1 kHz s16 mono, real time), ${warmSeconds} s warm-up, ${sampleSeconds} s sampled`)
    console.log('')
    console.log('| server CPU, idle | server CPU, N monitors | CPU per monitor | monitors per core | RSS before | RSS with N | RSS per monitor | anon RSS per monitor | bench process CPU (station) |')
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    console.log(`| ${(idleShare * 100).toFixed(1)}% | ${(share * 100).toFixed(1)}% | ${(share / n * 100).toFixed(2)}% | ${(n / share).toFixed(0)} | ` +
      `${mb(before.total)} MB | ${mb(after.total)} MB | ${((after.total - before.total) / n / 1024).toFixed(0)} KB | ` +
      `${((after.anon - before.anon) / n / 1024).toFixed(0)} KB | ${(ownShare * 100).toFixed(1)}% |`)
    console.log('')
    console.log(`GET /v1/monitors at the end of the window: ${atEnd.listening}/${n} listening, ${atEnd.confirmed}/${n} with a confirmed current match, ` +
      `${atEnd.onAir}/${n} confirmed on the song on air.` +
      (last === atEnd ? '' : ` After ${graceSeconds.toFixed(1)} s more: ${last.listening}/${n} listening, ${last.confirmed}/${n} confirmed, ${last.onAir}/${n} on the song on air.`))
    console.log('CPU: utime+stime of the server process over the window, one core = 100%; monitors per core = N / that share, a straight')
    console.log('extrapolation. RSS per monitor = (RSS with N monitors - RSS before adding them) / N; anon leaves out file-backed pages (the index map).')
    console.log('')
  } finally {
    await server.stop()
    await radio.close()
  }
}

// ------------------------------------------------------------------------------------------------------ 3. play log

interface Row { what: string, runs: number[], rows: number }

async function benchPlayLog (total: number, synced: number, runs: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'earshot-api-bench-playlog-'))
  const root = openStateStore(dir)
  try {
    const log = new PlayLog(root)
    const rand = prng(5)
    const hex = (k: number): string => Array.from({ length: k }, () => Math.floor(rand() * 16).toString(16)).join('')
    const streams = Array.from({ length: PLAYLOG_STREAMS }, () => `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`)
    const end = Date.UTC(2026, 10, 1)
    const start = end - PLAYLOG_DAYS * DAY_MS
    const streamClock = new Map<string, number>(streams.map((s) => [s, 0]))
    const perStream = new Map<string, number>()
    const pairs = new Map<string, number>()
    // Plays in time order, as stations produce them: about one every 26 s across all streams.
    const make = (i: number): { p: NewPlay, seconds: number } => {
      const stream = streams[Math.floor(rand() * streams.length)]
      const trackId = 1 + Math.floor(rand() * PLAYLOG_TRACKS)
      const seconds = Math.round((120 + rand() * 180) * 1000) / 1000
      const at = streamClock.get(stream)!
      streamClock.set(stream, at + seconds + 30)
      perStream.set(stream, (perStream.get(stream) ?? 0) + 1)
      pairs.set(`${stream}/${trackId}`, (pairs.get(`${stream}/${trackId}`) ?? 0) + 1)
      // Every tenth title holds a comma and a quote, so the CSV quotes some fields.
      const title = trackId % 10 === 0 ? `Song ${trackId}, "live"` : `Song ${trackId}`
      const startedAt = new Date(start + Math.floor(((i + rand()) / total) * PLAYLOG_DAYS * DAY_MS)).toISOString()
      return { p: { stream, kind: 'monitor', trackId, title, artist: `Artist ${trackId % 97}`, album: `Album ${trackId % 211}`, startedAt, startStreamSeconds: at, startOffsetSeconds: 0, peakConfidence: 0.5 + rand() * 0.5 }, seconds }
    }
    const insert = (i: number): void => {
      const { p, seconds } = make(i)
      const play = log.open(p)
      log.close(play.id, { endedAt: new Date(Date.parse(p.startedAt) + seconds * 1000).toISOString(), endStreamSeconds: p.startStreamSeconds + seconds, endOffsetSeconds: seconds })
    }
    const slow = Math.min(synced, total)
    let t0 = performance.now()
    for (let i = 0; i < slow; i++) insert(i)
    await log.flushed()
    const slowSeconds = (performance.now() - t0) / 1000
    t0 = performance.now()
    for (let from = slow; from < total; from += BULK_PLAYS_PER_TXN) {
      const to = Math.min(total, from + BULK_PLAYS_PER_TXN)
      // PlayLog's own transactions run nested in this one: one commit and one sync per batch.
      root.transactionSync(() => { for (let i = from; i < to; i++) insert(i) })
      await root.committed // let the queued removes of the open records drain
    }
    await log.flushed()
    const bulkSeconds = (performance.now() - t0) / 1000

    const s0 = streams[0]
    const pair = [...pairs.entries()].find(([k]) => k.startsWith(`${s0}/`))![0]
    const t1 = Number(pair.split('/')[1])
    const dayFrom = start + 15 * DAY_MS
    let deepCursor: string | null = null
    const follow = (): string => {
      let cursor: string | undefined
      for (let p = 0; p < DEEP_PAGES; p++) cursor = log.query({ limit: 100, cursor }).nextCursor ?? undefined
      if (cursor === undefined) throw new Error(`fewer than ${DEEP_PAGES} pages of 100 plays`)
      return cursor
    }
    deepCursor = follow()
    const page1000 = log.query({ limit: CSV_ROWS }).plays
    let csvBytes = 0
    const cases: Array<[string, string, () => number]> = [
      ['first', 'first page of 100, no filter', () => log.query({ limit: 100 }).plays.length],
      ['stream', 'first page of 100, by stream', () => log.query({ stream: s0, limit: 100 }).plays.length],
      ['track', 'first page of 100, by track', () => log.query({ trackId: t1, limit: 100 }).plays.length],
      ['pair', 'first page of 100, by stream and track', () => log.query({ stream: s0, trackId: t1, limit: 100 }).plays.length],
      ['deep', `page ${DEEP_PAGES + 1} of 100, behind ${DEEP_PAGES} cursors (that page only)`, () => log.query({ limit: 100, cursor: deepCursor! }).plays.length],
      ['walk', `${DEEP_PAGES} pages of 100 followed by cursor, in all`, () => { follow(); return DEEP_PAGES * 100 }],
      ['day', 'first page of 100, one-day from/to range', () => log.query({ from: dayFrom, to: dayFrom + DAY_MS, limit: 100 }).plays.length],
      ['report', `perTrackPerDay, one stream, ${PLAYLOG_DAYS} days`, () => log.perTrackPerDay({ from: start, to: end, stream: s0 }).reduce((s, r) => s + r.plays, 0)],
      ['page1000', `page of ${CSV_ROWS}, no filter`, () => log.query({ limit: CSV_ROWS }).plays.length],
      ['csv', `playsToCsv of ${CSV_ROWS} rows`, () => { csvBytes = playsToCsv(page1000).length; return page1000.length }],
    ]
    const rows = new Map<string, Row>()
    for (const [key, what, fn] of cases) {
      fn() // warm-up, not counted
      const row: Row = { what, runs: [], rows: 0 }
      for (let r = 0; r < runs; r++) {
        const a = performance.now()
        row.rows = fn()
        row.runs.push(performance.now() - a)
      }
      rows.set(key, row)
    }
    // Checks against what was inserted: a wrong answer would make the timings meaningless.
    const problems: string[] = []
    const expect = (what: string, got: number, want: number): void => { if (got !== want) problems.push(`${what}: ${got}, expected ${want}`) }
    expect('plays of stream 0 in perTrackPerDay', rows.get('report')!.rows, perStream.get(s0)!)
    expect('rows of the stream+track page', rows.get('pair')!.rows, Math.min(100, pairs.get(pair)!))
    expect('rows of the deep page', rows.get('deep')!.rows, Math.min(100, total - DEEP_PAGES * 100))
    const deep = log.query({ limit: 100, cursor: deepCursor })
    const first = log.query({ limit: 100 })
    if (deep.plays.length > 0 && first.plays.length > 0 && deep.plays[0].startedAt > first.plays[first.plays.length - 1].startedAt) problems.push('the deep page is not older than the first')
    const day = log.query({ from: dayFrom, to: dayFrom + DAY_MS, limit: 100 }).plays as Play[]
    if (day.some((p) => Date.parse(p.startedAt) < dayFrom || Date.parse(p.startedAt) >= dayFrom + DAY_MS)) problems.push('the one-day page holds plays outside the day')
    const bytesOnDisk = fs.readdirSync(dir).reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0)

    console.log(`## 3. Play log (in process, LMDB opened as the server's state store): ${total} closed plays, ${PLAYLOG_DAYS} days, ${PLAYLOG_STREAMS} streams, ${PLAYLOG_TRACKS} tracks`)
    console.log('')
    console.log('| insert | plays | plays/s |')
    console.log('|---|---:|---:|')
    if (slow > 0) console.log(`| one play at a time: open, then close, each a synced transaction (as the server writes them) | ${slow} | ${(slow / slowSeconds).toFixed(0)} |`)
    if (total > slow) console.log(`| bulk: the same calls, ${BULK_PLAYS_PER_TXN} plays per outer transaction | ${total - slow} | ${((total - slow) / bulkSeconds).toFixed(0)} |`)
    console.log('')
    console.log(`Files on disk: ${mb(bytesOnDisk)} MB (${(bytesOnDisk / total).toFixed(0)} bytes per play).`)
    console.log('')
    console.log(`| read (${runs} runs each) | rows | median | p95 |`)
    console.log('|---|---:|---:|---:|')
    for (const r of rows.values()) console.log(`| ${r.what} | ${r.rows} | ${ms(quantile(r.runs, 0.5))} ms | ${ms(quantile(r.runs, 0.95))} ms |`)
    console.log('')
    console.log(`CSV of ${CSV_ROWS} rows: ${(csvBytes / 1024).toFixed(0)} KB. Checks of the answers against the inserted plays: ${problems.length === 0 ? 'all pass' : `FAILED: ${problems.join('; ')}`}.`)
    if (problems.length > 0) process.exitCode = 1
    console.log('')
  } finally {
    await root.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// ------------------------------------------------------------------------------------------------------ main

async function main (): Promise<void> {
  const parts = new Set((process.env.EARSHOT_BENCH_PARTS ?? 'identify,monitors,playlog').split(',').map((s) => s.trim()))
  for (const p of parts) if (!['identify', 'monitors', 'playlog'].includes(p)) throw new Error(`EARSHOT_BENCH_PARTS: unknown part '${p}' (identify, monitors, playlog)`)
  const songCount = Math.round(envNumber('EARSHOT_BENCH_SONGS', 20))
  const songSeconds = envNumber('EARSHOT_BENCH_SONG_SECONDS', 60)
  const requests = Math.round(envNumber('EARSHOT_BENCH_REQUESTS', 40))
  const clipSeconds = envNumber('EARSHOT_BENCH_CLIP_SECONDS', 10)
  const monitors = Math.round(envNumber('EARSHOT_BENCH_MONITORS', 20))
  const warmSeconds = envNumber('EARSHOT_BENCH_WARMUP_SECONDS', 10)
  const sampleSeconds = envNumber('EARSHOT_BENCH_SAMPLE_SECONDS', 30)
  const plays = Math.round(envNumber('EARSHOT_BENCH_PLAYS', 100_000))
  const synced = Math.round(envNumber('EARSHOT_BENCH_SYNCED_PLAYS', 5000))
  const runs = Math.round(envNumber('EARSHOT_BENCH_RUNS', 20))
  const transport = process.env.EARSHOT_BENCH_TRANSPORT ?? 'uws'
  if (clipSeconds >= songSeconds) throw new Error('EARSHOT_BENCH_CLIP_SECONDS must be shorter than EARSHOT_BENCH_SONG_SECONDS')

  const cpus = os.cpus()
  console.log(`${new Date().toISOString().slice(0, 10)}: node ${process.version}, ${cpus.length} cores (${cpus[0]?.model ?? ''}), ` +
    `load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at start`)
  console.log('')
  const started = performance.now()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'earshot-api-bench-'))
  try {
    let catalog: Catalog | undefined
    const db = path.join(dir, 'index')
    const config = path.join(dir, 'config.json')
    if (parts.has('identify') || parts.has('monitors')) {
      const t0 = performance.now()
      // Seeds from 1: track ids follow them. The index is closed before a server opens it.
      catalog = buildCatalog(db, Array.from({ length: songCount }, (_, i) => i + 1), songSeconds, RATE)
      await catalog.index.close()
      // No limit of the API may cut the run short: identify requests per minute, monitors at most.
      // The station runs on loopback, which monitors may reach only when allowed.
      fs.writeFileSync(config, JSON.stringify({ access: { identifyPerMinute: 1e9 }, monitors: { maxMonitors: Math.max(200, monitors) }, network: { allowedAddresses: ['127.0.0.0/8'] } }))
      console.log(`Index: ${songCount} synthetic songs of ${songSeconds} s, built in ${((performance.now() - t0) / 1000).toFixed(1)} s.`)
      console.log('')
    }
    if (parts.has('identify')) {
      const probes = await prepareProbes(catalog!, requests, clipSeconds, songSeconds)
      await benchIdentify(db, config, transport, probes)
    }
    if (parts.has('monitors')) await benchMonitors(db, config, transport, catalog!, monitors, warmSeconds, sampleSeconds, songSeconds)
    if (parts.has('playlog')) await benchPlayLog(plays, synced, runs)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  console.log(`Total ${((performance.now() - started) / 1000).toFixed(0)} s; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at the end.`)
}

main().catch((err: unknown) => { console.error(err); process.exitCode = 1 })
