/**
 * Client streams and the play log (issue 10, finding 5), over both transports: a stream writes plays only with a
 * token an admin allowed (an admin token or one of access.playLogTokens; on a server without an admin token, from
 * this machine); its plays stay in the client namespace even when its streamId is a monitor's id; and a token opens
 * at most access.playsPerMinute plays, the client being told once when it is past that.
 */
import t, { type Test } from 'tap'
import path from 'node:path'
import { CloseCode } from '../../protocol/src/index.js'
import type { Play } from '../../server/src/playlog/play-log.js'
import type { TransportName } from '../../server/src/transport/types.js'
import { buildCatalog } from '../helpers/catalog.js'
import { clip, silence, wavBytes } from '../helpers/signals.js'
import { LOOPBACK_ADDRESSES, RawClient, startServer, toS16, TRANSPORTS } from '../helpers/stream-helpers.js'
import { ADMIN_TOKEN, apiSettings, bodyOf, call, CLIENT_TOKEN, guardedSettings, serveBytes } from '../helpers/api-helpers.js'

const RATE = 44100
/** Allowed to write the play log; a client token besides. */
const RECORDER_TOKEN = 'recorder-token-0123456789abcdef'
const catalog = buildCatalog(path.join(t.testdir(), 'db'), [3, 5], 30, RATE)
t.teardown(() => catalog.index.close())
/** Track 1 for 12 s, then track 2 for 12 s: two plays. */
const program = (() => {
  const pcm = new Float32Array(RATE * 24)
  pcm.set(clip(catalog.songs.get(1)!, RATE, 4, 12), 0)
  pcm.set(clip(catalog.songs.get(2)!, RATE, 4, 12), RATE * 12)
  return toS16(pcm)
})()

/** Stream the program through a session that has started (after ready), one second a frame, then flush. */
async function streamProgram (c: RawClient): Promise<void> {
  for (let i = 0; i < program.length; i += RATE) c.audio(program.subarray(i, i + RATE))
  c.control({ type: 'flush' })
  await c.next('flushed', 30_000)
}

async function plays (base: string, query: string): Promise<Play[]> {
  return bodyOf(await call(base, 'GET', `/v1/plays?${query}`, { token: ADMIN_TOKEN })).plays as Play[]
}

/** A hello with playLog that must be refused before any session. */
async function refused (t: Test, url: string, what: string, hello: Record<string, unknown>, headers?: Record<string, string>): Promise<void> {
  const c = await RawClient.open(url, headers)
  c.hello({ streamId: 'kiosk', playLog: true, ...hello })
  t.equal((await c.next('error')).code, 'EAR_ERR_PLAY_LOG_FORBIDDEN', `${what}: EAR_ERR_PLAY_LOG_FORBIDDEN`)
  t.equal((await c.waitClosed()).code, CloseCode.POLICY, `${what}: closed with 1008`)
  t.equal(c.all('ready').length, 0, `${what}: no session`)
}

async function suite (t: Test, transport: TransportName): Promise<void> {
  t.test('only allowed tokens log plays, in the client namespace even under a monitor\'s id', async (t) => {
    const settings = guardedSettings({ access: { playLogTokens: [RECORDER_TOKEN] }, network: { allowedAddresses: LOOPBACK_ADDRESSES } })
    const { http: base, url } = await startServer(t, transport, catalog.index, settings)
    const source = await serveBytes(t, wavBytes(silence(2, RATE), RATE))
    const added = await call(base, 'POST', '/v1/monitors', { token: ADMIN_TOKEN, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: source }) })
    t.equal(added.status, 201, 'a monitor')
    const monitorId = bodyOf(added).id as string

    await refused(t, url, 'a client token', { token: CLIENT_TOKEN, streamId: monitorId })
    const plain = await RawClient.open(url)
    plain.hello({ token: CLIENT_TOKEN, streamId: monitorId })
    t.equal(typeof (await plain.next('ready')).sessionId, 'string', 'a client token streams without the play log')
    await plain.close()

    const c = await RawClient.open(url)
    c.hello({ token: RECORDER_TOKEN, streamId: monitorId, playLog: true })
    await c.next('ready')
    await streamProgram(c)
    await c.close()
    const mine = await plays(base, `stream=${monitorId}`)
    t.same(mine.map((p) => [p.trackId, p.kind, p.stream]), [[2, 'client', monitorId], [1, 'client', monitorId]], 'a play-log token logs both plays, as a client stream')
    t.same(await plays(base, `monitor=${monitorId}`), [], 'none of them is the monitor\'s')
    const daily = bodyOf(await call(base, 'GET', `/v1/plays/daily?monitor=${monitorId}`, { token: ADMIN_TOKEN }))
    t.same(daily.days, [], 'nor counted in its daily totals')
    t.equal(bodyOf(await call(base, 'GET', `/v1/plays?stream=x&monitor=${monitorId}`, { token: ADMIN_TOKEN })).error.code, 'EAR_ERR_BAD_REQUEST', 'one namespace at a time')
  })

  t.test('no admin token: this machine logs plays, a request through a proxy does not', async (t) => {
    const { url } = await startServer(t, transport, catalog.index, apiSettings())
    await refused(t, url, 'through a proxy', {}, { 'x-forwarded-for': '203.0.113.9' })
    const local = await RawClient.open(url)
    local.hello({ streamId: 'kiosk', playLog: true })
    t.equal(typeof (await local.next('ready')).sessionId, 'string', 'a stream from this machine may')
    await local.close()
  })

  t.test('a token opens at most playsPerMinute plays; the client is told once', async (t) => {
    const settings = guardedSettings({ access: { playLogTokens: [RECORDER_TOKEN], playsPerMinute: 1 } })
    const { http: base, url } = await startServer(t, transport, catalog.index, settings)
    const c = await RawClient.open(url)
    // The servers of both transports share the catalog's state folder, hence one play log: a stream id of its own.
    const streamId = `fast-${transport}`
    c.hello({ token: RECORDER_TOKEN, streamId, playLog: true })
    await c.next('ready')
    await streamProgram(c)
    const limited = c.all('error')
    t.same(limited.map((e) => e.code), ['EAR_ERR_PLAY_LOG_LIMITED'], 'told once, and the session went on')
    t.match(limited[0]?.message, /retry in \d+ s/)
    t.ok(c.all('match').some((m) => m.id === 2 && m.state === 'confirmed'), 'the second song was still recognised')
    await c.close()
    t.same((await plays(base, `stream=${streamId}`)).map((p) => p.trackId), [1], 'one play logged')
  })
}

for (const transport of TRANSPORTS) t.test(`the play log over ${transport}`, (t) => suite(t, transport))
