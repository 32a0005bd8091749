import t, { type Test } from 'tap'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { build } from '../../server/src/app.js'
import { createLogger } from '../../server/src/log.js'
import type { TransportName } from '../../server/src/transport/types.js'
import { buildCatalog } from '../helpers/catalog.js'
import { song } from '../helpers/signals.js'
import { httpGet, RawClient, testSettings, toS16, TRANSPORTS, waitUntil } from '../helpers/stream-helpers.js'

// A fault inside a connection's handler (here: the index closed under a live session, so the lookups of its audio
// throw) fails that one connection with EAR_ERR_INTERNAL and close 1011, logs the stack, and the server serves on.
async function suite (t: Test, transport: TransportName): Promise<void> {
  const catalog = buildCatalog(path.join(t.testdir(), 'db'), [1], 5)
  const lines: string[] = []
  const destination = new PassThrough()
  destination.setEncoding('utf8').on('data', (s: string) => lines.push(...s.split('\n').filter(Boolean)))
  const server = await build({ index: catalog.index, settings: testSettings(), transport, logger: createLogger({ pretty: false, destination }) })
  const port = await server.listen('127.0.0.1', 0)
  t.teardown(() => server.close())
  const c = await RawClient.open(`ws://127.0.0.1:${port}/v1/stream`)
  c.hello()
  await c.next('ready')
  catalog.index.close()
  c.audio(toS16(song(1, 3, 44100)))
  const closed = await c.waitClosed()
  t.same(closed, { code: 1011, reason: 'EAR_ERR_INTERNAL' }, 'the connection closes with 1011')
  const error = c.all('error')[0]
  t.equal(error?.code, 'EAR_ERR_INTERNAL', 'the client is told the code')
  t.notMatch(String(error?.message), /\n\s+at |\.[jt]s:\d+/, `no stack to the client: ${String(error?.message)}`)
  const fault = lines.map((l) => JSON.parse(l) as Record<string, any>).find((l) => l.msg === 'stream connection fault')
  t.ok(fault, 'the fault is logged')
  t.equal(fault?.component, 'stream')
  t.match(fault?.err?.stack, /\n\s+at /, 'with its stack')
  await waitUntil(() => server.context.sessions === 0, 5000, 'the session to be released')
  t.equal(server.context.faults, 1, 'counted for /health')
  t.equal((await httpGet(`http://127.0.0.1:${port}/ping`)).body, 'pong', 'the server serves on')
}

for (const transport of TRANSPORTS) t.test(`a fault in a connection over ${transport}`, (t) => suite(t, transport))
