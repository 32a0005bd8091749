/**
 * `earshot monitor` and `earshot plays` as a user runs them, against a real server on loopback: output, paging,
 * CSV, tokens, and every failure as one line with a stable code.
 */
import t from 'tap'
import path from 'node:path'
import { earshotInProcess } from '../helpers/cli-in-process.js'
import { buildCatalog } from '../helpers/catalog.js'
import { allowLoopback, freePort, startServer, testSettings } from '../helpers/stream-helpers.js'
import type { Play } from '../../server/src/playlog/play-log.js'
import type { MonitorInfo } from '../../server/src/monitor/monitors.js'
import { findMonitor } from '../../server/src/cli/remote.js'
import { addNoise, clip, song, writeWav } from '../helpers/signals.js'

const ADMIN = 'admin-token-0123456789'
const CLIENT = 'client-token-0123456789'

t.test('monitor and plays over the HTTP API', async (t) => {
  const dir = t.testdir()
  const { index } = buildCatalog(path.join(dir, 'db'), [3], 10)
  t.teardown(() => index.close())
  const settings = allowLoopback(testSettings())
  settings.access = { ...settings.access, adminTokens: [ADMIN], clientTokens: [CLIENT] }
  const { server, http } = await startServer(t, 'ws', index, settings)
  // A day of plays on two streams, written through the play log itself; played 2.1 % fast, 1.8 % slow, or at a speed
  // too near 1 to mention.
  const log = server.services.plays
  const day = Date.parse('2026-11-20T00:00:00Z')
  const speeds = [1.021, 0.982, 1.002]
  for (let i = 0; i < 25; i++) {
    const startedAt = new Date(day + i * 600_000).toISOString()
    const p = log.open({ stream: i % 2 ? 'radio-b' : 'radio-a', kind: 'monitor', trackId: 1, title: 'song 3, "live"', artist: 'x', album: '', startedAt, startStreamSeconds: i * 600, startOffsetSeconds: 0, peakConfidence: 0.9, speed: speeds[i % 3], ...(i === 23 ? { isrc: 'USRC17607839', labels: { genre: 'jazz' } } : {}) })
    log.close(p.id, { endedAt: new Date(day + i * 600_000 + 180_000).toISOString(), endStreamSeconds: i * 600 + 180, endOffsetSeconds: 180 })
  }
  await log.flushed()
  // The command line in this process (as the program runs it), against the server in this process too.
  const run = (args: string[], token: string | null = CLIENT) =>
    earshotInProcess(dir, [...args, '--server', http], token ? { EARSHOT_TOKEN: token } : {})

  const json = await run(['plays', '--json'])
  t.equal(json.code, 0, json.stderr)
  const plays = (JSON.parse(json.stdout) as { plays: Play[] }).plays
  t.equal(plays.length, 25, 'every play, across pages')
  t.equal(new Set(plays.map((p) => p.id)).size, 25, 'no play twice')
  t.same(plays.slice(0, 3).map((p) => p.speed), [1.021, 1.002, 0.982], 'each with its speed (newest first: plays 24, 23, 22)')

  const limited = await run(['plays', '--json', '--monitor', 'radio-a', '--limit', '5'])
  t.same((JSON.parse(limited.stdout) as { plays: Play[] }).plays.map((p) => p.stream), Array(5).fill('radio-a'), '--monitor and --limit')

  const csv = await run(['plays', '--csv', '--monitor', 'radio-b'])
  t.equal(csv.code, 0, csv.stderr)
  const lines = csv.stdout.trimEnd().split(/\r?\n/)
  t.equal(lines.length, 13, 'one header and 12 rows')
  t.match(lines[0], /^id,stream,/)
  t.match(lines[1], /"song 3, ""live"""/, 'commas and quotes in titles are quoted')
  t.match(lines[0], /,open,speed,isrc,externalId,labels,label,durationSeconds$/, 'the server\'s columns, the track\'s metadata last of them, then the station\'s label and the play\'s length')
  t.match(lines[1], /,false,1\.002,USRC17607839,,"\{""genre"":""jazz""\}",,180$/, 'play 23 (the newest of radio-b): 1.002; its ISRC and labels (one JSON object); no label (a client stream); 180 s')

  const human = await run(['plays', '--from', '2026-11-20T03:00:00Z', '--to', '2026-11-20T03:30:00Z'])
  t.equal(human.stdout.trim().split('\n').length, 3, '--from and --to bound the range (3 plays in 30 min)')
  t.same(human.stdout.trim().split('\n').map((l) => l.replace(/^.*\(/, '(')), ['(0.9)', '(0.9, 1.8 % slow)', '(0.9, 2.1 % fast)'],
    'the speed is told when 0.5 % or more away from 1 (plays 20, 19, 18)')
  t.match(human.stdout.split('\n')[0], /^2026-11-20T03:20:00\.000Z → 2026-11-20T03:23:00\.000Z  radio-a  song 3, "live" — x  3:00  \(/,
    'a play: its times, its station, its track and its length')

  const daily = await run(['plays', '--daily', '--json', '--from', '2026-11-19T00:00:00Z', '--to', '2026-11-21T00:00:00Z'])
  t.equal(daily.code, 0, daily.stderr)
  const days = (JSON.parse(daily.stdout) as { days: Array<{ day: string, plays: number, seconds: number }> }).days
  t.same(days.map((d) => [d.day, d.plays, d.seconds]), [['2026-11-20', 25, 25 * 180]], '--daily: 25 plays of 180 s on one day')

  const none = await run(['monitor', 'list'])
  t.equal(none.stdout.trim(), 'no monitors')

  // Writes need the admin token.
  const denied = await run(['monitor', 'add', 'http://127.0.0.1:9/x.wav'])
  t.equal(denied.code, 1)
  t.match(denied.stderr, /^earshot: EAR_ERR_API: The server answered 403 EAR_ERR_FORBIDDEN/)
  const badUrl = await run(['monitor', 'add', 'ftp://example/x'], ADMIN)
  t.match(badUrl.stderr, /EAR_ERR_API: The server answered 400 EAR_ERR_BAD_REQUEST/)
  const added = await run(['monitor', 'add', 'http://127.0.0.1:9/x.wav', '--label', 'nowhere FM', '--json'], ADMIN)
  t.equal(added.code, 0, added.stderr)
  const id = (JSON.parse(added.stdout) as { id: string }).id
  t.match((await run(['monitor', 'list'])).stdout, new RegExp(`${id}  nowhere FM  http://127.0.0.1:9/x.wav`))

  // Plays of a monitor are told with its label, and --monitor takes the label or the start of the id.
  const mp = log.open({ stream: id, kind: 'monitor', trackId: 1, title: 'song 3', artist: '', album: '', startedAt: '2026-11-21T10:00:00.000Z', startStreamSeconds: 10, startOffsetSeconds: 0, peakConfidence: 0.8, speed: 1 })
  log.close(mp.id, { endedAt: '2026-11-21T10:02:05.000Z', endStreamSeconds: 135.4, endOffsetSeconds: 125.4 })
  await log.flushed()
  for (const given of ['nowhere fm', id.slice(0, 8)]) {
    const byLabel = await run(['plays', '--monitor', given])
    t.equal(byLabel.code, 0, byLabel.stderr)
    t.equal(byLabel.stdout, '2026-11-21T10:00:00.000Z → 2026-11-21T10:02:05.000Z  nowhere FM  song 3  2:05  (0.8)\n', `--monitor '${given}': the monitor's play, with its label and length`)
  }
  const monitorCsv = (await run(['plays', '--csv', '--monitor', 'nowhere FM'])).stdout.trimEnd().split('\r\n')
  t.equal(monitorCsv.length, 2)
  t.match(monitorCsv[1], new RegExp(`^${mp.id},${id},monitor,.*,nowhere FM,125\\.4$`), 'CSV: the label and the length (135.4 - 10 s)')

  // monitor rm by label or by the start of the id; a label two monitors share, or nothing known, is a usage error.
  const twins = []
  for (const url of ['http://127.0.0.1:9/a.wav', 'http://127.0.0.1:9/b.wav']) {
    const r = await run(['monitor', 'add', url, '--label', 'Twin', '--json'], ADMIN)
    t.equal(r.code, 0, r.stderr)
    twins.push((JSON.parse(r.stdout) as { id: string }).id)
  }
  const ambiguous = await run(['monitor', 'rm', 'twin'], ADMIN)
  t.equal(ambiguous.code, 2)
  t.match(ambiguous.stderr, /^earshot: EAR_ERR_USAGE: .*'twin' could be any of 2 monitors: /)
  for (const twin of twins) t.match(ambiguous.stderr, `${twin} (Twin)`, 'the candidates are named')
  const unknown = await run(['monitor', 'rm', 'radio nowhere'], ADMIN)
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /^earshot: EAR_ERR_USAGE: .*no monitor is 'radio nowhere' .*: the server has /)
  t.match(unknown.stderr, `${id} (nowhere FM)`, 'the monitors there are are named')
  const byLabel = await run(['monitor', 'rm', 'NOWHERE FM'], ADMIN)
  t.equal(byLabel.code, 0, byLabel.stderr)
  t.equal(byLabel.stdout, `removed monitor ${id} (nowhere FM)\n`)
  t.match((await run(['monitor', 'rm', id], ADMIN)).stderr, /EAR_ERR_USAGE: .*no monitor is '/, 'gone')
  t.equal((await run(['monitor', 'rm', twins[0].slice(0, 6)], ADMIN)).code, 0, 'by the start of its id')
  t.equal((await run(['monitor', 'rm', twins[1], '--json'], ADMIN)).stdout, `{"removed":"${twins[1]}"}\n`)
  const afterRemoval = await run(['plays', '--monitor', id])
  t.match(afterRemoval.stdout, / {2}song 3 {2}2:05 {2}\(0\.8\)\n$/, 'the plays of a removed monitor are still found by its id')

  // One address for every command: EARSHOT_SERVER, and ws:// or http://, with or without the stream path.
  const wsAddress = http.replace(/^http/, 'ws')
  for (const address of [wsAddress, `${wsAddress}/v1/stream`, `${http}/`]) {
    const viaEnv = await earshotInProcess(dir, ['monitor', 'list'], { EARSHOT_TOKEN: CLIENT, EARSHOT_SERVER: address })
    t.equal(viaEnv.code, 0, `EARSHOT_SERVER=${address}: ${viaEnv.stderr}`)
    t.equal(viaEnv.stdout, 'no monitors\n')
  }
  const badAddress = await earshotInProcess(dir, ['plays'], { EARSHOT_SERVER: 'ftp://example' })
  t.equal(badAddress.code, 2)
  t.match(badAddress.stderr, /^earshot: EAR_ERR_USAGE: .*EARSHOT_SERVER must be an address like http:\/\/host:8080 or ws:\/\/host:8080, got 'ftp:\/\/example'/)

  // identify --server: the clip goes to the server's POST /v1/identify, with the same output as against the index.
  writeWav(path.join(dir, 'clip.wav'), addNoise(clip(song(3, 10, 44100), 44100, 2, 5), 10, 1), 44100)
  const remote = await run(['identify', 'clip.wav'])
  t.equal(remote.code, 0, remote.stderr)
  t.match(remote.stdout, /^#1 song 3 at 2\.0 s, confidence 0\.\d\d\n$/, 'the server\'s catalog answered')
  const remoteJson = await run(['identify', 'clip.wav', '--json'])
  const answer = JSON.parse(remoteJson.stdout) as { matches: Array<Record<string, unknown>>, queryDurationMs: number }
  t.same(Object.keys(answer).sort(), ['matches', 'processingTimeMs', 'queryDurationMs'], '--json: the same document as a local identify')
  t.equal(answer.queryDurationMs, 5000)
  t.same(Object.keys(answer.matches[0]).sort(), ['album', 'artist', 'confidence', 'id', 'offsetSeconds', 'source', 'speed', 'title'])
  const strict = await run(['identify', 'clip.wav', '--json', '--min-confidence', '1'])
  t.same((JSON.parse(strict.stdout) as { matches: unknown[] }).matches, [], '--min-confidence filters the server\'s answer')
  const noSuchClip = await run(['identify', 'no-such.wav'])
  t.equal(noSuchClip.code, 1)
  t.match(noSuchClip.stderr, /^earshot: EAR_ERR_FILE_NOT_FOUND: /)
  const remoteDenied = await run(['identify', 'clip.wav'], null)
  t.equal(remoteDenied.code, 1)
  t.match(remoteDenied.stderr, /401 EAR_ERR_UNAUTHORIZED/)

  const noToken = await run(['plays'], null)
  t.match(noToken.stderr, /401 EAR_ERR_UNAUTHORIZED/)
  t.notMatch(noToken.stderr, /\n\s+at /, 'no stack trace')
  const usage = await run(['monitor', 'frobnicate'])
  t.equal(usage.code, 2)
  t.match(usage.stderr, /EAR_ERR_USAGE/)
  const down = await earshotInProcess(dir, ['plays', '--server', `http://127.0.0.1:${await freePort()}`])
  t.equal(down.code, 1)
  t.match(down.stderr, /^earshot: EAR_ERR_CONNECT: Cannot reach the server at http:\/\/127\.0\.0\.1:\d+/)
})

t.test('a monitor is found by its id, its label or a unique start of its id', async (t) => {
  const m = (id: string, label: string): MonitorInfo => ({ id, label, url: `http://x/${id}`, createdAt: '', state: 'listening', since: '', reconnects: 0, lastError: null, streamSeconds: 0, unmatchedSeconds: 0, current: null })
  const all = [m('ab12', 'Radio One'), m('ab34', 'ab12x'), m('cd56', ''), m('ef78', 'twin'), m('ef99', 'Twin')]
  t.equal(findMonitor(all, 'ab12')?.id, 'ab12', 'the id')
  t.equal(findMonitor(all, 'radio one')?.id, 'ab12', 'the label, in any case')
  t.equal(findMonitor(all, 'ab12x')?.id, 'ab34', 'a label before an id prefix')
  t.equal(findMonitor(all, 'cd')?.id, 'cd56', 'a unique start of an id')
  t.equal(findMonitor(all, 'zz'), undefined, 'nothing')
  t.equal(findMonitor(all, ''), undefined, 'an empty name is nothing (not every id)')
  t.throws(() => findMonitor(all, 'ab'), /'ab' could be any of 2 monitors: ab12 \(Radio One\), ab34 \(ab12x\); give more of the id/, 'a start two ids share')
  t.throws(() => findMonitor(all, 'TWIN'), /could be any of 2 monitors: ef78 \(twin\), ef99 \(Twin\)/, 'a label two monitors share')
})
