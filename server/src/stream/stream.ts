/**
 * A stream being matched, a client's or a monitor's alike: one session, its metrics and the listeners of its
 * results. The one place that wires a stream, so both kinds are metered, recorded and reported the same way:
 *
 *   PCM -> StreamSession -> SessionMatch / SessionMatchEnd -> listeners (client messages, play log, monitor state)
 *                                                          -> SessionMeter (metrics)
 */
import type { PcmFormat } from '../../../protocol/src/index.js'
import type { Settings } from '../config/defaults.js'
import type { Index } from '../index/types.js'
import type { Metrics } from '../metrics/metrics.js'
import { SessionMeter, type SessionLabels } from './session-meter.js'
import { StreamSession, type AudioProblem, type SessionListener, type SessionMatch, type SessionMatchEnd } from './session.js'

/** Hears a stream: its results, its audio position and its end. Every method is optional. */
export interface StreamListener extends Partial<SessionListener> {
  /** After each chunk of audio: the session's stream seconds. */
  audio? (streamSeconds: number): void
  /** The stream is over (closed, dropped or timed out), at this stream time. Called once. */
  close? (streamSeconds: number): void
}

export interface StreamOptions {
  index: Index
  settings: Settings
  format: PcmFormat
  /** Who is listening: whose metrics the session's are, and whether its updates are pushed to a client. */
  labels: SessionLabels
  /** The server's metrics; none in tests that do not need them. */
  metrics?: Metrics
  listeners: StreamListener[]
}

export class Stream {
  readonly #session: StreamSession
  readonly #meter: SessionMeter | undefined
  readonly #listeners: StreamListener[]
  /** Push latency is a client's measure: the time from its audio to the update it is sent. */
  readonly #timed: boolean
  /** performance.now() when the chunk being written arrived, for timed streams; 0 outside `write` and untimed. */
  #audioAt = 0
  #closed = false

  constructor (o: StreamOptions) {
    this.#listeners = o.listeners
    this.#timed = o.labels.kind === 'client'
    const meter = o.metrics && new SessionMeter(o.metrics, o.labels)
    this.#meter = meter
    this.#session = new StreamSession(o.index, o.settings, o.format, {
      match: (e) => this.#match(e),
      matchEnd: (e) => this.#matchEnd(e),
    }, meter?.tick)
  }

  get format (): PcmFormat { return this.#session.format }

  /** Seconds of audio received. */
  get streamSeconds (): number { return this.#session.streamSeconds }

  get flushed (): boolean { return this.#session.flushed }

  /** What is wrong with a chunk of PCM bytes, before anything is processed; undefined when it is fine. */
  check (pcm: Uint8Array): AudioProblem { return this.#session.check(pcm) }

  /** Process a checked chunk of PCM bytes. Throws what the session throws (a damaged index page). */
  write (pcm: Uint8Array): void {
    const session = this.#session
    const before = session.streamSeconds
    if (this.#timed) this.#audioAt = performance.now() // a monitor's chunks need no clock read
    try {
      session.write(pcm)
    } finally {
      this.#audioAt = 0
    }
    const now = session.streamSeconds
    this.#meter?.audio(pcm.length, now - before)
    for (const l of this.#listeners) l.audio?.(now)
  }

  /** End of input: the final results are reported. A later flush does nothing. */
  flush (): void { this.#session.flush() }

  /** The stream is over; `reason` is the closing error code, or 'normal'. Later calls do nothing. */
  close (reason: string): void {
    if (this.#closed) return
    this.#closed = true
    this.#meter?.close(reason)
    const at = this.#session.streamSeconds
    for (const l of this.#listeners) l.close?.(at)
  }

  #latency (): number | undefined {
    return this.#audioAt > 0 ? (performance.now() - this.#audioAt) / 1000 : undefined
  }

  #match (e: SessionMatch): void {
    for (const l of this.#listeners) l.match?.(e)
    this.#meter?.match(e, this.#latency())
  }

  #matchEnd (e: SessionMatchEnd): void {
    for (const l of this.#listeners) l.matchEnd?.(e)
    this.#meter?.matchEnd(e, this.#latency())
  }
}
