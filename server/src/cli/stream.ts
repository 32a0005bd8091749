/**
 * `earshot stream`: send a file, a folder, a URL or standard input to a server and print the match events.
 * Files decode with the engine's decoders; URLs and standard input go through ffmpeg. Audio is sent as s16le mono.
 */
import type { Writable } from 'node:stream'
import { once } from 'node:events'
import { connect, type EarshotClient } from '../../../client-sdk/src/index.js'
import { BYTES_PER_SAMPLE } from '../../../protocol/src/index.js'
import { decodeFile } from '../audio/decode.js'
import { FfmpegDecoder, STDIN_INPUT } from '../audio/ffmpeg.js'
import { PcmFramer } from '../audio/pcm-framer.js'
import { collectFiles } from '../catalog/indexer.js'
import { earshotError, wrapError, describeError } from '../errors.js'
import { errLine, jsonText } from './terminal-text.js'
import { speedNote } from '../../../protocol/src/speed.js'

/** Audio per message: 100 ms. */
const CHUNK_SECONDS = 0.1
/** Rate ffmpeg decodes URLs and standard input to. */
const PIPE_RATE = 44100

export interface StreamOptions {
  /** The stream protocol's WebSocket URL (ws://host:port/v1/stream). */
  server: string
  realtime: boolean
  json: boolean
  label?: string
  streamId?: string
  /** The ffmpeg executable that decodes URLs, standard input and what the built-in decoders do not. */
  ffmpegPath: string
  out: (line: string) => void
}

function toS16 (x: Float32Array, from: number, to: number, into: Int16Array): Int16Array {
  const n = to - from
  for (let i = 0; i < n; i++) {
    const v = x[from + i]
    into[i] = v >= 1 ? 32767 : v <= -1 ? -32768 : Math.round(v * 32767)
  }
  return into.subarray(0, n)
}

/**
 * What `earshot stream` prints of a session's events: each as a JSON line (--json), or as a line for people. A text
 * line names the track, also when it ends; the end of a candidate that was never confirmed is not printed (it was
 * no match, and its end, where its last vote was, would come after later lines with an earlier time).
 */
export function eventPrinter (source: string, o: Pick<StreamOptions, 'json' | 'out'>): (event: Record<string, unknown>) => void {
  // What the text lines need to know of earlier events: each track's name, whether it was confirmed, and the
  // latest stream time printed (a match ends where its audio did, which can be before lines already printed).
  const seen = new Map<number, { name: string, confirmed: boolean }>()
  let printedAt = 0
  const at = (seconds: number): string => {
    printedAt = Math.max(printedAt, seconds)
    return `[${printedAt.toFixed(1)} s]`
  }
  return (event: Record<string, unknown>): void => {
    if (o.json) { o.out(jsonText({ input: source, ...event })); return }
    if (event.type === 'match') {
      const speed = speedNote(Number(event.speed))
      const name = `#${String(event.id)} ${event.artist ? `${String(event.artist)} - ` : ''}${String(event.title)}`
      const before = seen.get(Number(event.id))
      seen.set(Number(event.id), { name, confirmed: (before?.confirmed ?? false) || event.state === 'confirmed' })
      o.out(`${at(Number(event.streamSeconds))} ${String(event.state)} ${name} ` +
        `at ${Number(event.offsetSeconds).toFixed(1)} s${speed ? `, ${speed}` : ''} (confidence ${Number(event.confidence).toFixed(2)})`)
    } else if (event.type === 'match-end') {
      const track = seen.get(Number(event.id))
      seen.delete(Number(event.id))
      // A candidate that was never confirmed did not start a match: its end is no news (and would come out of order).
      if (!track?.confirmed) return
      o.out(`${at(Number(event.endedAtStreamSeconds))} ended ${track.name} ` +
        `(played from ${Number(event.startedAtStreamSeconds).toFixed(1)} s to ${Number(event.endedAtStreamSeconds).toFixed(1)} s)`)
    } else if (event.type === 'error') {
      o.out(`error ${String(event.code)}: ${String(event.message)}`)
    } else if (event.type === 'reconnected') {
      o.out('reconnected')
    }
  }
}

async function openSession (source: string, sampleRate: number, o: StreamOptions): Promise<EarshotClient> {
  let client: EarshotClient
  try {
    client = await connect(o.server, { sampleRate, encoding: 's16le', channels: 1, label: o.label ?? source, streamId: o.streamId })
  } catch (err) {
    throw wrapError('EAR_ERR_CONNECT', err, o.server)
  }
  const print = eventPrinter(source, o)
  client.on('match', (m) => print({ ...m }))
  client.on('match-end', (m) => print({ ...m }))
  client.on('error', (e) => print(e instanceof Error ? { type: 'error', code: 'EAR_ERR_CONNECT', message: e.message } : { ...e }))
  client.on('reconnected', () => print({ type: 'reconnected' }))
  return client
}

/** Send samples at real-time pace or as fast as the server takes them. */
async function pace (client: EarshotClient, sent: number, rate: number, started: number, realtime: boolean): Promise<void> {
  if (realtime) {
    const ahead = (sent / rate) * 1000 - (performance.now() - started)
    if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead))
  }
}

async function streamFile (file: string, o: StreamOptions): Promise<void> {
  const audio = await decodeFile(file, undefined, o.ffmpegPath)
  const client = await openSession(file, audio.sampleRate, o)
  const chunk = Math.round(audio.sampleRate * CHUNK_SECONDS)
  const buf = new Int16Array(chunk)
  const started = performance.now()
  for (let i = 0; i < audio.samples.length; i += chunk) {
    const end = Math.min(audio.samples.length, i + chunk)
    if (!client.write(toS16(audio.samples, i, end, buf))) await once(client, 'drain')
    await pace(client, end, audio.sampleRate, started, o.realtime)
  }
  await finish(client, o)
}

async function streamPipe (source: string, o: StreamOptions): Promise<void> {
  const fromStdin = source === '-'
  const ffmpeg = new FfmpegDecoder({ ffmpegPath: o.ffmpegPath, input: fromStdin ? STDIN_INPUT : source, sampleRate: PIPE_RATE, encoding: 's16le', realtime: o.realtime && !fromStdin })
  try { await once(ffmpeg.process, 'spawn') } catch (err) { throw wrapError('EAR_ERR_SOURCE', err, `${source} (ffmpeg is needed for URLs and standard input)`) }
  if (fromStdin) process.stdin.pipe(ffmpeg.stdin as Writable)
  const client = await openSession(source, PIPE_RATE, o)
  let mustDrain = false
  const framer = new PcmFramer((samples) => { if (!client.write(samples)) mustDrain = true })
  framer.reset(BYTES_PER_SAMPLE.s16le) // mono
  for await (const data of ffmpeg.stdout) {
    framer.push(data as Buffer)
    if (mustDrain) { mustDrain = false; await once(client, 'drain') }
  }
  const [code, signal] = await once(ffmpeg.process, 'close') as [number | null, NodeJS.Signals | null]
  if (code !== 0) {
    await client.close()
    throw earshotError('EAR_ERR_SOURCE', `${source}: ${ffmpeg.exitFailure(code, signal)}`)
  }
  await finish(client, o)
}

async function finish (client: EarshotClient, o: StreamOptions): Promise<void> {
  const seconds = await client.flush()
  if (!o.json) o.out(`end of stream after ${seconds.toFixed(1)} s`)
  await client.close()
}

export async function streamSources (sources: readonly string[], o: StreamOptions): Promise<number> {
  let failures = 0
  for (const source of sources) {
    if (source === '-' || /^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
      await streamPipe(source, o)
      continue
    }
    const files = await collectFiles([source], {
      skip (file, reason) { failures++; errLine(`earshot: skipped ${file}: ${reason}`) },
      symlink (file) { errLine(`earshot: skipped ${file}: a symbolic link (not followed in folders)`) },
    })
    for (const file of files) {
      try {
        await streamFile(file, o)
      } catch (err) {
        if ((err as { code?: string }).code === 'EAR_ERR_CONNECT') throw err
        failures++
        errLine(`earshot: skipped ${file}: ${describeError(err)}`)
      }
    }
  }
  return failures === 0 ? 0 : 1
}
