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
import type { RemoteSession, StreamEngines } from './engines.js'
import { SessionMeter, type SessionLabels } from './session-meter.js'
import { StreamSession, pcmProblem, type AudioProblem, type SessionListener, type SessionMatch, type SessionMatchEnd } from './session.js'

/** Hears a stream: its results, its audio position and its end. Every method is optional. */
export interface StreamListener extends Partial<SessionListener> {
  /** After each chunk of audio: the session's stream seconds. */
  audio? (streamSeconds: number): void
  /** The stream is over (closed, dropped or timed out), at this stream time. Called once, after every result. */
  close? (streamSeconds: number): void
  /**
   * Its engine could not process the audio (a damaged index page, a bug): the stream can go no further. Only for
   * streams on engine workers; a session in this thread throws from `write` and `flush` instead.
   */
  fault? (err: Error): void
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
  /** Worker threads to run the session on; none: it runs in this thread. */
  engines?: StreamEngines
}

/** Writes whose arrival times are kept for push latency: results come back within far fewer. */
const TIMED_WRITES = 1024

export class Stream {
  readonly #session: StreamSession | RemoteSession
  readonly #meter: SessionMeter | undefined
  readonly #listeners: StreamListener[]
  /** Push latency is a client's measure: the time from its audio to the update it is sent. */
  readonly #timed: boolean
  /** performance.now() when each of the last writes arrived, by sequence number, for timed streams on engines. */
  readonly #writtenAt: Float64Array | undefined
  /** performance.now() when the chunk being written arrived, for timed streams; 0 outside `write` and untimed. */
  #audioAt = 0
  #closed = false

  constructor (o: StreamOptions) {
    this.#listeners = o.listeners
    this.#timed = o.labels.kind === 'client'
    const meter = o.metrics && new SessionMeter(o.metrics, o.labels)
    this.#meter = meter
    if (o.engines) {
      this.#writtenAt = this.#timed ? new Float64Array(TIMED_WRITES) : undefined
      this.#session = o.engines.open(o.format, {
        match: (e, seq) => this.#match(e, this.#remoteLatency(seq)),
        matchEnd: (e, seq) => this.#matchEnd(e, this.#remoteLatency(seq)),
        tick: meter?.tick,
        fault: (err) => { for (const l of this.#listeners) l.fault?.(err) },
      })
    } else {
      this.#session = new StreamSession(o.index, o.settings, o.format, {
        match: (e) => this.#match(e, this.#latency()),
        matchEnd: (e) => this.#matchEnd(e, this.#latency()),
      }, meter?.tick)
    }
  }

  get format (): PcmFormat { return this.#session.format }

  /** Seconds of audio received. */
  get streamSeconds (): number { return this.#session.streamSeconds }

  get flushed (): boolean { return this.#session.flushed }

  /** What is wrong with a chunk of PCM bytes, before anything is processed; undefined when it is fine. */
  check (pcm: Uint8Array): AudioProblem { return pcmProblem(pcm, this.#session.format) }

  /** Process a checked chunk of PCM bytes. Throws what the session throws (a damaged index page). */
  write (pcm: Uint8Array): void {
    const session = this.#session
    const before = session.streamSeconds
    if (this.#timed) this.#audioAt = performance.now() // a monitor's chunks need no clock read
    try {
      session.write(pcm)
    } finally {
      if (this.#writtenAt) this.#writtenAt[(session as RemoteSession).seq % TIMED_WRITES] = this.#audioAt // only on engines
      this.#audioAt = 0
    }
    const now = session.streamSeconds
    this.#meter?.audio(pcm.length, now - before)
    for (const l of this.#listeners) l.audio?.(now)
  }

  /**
   * End of input: the final results are reported, then `then` runs (at once for a session in this thread, once
   * its engine answers for one on a worker). A later flush reports nothing new.
   */
  flush (then?: () => void): void {
    const session = this.#session
    if (session instanceof StreamSession) {
      session.flush()
      then?.()
    } else {
      session.flush(then)
    }
  }

  /**
   * The stream is over; `reason` is the closing error code, or 'normal'. The listeners hear it after every result,
   * then `then` runs (at once for a session in this thread). Later calls do nothing.
   */
  close (reason: string, then?: () => void): void {
    if (this.#closed) return
    this.#closed = true
    const session = this.#session
    const closed = (): void => {
      this.#meter?.close(reason)
      const at = session.streamSeconds
      try {
        for (const l of this.#listeners) l.close?.(at)
      } finally {
        then?.()
      }
    }
    if (session instanceof StreamSession) closed()
    else session.close(closed) // after the results of the audio already sent
  }

  #latency (): number | undefined {
    return this.#audioAt > 0 ? (performance.now() - this.#audioAt) / 1000 : undefined
  }

  /** From the arrival of write `seq` to now; unknown when the engine is so far behind that its time was overwritten. */
  #remoteLatency (seq: number): number | undefined {
    const session = this.#session as RemoteSession
    if (!this.#writtenAt || seq <= 0 || session.seq - seq >= TIMED_WRITES) return undefined
    return (performance.now() - this.#writtenAt[seq % TIMED_WRITES]) / 1000
  }

  #match (e: SessionMatch, latency: number | undefined): void {
    for (const l of this.#listeners) l.match?.(e)
    this.#meter?.match(e, latency)
  }

  #matchEnd (e: SessionMatchEnd, latency: number | undefined): void {
    for (const l of this.#listeners) l.matchEnd?.(e)
    this.#meter?.matchEnd(e, latency)
  }
}
