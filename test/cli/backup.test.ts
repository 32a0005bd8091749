/**
 * `earshot backup` while a server runs, as a user would: the copy serves as it is (`earshot serve --db <copy>`),
 * with the index's tracks and the server state's monitors; a folder that is not empty is refused and left alone.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { buildCatalog } from '../helpers/catalog.js'
import { childEnv, runEarshot, startServe } from '../helpers/child-env.js'
import type { MonitorInfo } from '../../server/src/monitor/monitors.js'

t.test('a backup taken while serving serves as it is', async (t) => {
  const dir = t.testdir()
  const db = path.join(dir, 'db')
  buildCatalog(db, [2, 6], 12, 22050).index.close()
  const config = path.join(dir, 'earshot.json')
  fs.writeFileSync(config, JSON.stringify({ network: { allowedAddresses: ['127.0.0.0/8'] }, monitors: { initialBackoffMs: 5000, maxBackoffMs: 60_000 } }))
  const env = childEnv({ EARSHOT_CONFIG: config })
  const live = await startServe(t, dir, ['--db', db, '--port', '0'], env)
  const api = `http://127.0.0.1:${live.port}`
  const added = await (await fetch(`${api}/v1/monitors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: 'http://127.0.0.1:9/station.mp3', label: 'kept FM' }) })).json() as MonitorInfo

  const run = await runEarshot(dir, ['backup', 'copy', '--db', db, '--json'], env)
  t.equal(run.code, 0, `exits 0 ${run.stderr}`)
  t.match(JSON.parse(run.stdout), { folder: 'copy', tracks: 2, state: true })
  t.ok(fs.existsSync(path.join(dir, 'copy', 'data.mdb')) && fs.existsSync(path.join(dir, 'copy', 'server', 'data.mdb')), 'the index and the state, laid out as an index folder')
  t.equal((await fetch(`${api}/health`)).status, 200, 'the server went on serving')

  const restored = await startServe(t, dir, ['--db', path.join(dir, 'copy'), '--port', '0'], env)
  const copyApi = `http://127.0.0.1:${restored.port}`
  const monitors = await (await fetch(`${copyApi}/v1/monitors`)).json() as { monitors: MonitorInfo[] }
  t.same(monitors.monitors.map((m) => [m.id, m.label]), [[added.id, 'kept FM']], 'the monitor is in the copy')
  const stats = await (await fetch(`${copyApi}/v1/stats`)).json() as { tracks: number }
  t.equal(stats.tracks, 2, 'and the tracks')

  const again = await runEarshot(dir, ['backup', 'copy', '--db', db], env)
  t.equal(again.code, 2, 'a folder that is not empty is refused')
  t.match(again.stderr, /EAR_ERR_USAGE.*not empty/)
  t.notMatch(again.stderr, /\n\s+at /, 'no stack trace')
})
