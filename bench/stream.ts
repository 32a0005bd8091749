/**
 * Streaming load: `npm run bench:stream`.
 *
 * Starts `earshot serve` as a child process on an index of real music (the accuracy bench's corpus), then, from this
 * process, opens N sessions through the client SDK that stream catalogue tracks (from random offsets, with white
 * noise at 15 dB SNR, one after another) at real-time pace in 100 ms chunks of 44.1 kHz s16le. Reports per transport:
 *  - server CPU (one core = 100%) and the sessions a core would hold at that rate;
 *  - time from session start to the first `confirmed`, in seconds of audio (median, p95);
 *  - push latency: from sending the chunk that brought the stream to the event's streamSeconds, to receiving the
 *    event (p50, p99);
 *  - server RSS per session, and RSS growth over the run.
 *
 * Environment: EARSHOT_BENCH_DB (index folder; default: a fresh one of 20 corpus tracks), EARSHOT_BENCH_SESSIONS
 * (default 200), EARSHOT_BENCH_SECONDS (default 60), EARSHOT_BENCH_TRANSPORTS (default "uws,ws"),
 * EARSHOT_BENCH_NODE_ARGS (extra node flags for the server, e.g. "--cpu-prof"), EARSHOT_BENCH_SPEED (default 1:
 * play every stream this much fast, as radio does, e.g. 1.03; the 44.1 kHz samples are declared at 44.1 kHz times
 * the speed, which plays them faster and higher, like a turntable). The server takes EARSHOT_WORKERS (stream engines;
 * default one per core; 0: sessions on its main thread) from this environment.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { connect, type EarshotClient } from '../client-sdk/src/index.js'
import { loadCorpus } from './corpus.js'
import { quantile } from './figures.js'
import { addWhiteNoise, decodeToMono, makeRng } from './degrade.js'
import { LmdbIndex } from '../server/src/index/lmdb-index.js'
import { defaults } from '../server/src/config/defaults.js'

const RATE = 44100
const CHUNK = RATE / 10
const SPEED = Number(process.env.EARSHOT_BENCH_SPEED ?? 1)
/** Milliseconds of stream a chunk lasts at that speed. */
const CHUNK_MS = 100 / SPEED
const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'server', 'src', 'cli', 'main.js')

/** utime + stime of a process, in seconds. */
function cpuSeconds (pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}

/** Anonymous resident memory (heap, buffers): the mapped index pages are file-backed and shared, so they are left out. */
function rssBytes (pid: number): number {
  const m = /RssAnon:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : NaN
}

async function startServer (db: string, transport: string): Promise<{ child: ChildProcess, port: number }> {
  const nodeArgs = (process.env.EARSHOT_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean) // e.g. --cpu-prof
  // Every session of the load generator opens from one address: lift the per-address limit on stream opens.
  const config = path.join(os.tmpdir(), `earshot-bench-stream-${process.pid}.json`)
  fs.writeFileSync(config, JSON.stringify({ access: { streamOpensPerMinute: 1e9 }, stream: { maxConnectionsPerAddress: 1e6 } }))
  const child = spawn(process.execPath, [...nodeArgs, cli, 'serve', '--db', db, '--port', '0', '--transport', transport, '--max-sessions', '100000', '--config', config],
    { stdio: ['ignore', 'ignore', 'pipe'] })
  const port = await new Promise<number>((resolve, reject) => {
    let err = ''
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString()
      const m = /listening on ws:\/\/[^:]+:(\d+)/.exec(err)
      if (m) resolve(Number(m[1]))
    })
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)))
  })
  return { child, port }
}

interface Run {
  transport: string
  sessions: number
  seconds: number
  cpuShare: number
  /** CPU of this load generator process, one core = 1. */
  generatorShare: number
  confirmSeconds: number[]
  latencyMs: number[]
  rssIdle: number
  rssSamples: Array<[number, number]>
  unconfirmed: number
}

async function runLoad (db: string, transport: string, tracks: Float32Array[], sessions: number, seconds: number): Promise<Run> {
  const { child, port } = await startServer(db, transport)
  const pid = child.pid!
  await new Promise((resolve) => setTimeout(resolve, 500))
  const rssIdle = rssBytes(pid)
  const rng = makeRng(7)
  const confirmSeconds: number[] = []
  const latencyMs: number[] = []
  const rssSamples: Array<[number, number]> = []
  const clients: EarshotClient[] = []
  const url = `ws://127.0.0.1:${port}/v1/stream`
  // Open sessions with a small stagger so chunks do not all land in the same millisecond.
  for (let s = 0; s < sessions; s++) clients.push(await connect(url, { sampleRate: Math.round(RATE * SPEED), encoding: 's16le', channels: 1, reconnect: false }))
  // Each session plays catalogue tracks back to back (as a station would), from a random point of its first track.
  const cursor = clients.map((_, s) => ({ track: s % tracks.length, at: Math.floor(rng() * tracks[s % tracks.length].length * 0.8) }))
  const chunk = new Int16Array(CHUNK)
  const nextChunk = (s: number): Int16Array => {
    const c = cursor[s]
    for (let i = 0; i < CHUNK; i++) {
      if (c.at >= tracks[c.track].length) { c.track = (c.track + 1) % tracks.length; c.at = 0 }
      chunk[i] = Math.max(-32768, Math.min(32767, Math.round(tracks[c.track][c.at++] * 32767)))
    }
    return chunk
  }
  // Sessions start spread over the first second, as independent clients would; all audio is prepared before, so no
  // session starts behind its schedule (a backlog would show up as push latency that the server did not cause).
  const starts = clients.map(() => performance.now() + rng() * 1000)
  const sentAt = clients.map(() => [] as number[]) // wall time each chunk was sent
  let unconfirmed = 0
  clients.forEach((c, s) => {
    let confirmed = false
    c.on('match', (m) => {
      const chunk = Math.min(sentAt[s].length - 1, Math.max(0, Math.ceil((m.streamSeconds * 1000) / CHUNK_MS) - 1))
      if (chunk >= 0 && sentAt[s][chunk] !== undefined) latencyMs.push(performance.now() - sentAt[s][chunk])
      if (m.state === 'confirmed' && !confirmed) { confirmed = true; confirmSeconds.push(m.streamSeconds) }
    })
    c.on('close', () => {})
    c.once('match-end', () => {})
    ;(c as unknown as { confirmed: () => boolean }).confirmed = () => confirmed
  })
  const cpu0 = cpuSeconds(pid)
  const own0 = process.cpuUsage()
  const t0 = performance.now()
  const chunks = Math.round((seconds * 1000) / CHUNK_MS)
  // One timer drives every session: each sends its due chunks.
  await new Promise<void>((resolve) => {
    const next = new Array(sessions).fill(0)
    const timer = setInterval(() => {
      const now = performance.now()
      let done = true
      for (let s = 0; s < sessions; s++) {
        while (next[s] < chunks && starts[s] + next[s] * CHUNK_MS <= now) {
          next[s]++
          sentAt[s].push(performance.now())
          clients[s].write(nextChunk(s))
        }
        if (next[s] < chunks) done = false
      }
      if (Math.round((now - t0) / 1000) % 5 === 0 && (rssSamples.length === 0 || now - t0 - rssSamples[rssSamples.length - 1][0] * 1000 > 4000)) {
        rssSamples.push([(now - t0) / 1000, rssBytes(pid)])
      }
      if (done) { clearInterval(timer); resolve() }
    }, 10)
  })
  const elapsed = (performance.now() - t0) / 1000
  const cpu = cpuSeconds(pid) - cpu0
  const own = process.cpuUsage(own0)
  const generatorShare = (own.user + own.system) / 1e6 / elapsed
  rssSamples.push([elapsed, rssBytes(pid)])
  await new Promise((resolve) => setTimeout(resolve, 300))
  for (const c of clients) if (!(c as unknown as { confirmed: () => boolean }).confirmed()) unconfirmed++
  await Promise.all(clients.map((c) => c.close()))
  child.kill('SIGTERM')
  await new Promise((resolve) => child.once('exit', resolve))
  return { transport, sessions, seconds: elapsed, cpuShare: cpu / elapsed, generatorShare, confirmSeconds, latencyMs, rssIdle, rssSamples, unconfirmed }
}

async function main (): Promise<void> {
  const sessions = Number(process.env.EARSHOT_BENCH_SESSIONS ?? 200)
  const seconds = Number(process.env.EARSHOT_BENCH_SECONDS ?? 60)
  const transports = (process.env.EARSHOT_BENCH_TRANSPORTS ?? 'uws,ws').split(',')
  const corpus = await loadCorpus()
  let db = process.env.EARSHOT_BENCH_DB
  if (!db) {
    db = fs.mkdtempSync(path.join(os.tmpdir(), 'earshot-stream-bench-'))
    const r = spawnSync(process.execPath, [cli, 'index', '--db', db, ...corpus.known.slice(0, 20)], { stdio: ['ignore', 'ignore', 'inherit'] })
    if (r.status !== 0) throw new Error('indexing failed')
  }
  const index = LmdbIndex.open(db, defaults.fingerprint, { readOnly: true })
  const sources = [...index.listTracks()].map((t) => t.source).filter((f) => fs.existsSync(f)).slice(0, 12)
  const ntracks = index.stats().tracks
  await index.close()
  const rng = makeRng(3)
  const tracks: Float32Array[] = []
  for (const f of sources) tracks.push(addWhiteNoise(await decodeToMono(f, RATE), 15, rng))
  console.log(`${new Date().toISOString().slice(0, 10)}: ${sessions} sessions x ${seconds} s of real-time 44.1 kHz s16le audio, ${ntracks} tracks indexed, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? ''}), ` +
    `stream engines: ${process.env.EARSHOT_WORKERS ?? 'one per core'} (EARSHOT_WORKERS)`)
  console.log('')
  if (SPEED !== 1) console.log(`Every stream plays at speed ${SPEED} (declared at ${Math.round(RATE * SPEED)} Hz).\n`)
  console.log('| transport | server CPU | load generator CPU | sessions per core at this load | confirmed | time to confirmed p50 / p95 | push latency p50 / p99 | RSS per session | RSS growth |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
  const series: string[] = []
  for (const t of transports) {
    const r = await runLoad(db, t, tracks, sessions, seconds)
    const rssPeak = Math.max(...r.rssSamples.map(([, b]) => b))
    const first = r.rssSamples[Math.min(1, r.rssSamples.length - 1)][1]
    const last = r.rssSamples[r.rssSamples.length - 1][1]
    console.log(`| ${t} | ${(r.cpuShare * 100).toFixed(0)}% | ${(r.generatorShare * 100).toFixed(0)}% | ${(sessions / r.cpuShare).toFixed(0)} | ${sessions - r.unconfirmed}/${sessions} | ` +
      `${quantile(r.confirmSeconds, 0.5).toFixed(2)} / ${quantile(r.confirmSeconds, 0.95).toFixed(2)} s | ` +
      `${quantile(r.latencyMs, 0.5).toFixed(1)} / ${quantile(r.latencyMs, 0.99).toFixed(1)} ms | ` +
      `${((rssPeak - r.rssIdle) / sessions / 1024).toFixed(0)} KB | ${((last - first) / 1024 / 1024).toFixed(1)} MB over ${(r.seconds - r.rssSamples[Math.min(1, r.rssSamples.length - 1)][0]).toFixed(0)} s |`)
    series.push(`${t}: ` + r.rssSamples.filter((_, i) => i % Math.max(1, Math.floor(r.rssSamples.length / 12)) === 0)
      .map(([at, b]) => `${at.toFixed(0)} s ${(b / 1024 / 1024).toFixed(0)} MB`).join(', '))
  }
  console.log('')
  console.log('Server anonymous RSS during the run:')
  for (const line of series) console.log(`- ${line}`)
}

main().catch((err: unknown) => { console.error(err); process.exitCode = 1 })

