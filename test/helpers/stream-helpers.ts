/**
 * Helpers for the streaming tests: a server on loopback at port 0, a raw protocol client over `ws` (for the frames
 * the SDK never sends), PCM conversion and splicing, and bounded waits that fail with a message instead of hanging.
 */
import http from 'node:http'
import net from 'node:net'
import { once } from 'node:events'
import WebSocket from 'ws'
import type { Test } from 'tap'
import { build, type EarshotServer } from '../../server/src/app.js'
import { defaults, type Settings, type StreamLimits } from '../../server/src/config/defaults.js'
import type { Index } from '../../server/src/index/types.js'
import type { TransportName } from '../../server/src/transport/types.js'
import { connect, type ConnectOptions, type EarshotClient } from '../../client-sdk/src/index.js'
import { prng } from './signals.js'
import { decodeControl, encodeControl, FrameTag, type ClientMessage } from '../../protocol/src/index.js'

export const TRANSPORTS = ['uws', 'ws'] as const satisfies readonly TransportName[]

/** The test settings: short hello and idle timeouts, so the timeout cases take well under a second or two. */
export function testSettings (stream: Partial<StreamLimits> = {}): Settings {
  return { ...defaults, stream: { ...defaults.stream, helloTimeoutMs: 500, idleTimeoutMs: 2000, ...stream } }
}

/**
 * The allowance the tests' monitor sources and webhook receivers need: they run on loopback, which a server refuses
 * to connect to unless its configuration allows it (network.allowedAddresses).
 */
export const LOOPBACK_ADDRESSES: readonly string[] = Object.freeze(['127.0.0.0/8', '::1/128'])

/** `settings` with loopback allowed as a monitor source and webhook receiver. */
export function allowLoopback (settings: Settings): Settings {
  return { ...settings, network: { ...settings.network, allowedAddresses: LOOPBACK_ADDRESSES } }
}

export interface Running {
  server: EarshotServer
  port: number
  /** ws://127.0.0.1:PORT/v1/stream */
  url: string
  /** http://127.0.0.1:PORT */
  http: string
}

/**
 * Build a server on `index` with `transport`, listen on 127.0.0.1 at `port` (0: any free port) and close it in t's
 * teardown. Fails the test if the requested transport is not the one serving (uWS falls back to ws when it cannot
 * load: that would run the ws suite twice and call it uWS). A second server at once on one index needs a `stateDir`
 * of its own: one state folder serves one server.
 */
export async function startServer (t: Test, transport: TransportName, index: Index, settings = testSettings(),
  port = 0, stateDir?: string): Promise<Running> {
  const server = await build({ index, settings, transport, stateDir })
  t.equal(server.transport, transport, `serving with ${transport}`)
  const bound = await server.listen('127.0.0.1', port)
  let closed = false
  t.teardown(async () => { if (!closed) { closed = true; await server.close() } })
  return { server, port: bound, url: `ws://127.0.0.1:${bound}/v1/stream`, http: `http://127.0.0.1:${bound}` }
}

/** A free TCP port on loopback: listen on port 0 with node:net, note the port, close. */
export async function freePort (): Promise<number> {
  const s = net.createServer()
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

/** GET a URL on a connection of its own (no keep-alive socket outlives the test). */
export function httpGet (url: string): Promise<{ status: number, type: string, body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (s: string) => { body += s })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }))
    }).on('error', reject)
  })
}

/** Wait for `cond` (polled every 10 ms) at most `ms`; rejects with `what` when the time is up. */
export async function waitUntil (cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Poll `get` every `everyMs` until `done` holds for its result; rejects with `what` after `ms`. */
export async function pollUntil<T> (get: () => Promise<T>, done: (v: T) => boolean, ms: number, what: string, everyMs = 50): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await get()
    if (done(v)) return v
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${String(JSON.stringify(v)).slice(0, 900)})`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** Resolve with `p`, or reject with `what` after `ms`. */
export function within<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

export type Message = Record<string, unknown> & { type: string }

export interface Closed { code: number, reason: string }

/**
 * A protocol client over a plain `ws` WebSocket: sends any bytes, decodes every server frame, and records messages
 * and the close. `next(type)` waits for the next message of a type after those already taken.
 */
/**
 * A WebSocket upgrade the server should refuse before accepting it: resolves with the HTTP answer it gave instead
 * (status and body), rejects when the upgrade is accepted or no answer comes.
 */
export function refusedUpgrade (url: string, headers: Record<string, string>): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, headers })
    ws.once('open', () => { ws.terminate(); reject(new Error(`the upgrade to ${url} was accepted`)) })
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (s: string) => { body += s })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    ws.once('error', reject)
  })
}

export class RawClient {
  readonly ws: WebSocket
  readonly messages: Message[] = []
  /** Frames that were not control frames (the server should send none). */
  readonly strayFrames: Buffer[] = []
  /** Resolves when the socket has closed, with the code and reason received (1006: no close frame). */
  readonly closed: Promise<Closed>
  /** Socket errors seen (EPIPE, ECONNRESET and the like when the server drops a connection). */
  readonly errors: Error[] = []
  #taken = 0
  #waiters: Array<() => void> = []
  isClosed = false

  private constructor (ws: WebSocket) {
    this.ws = ws
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.length === 0 || data[0] !== FrameTag.CONTROL) { this.strayFrames.push(data); return }
      this.messages.push(decodeControl(data) as Message)
      for (const w of this.#waiters.splice(0)) w()
    })
    ws.on('error', (err) => { this.errors.push(err) })
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        this.isClosed = true
        resolve({ code, reason: reason.toString() })
        for (const w of this.#waiters.splice(0)) w()
      })
    })
  }

  /** @param headers of the upgrade request (an Authorization header, say) */
  static async open (url: string, headers?: Record<string, string>): Promise<RawClient> {
    const ws = new WebSocket(url, { perMessageDeflate: false, headers })
    const client = new RawClient(ws)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return client
  }

  send (data: Uint8Array | string, cb?: (err?: Error) => void): void {
    this.ws.send(data, { binary: typeof data !== 'string' }, cb)
  }

  control (m: ClientMessage | Record<string, unknown>): void { this.send(encodeControl(m as ClientMessage)) }

  /** An audio frame around PCM bytes (or the bytes of a typed array). */
  audio (pcm: Uint8Array | Int16Array | Float32Array): void {
    const bytes = new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength)
    const frame = new Uint8Array(bytes.length + 1)
    frame[0] = FrameTag.AUDIO
    frame.set(bytes, 1)
    this.send(frame)
  }

  hello (fields: Record<string, unknown> = {}): void {
    this.control({ type: 'hello', v: 1, sampleRate: 44100, encoding: 's16le', channels: 1, ...fields })
  }

  /** The next message of `type` not yet taken (messages before it are skipped); rejects on close or after `ms`. */
  async next (type: string, ms = 5000): Promise<Message> {
    const end = Date.now() + ms
    for (;;) {
      while (this.#taken < this.messages.length) {
        const m = this.messages[this.#taken++]
        if (m.type === type) return m
      }
      if (this.isClosed) throw new Error(`closed while waiting for '${type}' (got ${JSON.stringify(this.messages)})`)
      const left = end - Date.now()
      if (left <= 0) throw new Error(`no '${type}' within ${ms} ms (got ${JSON.stringify(this.messages)})`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  /** Messages of a type received so far. */
  all (type: string): Message[] { return this.messages.filter((m) => m.type === type) }

  /** Wait for the close, at most `ms`. */
  waitClosed (ms = 5000): Promise<Closed> { return within(this.closed, ms, 'the connection to close') }

  /** Close with 1000 and wait for the close to complete. */
  async close (): Promise<void> {
    if (!this.isClosed) this.ws.close(1000, 'done')
    await this.waitClosed()
  }

  /** A hello, then a ping answered by a pong: the session is alive. */
  async roundTrip (id: number): Promise<Message> {
    this.control({ type: 'ping', id })
    for (;;) {
      const pong = await this.next('pong')
      if (pong.id === id) return pong
    }
  }
}

/**
 * A whole session on a new connection: hello, ready, ping, pong, clean close. Passes when the server still serves
 * normally after whatever a test did to it.
 */
export async function assertServes (t: Test, url: string, name = 'the server still serves a new session'): Promise<void> {
  const c = await RawClient.open(url)
  c.hello()
  const ready = await c.next('ready')
  const pong = await c.roundTrip(42)
  await c.close()
  t.ok(typeof ready.sessionId === 'string' && pong.id === 42, name)
}

/** Float samples in -1..1 to s16 (clipped). */
export function toS16 (x: Float32Array): Int16Array {
  const out = new Int16Array(x.length)
  for (let i = 0; i < x.length; i++) {
    const v = x[i]
    out[i] = v >= 1 ? 32767 : v <= -1 ? -32768 : Math.round(v * 32767)
  }
  return out
}

/** Interleave one mono signal as stereo (the same samples on both channels). */
export function toStereo (x: Float32Array): Float32Array {
  const out = new Float32Array(x.length * 2)
  for (let i = 0; i < x.length; i++) { out[2 * i] = x[i]; out[2 * i + 1] = x[i] }
  return out
}

/**
 * Splice parts with linear crossfades of `fade` seconds: each part starts `fade` seconds before the previous one
 * ends, fading in while the previous fades out. Returns the signal and each part's start and end in seconds.
 */
export function crossfade (parts: readonly Float32Array[], rate: number, fade: number): { pcm: Float32Array, spans: Array<[number, number]> } {
  const f = Math.round(fade * rate)
  let length = 0
  const starts: number[] = []
  for (const [i, p] of parts.entries()) { starts.push(i === 0 ? 0 : length - f); length = starts[i] + p.length }
  const pcm = new Float32Array(length)
  for (const [i, p] of parts.entries()) {
    const at = starts[i]
    for (let j = 0; j < p.length; j++) {
      let g = 1
      if (i > 0 && j < f) g = j / f
      if (i < parts.length - 1 && j >= p.length - f) g = Math.min(g, (p.length - j) / f)
      pcm[at + j] += g * p[j]
    }
  }
  return { pcm, spans: parts.map((p, i) => [starts[i] / rate, (starts[i] + p.length) / rate]) }
}

/**
 * Write interleaved samples through the SDK in chunks of random sizes (1..maxFrames sample frames, from `rand`),
 * waiting for 'drain' when asked to: as fast as the server takes them, faster than real time.
 */
export async function writeChunks (client: EarshotClient, samples: Int16Array | Float32Array, channels: number,
  rand: () => number, maxFrames = 8192): Promise<void> {
  for (let at = 0; at < samples.length;) {
    const frames = 1 + Math.floor(rand() * maxFrames)
    const end = Math.min(samples.length, at + frames * channels)
    if (!client.write(samples.subarray(at, end))) await within(once(client, 'drain'), 10_000, 'drain')
    at = end
  }
}


/** Register a monitor of `source` over the HTTP API; asserts 201 and resolves with its id. */
export async function addMonitor (t: Test, http: string, source: string, label = 'test FM'): Promise<string> {
  const created = await fetch(`${http}/v1/monitors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: source, label }) })
  t.equal(created.status, 201, 'monitor created')
  return (await created.json() as { id: string }).id
}

/**
 * Stream `pcm` (mono) through the SDK as fast as the server takes it, flush, and count the confirmed matches seen.
 * `options` go to connect (`ca` for a wss:// server with a test certificate).
 */
export async function streamThroughSdk (url: string, pcm: Float32Array, rate: number, seed = 7,
  options: Partial<ConnectOptions> = {}): Promise<{ client: EarshotClient, confirmed: number }> {
  const client = await connect(url, { sampleRate: rate, reconnect: false, ...options })
  let confirmed = 0
  client.on('match', (m) => { if (m.state === 'confirmed') confirmed++ })
  await writeChunks(client, toS16(pcm), 1, prng(seed))
  await client.flush()
  return { client, confirmed }
}
