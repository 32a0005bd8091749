import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { encodeControl, FrameTag } from '../../protocol/src/index.js'
import { buildCatalog } from '../helpers/catalog.js'
import { startServe } from '../helpers/child-env.js'
import { prng } from '../helpers/signals.js'
import { httpGet, RawClient, TRANSPORTS, within } from '../helpers/stream-helpers.js'

// Hostile frames against `earshot serve` in a child process, on both transports: one 22-byte control frame used to
// kill the process before any token was checked. Then a bounded, seeded fuzz: random bytes, mutated good frames, and
// msgpack maps built from keys and values that trip careless code (toString, valueOf, __proto__, constructor), deep
// nesting and huge declared lengths, before and after hello. Afterwards the process lives and /health answers.
const FRAMES_PER_TRANSPORT = 3000
const BATCH = 25

const dir = t.testdir()
buildCatalog(path.join(dir, 'db'), [1], 5).index.close()
const config = path.join(dir, 'earshot.json')
// Thousands of connections from one address in a minute: lift the opens limit the fuzz would otherwise hit.
fs.writeFileSync(config, JSON.stringify({ access: { streamOpensPerMinute: 1_000_000 } }))

/** `{type: {toString: 0}}`: the frame of the report, byte for byte. */
const TO_STRING_FRAME = Buffer.from('01de0001a474797065de0001a8746f537472696e6700', 'hex')

/**
 * msgpack by hand, in its 32-bit forms: msgpackr's packer itself trips on maps with own `constructor` or `toJSON`
 * keys, which are the point here.
 */
function mp (v: unknown): Buffer {
  const head = (tag: number, n: number): Buffer => { const b = Buffer.alloc(5); b[0] = tag; b.writeUInt32BE(n, 1); return b }
  if (v === null || v === undefined) return Buffer.from([0xc0])
  if (typeof v === 'boolean') return Buffer.from([v ? 0xc3 : 0xc2])
  if (typeof v === 'number') {
    if (Number.isInteger(v) && Math.abs(v) < 2 ** 31) { const b = Buffer.alloc(5); b[0] = 0xd2; b.writeInt32BE(v, 1); return b }
    const b = Buffer.alloc(9); b[0] = 0xcb; b.writeDoubleBE(v, 1); return b
  }
  if (typeof v === 'string') { const s = Buffer.from(v); return Buffer.concat([head(0xdb, s.length), s]) }
  if (v instanceof Uint8Array) return Buffer.concat([head(0xc6, v.length), v])
  if (Array.isArray(v)) return Buffer.concat([head(0xdd, v.length), ...v.map(mp)])
  const keys = Object.keys(v as object)
  return Buffer.concat([head(0xdf, keys.length), ...keys.flatMap((k) => [mp(k), mp((v as Record<string, unknown>)[k])])])
}

const KEYS = ['type', 'v', 'id', 'sampleRate', 'encoding', 'channels', 'streamId', 'label', 'token', 'playLog',
  'toString', 'valueOf', '__proto__', 'constructor', 'hasOwnProperty', 'toJSON', 'then', 'length', '']
const SCALARS: unknown[] = ['hello', 'ping', 'flush', 's16le', 'f32le', 1, 2, 0, -1, 44100, 1e308, -1e308, 2 ** 53, 0.5,
  true, false, null, '', 'x'.repeat(5000), new Uint8Array(7)]

/** Set `key` as an own property of `o` (assignment would set the prototype for `__proto__`). */
function put (o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true })
}

function pick<T> (rand: () => number, xs: readonly T[]): T { return xs[Math.floor(rand() * xs.length)] }

/** A random value: a scalar, or (while depth lasts) a map of nasty keys or an array. */
function value (rand: () => number, depth: number): unknown {
  const r = rand()
  if (depth <= 0 || r < 0.5) return pick(rand, SCALARS)
  if (r < 0.85) {
    const m: Record<string, unknown> = {}
    for (let n = Math.floor(rand() * 4); n >= 0; n--) put(m, pick(rand, KEYS), value(rand, depth - 1))
    return m
  }
  return Array.from({ length: Math.floor(rand() * 4) }, () => value(rand, depth - 1))
}

/** A control frame around msgpack bytes. */
function control (body: Uint8Array): Buffer { return Buffer.concat([Buffer.from([FrameTag.CONTROL]), body]) }

/** `n` nested maps {a: {a: ... nil}}: msgpackr reads them recursively. */
function nested (n: number): Buffer {
  return control(Buffer.concat([Buffer.alloc(n * 3, Buffer.from([0x81, 0xa1, 0x61])), Buffer.from([0xc0])]))
}

/** Frames that declare far more than they hold: arrays, maps, strings, binaries and extensions of 4 GiB. */
const HUGE = ['dd', 'df', 'db', 'c6', 'c9', 'de0001a474797065dd', 'de0001a474797065db', 'de0001a474797065df']
  .map((h) => control(Buffer.from(`${h}ffffffff01`, 'hex')))

const GOOD = [
  encodeControl({ type: 'hello', v: 1, sampleRate: 44100, encoding: 's16le', channels: 1 }),
  encodeControl({ type: 'ping', id: 7 }),
  encodeControl({ type: 'flush' }),
  Buffer.concat([Buffer.from([FrameTag.AUDIO]), Buffer.alloc(64)]),
]

/** One fuzzed frame. */
function frame (rand: () => number): Uint8Array {
  const r = rand()
  if (r < 0.2) { // random bytes after a random or a real tag
    const bytes = Buffer.from(Array.from({ length: Math.floor(rand() * 48) }, () => Math.floor(rand() * 256)))
    if (bytes.length > 0 && rand() < 0.7) bytes[0] = rand() < 0.8 ? FrameTag.CONTROL : FrameTag.AUDIO
    return bytes
  }
  if (r < 0.45) { // a good frame mutated: bytes flipped, cut short or extended
    const bytes = Buffer.from(pick(rand, GOOD))
    for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) bytes[1 + Math.floor(rand() * (bytes.length - 1))] = Math.floor(rand() * 256)
    const cut = rand()
    if (cut < 0.3) return bytes.subarray(0, 1 + Math.floor(rand() * bytes.length))
    if (cut < 0.5) return Buffer.concat([bytes, Buffer.from([Math.floor(rand() * 256), 0xff, 0xff, 0xff, 0xff])])
    return bytes
  }
  if (r < 0.85) { // a map of nasty keys and values, often with a real type
    const m = value(rand, 3)
    const base = m !== null && typeof m === 'object' && !Array.isArray(m) && !(m instanceof Uint8Array) ? m as Record<string, unknown> : {}
    if (rand() < 0.5) put(base, 'type', pick(rand, ['hello', 'ping', 'flush', value(rand, 2)]))
    if (base.type === 'hello' && rand() < 0.5) {
      for (const [k, v] of Object.entries({ v: 1, sampleRate: 44100, encoding: 's16le', channels: 1 })) put(base, k, v)
      put(base, pick(rand, KEYS), value(rand, 2))
    }
    return control(mp(rand() < 0.1 ? value(rand, 3) : base))
  }
  if (r < 0.93) return pick(rand, HUGE)
  if (r < 0.97) return nested(pick(rand, [100, 2000, 20000]))
  return TO_STRING_FRAME
}

async function suite (t: Test, transport: string): Promise<void> {
  const served = await startServe(t, dir, ['--db', 'db', '--port', '0', '--transport', transport, '--config', config, '--log-level', 'warn'])
  const url = `ws://127.0.0.1:${served.port}/v1/stream`
  const health = async (): Promise<number> => (await httpGet(`http://127.0.0.1:${served.port}/health`)).status

  t.test('the 22-byte frame {type: {toString: 0}}, before and after hello, and in hello.v', async (t) => {
    t.equal(TO_STRING_FRAME.length, 22)
    const before = await RawClient.open(url)
    before.send(TO_STRING_FRAME)
    const closed = await before.waitClosed()
    t.equal(before.all('error')[0]?.code, 'EAR_ERR_HELLO_REQUIRED', 'before hello: a coded error')
    t.equal(closed.code, 1008, 'and the policy close')

    const after = await RawClient.open(url)
    after.hello()
    await after.next('ready')
    after.send(TO_STRING_FRAME)
    const error = await after.next('error')
    t.equal(error.code, 'EAR_ERR_BAD_MESSAGE', 'after hello: EAR_ERR_BAD_MESSAGE')
    t.match(error.message, /unknown message type/, error.message as string)
    await after.roundTrip(1)
    t.pass('the session goes on')
    await after.close()

    for (const v of [{ toString: 0 }, { valueOf: 0, toString: 0 }]) {
      const c = await RawClient.open(url)
      c.hello({ v })
      const closed = await c.waitClosed()
      t.equal(c.all('error')[0]?.code, 'EAR_ERR_PROTOCOL_VERSION', `hello.v ${JSON.stringify(v)}: a coded error`)
      t.equal(closed.code, 1008)
    }
    t.equal(served.child.exitCode, null, 'the process lives')
    t.equal(await health(), 200, '/health answers')
  })

  t.test(`${FRAMES_PER_TRANSPORT} fuzzed frames, before and after hello`, async (t) => {
    const rand = prng(transport === 'uws' ? 10 : 11)
    const closes = new Map<number, number>()
    let sent = 0
    let connections = 0
    while (sent < FRAMES_PER_TRANSPORT) {
      const c = await RawClient.open(url)
      connections++
      if (rand() < 0.6) c.hello()
      for (let i = 0; i < BATCH && !c.isClosed; i++, sent++) c.send(frame(rand))
      // A ping answered proves every frame before it was handled; a close ends the connection's turn.
      if (!c.isClosed) c.control({ type: 'ping', id: sent })
      await within(Promise.race([c.next('pong').catch(() => {}), c.closed]), 10_000, 'a pong or a close')
      if (!c.isClosed) c.ws.close(1000)
      const { code } = await c.waitClosed()
      closes.set(code, (closes.get(code) ?? 0) + 1)
      if (served.child.exitCode !== null || served.child.signalCode !== null) break
    }
    t.equal(served.child.exitCode, null, `the process lives after ${sent} frames on ${connections} connections`)
    t.equal(served.child.signalCode, null)
    t.notOk(closes.has(1011), `no frame made the server fault (closes: ${JSON.stringify([...closes])})`)
    t.notOk(closes.has(1006), 'every connection ended with a close frame')
    t.equal(await health(), 200, '/health answers')
    t.notMatch(served.stderr(), /uncaught|Error:\s|\n\s+at /i, 'nothing uncaught on stderr')
  })
}

for (const transport of TRANSPORTS) t.test(`hostile frames over ${transport}`, (t) => suite(t, transport))
