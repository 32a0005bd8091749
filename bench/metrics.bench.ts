/**
 * GET /metrics under many open sessions: `node dist/bench/metrics.bench.js` (after `npx tsc -p .`).
 *
 * Builds a small index of synthesized tracks in a temporary folder, starts `earshot serve` on it as a child process
 * per transport, and from this process times GETs of /metrics: first with no session open, then with N sessions
 * open (raw WebSocket clients that sent hello and got ready; with EARSHOT_BENCH_SILENCE=1 each also sends 100 ms of
 * silence every second, so the server works while it is scraped). Prints per transport and phase the median and
 * p95 time of the GETs in ms and the size of the response. Only time on the client side is measured: what a
 * Prometheus scrape would see, loopback included.
 *
 * Environment: EARSHOT_BENCH_SESSIONS (default 1000), EARSHOT_BENCH_GETS (default 50), EARSHOT_BENCH_TRANSPORTS
 * (default "uws,ws"), EARSHOT_BENCH_SILENCE (default off).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { decodeControl, encodeControl, FrameTag } from '../protocol/src/index.js'
import { defaults } from '../server/src/config/defaults.js'
import { fingerprint } from '../server/src/dsp/pipeline.js'
import { fingerprintDigest } from '../server/src/index/digest.js'
import { LmdbIndex } from '../server/src/index/lmdb-index.js'

const RATE = 44100
/** Tracks of the bench index, and their length in seconds. */
const TRACKS = 5
const TRACK_SECONDS = 30
/** GETs before the timed ones: JIT and connection warm-up. */
const WARMUP_GETS = 5
/** Clients connecting at once while the sessions are opened. */
const OPEN_BATCH = 100
/** With EARSHOT_BENCH_SILENCE: each session sends this much silence, in samples, every SILENCE_EVERY_MS. */
const SILENCE_SAMPLES = RATE / 10
const SILENCE_EVERY_MS = 1000
/** Longest wait for one session's ready, and for the server to start, in ms. */
const READY_TIMEOUT_MS = 20_000
const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'server', 'src', 'cli', 'main.js')

function quantile (xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}

/** Music-like audio: decaying harmonic notes at random pitches, from a seed. */
function synth (seconds: number, seed: number): Float32Array {
  const x = new Float32Array(seconds * RATE)
  let s = seed
  const rnd = (): number => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 }
  for (let n = 0; n < seconds * 6; n++) {
    const f = 110 * 2 ** (Math.floor(rnd() * 36) / 12)
    const start = Math.floor((n * RATE) / 6)
    for (let i = 0; i < RATE / 2 && start + i < x.length; i++) {
      const ph = (2 * Math.PI * f * (start + i)) / RATE
      x[start + i] += 0.2 * Math.exp((-i / RATE) * 4) * (Math.sin(ph) + 0.5 * Math.sin(2 * ph))
    }
  }
  return x
}

function buildIndex (dir: string): void {
  const index = LmdbIndex.open(dir, defaults.fingerprint)
  try {
    for (let t = 1; t <= TRACKS; t++) {
      const list = fingerprint(defaults.fingerprint, synth(TRACK_SECONDS, t * 7919), RATE)
      index.addTrack({ title: `synth ${t}`, artist: '', album: '', durationSeconds: TRACK_SECONDS, source: `synth-${t}.wav`, digest: fingerprintDigest(list) }, list)
    }
  } finally {
    index.close()
  }
}

async function startServer (db: string, config: string, transport: string, sessions: number): Promise<{ child: ChildProcess, port: number }> {
  const child = spawn(process.execPath, [cli, 'serve', '--db', db, '--port', '0', '--transport', transport, '--config', config,
    '--max-sessions', String(sessions + 100), '--idle-timeout', '600000', '--hello-timeout', String(READY_TIMEOUT_MS)],
  { stdio: ['ignore', 'ignore', 'pipe'] })
  const port = await new Promise<number>((resolve, reject) => {
    let err = ''
    const timer = setTimeout(() => reject(new Error(`server did not start within ${READY_TIMEOUT_MS} ms: ${err}`)), READY_TIMEOUT_MS)
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString()
      const m = /listening on ws:\/\/[^:]+:(\d+)/.exec(err)
      if (m) { clearTimeout(timer); resolve(Number(m[1])) }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code}: ${err}`)) })
  })
  return { child, port }
}

/** One session: connect, hello, wait for ready. */
async function openSession (url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false })
  await once(ws, 'open')
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS)
    ws.on('message', (data: Buffer) => {
      if (data[0] !== FrameTag.CONTROL) return
      const m = decodeControl(data) as { type: string, code?: string }
      if (m.type === 'ready') { clearTimeout(timer); resolve() } else if (m.type === 'error') { clearTimeout(timer); reject(new Error(m.code)) }
    })
    ws.once('close', () => { clearTimeout(timer); reject(new Error('closed before ready')) })
  })
  ws.send(encodeControl({ type: 'hello', v: 1, sampleRate: RATE, encoding: 's16le', channels: 1 }))
  await ready
  return ws
}

interface Timing { medianMs: number, p95Ms: number, bytes: number, activeSessions: number }

/** `gets` timed GETs of /metrics, one after another, after a warm-up. */
async function timeScrapes (base: string, gets: number): Promise<Timing> {
  const ms: number[] = []
  let body = ''
  for (let i = 0; i < WARMUP_GETS + gets; i++) {
    const t0 = performance.now()
    const res = await fetch(`${base}/metrics`)
    body = await res.text()
    const t1 = performance.now()
    if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`)
    if (i >= WARMUP_GETS) ms.push(t1 - t0)
  }
  let activeSessions = 0
  for (const m of body.matchAll(/^earshot_sessions_active\{[^}]*\} (\S+)$/gm)) activeSessions += Number(m[1])
  return { medianMs: quantile(ms, 0.5), p95Ms: quantile(ms, 0.95), bytes: Buffer.byteLength(body), activeSessions }
}

async function run (db: string, config: string, transport: string, sessions: number, gets: number, silence: boolean): Promise<Array<[string, Timing]>> {
  const { child, port } = await startServer(db, config, transport, sessions)
  const base = `http://127.0.0.1:${port}`
  const out: Array<[string, Timing]> = []
  const clients: WebSocket[] = []
  let timer: NodeJS.Timeout | undefined
  try {
    out.push(['no session', await timeScrapes(base, gets)])
    for (let done = 0; done < sessions; done += OPEN_BATCH) {
      const batch = Math.min(OPEN_BATCH, sessions - done)
      clients.push(...await Promise.all(Array.from({ length: batch }, () => openSession(`ws://127.0.0.1:${port}/v1/stream`))))
    }
    if (silence) {
      const frame = new Uint8Array(1 + SILENCE_SAMPLES * 2)
      frame[0] = FrameTag.AUDIO
      // Spread over the period: one timer tick sends to the sessions whose turn it is.
      let tick = 0
      const ticksPerPeriod = 20
      timer = setInterval(() => {
        for (let i = tick % ticksPerPeriod; i < clients.length; i += ticksPerPeriod) clients[i].send(frame)
        tick++
      }, SILENCE_EVERY_MS / ticksPerPeriod)
      await new Promise((resolve) => setTimeout(resolve, 2 * SILENCE_EVERY_MS))
    }
    out.push([`${sessions} sessions${silence ? ', streaming silence' : ''}`, await timeScrapes(base, gets)])
  } finally {
    clearInterval(timer)
    for (const c of clients) c.terminate()
    child.kill('SIGTERM')
    await once(child, 'exit')
  }
  return out
}

async function main (): Promise<void> {
  const sessions = Number(process.env.EARSHOT_BENCH_SESSIONS ?? 1000)
  const gets = Number(process.env.EARSHOT_BENCH_GETS ?? 50)
  const transports = (process.env.EARSHOT_BENCH_TRANSPORTS ?? 'uws,ws').split(',')
  const silence = process.env.EARSHOT_BENCH_SILENCE === '1'
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'earshot-metrics-bench-'))
  try {
    const db = path.join(dir, 'db')
    buildIndex(db)
    const config = path.join(dir, 'config.json')
    // Every session comes from loopback: lift the per-address limit on stream opens for the bench.
    fs.writeFileSync(config, JSON.stringify({ access: { streamOpensPerMinute: sessions * 10 }, stream: { maxConnectionsPerAddress: sessions + 10 } }))
    console.log(`${new Date().toISOString().slice(0, 10)}: GET /metrics x ${gets} (after ${WARMUP_GETS} warm-up), ${TRACKS} tracks indexed, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? ''})`)
    console.log('')
    console.log('| transport | sessions open | median | p95 | response size | sessions_active |')
    console.log('|---|---|---:|---:|---:|---:|')
    for (const t of transports) {
      for (const [phase, r] of await run(db, config, t, sessions, gets, silence)) {
        console.log(`| ${t} | ${phase} | ${r.medianMs.toFixed(2)} ms | ${r.p95Ms.toFixed(2)} ms | ${(r.bytes / 1024).toFixed(1)} KiB (${r.bytes} B) | ${r.activeSessions} |`)
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => { console.error(err); process.exitCode = 1 })
