/**
 * The catalog of a cluster, built once and shipped: `earshot publish` puts an index into NATS, and two running nodes
 * (real nats-server, real `earshot serve --cluster` processes) load it one at a time while the other serves: /health
 * shows the version, identify finds the new catalog's songs on both, and at no moment were both out of service.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { once } from 'node:events'
import net from 'node:net'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { buildCatalog } from '../helpers/catalog.js'
import { EARSHOT_MAIN, childEnv, runEarshot, keepOutput, spawnNode } from '../helpers/child-env.js'
import { clip, wavBytes } from '../helpers/signals.js'
import { freePort, pollUntil } from '../helpers/stream-helpers.js'

const RATE = 22050
const missing = spawnSync('nats-server', ['--help'], { stdio: 'ignore' }).error !== undefined


interface Health { indexVersion: string, index: { tracks: number }, cluster: { nodes: Array<{ node: string, index: { version: string } }> } }

async function health (port: number): Promise<{ status: number, body?: Health }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`)
    return { status: res.status, body: await res.json() as Health }
  } catch {
    return { status: 0 }
  }
}

t.test('earshot publish ships an index that every node loads in turn', { skip: missing ? 'nats-server not installed (Debian: apt-get install nats-server)' : false, timeout: 120_000 }, async (t) => {
  const dir = t.testdir()
  const natsPort = await freePort()
  const natsLog = keepOutput(t, spawn('nats-server', ['-js', '-sd', path.join(dir, 'nats'), '-a', '127.0.0.1', '-p', String(natsPort)]))
  await pollUntil(async () => natsLog(), (l) => /Server is ready/.test(l), 10_000, 'nats-server to start', 50)
  const nats = `nats://127.0.0.1:${natsPort}`

  // The nodes start on an old catalog (songs 1 and 2); the new one has songs 1, 2 and 8.
  const old = buildCatalog(path.join(dir, 'old'), [1, 2], 20, RATE)
  old.index.close()
  const next = buildCatalog(path.join(dir, 'next'), [1, 2, 8], 20, RATE)
  next.index.close()
  const ports: number[] = []
  const logs: Array<() => string> = []
  const children: ChildProcess[] = []
  for (const name of ['a', 'b']) {
    fs.cpSync(path.join(dir, 'old'), path.join(dir, name), { recursive: true })
    const port = await freePort()
    ports.push(port)
    const child = spawnNode([EARSHOT_MAIN, 'serve', '--db', path.join(dir, name), '--port', String(port), '--cluster', nats, '--node', name], { env: childEnv({ EARSHOT_CLUSTER_NAME: 'publish' }), stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(child)
    logs.push(keepOutput(t, child))
  }
  t.teardown(() => { if (process.env.EARSHOT_TEST_LOGS) for (const [i, log] of logs.entries()) fs.writeFileSync(`${process.env.EARSHOT_TEST_LOGS}-${i}.log`, log()) })
  for (const port of ports) await pollUntil(() => health(port), (h) => h.body?.cluster.nodes.length === 2, 20_000, 'both nodes up', 100)
  t.same((await health(ports[0])).body?.indexVersion, 'local', 'a node serves the index it was given: local')

  // Watch both nodes while they swap: never both out at once.
  let bothOut = 0
  let watching = true
  const watcher = (async () => {
    while (watching) {
      const [a, b] = await Promise.all(ports.map((p) => health(p)))
      if (a.status !== 200 && b.status !== 200) bothOut++
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })()

  const published = await runEarshot(dir, ['publish', '--db', path.join(dir, 'next'), '--cluster', nats, '--json'], childEnv({ EARSHOT_CLUSTER_NAME: 'publish' }))
  t.equal(published.code, 0, `earshot publish exits 0 ${published.stderr}`)
  const { version, tracks } = JSON.parse(published.stdout) as { version: string, tracks: number }
  t.equal(tracks, 3)
  t.match(version, /^[0-9a-f]{16}$/, 'the version is the file\'s digest')

  for (const port of ports) {
    const h = await pollUntil(() => health(port), (h) => h.status === 200 && h.body?.indexVersion === version, 30_000, `node on ${port} to load ${version}`, 100)
    t.equal(h.body?.index.tracks, 3, 'it serves the published catalog')
  }
  watching = false
  await watcher
  t.equal(bothOut, 0, 'the two nodes never swapped at the same time')
  // Beats come every quarter lease, and a node leaves the list while it swaps: the other's news may take that long.
  const seen = await pollUntil(() => health(ports[0]), (h) => h.body?.cluster.nodes.length === 2 && h.body.cluster.nodes.every((n) => n.index.version === version), 10_000, 'the nodes to tell each other', 100)
  t.same(seen.body?.cluster.nodes.map((n) => n.index.version), [version, version], 'each node tells the others the version it serves')

  // The new song is found on both.
  for (const port of ports) {
    const res = await fetch(`http://127.0.0.1:${port}/v1/identify`, { method: 'POST', headers: { 'content-type': 'audio/wav' }, body: new Uint8Array(wavBytes(clip(next.songs.get(3)!, RATE, 5, 6), RATE)) })
    const body = await res.json() as { matches: Array<{ id: number }> }
    t.equal(body.matches[0]?.id, 3, `node on ${port} identifies the new catalog's song`)
  }
  t.notOk(fs.existsSync(path.join(dir, 'a', 'data.mdb.next')), 'no download is left behind')

  // A node does not change its own catalog: every node must serve the same track ids.
  const job = await fetch(`http://127.0.0.1:${ports[1]}/v1/index-jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: dir }) })
  t.equal(job.status, 409)
  t.match(await job.json(), { error: { code: 'EAR_ERR_CATALOG_PUBLISHED' } }, 'an index job on a node is refused with the way to do it')
  const removal = await fetch(`http://127.0.0.1:${ports[0]}/v1/tracks/1`, { method: 'DELETE' })
  t.equal(removal.status, 409, 'so is a removal')

  // A node stops cleanly on SIGTERM: drained, its work handed over, exit 0 well within the shutdown deadline, even
  // with an idle keep-alive connection open (as a proxy or a scraper keeps one).
  const idle = net.connect(ports[1], '127.0.0.1')
  t.teardown(() => idle.destroy())
  idle.on('error', () => {})
  idle.write('GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n')
  await once(idle, 'data')
  const stoppedAt = Date.now()
  children[1].kill('SIGTERM')
  const [code] = await once(children[1], 'exit') as [number | null]
  t.equal(code, 0, `exit 0 after SIGTERM, in ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s`)
  t.ok(Date.now() - stoppedAt < 6000, 'before the 7 s deadline')
})
