import t, { type Test } from 'tap'
import path from 'node:path'
import { connect } from '../../client-sdk/src/index.js'
import type { TransportName } from '../../server/src/transport/types.js'
import { buildCatalog } from '../helpers/catalog.js'
import { clip, song } from '../helpers/signals.js'
import { startServer, testSettings, toS16, toStereo, TRANSPORTS, within } from '../helpers/stream-helpers.js'

// A write() larger than the server's maxFrameBytes went out as one message: the server dropped the connection, the
// SDK reconnected, and the audio was gone without an error. The SDK now splits writes by the limit `ready` announces.
const RATE = 44100
const catalog = buildCatalog(path.join(t.testdir(), 'db'), [2], 35, RATE)
t.teardown(() => catalog.index.close())

async function suite (t: Test, transport: TransportName): Promise<void> {
  t.test('30 s in one write of 2.6 MB against the default 1 MiB limit: all of it arrives and matches', async (t) => {
    const { url } = await startServer(t, transport, catalog.index, testSettings())
    const client = await connect(url, { sampleRate: RATE })
    t.teardown(() => client.close())
    const sessionId = client.sessionId
    const errors: unknown[] = []
    let reconnected = 0
    let confirmed = 0
    client.on('error', (e) => errors.push(e))
    client.on('reconnected', () => { reconnected++ })
    client.on('match', (m) => { if (m.state === 'confirmed' && m.id === 1) confirmed++ })
    const pcm = toS16(clip(catalog.songs.get(1)!, RATE, 2, 30))
    t.equal(pcm.byteLength, 2_646_000, 'one write of 2.6 MB')
    client.write(pcm)
    t.equal(await within(client.flush(), 20_000, 'flushed'), 30, 'the server received all 30 s')
    t.equal(await within(client.flush(), 5000, 'the second flushed'), 30, 'a second flush() resolves too')
    t.equal(reconnected, 0, 'no reconnect')
    t.equal(client.sessionId, sessionId, 'the same session')
    t.same(errors, [], 'no error')
    t.ok(confirmed > 0, 'the track is confirmed')
  })

  t.test('an odd limit and stereo f32le: frames of whole sample frames, under the limit', async (t) => {
    const maxFrameBytes = 1027 // 1026 bytes of PCM would split a sample frame of 8 bytes
    const { url, server } = await startServer(t, transport, catalog.index, testSettings({ maxFrameBytes }))
    const client = await connect(url, { sampleRate: 48000, encoding: 'f32le', channels: 2, reconnect: false })
    t.teardown(() => client.close())
    const errors: unknown[] = []
    client.on('error', (e) => errors.push(e))
    const pcm = toStereo(song(3, 1, 48000))
    t.equal(pcm.byteLength, 384_000)
    client.write(pcm.subarray(0, 1000)) // a short write goes as it is
    client.write(pcm.subarray(1000))
    t.equal(await within(client.flush(), 10_000, 'flushed'), 1, 'one second arrived')
    t.same(errors, [], 'no error: no frame too large, none misaligned')
    t.equal(server.context.sessions, 1, 'the session is open')
  })
}

for (const transport of TRANSPORTS) t.test(`large writes through the SDK over ${transport}`, (t) => suite(t, transport))
