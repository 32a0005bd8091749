/**
 * The metrics of one stream session, with its label children bound once at open: what a client connection or a
 * monitor tells it costs a few additions per audio frame.
 */
import type { Counter, Gauge } from 'prom-client'
import type { Metrics, SessionKind } from '../metrics/metrics.js'
import type { SessionMatch, SessionMatchEnd } from './session.js'

export interface SessionLabels {
  transport: string
  kind: SessionKind
  /** Monitor id and label; empty for client streams. */
  monitor?: { id: string, label: string }
}

export class SessionMeter {
  readonly #m: Metrics
  readonly #labels: SessionLabels
  readonly #active: Gauge.Internal<string>
  readonly #audio: Counter.Internal
  readonly #bytes: Counter.Internal
  readonly #confirmed: Counter.Internal
  readonly #ends: Counter.Internal
  readonly #monitorAudio: Counter.Internal | undefined
  readonly #monitorUnknown: Counter.Internal | undefined
  #confirmedTrack = -1
  #open = true
  #pendingBytes = 0
  #pendingSeconds = 0
  #pendingUnknown = 0

  constructor (m: Metrics, labels: SessionLabels) {
    this.#m = m
    this.#labels = labels
    const tk = { transport: labels.transport, kind: labels.kind }
    this.#active = m.sessionsActive.labels(tk)
    this.#audio = m.audioSeconds.labels({ kind: labels.kind })
    this.#bytes = m.bytesReceived.labels({ kind: labels.kind })
    const monitor = labels.monitor ? { monitor: labels.monitor.id, label: labels.monitor.label } : undefined
    this.#confirmed = m.matchesConfirmed.labels({ monitor: monitor?.monitor ?? '' })
    this.#ends = m.matchEnds.labels({ monitor: monitor?.monitor ?? '' })
    this.#monitorAudio = monitor && m.monitorAudioSeconds.labels(monitor)
    this.#monitorUnknown = monitor && m.monitorUnknownSeconds.labels(monitor)
    m.sessionsOpened.labels(tk).inc()
    this.#active.inc()
    // Create the per-monitor series at 0: rate() cannot see a counter's first step if it appears already at 1.
    for (const c of [this.#confirmed, this.#ends, this.#monitorAudio, this.#monitorUnknown]) c?.inc(0)
  }

  /**
   * Audio processed: bytes received and the seconds they held. Called per audio frame, so it only adds: the sums
   * reach prom-client once a tick (about 0.5 s of audio) and at close, where a labelled inc() costs a label lookup.
   */
  audio (bytes: number, seconds: number): void {
    this.#pendingBytes += bytes
    this.#pendingSeconds += seconds
    if (this.#confirmedTrack < 0) this.#pendingUnknown += seconds
  }

  #flush (): void {
    if (this.#pendingBytes === 0) return
    this.#bytes.inc(this.#pendingBytes)
    this.#audio.inc(this.#pendingSeconds)
    this.#monitorAudio?.inc(this.#pendingSeconds)
    this.#monitorUnknown?.inc(this.#pendingUnknown)
    this.#pendingBytes = 0
    this.#pendingSeconds = 0
    this.#pendingUnknown = 0
  }

  /** A match the session reported; `latencySeconds` since the audio that decided it, when it is measured. */
  match (e: SessionMatch, latencySeconds?: number): void {
    this.#m.matchUpdates.labels({ state: e.state }).inc()
    if (e.state === 'confirmed' && this.#confirmedTrack !== e.track.id) {
      this.#confirmedTrack = e.track.id
      this.#confirmed.inc()
      this.#m.timeToConfirmed.observe(Math.max(0, e.streamSeconds - e.startSeconds))
    }
    if (latencySeconds !== undefined) this.#m.pushLatency.observe(latencySeconds)
  }

  /** A match the session ended; `latencySeconds` as for `match`. */
  matchEnd (e: SessionMatchEnd, latencySeconds?: number): void {
    if (e.trackId === this.#confirmedTrack) this.#confirmedTrack = -1
    this.#ends.inc()
    if (latencySeconds !== undefined) this.#m.pushLatency.observe(latencySeconds)
  }

  /** One tick's lookups (see StreamMatcherOptions.onTick). */
  readonly tick = (hashes: number, lookups: number, postings: number, seconds: number): void => {
    this.#flush()
    const m = this.#m
    m.hashes.inc(hashes)
    m.lookups.inc(lookups)
    m.postingsRead.inc(postings)
    if (lookups > 0) m.lookupSeconds.observe(seconds)
  }

  /** The session ended; `reason` is the closing error code, or 'normal'. */
  close (reason: string): void {
    if (!this.#open) return
    this.#open = false
    this.#flush()
    this.#active.dec()
    this.#m.sessionsClosed.labels({ transport: this.#labels.transport, kind: this.#labels.kind, reason }).inc()
  }
}
