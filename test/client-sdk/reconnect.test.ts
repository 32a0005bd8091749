import t from 'tap'
import path from 'node:path'
import { once } from 'node:events'
import { connect } from '../../client-sdk/src/index.js'
import type { Match, Ready } from '../../protocol/src/index.js'
import { buildCatalog } from '../helpers/catalog.js'
import { addNoise, clip, prng } from '../helpers/signals.js'
import { freePort, startServer, toS16, waitUntil, within, writeChunks } from '../helpers/stream-helpers.js'

const RATE = 44100
const catalog = buildCatalog(path.join(t.testdir(), 'db'), [1, 2, 3, 4, 5], 30, RATE)
t.teardown(() => catalog.index.close())

t.test('the SDK reconnects to a restarted server and matches again', async (t) => {
  const port = await freePort()
  const first = await startServer(t, 'ws', catalog.index, undefined, port)
  t.equal(first.port, port)
  const client = await connect(first.url, { sampleRate: RATE, minReconnectDelayMs: 20, maxReconnectDelayMs: 200 })
  t.teardown(() => client.close())
  const errors: unknown[] = []
  client.on('error', (e) => errors.push(e))
  const matches: Match[] = []
  client.on('match', (m) => matches.push(m))
  const firstId = client.sessionId
  t.equal(first.server.context.sessions, 1)

  // Stop the server; the client keeps trying while nothing listens.
  await first.server.close()
  await waitUntil(() => !client.connected, 2000, 'the client to see the close')
  // Leave the client a few refused attempts (backoff 20, 40, 80, ... ms) before the new server listens.
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(client.connected, false, 'disconnected while no server listens')
  t.ok(client.write(new Int16Array(4410)), 'writing while disconnected drops the audio without blocking')

  const reconnected = once(client, 'reconnected') as Promise<[Ready]>
  const second = await startServer(t, 'ws', catalog.index, undefined, port)
  const [ready] = await within(reconnected, 5000, 'reconnected')
  t.equal(ready.type, 'ready')
  t.equal(client.sessionId, ready.sessionId, 'the client holds the new session id')
  t.equal(second.server.context.sessions, 1, 'the session is on the new server')
  t.ok(client.connected)
  // Session ids never repeat, even across servers built in one process.
  t.not(ready.sessionId, firstId, `a new session id (was ${firstId}, now ${ready.sessionId})`)

  // Stream a catalog track through the new session.
  const start = 7.5
  await writeChunks(client, toS16(addNoise(clip(catalog.songs.get(4)!, RATE, start, 8), 10, 4)), 1, prng(3))
  const streamSeconds = await within(client.flush(), 10_000, 'flushed')
  t.equal(streamSeconds, 8, 'the new session counts only the audio sent to it')
  const confirmed = matches.filter((m) => m.state === 'confirmed')
  t.ok(confirmed.length > 0, 'a confirmed match after reconnecting')
  t.ok(confirmed.every((m) => m.id === 4), 'of the right track')
  const last = confirmed.at(-1)
  t.ok(last && Math.abs(last.offsetSeconds - (start + last.streamSeconds)) <= 0.5, `offset ${last?.offsetSeconds} at ${last?.streamSeconds} s`)
  t.ok(errors.some((e) => (e as { code?: string }).code === 'EAR_ERR_SHUTTING_DOWN'), 'the client was told why the session ended')
  const closed = once(client, 'close') as Promise<[number]>
  await client.close()
  t.same(await closed, [1000], 'a clean close, with no reconnect')
})
