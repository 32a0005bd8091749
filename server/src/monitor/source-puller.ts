/**
 * Pulling a monitored stream: a radio stream's URL in, its PCM out (through callbacks), for as long as it runs. This
 * file is the state machine that keeps it running: one connection at a time (source-connection.ts), and after any
 * failure a new attempt, after an exponential backoff with jitter (protocol/src/backoff.ts) that restarts once the
 * source has worked for a while. A finite source read to its end (a file on a web server) is 'finished' instead: no
 * reconnect, nothing heard twice.
 */
import type { ChildProcess } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { SPREAD_JITTER, backoffDelayMs, type PcmFormat } from '../../../protocol/src/index.js'
import { SWAP_BUFFER_BYTES } from '../audio/pcm-framer.js'
import { EarshotError, describeError, oneLine } from '../errors.js'
import { SourceConnection, type ConnectionBuffers } from './source-connection.js'
import { resolveSourceOptions, type ResolvedSourceOptions, type SourceOptions } from './source-options.js'
import { displayUrl, validateSourceUrl } from './source-url.js'

export type SourceState = 'connecting' | 'listening' | 'down' | 'finished'

export interface SourceStatus {
  state: SourceState
  /** When the state last changed (ISO 8601). */
  since: string
  /** Attempts after the first since start(). */
  reconnects: number
  /** The latest failure, one line (`EAR_ERR_SOURCE: …`); kept after the source recovers. */
  lastError?: string
}

/** Callbacks of a SourcePuller. They run synchronously on the puller's events and must not throw. */
export interface SourceHandlers {
  /** A new connection produced audio: its format. Called once per connection, before its first pcm(). */
  format (f: PcmFormat): void
  /** PCM of the current connection: whole sample frames only. May be a view valid only during the call. */
  pcm (bytes: Uint8Array): void
  /** The current connection ended (dropped, stalled, ffmpeg exited, stop()…). Once per connection that produced format(). */
  end (reason: string): void
  /**
   * State changes: connecting -> listening (first audio) -> down (on failure, until the next attempt) -> connecting…;
   * a finite source that was read to its end: listening -> finished, and no further attempt.
   */
  state (s: SourceStatus): void
}

/**
 * Pulls one stream for as long as it runs: connects, passes its audio on, and reconnects whenever it drops.
 *
 *   const puller = new SourcePuller('https://radio.example/live.mp3', handlers)
 *   puller.start()
 *   …
 *   await puller.stop()
 */
export class SourcePuller {
  readonly url: string
  readonly #target: URL
  readonly #display: string
  readonly #handlers: SourceHandlers
  readonly #options: ResolvedSourceOptions
  readonly #buffers: ConnectionBuffers
  #status: SourceStatus
  #running = false
  #connection: SourceConnection | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #failures = 0 // failed attempts in a row
  #reconnects = 0
  #listeningAt = 0 // performance.now() when the current connection produced audio
  #lastError: string | undefined
  /** Exits of ffmpeg processes that may still run; stop() waits for them. */
  readonly #exits = new Set<Promise<void>>()

  /**
   * @throws EAR_ERR_SOURCE for a URL that validateSourceUrl refuses; TypeError or RangeError for bad options
   */
  constructor (url: string, handlers: SourceHandlers, options: SourceOptions = {}) {
    const invalid = validateSourceUrl(url)
    if (invalid) throw new EarshotError('EAR_ERR_SOURCE', [displayUrl(String(url))], { cause: new TypeError(invalid) })
    this.url = url
    this.#target = new URL(url)
    this.#display = displayUrl(url)
    this.#handlers = handlers
    this.#options = resolveSourceOptions(options)
    this.#buffers = {
      head: Buffer.alloc(this.#options.maxHeaderBytes),
      swap: new Uint8Array(SWAP_BUFFER_BYTES),
    }
    this.#status = Object.freeze({ state: 'down', since: new Date().toISOString(), reconnects: 0 })
  }

  /** The current state; a new frozen object at each change. */
  get status (): SourceStatus { return this.#status }

  /** Start pulling (again, after stop()). Does nothing while running. */
  start (): void {
    if (this.#running) return
    this.#running = true
    this.#failures = 0
    this.#reconnects = 0
    this.#connect()
  }

  /**
   * Stop: end the current connection (ffmpeg is killed), cancel the retry. A connection that produced audio gets
   * end('stopped') and the state becomes 'down', both before this returns; no callback follows. Resolves once no
   * ffmpeg process of this puller remains.
   */
  async stop (): Promise<void> {
    this.#running = false
    clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    const connection = this.#connection
    this.#connection = undefined
    if (connection) {
      connection.close()
      if (connection.producedAudio) this.#handlers.end('stopped')
    }
    if (this.#status.state !== 'down' && this.#status.state !== 'finished') this.#setState('down')
    await Promise.all(this.#exits)
  }

  #connect (): void {
    this.#setState('connecting')
    if (!this.#running) return // a state handler stopped the puller
    const connection: SourceConnection = new SourceConnection(this.#target, this.#options, this.#buffers, {
      format: (f) => this.#onFormat(connection, f),
      pcm: (bytes) => this.#handlers.pcm(bytes),
      ended: (reason, finished) => this.#onEnded(connection, reason, finished),
      spawned: (child) => this.#track(child),
    })
    this.#connection = connection
    connection.start()
  }

  #onFormat (connection: SourceConnection, f: PcmFormat): void {
    this.#handlers.format(f)
    if (connection !== this.#connection) return
    this.#listeningAt = performance.now()
    this.#setState('listening')
  }

  #onEnded (connection: SourceConnection, reason: string, finished: boolean): void {
    if (connection !== this.#connection) return
    this.#connection = undefined
    const line = oneLine(reason)
    if (connection.producedAudio) {
      this.#handlers.end(line)
      if (performance.now() - this.#listeningAt >= this.#options.resetAfterMs) this.#failures = 0
    }
    if (finished) {
      this.#running = false
      this.#setState('finished')
      return
    }
    this.#failures++
    this.#lastError = oneLine(describeError(new EarshotError('EAR_ERR_SOURCE', [this.#display], { cause: new Error(line) })))
    this.#setState('down')
    if (!this.#running || this.#connection || this.#retryTimer) return // stopped or restarted by a handler
    const o = this.#options
    this.#retryTimer = setTimeout(this.#retry, backoffDelayMs(this.#failures, o.initialBackoffMs, o.maxBackoffMs, SPREAD_JITTER))
  }

  readonly #retry = (): void => {
    this.#retryTimer = undefined
    if (!this.#running) return
    this.#reconnects++
    this.#connect()
  }

  #setState (state: SourceState): void {
    const s: SourceStatus = { state, since: new Date().toISOString(), reconnects: this.#reconnects }
    if (this.#lastError !== undefined) s.lastError = this.#lastError
    this.#status = Object.freeze(s)
    this.#handlers.state(this.#status)
  }

  #track (child: ChildProcess): void {
    const exit = new Promise<void>((resolve) => {
      child.once('exit', () => resolve())
      child.once('error', () => resolve()) // it never started
    })
    this.#exits.add(exit)
    void exit.then(() => this.#exits.delete(exit))
  }
}
