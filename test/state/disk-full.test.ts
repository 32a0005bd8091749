/**
 * A full disk under the server's state (play log, monitors, webhook queue), on a small tmpfs filled to the last
 * byte: the server stays up (no exception out of a stream callback, no unhandled rejection from lmdb-js's failed
 * async commits), identify and streams go on, a monitor cannot be added (507 EAR_ERR_DISK_FULL), the failures are
 * counted and flagged; once space is freed, plays are filed and monitors added again without a restart.
 * Mounting needs root (CI runs as root); elsewhere the test is skipped, saying so.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { once } from 'node:events'
import { spawnSync } from 'node:child_process'
import { connect, type EarshotClient } from '../../client-sdk/src/index.js'
import { build } from '../../server/src/app.js'
import type { Play } from '../../server/src/playlog/play-log.js'
import { buildCatalog } from '../helpers/catalog.js'
import { clip, prng, silence, song } from '../helpers/signals.js'
import { allowLoopback, freePort, testSettings, toS16, TRANSPORTS, within, writeChunks } from '../helpers/stream-helpers.js'
import { assertError, call, pcm16 } from '../helpers/api-helpers.js'

const RATE = 22050
/** Room for the state files and little else. */
const TMPFS_SIZE = '4m'

const unhandled: unknown[] = []
process.on('unhandledRejection', (reason) => { unhandled.push(reason) })

/** Fill the file system of `dir` to the last byte; returns the filler's path (unlink it to free the space). */
function fill (dir: string): string {
  const file = path.join(dir, 'filler')
  const fd = fs.openSync(file, 'w')
  const block = Buffer.alloc(64 * 1024, 1)
  try {
    for (let size = block.length; size >= 1;) {
      try { fs.writeSync(fd, block, 0, size) } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
        size >>= 1
      }
    }
  } finally {
    fs.closeSync(fd)
  }
  return file
}

if (process.getuid?.() !== 0) {
  t.test('a full disk under the state', { skip: 'mounting a small tmpfs needs root (CI runs as root)' }, async () => {})
} else {
  for (const transport of TRANSPORTS) {
    t.test(`${transport}: a full disk under the state is a coded error, streams and identify go on, and it recovers`, async (t) => {
      const dir = t.testdir()
      const { index } = buildCatalog(path.join(dir, 'db'), [3], 20, RATE)
      t.teardown(() => index.close())
      // Outside the test folder: tap removes that, and must not meet a mount point in it.
      const mount = fs.mkdtempSync(path.join(os.tmpdir(), 'earshot-disk-full-'))
      const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE}`, 'tmpfs', mount])
      if (mounted.status !== 0) { t.fail(`mount: ${mounted.stderr.toString()}`); return }
      const server = await build({ index, settings: allowLoopback(testSettings({ idleTimeoutMs: 60_000 })), transport, stateDir: path.join(mount, 'server') })
      t.teardown(async () => {
        await server.close() // before the unmount: LMDB has its files open there
        spawnSync('umount', [mount])
        fs.rmdirSync(mount)
      })
      const port = await server.listen('127.0.0.1', 0)
      const base = `http://127.0.0.1:${port}`
      const plays = async (): Promise<Play[]> => ((await (await fetch(`${base}/v1/plays?stream=kiosk`)).json()) as { plays: Play[] }).plays
      const pcm = new Float32Array(RATE * 12)
      pcm.set(clip(song(3, 20, RATE), RATE, 3, 8), 0)
      pcm.set(silence(4, RATE), RATE * 8)
      /** Stream the song with playLog on; resolves with the match states the client was told. */
      const stream = async (): Promise<string[]> => {
        const client: EarshotClient = await connect(`ws://127.0.0.1:${port}/v1/stream`, { sampleRate: RATE, reconnect: false, streamId: 'kiosk', playLog: true })
        const states: string[] = []
        client.on('match', (m) => states.push(m.state))
        await writeChunks(client, toS16(pcm), 1, prng(3))
        await client.flush()
        const closed = once(client, 'close')
        await client.close()
        await within(closed, 5000, 'the stream to close')
        return states
      }

      const filler = fill(mount)
      const states = await stream()
      t.ok(states.includes('confirmed'), 'the stream is served on a full disk: the song is confirmed to the client')
      t.same(await plays(), [], 'the play could not be filed')
      t.equal(server.services.stateWrites.diskFull, true, 'the disk-full flag is up')
      const metrics = await (await fetch(`${base}/metrics`)).text()
      const failures = Number(/^earshot_state_write_failures_total\{reason="disk_full"\} (\d+)$/m.exec(metrics)?.[1])
      t.ok(failures >= 1, `earshot_state_write_failures_total{reason="disk_full"} is ${failures}`)
      t.match(metrics, /^earshot_state_disk_full 1$/m)
      const health = await call(base, 'GET', '/health')
      t.equal(health.status, 200, '/health still answers 200: identify and streams go on')
      t.match(JSON.parse(health.text), { status: 'degraded', problems: [/disk full: the server state .* cannot be written since /] }, '/health says degraded, and why')

      const refused = `http://127.0.0.1:${await freePort()}/live.mp3`
      const monitorBody = JSON.stringify({ url: refused, label: 'full' })
      const json = { 'content-type': 'application/json' }
      assertError(t, await call(base, 'POST', '/v1/monitors', { headers: json, body: monitorBody }), 'EAR_ERR_DISK_FULL', 'adding a monitor on a full disk')
      t.same((await (await fetch(`${base}/v1/monitors`)).json() as { monitors: unknown[] }).monitors, [], 'and nothing half-added')
      const identified = await call(base, 'POST', '/v1/identify', { headers: { 'content-type': `audio/pcm; rate=${RATE}` }, body: pcm16(clip(song(3, 20, RATE), RATE, 5, 6)) })
      t.equal(identified.status, 200, 'identify is served')
      t.equal(JSON.parse(identified.text).matches[0]?.id, 1, 'and finds the song')

      // Space comes back: no restart, plays are filed, monitors added.
      fs.unlinkSync(filler)
      t.ok((await stream()).includes('confirmed'))
      const filed = await plays()
      t.equal(filed.length, 1, 'the song is filed once space is back')
      t.equal(filed[0]?.open, false, 'and closed')
      t.equal(server.services.stateWrites.diskFull, false, 'the flag is down')
      t.notMatch(JSON.parse((await call(base, 'GET', '/health')).text).problems, [/disk full/], '/health no longer says disk full')
      t.equal((await call(base, 'POST', '/v1/monitors', { headers: json, body: monitorBody })).status, 201, 'a monitor can be added')
      t.match(await (await fetch(`${base}/metrics`)).text(), /^earshot_state_disk_full 0$/m)
      t.same(unhandled, [], 'no unhandled rejection')
    })
  }
}
