/**
 * A live radio station for the monitoring tests: a node:http server that plays one program (mono PCM) as an endless
 * WAV stream, paced by the wall clock like a broadcast from the moment the first listener tunes in. Every listener hears the same live position, so a listener
 * that reconnects misses what aired while it was away. After the program, the station airs silence.
 */
import http from 'node:http'
import type net from 'node:net'
import { once } from 'node:events'

export interface Radio {
  url: string
  /** Seconds of the program aired so far. */
  position (): number
  /** Cut every listener off (the station's link drops); new connections are served again at once. */
  drop (): void
  /** Refuse new listeners with 503 while true. */
  refuse: boolean
  /** Listeners connected so far. */
  readonly connections: number
  /** Listeners connected now. */
  readonly listening: number
  close (): Promise<void>
}

/** Bytes sent per tick of the pacing timer: 50 ms. */
const TICK_MS = 50

/**
 * @param program mono samples in -1..1
 * @param rate sample rate of the program
 * @param speed how many seconds of program air per wall-clock second (tests run faster than real time)
 */
export async function startRadio (program: Float32Array, rate: number, speed = 1): Promise<Radio> {
  const pcm = Buffer.alloc(program.length * 2)
  for (let i = 0; i < program.length; i++) pcm.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(program[i] * 32767))), i * 2)
  let started = 0 // the program starts airing when the first listener tunes in
  const sampleAt = (): number => started === 0 ? 0 : Math.floor(((Date.now() - started) / 1000) * speed * rate)
  const sockets = new Set<net.Socket>()
  let connections = 0
  let listening = 0
  const radio: Radio = {
    url: '',
    position: () => sampleAt() / rate,
    drop: () => { for (const s of sockets) s.destroy() },
    refuse: false,
    get connections () { return connections },
    get listening () { return listening },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  const server = http.createServer((req, res) => {
    if (radio.refuse) { res.writeHead(503).end(); return }
    connections++
    listening++
    res.on('close', () => { listening-- })
    if (started === 0) started = Date.now()
    res.writeHead(200, { 'content-type': 'audio/wav', 'cache-control': 'no-store' })
    res.write(wavHeader(rate))
    let sent = sampleAt()
    const timer = setInterval(() => {
      const now = sampleAt()
      if (now <= sent) return
      const from = sent
      sent = now
      if (from >= program.length) { res.write(Buffer.alloc((now - from) * 2)); return }
      const to = Math.min(now, program.length)
      res.write(pcm.subarray(from * 2, to * 2))
      if (now > to) res.write(Buffer.alloc((now - to) * 2))
    }, TICK_MS)
    res.on('close', () => clearInterval(timer))
  })
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  radio.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/live.wav`
  return radio
}

/** A WAV header for an endless 16-bit mono stream: the sizes say "unknown" (0xFFFFFFFF), as live encoders write. */
function wavHeader (rate: number): Buffer {
  const h = Buffer.alloc(44)
  h.write('RIFF', 0)
  h.writeUInt32LE(0xFFFFFFFF, 4)
  h.write('WAVE', 8)
  h.write('fmt ', 12)
  h.writeUInt32LE(16, 16)
  h.writeUInt16LE(1, 20) // PCM
  h.writeUInt16LE(1, 22) // mono
  h.writeUInt32LE(rate, 24)
  h.writeUInt32LE(rate * 2, 28)
  h.writeUInt16LE(2, 32)
  h.writeUInt16LE(16, 34)
  h.write('data', 36)
  h.writeUInt32LE(0xFFFFFFFF, 40)
  return h
}
