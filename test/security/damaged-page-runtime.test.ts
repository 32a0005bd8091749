/**
 * Pages damaged while the index is open (a failing disk, a file overwritten under a running server): a read that
 * meets one fails its request or stream session with a code, and the process lives on. Each case runs in a child
 * process (test/fixtures/damage-while-*.ts), so that a crash would show as a signal death, not as this test dying.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { childEnv, spawnNode } from '../helpers/child-env.js'
import { buildCatalog } from '../helpers/catalog.js'
import { clip, song, writeWav } from '../helpers/signals.js'

const dir = t.testdir()
const RATE = 44100

interface Exit { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** Run a fixture script in a child process, noting how it ended. */
function fixture (name: string, args: readonly string[]): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawnNode([fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url)), ...args], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (s: string) => { stdout += s })
    child.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

/** A copy of the good index in a folder of its own. */
function copy (name: string): string {
  const target = path.join(dir, name)
  fs.mkdirSync(target)
  fs.copyFileSync(path.join(dir, 'good', 'data.mdb'), path.join(target, 'data.mdb'))
  return target
}

const catalog = buildCatalog(path.join(dir, 'good'), [1, 2, 3], 20, RATE)
await catalog.index.close()
writeWav(path.join(dir, 'clip.wav'), clip(song(2, 20, RATE), RATE, 4, 8), RATE)

t.test('a page damaged while the index is open fails that request with EAR_ERR_INDEX_READ, and the process lives on', async (t) => {
  const r = await fixture('damage-while-open.js', [copy('while-open'), path.join(dir, 'clip.wav')])
  t.equal(r.signal, null, 'no signal death')
  t.equal(r.code, 0, 'the child ran to its end')
  const out = JSON.parse(r.stdout) as { before: number | null, codes: string[], readFailures: number, lastReadFailure?: { at: string, message: string } }
  t.equal(out.before, 2, 'identified before the damage')
  t.same(out.codes, ['EAR_ERR_INDEX_READ', 'EAR_ERR_INDEX_READ'], 'each request after it fails with EAR_ERR_INDEX_READ')
  t.equal(out.readFailures, 2, 'counted')
  t.match(out.lastReadFailure?.message, /^EAR_ERR_INDEX_READ: .*MDB_/, 'the last failure is kept for /health, with LMDB\'s reason')
})

t.test('a page damaged under a live server ends that stream session with a code, and the server serves on', async (t) => {
  // On the main thread with both transports, and on two stream engines, whose index reads fail in their threads.
  for (const [transport, workers] of [['uws', 0], ['ws', 0], ['uws', 2]] as const) {
    const db = copy(`serving-${transport}-${workers}`)
    const r = await fixture('damage-while-serving.js', [db, path.join(dir, 'clip.wav'), transport, String(workers)])
    t.equal(r.signal, null, `${transport} on ${workers} engines: no signal death`)
    t.equal(r.code, 0, `${transport} on ${workers} engines: the server process ran to its end`)
    const out = JSON.parse(r.stdout) as { errors: Array<{ code: string, message?: string }>, closed: { code: number, reason: string }, served: boolean, readFailures: number }
    t.match(out.errors[0], { code: 'EAR_ERR_INTERNAL' }, `${transport} on ${workers} engines: the session got an error message`)
    t.match(JSON.stringify(out.errors[0]), /EAR_ERR_INDEX_READ/, `${transport} on ${workers} engines: naming EAR_ERR_INDEX_READ`)
    t.notMatch(JSON.stringify(out.errors), dir, `${transport} on ${workers} engines: and no server path`)
    t.equal(out.closed.code, 1011, `${transport} on ${workers} engines: closed with 1011 (internal error)`)
    t.equal(out.served, true, `${transport} on ${workers} engines: a new session is still served`)
    t.ok(out.readFailures >= 1, `${transport} on ${workers} engines: the failure is counted (${out.readFailures})`)
  }
})
