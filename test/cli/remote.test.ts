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
    const p = log.open({ stream: i % 2 ? 'radio-b' : 'radio-a', kind: 'monitor', trackId: 1, title: 'song 3, "live"', artist: 'x', album: '', startedAt, startStreamSeconds: i * 600, startOffsetSeconds: 0, peakConfidence: 0.9, speed: speeds[i % 3] })
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
  t.match(lines[0], /,open,speed$/, 'speed is the last column')
  t.match(lines[1], /,false,1\.002$/, 'play 23 (the newest of radio-b): 1.002')

  const human = await run(['plays', '--from', '2026-11-20T03:00:00Z', '--to', '2026-11-20T03:30:00Z'])
  t.equal(human.stdout.trim().split('\n').length, 3, '--from and --to bound the range (3 plays in 30 min)')
  t.same(human.stdout.trim().split('\n').map((l) => l.replace(/^.*\(/, '(')), ['(0.9)', '(0.9, 1.8 % slow)', '(0.9, 2.1 % fast)'],
    'the speed is told when 0.5 % or more away from 1 (plays 20, 19, 18)')

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
  t.equal((await run(['monitor', 'rm', id], ADMIN)).code, 0)
  t.match((await run(['monitor', 'rm', id], ADMIN)).stderr, /404 EAR_ERR_MONITOR_NOT_FOUND/)

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
