/**
 * A monitor of a file on a plain web server (a response with a Content-Length): the file is heard at real-time pace,
 * each song is filed once with its real length, and the monitor ends 'finished' instead of reconnecting and filing
 * the same songs again, then or after a restart. Both ways a file is read: WAV passed through, and a compressed
 * file piped into ffmpeg.
 */
import t, { type Test } from 'tap'
import http from 'node:http'
import type net from 'node:net'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { once } from 'node:events'
import { buildCatalog } from '../helpers/catalog.js'
import { clip, song, wavBytes, writeWav } from '../helpers/signals.js'
import { allowLoopback, pollUntil, startServer, testSettings } from '../helpers/stream-helpers.js'
import type { MonitorInfo } from '../../server/src/monitor/monitors.js'
import type { Play } from '../../server/src/playlog/play-log.js'

const RATE = 22050
/** The file: 9 s of song 3 from 2 s in. */
const SECONDS = 9

/** Serve `bytes` as a plain file (with its Content-Length) and count the requests; closed in teardown. */
async function fileServer (t: Test, bytes: Uint8Array, type: string, name: string): Promise<{ url: string, requests: () => number }> {
  let requests = 0
  const server = http.createServer((_req, res) => {
    requests++
    res.writeHead(200, { 'content-type': type, 'content-length': bytes.length })
    res.end(bytes)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/${name}`, requests: () => requests }
}

const encoders = [
  { name: 'a WAV file (passed through)', file: 'song.wav', type: 'audio/wav', encode: (pcm: Float32Array): Uint8Array => wavBytes(pcm, RATE) },
  {
    name: 'a FLAC file (decoded by ffmpeg)',
    file: 'song.flac',
    type: 'audio/flac',
    encode: (pcm: Float32Array, dir: string): Uint8Array => {
      writeWav(path.join(dir, 'in.wav'), pcm, RATE)
      const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', path.join(dir, 'in.wav'), path.join(dir, 'out.flac')])
      if (r.status !== 0) throw new Error(`ffmpeg: ${r.stderr.toString()}`)
      return fs.readFileSync(path.join(dir, 'out.flac'))
    },
  },
]

// The two cases mostly wait for the file to play out at real-time pace: they run side by side, each with its own
// folder, file server and earshot server.
t.jobs = 2

for (const e of encoders) {
  t.test(`${e.name}: heard at real-time pace, filed once with its real length, then finished`, async (t) => {
    const dir = t.testdir()
    const { index } = buildCatalog(path.join(dir, 'db'), [3], 20, RATE)
    t.teardown(() => index.close())
    const source = await fileServer(t, e.encode(clip(song(3, 20, RATE), RATE, 2, SECONDS), dir), e.type, e.file)
    const settings = allowLoopback(testSettings({ idleTimeoutMs: 60_000 }))
    // Quick reconnects: a monitor that took the file's end for a drop would be back within 200 ms to file it again.
    settings.monitors = { ...settings.monitors, initialBackoffMs: 100, maxBackoffMs: 200 }
    const { server, http: base } = await startServer(t, 'ws', index, settings)

    const started = Date.now()
    const created = await fetch(`${base}/v1/monitors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: source.url, label: 'a file' }) })
    t.equal(created.status, 201)
    const { id } = await created.json() as MonitorInfo
    const info = async (): Promise<MonitorInfo> => await (await fetch(`${base}/v1/monitors/${id}`)).json() as MonitorInfo
    const done = await pollUntil(info, (m) => m.state === 'finished', 30_000, 'the monitor to finish')
    const took = (Date.now() - started) / 1000
    t.ok(took >= SECONDS - 1, `the ${SECONDS} s file took ${took.toFixed(1)} s to hear (real-time pace)`)
    t.equal(done.reconnects, 0, 'no reconnect')
    t.ok(Math.abs(done.streamSeconds - SECONDS) < 0.5, `all ${done.streamSeconds} s of it heard`)
    t.equal(done.lastError, null, 'the end of a file is not an error')
    t.equal(typeof done.finishedAt, 'string', 'finishedAt is set')

    // Time for a wrong reconnect to happen and file the song again.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    t.equal(source.requests(), 1, 'the file was fetched once')
    const { plays } = await (await fetch(`${base}/v1/plays?monitor=${id}`)).json() as { plays: Play[] }
    t.equal(plays.length, 1, 'one play')
    const [p] = plays
    t.equal(p.open, false, 'closed at the end of the file')
    const streamLength = (p.endStreamSeconds ?? 0) - p.startStreamSeconds
    const wallLength = (Date.parse(p.endedAt ?? '') - Date.parse(p.startedAt)) / 1000
    t.ok(streamLength > SECONDS - 3, `the play spans ${streamLength.toFixed(1)} s of stream (the file is ${SECONDS} s)`)
    t.ok(wallLength > SECONDS - 3, `and ${wallLength.toFixed(1)} s of wall clock, not a fraction of a second`)
    t.equal((await info()).state, 'finished', 'still finished')

    // A restart does not hear the file again.
    await server.close()
    const again = await startServer(t, 'ws', index, settings)
    const resumed = await (await fetch(`${again.http}/v1/monitors/${id}`)).json() as MonitorInfo
    t.same([resumed.state, resumed.finishedAt], ['finished', done.finishedAt], 'finished after a restart')
    await new Promise((resolve) => setTimeout(resolve, 500))
    t.equal(source.requests(), 1, 'and not fetched again')
  })
}
