/**
 * One stream's plays: listens to its sessions (a StreamListener: matches, match ends, the stream position after each
 * chunk of audio, the end of a session); produces rows of the PlayLog and `match.confirmed` / `match.ended` events.
 *
 * Rules:
 *   - the first `confirmed` match of a track opens a play at the match's first evidence (startSeconds);
 *   - later matches of that track only raise its peak confidence and update its speed (written with the next touch);
 *   - the match's end closes it at its last evidence (endSeconds);
 *   - a `confirmed` match of another track first closes the open play where the new one starts;
 *   - `close()` closes the open play where the session stopped (source dropped, socket closed);
 *   - tentative matches, and matches or ends of a track that was never confirmed, record nothing;
 *   - a play the `admit` option refuses (a rate limit) is not opened; a later match of its track asks again.
 *
 * Speed: a match's `speed` is track seconds per stream second (radio plays songs 1–5 % fast). Offsets are track
 * time and move by `speed` per stream second: the start offset is the match's offset less speed × the stream seconds
 * since the first evidence, the end offset the start offset plus speed × the play's stream seconds. A play's speed is
 * the latest confirmed estimate (a play opens confirmed, and its track's later messages are confirmed too); lengths
 * (start and end stream seconds) stay in stream time.
 *
 * Stream seconds in results count from the start of one session; a monitor that reconnects to its source starts a
 * new session, so `streamBase` (seconds) is added to every stream time before it is stored. The wall-clock time of
 * a stream position is when its audio arrived, from a timeline of (stream time, arrival) points noted as audio comes
 * in: a match confirmed 6 s after its first evidence started when that evidence arrived. Sources send in bursts (a
 * radio server sends seconds of audio at once on connect), so arrival, not "now minus stream time", is the only
 * clock that never runs backwards.
 *
 * The recorder runs inside stream callbacks, so a write the log cannot make (EAR_ERR_DISK_FULL, reported and counted
 * by the log's StateWrites) must not escape: a play that cannot be opened is not filed (the next confirmed match of
 * the track tries again), a close that cannot be written is kept by the log and written with its next write.
 */
import { EarshotError } from '../errors.js'
import { round } from '../round.js'
import { catalogFields } from '../index/track-metadata.js'
import type { SessionMatch, SessionMatchEnd } from '../stream/session.js'
import type { StreamListener } from '../stream/stream.js'
import type { Play, PlayLog } from './play-log.js'

export interface PlayEvent { type: 'match.confirmed' | 'match.ended', play: Play }

export interface PlayRecorderOptions {
  /** [touchEverySeconds=1] stream seconds between two touches of the open play (how much a crash can lose). */
  touchEverySeconds?: number
  /** [now=Date.now] wall clock in ms since epoch. */
  now?: () => number
  /**
   * [admit=always] asked before a play opens (a rate limit): false skips it, and the next match of the track asks
   * again, so a play admitted later still starts at its first evidence.
   */
  admit?: () => boolean
}

const defaultOptions: Required<PlayRecorderOptions> = Object.freeze({
  touchEverySeconds: 1,
  now: Date.now,
  admit: () => true,
})

export class PlayRecorder implements StreamListener {
  /** Seconds added to every session stream time (default 0): set it to where the previous session ended. */
  streamBase = 0
  readonly #log: PlayLog
  readonly #stream: { id: string, kind: 'monitor' | 'client' }
  readonly #onEvent: (e: PlayEvent) => void
  readonly #touchEverySeconds: number
  readonly #now: () => number
  readonly #admit: () => boolean
  #current: Play | undefined
  /** A play of this stream left open by another node, until it is continued or closed (see adopt). */
  #orphan: Play | undefined
  /** The open play was continued from another node: its start is that node's, not this session's evidence. */
  #adopted = false
  #peak = 0
  /** The open play's latest speed estimate (exact: offsets are computed with it). */
  #speed = 1
  /** Absolute stream seconds of the last touch. */
  #touchedAt = -Infinity
  /** Arrival timeline: stream times (ascending) and the wall clock (ms) when their audio had arrived. */
  readonly #timeStream: number[] = []
  readonly #timeWall: number[] = []
  /** Latest absolute stream position known (audio or match), the "now" of stream time. */
  #latest = -Infinity

  /**
   * @param log where plays are written
   * @param stream the stream's id (monitor id or client streamId) and kind
   * @param onEvent told of each play opened and closed, after it is written
   * @param options touch interval and clock
   */
  constructor (log: PlayLog, stream: { id: string, kind: 'monitor' | 'client' }, onEvent: (e: PlayEvent) => void, options: PlayRecorderOptions = {}) {
    const o = { ...defaultOptions, ...options }
    if (!(Number.isFinite(o.touchEverySeconds) && o.touchEverySeconds > 0)) throw new TypeError(`touchEverySeconds must be a positive number, got ${String(o.touchEverySeconds)}`)
    if (typeof o.now !== 'function') throw new TypeError('now must be a function')
    this.#log = log
    this.#stream = { id: stream.id, kind: stream.kind }
    this.#onEvent = onEvent
    this.#touchEverySeconds = o.touchEverySeconds
    this.#now = o.now
    this.#admit = o.admit
  }

  /**
   * Take over a play this stream left open elsewhere (a cluster node that died while the song played): the first
   * confirmed match of the same track at the position the play had reached continues it, with no second
   * `match.confirmed`; anything else, or ORPHAN_WAIT_SECONDS of stream without it, closes it where it was last heard.
   */
  adopt (play: Play): void {
    if (play.open && play.stream === this.#stream.id && play.kind === this.#stream.kind) this.#orphan = play
  }

  /** The open play, as opened (live values are in the log). */
  get current (): Play | undefined { return this.#current }

  /** Call after each chunk of audio with the session's stream position: touches the open play now and then. */
  audio (streamSeconds: number): void {
    const at = this.streamBase + streamSeconds
    this.#seen(at)
    this.#note(at)
    if (this.#orphan !== undefined && at - this.#orphan.lastStreamSeconds > ORPHAN_WAIT_SECONDS) this.#closeOrphan()
    if (this.#current !== undefined && at - this.#touchedAt >= this.#touchEverySeconds) this.#touch(at)
  }

  /** Close the orphan where it was last heard. */
  #closeOrphan (): void {
    const orphan = this.#orphan
    if (orphan === undefined) return
    this.#orphan = undefined
    const end = Math.max(orphan.lastStreamSeconds, orphan.startStreamSeconds)
    const play = stored(() => this.#log.close(orphan.id, {
      endedAt: orphan.lastSeenAt,
      endStreamSeconds: end,
      endOffsetSeconds: round(orphan.startOffsetSeconds + orphan.speed * (end - orphan.startStreamSeconds), 3),
    }))
    if (play !== undefined && play.endedAt === orphan.lastSeenAt) this.#onEvent({ type: 'match.ended', play })
  }

  /**
   * The session is over without the match's end: close the open play at the session's last stream position. The
   * next session's times must start from a new `streamBase` (usually this base + streamSeconds).
   */
  close (streamSeconds: number): void {
    const at = this.streamBase + streamSeconds
    this.#seen(at)
    this.#close(at)
    this.#closeOrphan()
    // Forget this session's position, so a next session that keeps the old base cannot back-date into the past.
    this.#latest = -Infinity
    this.#timeStream.length = 0
    this.#timeWall.length = 0
  }

  /** A match of the session. */
  match (m: SessionMatch): void {
    const at = this.streamBase + m.streamSeconds
    this.#seen(at)
    // Confidence and speed are stored as the protocol shows them (3 decimals).
    const confidence = round(m.confidence, 3)
    const current = this.#current
    if (current !== undefined && current.trackId === m.track.id) {
      this.#peak = Math.max(this.#peak, confidence)
      if (m.state === 'confirmed' && validSpeed(m.speed)) this.#speed = m.speed
      return
    }
    if (m.state !== 'confirmed') return
    const start = this.streamBase + m.startSeconds
    if (current !== undefined) this.#close(start)
    const speed = validSpeed(m.speed) ? m.speed : 1
    // The track advanced speed × the stream seconds since the first evidence.
    const startOffset = m.offsetSeconds - speed * (m.streamSeconds - m.startSeconds)
    const orphan = this.#orphan
    if (orphan !== undefined) {
      const expected = orphan.startOffsetSeconds + orphan.speed * (start - orphan.startStreamSeconds)
      if (orphan.trackId === m.track.id && Math.abs(startOffset - expected) <= ADOPT_TOLERANCE_SECONDS) {
        this.#orphan = undefined
        this.#current = orphan
        this.#adopted = true
        this.#peak = Math.max(orphan.peakConfidence, confidence)
        this.#speed = speed
        this.#touch(this.#latest)
        return
      }
      this.#closeOrphan()
    }
    if (!this.#admit()) return
    const play = stored(() => this.#log.open({
      stream: this.#stream.id,
      kind: this.#stream.kind,
      trackId: m.track.id,
      title: m.track.title,
      artist: m.track.artist,
      album: m.track.album,
      ...catalogFields(m.track),
      startedAt: this.#wallClock(start),
      startStreamSeconds: round(start, 3),
      startOffsetSeconds: round(startOffset, 3),
      peakConfidence: confidence,
      speed: round(speed, 3),
    }))
    if (play === undefined) return
    this.#current = play
    this.#adopted = false
    this.#peak = confidence
    this.#speed = speed
    // Mark the play heard up to now at once: a crash before the first audio touch then loses nothing.
    this.#touch(this.#latest)
    this.#onEvent({ type: 'match.confirmed', play })
  }

  /** The end of a match of the session. */
  matchEnd (m: SessionMatchEnd): void {
    if (this.#current === undefined || this.#current.trackId !== m.trackId) return
    this.#close(this.streamBase + m.endSeconds, this.streamBase + m.startSeconds)
  }

  /** Close the open play at `at` absolute stream seconds (and a corrected start, if the match-end gives one). */
  #close (at: number, start?: number): void {
    const current = this.#current
    if (current === undefined) return
    this.#current = undefined
    this.#touchedAt = -Infinity
    const adopted = this.#adopted
    this.#adopted = false
    const startSeconds = start !== undefined && start < at && !adopted ? round(start, 3) : current.startStreamSeconds
    const endSeconds = Math.max(at, startSeconds)
    const speed = this.#speed
    const startOffset = current.startOffsetSeconds + speed * (startSeconds - current.startStreamSeconds)
    const play = stored(() => this.#log.close(current.id, {
      endedAt: this.#wallClock(endSeconds),
      endStreamSeconds: round(endSeconds, 3),
      endOffsetSeconds: round(startOffset + speed * (endSeconds - startSeconds), 3),
      startStreamSeconds: startSeconds,
      peakConfidence: this.#peak,
      speed: round(speed, 3),
    }))
    if (play !== undefined) this.#onEvent({ type: 'match.ended', play })
  }

  #touch (at: number): void {
    const current = this.#current
    if (current === undefined) return
    const seenAt = Math.max(at, current.startStreamSeconds)
    this.#touchedAt = seenAt
    this.#log.touch(current.id, { lastStreamSeconds: round(seenAt, 3), lastSeenAt: new Date(this.#now()).toISOString(), peakConfidence: this.#peak, speed: round(this.#speed, 3) })
  }

  #seen (at: number): void {
    if (at > this.#latest) this.#latest = at
  }

  /** Note when the audio up to stream time `at` arrived (at most every TIMELINE_STEP_SECONDS). */
  #note (at: number): void {
    const n = this.#timeStream.length
    if (n > 0 && at - this.#timeStream[n - 1] < TIMELINE_STEP_SECONDS) return
    if (n >= TIMELINE_POINTS) { this.#timeStream.splice(0, n >> 1); this.#timeWall.splice(0, n >> 1) }
    this.#timeStream.push(at)
    this.#timeWall.push(this.#now())
  }

  /**
   * ISO wall clock of an absolute stream time: when the audio at `at` had arrived (the first point at or after it).
   * Past the timeline's end it is now; before its start, the first point back-dated at real-time pace.
   */
  #wallClock (at: number): string {
    const s = this.#timeStream
    let ms: number
    if (s.length === 0 || at > s[s.length - 1]) {
      const behind = Number.isFinite(this.#latest) ? Math.max(0, this.#latest - at) : 0
      ms = this.#now() - (s.length === 0 ? Math.round(behind * 1000) : 0)
    } else if (at <= s[0]) {
      ms = this.#timeWall[0] - Math.round((s[0] - at) * 1000)
    } else {
      let lo = 0
      let hi = s.length - 1 // s[lo] < at <= s[hi]
      while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (s[mid] < at) lo = mid; else hi = mid }
      ms = this.#timeWall[hi]
    }
    return new Date(ms).toISOString()
  }
}

/** Stream seconds an orphan (see adopt) waits for its track to be confirmed again: a takeover's confirmation takes 2–10. */
const ORPHAN_WAIT_SECONDS = 30
/**
 * How far a new match's position may be from where an orphan had got to, in track seconds, and still be the same
 * airing: the new node's stream time is estimated from the last lease (renewed every few seconds), and a radio
 * server sends seconds of buffered audio at once to a new listener.
 */
const ADOPT_TOLERANCE_SECONDS = 15

/** Stream seconds between two points of the arrival timeline. */
const TIMELINE_STEP_SECONDS = 0.25
/** Points kept: about four minutes of stream at one per 0.25 s, far more than a match takes to confirm or end. */
const TIMELINE_POINTS = 1024

/** The result of a play log write, or undefined when it could not be stored (already reported by the log). */
function stored<T> (write: () => T): T | undefined {
  try {
    return write()
  } catch (err) {
    if (err instanceof EarshotError) return undefined
    throw err // a bug, not a failed write
  }
}

/** A speed a play can hold: a positive finite number (anything else would turn every offset into NaN). */
function validSpeed (speed: unknown): speed is number {
  return typeof speed === 'number' && Number.isFinite(speed) && speed > 0
}

