/**
 * A partitioned node never runs a monitor that another node has taken: node B reaches NATS through a TCP proxy that
 * the test cuts while B runs the station. B cannot renew its lease and stops the monitor after half a lease; node A
 * takes it once the lease has expired. The station (a live radio) counts its listeners: never two at once. When the
 * proxy lets B through again, B rejoins without taking the station back twice.
 */
import t from 'tap'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import type { MonitorInfo } from '../../server/src/monitor/monitors.js'
import { buildCatalog } from '../helpers/catalog.js'
import { EARSHOT_MAIN, childEnv, keepOutput, spawnNode } from '../helpers/child-env.js'
import { startRadio } from '../helpers/radio.js'
import { clip } from '../helpers/signals.js'
import { freePort, pollUntil } from '../helpers/stream-helpers.js'

const RATE = 22050
const LEASE_MS = 4000
const missing = spawnSync('nats-server', ['--help'], { stdio: 'ignore' }).error !== undefined


/** A TCP proxy to `port` that can cut every connection and refuse new ones until healed. */
async function proxy (port: number): Promise<{ port: number, cut: () => void, heal: () => void, close: () => void }> {
  let open = true
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    if (!open) { client.destroy(); return }
    const upstream = net.connect(port, '127.0.0.1')
    for (const s of [client, upstream]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}) }
    client.pipe(upstream).pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  server.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    cut: () => { open = false; for (const s of sockets) s.destroy() },
    heal: () => { open = true },
    close: () => { open = false; for (const s of sockets) s.destroy(); server.close() },
  }
}

t.test('a node cut off from NATS stops its monitor before another node takes it', { skip: missing ? 'nats-server not installed (Debian: apt-get install nats-server)' : false, timeout: 120_000 }, async (t) => {
  const dir = t.testdir()
  const natsPort = await freePort()
  const natsLog = keepOutput(t, spawn('nats-server', ['-js', '-sd', path.join(dir, 'nats'), '-a', '127.0.0.1', '-p', String(natsPort)]))
  await pollUntil(async () => natsLog(), (l) => /Server is ready/.test(l), 10_000, 'nats-server to start', 50)
  const cutter = await proxy(natsPort)
  t.teardown(() => cutter.close())

  const catalog = buildCatalog(path.join(dir, 'built'), [4], 30, RATE)
  catalog.index.close()
  const radio = await startRadio(clip(catalog.songs.get(1)!, RATE, 0, 30), RATE)
  t.teardown(() => radio.close())
  const config = path.join(dir, 'earshot.json')
  fs.writeFileSync(config, JSON.stringify({ network: { allowedAddresses: ['127.0.0.0/8'] }, monitors: { initialBackoffMs: 200, maxBackoffMs: 1000 }, cluster: { leaseMs: LEASE_MS, name: 'partition' } }))
  const startNode = async (name: string, nats: number): Promise<number> => {
    fs.cpSync(path.join(dir, 'built'), path.join(dir, name), { recursive: true })
    const port = await freePort()
    keepOutput(t, spawnNode([EARSHOT_MAIN, 'serve', '--db', path.join(dir, name), '--port', String(port), '--node', name, '--cluster', `nats://127.0.0.1:${nats}`, '--config', config, '--workers', '0'], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] }))
    await pollUntil(() => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false), Boolean, 20_000, `node ${name} to start`, 100)
    return port
  }
  // B alone first, so that it takes the station; then A.
  const b = await startNode('b', cutter.port)
  const added = await (await fetch(`http://127.0.0.1:${b}/v1/monitors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: radio.url, label: 'cut FM' }) })).json() as MonitorInfo
  await pollUntil(() => fetch(`http://127.0.0.1:${b}/v1/monitors/${added.id}`).then(async (r) => await r.json() as MonitorInfo), (m) => m.node === 'b' && m.state === 'listening', 20_000, 'b to run the station', 100)
  const a = await startNode('a', natsPort)

  let most = 0
  let watching = true
  const watch = (async () => {
    while (watching) {
      most = Math.max(most, radio.listening)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })()
  cutter.cut()
  const cutAt = Date.now()
  const onA = await pollUntil(() => fetch(`http://127.0.0.1:${a}/v1/monitors/${added.id}`).then(async (r) => await r.json() as MonitorInfo), (m) => m.node === 'a' && m.state === 'listening', 30_000, 'a to take the station', 100)
  const seconds = (Date.now() - cutAt) / 1000
  t.equal(onA.node, 'a', `a took the station ${seconds.toFixed(1)} s after b was cut off`)
  t.ok(seconds >= LEASE_MS / 1000 - 0.5, 'not before b\'s lease could expire')

  cutter.heal()
  await pollUntil(() => fetch(`http://127.0.0.1:${b}/health`).then(async (r) => await r.json() as { cluster: { nodes: unknown[] } }), (h) => h.cluster.nodes.length === 2, 20_000, 'b to rejoin', 200)
  await new Promise((resolve) => setTimeout(resolve, LEASE_MS))
  watching = false
  await watch
  t.equal(most, 1, 'the station never had two listeners at once')
  t.equal(radio.listening, 1, 'and has one now')
})
