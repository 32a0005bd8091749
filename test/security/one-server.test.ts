import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { once } from 'node:events'
import { build } from '../../server/src/app.js'
import { LOCK_FILE } from '../../server/src/state/data-lock.js'
import { EarshotError } from '../../server/src/errors.js'
import { buildCatalog } from '../helpers/catalog.js'
import { childEnv, runEarshot, startServe, spawnNode } from '../helpers/child-env.js'
import { earshotInProcess } from '../helpers/cli-in-process.js'
import { freePort, httpGet, testSettings, TRANSPORTS } from '../helpers/stream-helpers.js'

// Two servers on one port or one data folder. uWS shared a busy port (SO_REUSEPORT) and started silently; a second
// server on one --db closed the first one's live plays as after a crash and drained the same webhook queue. Now a busy
// port is EAR_ERR_LISTEN on both transports, and the state folder holds a pid file (as PostgreSQL's postmaster.pid):
// a live holder is refused with EAR_ERR_DATA_LOCKED naming its pid, a stale one is taken over.
const dir = t.testdir()
for (const db of ['a', 'b']) buildCatalog(path.join(dir, db), [1], 5).index.close()
const env = childEnv({}, ['EARSHOT_DB', 'EARSHOT_DEBUG', 'EARSHOT_CONFIG'])
const pidFile = (db: string): string => path.join(dir, db, 'server', LOCK_FILE)

t.test('a busy port is refused with EAR_ERR_LISTEN, whichever transport holds it and whichever asks', async (t) => {
  for (const holder of TRANSPORTS) {
    const port = await freePort()
    const first = await startServe(t, dir, ['--db', 'a', '--port', String(port), '--transport', holder], env)
    for (const second of TRANSPORTS) {
      const r = await runEarshot(dir, ['serve', '--db', 'b', '--port', String(port), '--transport', second], env)
      t.equal(r.code, 1, `${second} on a port ${holder} holds: exit 1`)
      t.match(r.stderr, new RegExp(`^earshot: EAR_ERR_LISTEN: Cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use by another process\\n$`), r.stderr)
      t.equal(fs.existsSync(pidFile('b')), false, 'the refused server left no pid file')
    }
    t.equal(first.child.exitCode, null, `the ${holder} server runs on`)
    t.equal((await httpGet(`http://127.0.0.1:${port}/health`)).status, 200, 'and answers')
    first.child.kill('SIGTERM')
    await first.exited
  }
})

t.test('a second server on one data folder is refused with EAR_ERR_DATA_LOCKED naming the first', async (t) => {
  const first = await startServe(t, dir, ['--db', 'a', '--port', '0'], env)
  const [pid, startedAt, port] = fs.readFileSync(pidFile('a'), 'utf8').split('\n')
  t.equal(Number(pid), first.child.pid, 'the pid file names the server')
  t.ok(!Number.isNaN(Date.parse(startedAt)), `its start time (${startedAt})`)
  t.equal(Number(port), first.port, 'and its port')
  for (const transport of TRANSPORTS) {
    const r = await runEarshot(dir, ['serve', '--db', 'a', '--port', '0', '--transport', transport], env)
    t.equal(r.code, 1, `${transport}: exit 1`)
    t.match(r.stderr, new RegExp(`^earshot: EAR_ERR_DATA_LOCKED: The data folder \\S+ is in use by another earshot server \\(pid ${first.child.pid}, port ${first.port}, started ${startedAt}\\)\\n$`), r.stderr)
  }
  t.equal(first.child.exitCode, null, 'the first server runs on')
  // The CLI's own commands read and write the index beside a server: LMDB is multi-process. This one runs in the
  // test's process (runCli), another process than the server's.
  const listed = await earshotInProcess(dir, ['tracks', 'list', '--db', 'a'])
  t.equal(listed.code, 0, `earshot tracks list beside the server: ${listed.stderr}`)
  t.equal(fs.readFileSync(pidFile('a'), 'utf8').split('\n')[0], String(first.child.pid), 'the pid file is untouched')
  first.child.kill('SIGTERM')
  await first.exited
  t.equal(fs.existsSync(pidFile('a')), false, 'a server that stops removes its pid file')
})

t.test('the pid file of a killed server is taken over', async (t) => {
  const first = await startServe(t, dir, ['--db', 'a', '--port', '0'], env)
  first.child.kill('SIGKILL')
  await first.exited
  t.equal(fs.existsSync(pidFile('a')), true, 'kill -9 leaves the pid file')
  const second = await startServe(t, dir, ['--db', 'a', '--port', '0'], env)
  t.equal(fs.readFileSync(pidFile('a'), 'utf8').split('\n')[0], String(second.child.pid), 'the new server holds it')
  t.equal((await httpGet(`http://127.0.0.1:${second.port}/health`)).status, 200)
  second.child.kill('SIGTERM')
  await second.exited
})

t.test('in one process: build() takes the lock, a second build() on the folder is refused, close() releases it', async (t) => {
  const catalog = buildCatalog(path.join(t.testdir(), 'db'), [1], 5)
  t.teardown(() => catalog.index.close())
  const stateDir = path.join(t.testdir(), 'state')
  // A pid file of a process that has exited: stale.
  const gone = spawnNode(['-e', ''], { env })
  await once(gone, 'exit')
  fs.mkdirSync(stateDir, { recursive: true })
  fs.writeFileSync(path.join(stateDir, LOCK_FILE), `${gone.pid}\n2020-01-01T00:00:00.000Z\n8080\n`)
  const server = await build({ index: catalog.index, settings: testSettings(), stateDir })
  t.equal(fs.readFileSync(path.join(stateDir, LOCK_FILE), 'utf8').split('\n')[0], String(process.pid), 'a stale pid file is taken over')
  const refused = await build({ index: catalog.index, settings: testSettings(), stateDir }).then(() => undefined, (err: unknown) => err)
  t.ok(refused instanceof EarshotError, 'a second build() on the folder throws')
  t.equal((refused as EarshotError).code, 'EAR_ERR_DATA_LOCKED')
  t.match((refused as EarshotError).message, `pid ${process.pid}, port not yet listening`)
  await server.close()
  t.equal(fs.existsSync(path.join(stateDir, LOCK_FILE)), false, 'close() removes the pid file')
  const again = await build({ index: catalog.index, settings: testSettings(), stateDir })
  await again.close()
  t.pass('the folder can be served again')
})
