/**
 * Running ffmpeg to decode audio: the one place that starts it, for files the in-process decoders do not know
 * (audio/decode.ts), `earshot stream` on URLs and standard input (cli/stream.ts), and monitored streams
 * (monitor/source-connection.ts). Each wants the same thing (any input in, mono PCM at a chosen rate on stdout, and
 * why when it fails), so the command line, the executable and the reading of its errors are settled here once.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import type { Encoding } from '../../../protocol/src/index.js'
import { defaults } from '../config/defaults.js'

/** The executable when none is configured (setting ffmpegPath): looked up on the PATH. */
export const DEFAULT_FFMPEG_PATH = defaults.ffmpegPath
/** The input that means the bytes written to the decoder's stdin. */
export const STDIN_INPUT = 'pipe:0'
/** How much of ffmpeg's stderr is kept: its last line says why it failed. */
const STDERR_TAIL_CHARS = 1024

export interface FfmpegDecodeOptions {
  /** [DEFAULT_FFMPEG_PATH] the executable, looked up on the PATH unless absolute. */
  ffmpegPath?: string
  /** A URL or file that ffmpeg reads itself, or STDIN_INPUT for bytes written to `stdin`. */
  input: string
  /** Hz of the output. */
  sampleRate: number
  encoding: Encoding
  /** Read the input at its real-time pace (`-re`) rather than as fast as it comes. */
  realtime?: boolean
  /** Stop after this much audio, in seconds (`-t`). */
  maxSeconds?: number
}

/** ffmpeg's command line: decode the input to mono PCM at the rate, in the encoding, on stdout; errors only on stderr. */
export function ffmpegDecodeArgs (o: FfmpegDecodeOptions): string[] {
  return ['-hide_banner', '-loglevel', 'error', '-nostdin', ...(o.realtime === true ? ['-re'] : []), '-i', o.input,
    ...(o.maxSeconds !== undefined ? ['-t', String(o.maxSeconds)] : []), '-vn', '-ac', '1', '-ar', String(o.sampleRate), '-f', o.encoding, 'pipe:1']
}

/**
 * One ffmpeg process decoding to mono PCM. Its events are the child process's ('spawn', 'error' when it cannot
 * start, 'close' when it ended); this adds the lines that say why it failed.
 */
export class FfmpegDecoder {
  readonly ffmpegPath: string
  readonly process: ChildProcess
  #stderrTail = ''

  constructor (o: FfmpegDecodeOptions) {
    this.ffmpegPath = o.ffmpegPath ?? DEFAULT_FFMPEG_PATH
    this.process = spawn(this.ffmpegPath, ffmpegDecodeArgs(o), { stdio: [o.input === STDIN_INPUT ? 'pipe' : 'ignore', 'pipe', 'pipe'] })
    this.process.stdin?.on('error', () => {}) // ffmpeg closes its input when it exits, early on bad input; its exit says why
    this.process.stderr?.setEncoding('utf8').on('data', (s: string) => {
      this.#stderrTail = (this.#stderrTail + s).slice(-STDERR_TAIL_CHARS)
    })
  }

  /** Where input goes when it is STDIN_INPUT; null otherwise. */
  get stdin (): Writable | null { return this.process.stdin }

  /** The decoded PCM. */
  get stdout (): Readable { return this.process.stdout as Readable }

  /** Why ffmpeg could not start (no executable at the path, most often), one line. */
  startFailure (err: Error): string {
    return `cannot run ffmpeg (${this.ffmpegPath}): ${err.message}`
  }

  /** Why ffmpeg exited with `code` (or was ended by `signal`), one line: the exit and its last line of stderr. */
  exitFailure (code: number | null, signal: NodeJS.Signals | null = null): string {
    const last = this.#stderrTail.trim().split('\n').pop() ?? ''
    return `ffmpeg exited with ${code ?? signal}${last ? `: ${last}` : ''}`
  }

  /** End it at once, unless it has ended already. */
  kill (): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL')
  }
}
