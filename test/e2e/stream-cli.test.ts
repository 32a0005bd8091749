import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { pathToFileURL } from 'node:url'
import { addNoise, clip, song, writeWav } from '../helpers/signals.js'
import { freePort, httpGet, within } from '../helpers/stream-helpers.js'
import { childEnv, runEarshot, EARSHOT_MAIN as MAIN, type Run, spawnNode } from '../helpers/child-env.js'

// End to end: `earshot index`, `earshot serve` and `earshot stream` as real child processes on generated WAV files.
const dir = t.testdir()
const haveFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0


function earshot (args: string[]): Promise<Run> {
  return runEarshot(dir, args, childEnv({}, ['EARSHOT_DB', 'EARSHOT_DEBUG']))
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '')

// Five 35 s songs in a folder, and a noisy 8 s clip of song 3 from 12 s, at 48 kHz stereo (the catalog is 44.1 kHz mono).
const CLIP_START = 12
fs.mkdirSync(path.join(dir, 'music'))
for (const seed of [1, 2, 3, 4, 5]) writeWav(path.join(dir, 'music', `song-${seed}.wav`), song(seed, 35, 44100), 44100)
writeWav(path.join(dir, 'clip.wav'), addNoise(clip(song(3, 35, 48000), 48000, CLIP_START, 8), 10, 3), 48000, 2)

let server: ChildProcess | undefined
let port = 0
let serverStderr = ''
t.teardown(() => { if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL') })

t.test('earshot index builds the index', async (t) => {
  const r = await earshot(['index', 'music', '--db', 'db'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^indexed 5, already present 0, skipped 0;/)
})

t.test('earshot serve --port 0 listens and says where', async (t) => {
  const child = spawnNode([MAIN, 'serve', '--db', 'db', '--port', '0'], { cwd: dir, env: childEnv({}, ['EARSHOT_DB', 'EARSHOT_DEBUG']), stdio: ['ignore', 'pipe', 'pipe'] })
  server = child
  child.stdout!.resume()
  const listening = new Promise<number>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      serverStderr += s
      const m = /^earshot listening on ws:\/\/127\.0\.0\.1:(\d+)\/v1\/stream /m.exec(serverStderr)
      if (m) resolve(Number(m[1]))
    })
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${serverStderr}`)))
  })
  port = await within(listening, 15_000, 'the listening line')
  t.ok(port > 0, `port ${port}`)
  t.match(serverStderr, /\(uws, index db, 5 tracks\)/)
  const health = await httpGet(`http://127.0.0.1:${port}/health`)
  t.equal(health.status, 200)
  t.match(JSON.parse(health.body), { status: 'ok', transport: 'uws', index: { tracks: 5 } })
})

t.test('earshot stream --json: one JSON object a line, a confirmed match with the right title, exit 0', async (t) => {
  const r = await earshot(['stream', 'clip.wav', '--json', '--server', `ws://127.0.0.1:${port}/v1/stream`])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stderr, '', 'nothing on stderr')
  const out = lines(r.stdout)
  t.ok(out.length > 0, 'events printed')
  const events: Array<Record<string, unknown>> = []
  for (const line of out) {
    let event: unknown
    t.doesNotThrow(() => { event = JSON.parse(line) }, `JSON: ${line.slice(0, 80)}`)
    t.ok(event !== null && typeof event === 'object' && !Array.isArray(event), 'an object')
    events.push(event as Record<string, unknown>)
  }
  t.ok(events.every((e) => e.input === 'clip.wav'), 'every event names its input')
  const confirmed = events.filter((e) => e.type === 'match' && e.state === 'confirmed')
  t.ok(confirmed.length > 0, 'a confirmed match')
  t.ok(confirmed.every((e) => e.title === 'song-3' && e.source === 'music/song-3.wav'), 'of song-3')
  t.ok(events.filter((e) => e.type === 'match').every((e) => typeof e.speed === 'number' && Math.abs(e.speed - 1) < 0.005), 'every match carries its speed (normal here)')
  const last = confirmed.at(-1) as { offsetSeconds: number, streamSeconds: number } | undefined
  t.ok(last && Math.abs(last.offsetSeconds - last.streamSeconds - CLIP_START) <= 0.5, `offset ${last?.offsetSeconds} at ${last?.streamSeconds} s`)
  t.match(events.at(-1), { type: 'match-end', id: confirmed[0]?.id }, 'the stream ends with the match ending')
})

t.test('earshot stream takes the server\'s address as ws:// or http://, without the stream path; text lines name the track, also at its end', async (t) => {
  for (const server of [`ws://127.0.0.1:${port}`, `http://127.0.0.1:${port}/`]) {
    const r = await earshot(['stream', 'clip.wav', '--server', server])
    t.equal(r.code, 0, `${server}: ${r.stderr}`)
    const out = lines(r.stdout)
    t.match(out.at(-1), /^end of stream after 8\.0 s$/, `${server}: streamed to the end`)
    t.ok(out.some((l) => /^\[\d+\.\d s\] confirmed #\d+ song-3 at /.test(l)), `${server}: song-3 confirmed`)
    const ended = out.filter((l) => / ended /.test(l))
    t.ok(ended.length > 0 && ended.every((l) => /^\[\d+\.\d s\] ended #\d+ song-3 \(played from [\d.]+ s to [\d.]+ s\)$/.test(l)), `${server}: the end names the track (${ended.join(' | ')})`)
    // Lines come in the order of their times: an end is never told before a line already printed.
    const times = out.slice(0, -1).map((l) => Number(/^\[(\d+\.\d) s\]/.exec(l)?.[1]))
    t.same(times, [...times].sort((a, b) => a - b), `${server}: times never go back`)
  }
  const viaEnv = await runEarshot(dir, ['stream', 'clip.wav', '--json'], childEnv({ EARSHOT_SERVER: `http://127.0.0.1:${port}` }, ['EARSHOT_DB', 'EARSHOT_DEBUG']))
  t.equal(viaEnv.code, 0, viaEnv.stderr)
  t.ok(lines(viaEnv.stdout).some((l) => (JSON.parse(l) as { state?: string }).state === 'confirmed'), 'EARSHOT_SERVER names the server for earshot stream too')
})

t.test('earshot stream of a URL decodes it with ffmpeg; an unreadable one is EAR_ERR_SOURCE with ffmpeg\'s reason', { skip: !haveFfmpeg && 'ffmpeg is not installed' }, async (t) => {
  const url = pathToFileURL(path.join(dir, 'clip.wav')).href
  const r = await earshot(['stream', url, '--json', '--server', `ws://127.0.0.1:${port}/v1/stream`])
  t.equal(r.code, 0, r.stderr)
  const events = lines(r.stdout).map((l) => JSON.parse(l) as Record<string, unknown>)
  t.ok(events.every((e) => e.input === url), 'every event names the URL')
  t.ok(events.some((e) => e.type === 'match' && e.state === 'confirmed' && e.title === 'song-3'), 'a confirmed match of song-3')

  const missing = pathToFileURL(path.join(dir, 'no-such-file.wav')).href
  const failed = await earshot(['stream', missing, '--json', '--server', `ws://127.0.0.1:${port}/v1/stream`])
  t.equal(failed.code, 1)
  t.match(failed.stderr, /^earshot: EAR_ERR_SOURCE: .*ffmpeg exited with 1: .*no-such-file\.wav/)
})

t.test('earshot stream to a closed port: exit 1 and EAR_ERR_CONNECT', async (t) => {
  const closed = await freePort()
  const r = await earshot(['stream', 'clip.wav', '--json', '--server', `ws://127.0.0.1:${closed}/v1/stream`])
  t.equal(r.code, 1)
  t.equal(lines(r.stderr).length, 1, 'one line on stderr')
  t.match(r.stderr, /^earshot: EAR_ERR_CONNECT: /)
  t.notMatch(r.stderr, '    at ', 'no stack trace')
  t.equal(r.stdout, '', 'nothing on stdout')
})

t.test('SIGTERM stops the server with exit 0', async (t) => {
  const child = server!
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  t.ok(child.kill('SIGTERM'))
  const [code, signal] = await within(exited, 10_000, 'the server to exit')
  t.equal(code, 0, 'exit code 0')
  t.equal(signal, null, 'not killed by the signal')
  // The listening line, then the structured log (JSON off a terminal): info lines only, the shutdown among them.
  const [first, ...log] = lines(serverStderr)
  t.match(first, /^earshot listening on /, 'the listening line first')
  const entries = log.map((l) => JSON.parse(l) as { level: number, msg: string })
  t.same(entries.filter((e) => e.level > 30), [], `no warning or error in the log (${serverStderr.trim()})`)
  t.ok(entries.some((e) => e.msg === 'shutting down') && entries.some((e) => e.msg === 'closed'), 'the shutdown is logged, and its end')
})
