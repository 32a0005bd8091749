/**
 * SIGTERM stops `earshot serve` within 10 s whatever runs (issue 10, finding 3): a real child server, given an index
 * job on a FIFO (which used to stay `running` forever, holding every later job `queued` and the process alive) and a
 * long job on a folder, exits promptly and cleanly, cancelling the running job. And when closing itself hangs (a
 * WebSocket peer that never answers the closing handshake), the shutdown deadline ends the process. The time to exit
 * is measured.
 */
import t from 'tap'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import type { TransportName } from '../../server/src/transport/types.js'
import { song, writeWav } from '../helpers/signals.js'
import { pollUntil, TRANSPORTS, within } from '../helpers/stream-helpers.js'
import { startServeChild } from '../helpers/serve-child.js'

/** The process must be gone this long after SIGTERM, in ms (docker stop and Kubernetes wait 10 s, then SIGKILL). */
const EXIT_WITHIN_MS = 10_000

const dir = t.testdir()
const fifo = path.join(dir, 'pipe.wav')
spawnSync('mkfifo', [fifo])
fs.mkdirSync(path.join(dir, 'big'))
writeWav(path.join(dir, 'big', 'minute-0.wav'), song(4, 60, 44100), 44100)
for (let i = 1; i < 24; i++) fs.linkSync(path.join(dir, 'big', 'minute-0.wav'), path.join(dir, 'big', `minute-${i}.wav`))

async function postJob (http: string, p: string): Promise<string> {
  const r = await fetch(`${http}/v1/index-jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: p }) })
  if (r.status !== 202) throw new Error(`POST /v1/index-jobs answered ${r.status}: ${await r.text()}`)
  return (await r.json() as { id: string }).id
}

const jobState = (http: string, id: string): Promise<{ state: string, error: string | null, skipped: Array<{ reason: string }> }> =>
  fetch(`${http}/v1/index-jobs/${id}`).then((r) => r.json() as Promise<{ state: string, error: string | null, skipped: Array<{ reason: string }> }>)

/** A job on a FIFO, then SIGTERM during a running job. */
function jobCase (transport: TransportName): void {
  t.test(`earshot serve over ${transport}: a job on a FIFO does not hang, and SIGTERM during a running job exits within ${EXIT_WITHIN_MS / 1000} s`, async (t) => {
    const serve = await startServeChild(t, path.join(dir, `db-${transport}`), transport)
    const onFifo = await postJob(serve.http, fifo)
    const long = await postJob(serve.http, path.join(dir, 'big'))
    const fifoJob = await pollUntil(() => jobState(serve.http, onFifo), (j) => j.state !== 'queued' && j.state !== 'running', 10_000, 'the FIFO job to end')
    t.match(fifoJob, { state: 'failed', error: /^EAR_ERR_FILE_NOT_REGULAR/ }, 'the job on the FIFO ends, failed: it had nothing it could index')
    t.match(fifoJob.skipped[0]?.reason, /^EAR_ERR_FILE_NOT_REGULAR: .*a FIFO/, 'the FIFO is refused with its code')
    await pollUntil(() => jobState(serve.http, long), (j) => j.state === 'running', 10_000, 'the next job to run')

    const started = performance.now()
    serve.child.kill('SIGTERM')
    const code = await within(serve.exited, EXIT_WITHIN_MS + 5_000, 'earshot serve to exit after SIGTERM')
    const ms = performance.now() - started
    t.comment(`earshot serve (${transport}) exited ${Math.round(ms)} ms after SIGTERM, a job running`)
    t.ok(ms < EXIT_WITHIN_MS, `exited within ${EXIT_WITHIN_MS / 1000} s (${Math.round(ms)} ms)`)
    t.equal(code, 0, 'a clean exit: the shutdown finished before the deadline')
    t.match(serve.stderr(), /"msg":"shutting down"/, 'the shutdown is logged')
    t.match(serve.stderr(), /"state":"cancelled".*"msg":"index job cancelled"/, 'the running job is cancelled and logged')
  })
}

/** A WebSocket client that completes the upgrade, then reads nothing and never answers a close frame. */
async function silentPeer (http: string): Promise<net.Socket> {
  const { hostname, port } = new URL(http)
  const socket = net.connect(Number(port), hostname)
  socket.write('GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  const head = await new Promise<string>((resolve, reject) => { socket.once('data', (d: Buffer) => resolve(d.toString('latin1'))); socket.once('error', reject) })
  socket.pause()
  if (!head.startsWith('HTTP/1.1 101')) throw new Error(`no upgrade: ${head.slice(0, 80)}`)
  return socket
}

/** SIGTERM with a WebSocket peer that never answers the closing handshake. */
function peerCase (transport: TransportName): void {
  t.test(`earshot serve over ${transport}: a peer that never finishes closing does not hold the process past ${EXIT_WITHIN_MS / 1000} s`, async (t) => {
    const serve = await startServeChild(t, path.join(dir, `db-peer-${transport}`), transport)
    const peer = await silentPeer(serve.http)
    t.teardown(() => peer.destroy())
    const started = performance.now()
    serve.child.kill('SIGTERM')
    const code = await within(serve.exited, EXIT_WITHIN_MS + 5_000, 'earshot serve to exit after SIGTERM')
    const ms = performance.now() - started
    t.ok(ms < EXIT_WITHIN_MS, `exited within ${EXIT_WITHIN_MS / 1000} s (${Math.round(ms)} ms)`)
    // Either the transport closed the peer itself (exit 0), or the deadline ended the wait (exit 1, logged).
    const deadline = /"msg":"shutdown deadline passed with work still running; exiting anyway"/.test(serve.stderr())
    t.comment(`earshot serve (${transport}) exited ${Math.round(ms)} ms after SIGTERM with ${code}: ${deadline ? 'the deadline ended the shutdown' : 'the shutdown finished'}`)
    if (deadline) t.equal(code, 1, 'the deadline exits with 1')
    else t.ok(code === 0 && /"msg":"closed"/.test(serve.stderr()), 'or a clean close, exit 0')
  })
}

// Two servers at a time, each in a folder of its own: a case that indexes beside one that mostly waits for the
// shutdown deadline.
t.jobs = 2
for (const transport of TRANSPORTS) {
  jobCase(transport)
  peerCase(transport)
}
