/**
 * The play log: every confirmed song heard on a stream becomes one row, kept in LMDB beside the index.
 *
 * Consumes open/touch/close calls (from a PlayRecorder, one per stream) and produces rows, pages of rows, per-day
 * totals and CSV. Three named databases of the RootDatabase it is given (the index's root allows 8 and uses 4):
 *
 *   playlog.plays  id -> Play (msgpack). The id is the key and sorts by start time:
 *                  `${startMs, 13 digits}-${seq, 10 digits}`, e.g. '1709337000000-0000000042'
 *                  (a play started 2024-03-01T23:50:00Z, the 42nd play ever opened). A time range is one range scan:
 *                  from/to become '1709337000000' .. '1709337600000', and every id of those milliseconds sorts
 *                  after its 13-digit prefix.
 *   playlog.open   id -> Live { lastSeenAt, lastStreamSeconds, peakConfidence, speed } for each open play: found
 *                  without a scan, and the only thing `touch` writes.
 *   playlog.index  ['s', stream, id] | ['t', trackId, id] | ['st', stream, trackId, id] -> 1: secondary indexes, so a
 *                  filtered page reads limit+1 index entries and as many rows, whatever else the range holds.
 *                  Monitors and client streams are separate namespaces: a client stream's keys are 'cs' and 'cst'
 *                  instead of 's' and 'st', so a client whose streamId is a monitor's id never shows among that
 *                  monitor's plays. ['meta', 'formatVersion'] and ['meta', 'nextSeq'] live here too.
 *
 * Formats are moved over on open, one step at a time, each in one synced transaction:
 *   1 -> 2  format 1 kept client streams under 's' and 'st' too: their keys move (the rows stay as they are);
 *   2 -> 3  rows gain `speed` (the playback speed, track seconds per stream second): rows filed before it get 1, the
 *           speed earshot assumed when it filed them (their end offsets are start offset + stream seconds); open
 *           plays' Live records of format 2 have none and read the row's.
 * Rows may carry the track's ISRC, external id and labels (copied at open, like its title); rows filed before have
 * none, as plays of a track without them: optional fields, no step of their own.
 *
 * Why touch writes a separate record: an async `put` queued before a `putSync` commits after it (lmdb-js runs async
 * writes on its own thread), so a touch of the row itself could land after the close and reopen the play. A stale
 * `open` record left that way is harmless: it is checked against the row, and close queues an async remove that
 * runs after any pending touch. Rows change only in synchronous transactions (open, close, recover).
 *
 * Every write goes through a StateWrites (the one handler of failed state writes): on a full disk `open` and `close`
 * throw EAR_ERR_DISK_FULL and a touch fails quietly (reported there). A close that failed is kept and written with
 * the next write that gets through, so a play never stays open once space is back.
 */
import { earshotError, type EarshotError } from '../errors.js'
import type { Database, RootDatabase } from 'lmdb'
import { rowCells, toCsv } from './csv.js'
import { StateWrites } from '../state/state-writes.js'
import { round } from '../round.js'
import { catalogFields } from '../index/track-metadata.js'

/** Bump when the stored layout changes; a log of an older version is moved over on open, a newer one is refused. */
export const PLAYLOG_FORMAT_VERSION = 3
/** Digits of the start time in an id: milliseconds since 1970 up to the year 2286. */
const ID_MS_DIGITS = 13
const ID_SEQ_DIGITS = 10
const MAX_ID_MS = 10 ** ID_MS_DIGITS - 1
const ID_PATTERN = /^\d{13}-\d{10}$/
/** A cursor longer than this cannot be one of ours: refuse it before decoding. */
const MAX_CURSOR_LENGTH = 64
const CURSOR_PREFIX = 'c1:'

export interface Play {
  /** Unique, and sorts by start time (see the header). */
  id: string
  /** Monitor id or the client's streamId. */
  stream: string
  kind: 'monitor' | 'client'
  trackId: number
  /** Copied at open: the row stays readable when the track is removed from the index. */
  title: string
  artist: string
  album: string
  /** The track's catalog metadata when the play opened, each only when it had it (index/track-metadata.ts). */
  isrc?: string
  externalId?: string
  labels?: Record<string, string>
  /** ISO 8601 wall clock. */
  startedAt: string
  /** Null while open. */
  endedAt: string | null
  startStreamSeconds: number
  endStreamSeconds: number | null
  /** Position in the track at the start, in seconds. */
  startOffsetSeconds: number
  /** Position in the track at the end: the start offset plus speed × the stream seconds played. */
  endOffsetSeconds: number | null
  peakConfidence: number
  /** Wall clock of the last audio seen while open (what recover closes at). */
  lastSeenAt: string
  lastStreamSeconds: number
  open: boolean
  /**
   * Playback speed against the track, the latest confirmed estimate: track seconds per stream second (1.021: played
   * 2.1 % fast). Stream times (and so a play's length) are in stream seconds; offsets are in track seconds. Plays
   * filed before format 3 read 1.
   */
  speed: number
}

export type NewPlay = Pick<Play, 'stream' | 'kind' | 'trackId' | 'title' | 'artist' | 'album' | 'isrc' | 'externalId' | 'labels' |
'startedAt' | 'startStreamSeconds' | 'startOffsetSeconds' | 'peakConfidence'> & {
  /** [speed=1] playback speed at the confirmation. */
  speed?: number
}

export interface PlaySeen {
  lastStreamSeconds: number
  lastSeenAt: string
  peakConfidence: number
  /** The latest speed estimate, if it is known (kept otherwise). */
  speed?: number
}

export interface PlayEnd {
  endedAt: string
  endStreamSeconds: number
  endOffsetSeconds: number
  /**
   * A corrected start in stream seconds: startedAt moves by the same amount, startOffsetSeconds by speed times it;
   * the id stays.
   */
  startStreamSeconds?: number
  peakConfidence?: number
  /** The latest speed estimate (kept when not given); set before the start is corrected. */
  speed?: number
}

export interface PlayQuery {
  stream?: string
  /** The namespace of `stream`: a monitor's id (default) or a client's streamId. */
  kind?: Play['kind']
  trackId?: number
  /** Plays starting at or after, ms since epoch. */
  from?: number
  /** Plays starting before, ms since epoch. */
  to?: number
  /** Rows per page: default `defaultPageSize` (100), larger values are cut to `maxPageSize` (1000). */
  limit?: number
  /** `nextCursor` of the previous page. */
  cursor?: string
}

export interface PlayPage { plays: Play[], nextCursor: string | null }

/** What a write did to a play (PlayLogOptions.onWrite). */
export type PlayChange = 'open' | 'touch' | 'close'

export interface TrackDay {
  /** YYYY-MM-DD, UTC. */
  day: string
  trackId: number
  title: string
  artist: string
  /** As the day's first play of the track holds them, when it does. */
  isrc?: string
  externalId?: string
  plays: number
  seconds: number
}

export interface PlayLogOptions {
  /** [defaultPageSize=100] rows of a page when the query gives no limit. */
  defaultPageSize?: number
  /** [maxPageSize=1000] rows of a page at most; a larger limit is cut to this. */
  maxPageSize?: number
  /** [maxReportPlays=1000000] plays perTrackPerDay reads at most (about a second of work); past it, narrow the range. */
  maxReportPlays?: number
  /**
   * [ids='local'] how a play's id is made. 'local': its start and a number this log counts up. 'shared' (a cluster,
   * where every node files plays into its own copy of one log): its start and a number made from its stream, so the
   * same play gets the same id on every node and two nodes never make the same id for different plays (a stream has
   * one play at a time; two streams collide only when their 32-bit hashes do and their plays start in one millisecond).
   */
  ids?: 'local' | 'shared'
  /** Called with the whole row after every change this log makes (open, touch, close, recover), not for `apply`. */
  onWrite?: (play: Play, change: PlayChange) => void
}

const defaultOptions: Required<PlayLogOptions> = Object.freeze({
  defaultPageSize: 100,
  maxPageSize: 1000,
  maxReportPlays: 1_000_000,
  ids: 'local',
  onWrite: () => {},
})

function badQuery (message: string): EarshotError {
  return earshotError('EAR_ERR_BAD_REQUEST', message)
}

/** Live values of an open play; `speed` is missing from the records of format 2 (the row's then holds). */
interface Live { lastSeenAt: string, lastStreamSeconds: number, peakConfidence: number, speed?: number }
type IndexKey = Array<string | number>

export class PlayLog {
  readonly #root: RootDatabase
  readonly #plays: Database<Play, string>
  readonly #open: Database<Live, string>
  readonly #index: Database<unknown, IndexKey>
  readonly #options: Required<PlayLogOptions>
  /** Touches made by this process, newer than what the `open` database may show yet (async puts are not readable until committed). */
  readonly #live = new Map<string, Live>()
  readonly #writes: StateWrites
  /** Closed plays whose write failed (a full disk), by id: written with the next write. */
  readonly #unwritten = new Map<string, Play>()

  /**
   * @param root an open LMDB environment with room for three more named databases
   * @param options page and report limits
   * @throws EAR_ERR_STATE_FORMAT when the stored log has another format version
   */
  constructor (root: RootDatabase, options: PlayLogOptions = {}, writes = new StateWrites()) {
    const o = { ...defaultOptions, ...options }
    for (const k of ['defaultPageSize', 'maxPageSize', 'maxReportPlays'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new TypeError(`PlayLog option ${k} must be a positive integer, got ${String(o[k])}`)
    }
    if (o.defaultPageSize > o.maxPageSize) throw new TypeError('PlayLog option defaultPageSize must not exceed maxPageSize')
    this.#options = Object.freeze(o)
    this.#writes = writes
    this.#root = root
    this.#plays = root.openDB<Play, string>('playlog.plays', { encoding: 'msgpack' })
    this.#open = root.openDB<Live, string>('playlog.open', { encoding: 'msgpack' })
    this.#index = root.openDB<unknown, IndexKey>('playlog.index', { encoding: 'msgpack' })
    const version = this.#index.get(['meta', 'formatVersion'])
    if (version === undefined) {
      writes.sync('a new play log', () => this.#index.transactionSync(() => {
        this.#index.putSync(['meta', 'formatVersion'], PLAYLOG_FORMAT_VERSION)
        this.#index.putSync(['meta', 'nextSeq'], 1)
      }))
    } else if (version === 1 || version === 2) {
      if (version === 1) this.#separateClientStreams()
      writes.sync('the play log\'s move to format 3', () => this.#addSpeed())
    } else if (version !== PLAYLOG_FORMAT_VERSION) {
      throw earshotError('EAR_ERR_STATE_FORMAT', 'play log', String(version), PLAYLOG_FORMAT_VERSION)
    }
  }

  /** Format 1 to 2: move the stream keys of client plays to their own namespace; one pass, one synced transaction. */
  #separateClientStreams (): void {
    this.#index.transactionSync(() => {
      for (const { value: row } of this.#plays.getRange()) {
        if (row.kind !== 'client') continue
        this.#index.removeSync(['s', row.stream, row.id])
        this.#index.removeSync(['st', row.stream, row.trackId, row.id])
        for (const key of indexKeysOf(row)) this.#index.putSync(key, 1)
      }
      this.#index.putSync(['meta', 'formatVersion'], 2)
    })
  }

  /**
   * Format 2 to 3: every row gains `speed`, 1 for those filed before (earshot assumed normal speed then, and their
   * offsets say so); one pass, one synced transaction.
   */
  #addSpeed (): void {
    this.#plays.transactionSync(() => {
      for (const { key, value: row } of this.#plays.getRange()) {
        if (typeof row.speed !== 'number') this.#plays.putSync(key, { ...row, speed: 1 })
      }
      this.#index.putSync(['meta', 'formatVersion'], 3)
    })
  }

  /**
   * Start a play: written and synced before it returns.
   * @throws EAR_ERR_DISK_FULL when it cannot be stored
   */
  open (p: NewPlay): Play {
    const startMs = Date.parse(p.startedAt)
    if (!(startMs >= 0 && startMs <= MAX_ID_MS)) throw new TypeError(`startedAt is not a date the play log can hold: ${p.startedAt}`)
    if (this.#unwritten.size > 0) this.#writeClosed([])
    let play: Play | undefined
    this.#writes.sync('a play', () => this.#plays.transactionSync(() => {
      let seq: number
      if (this.#options.ids === 'shared') {
        seq = streamNumber(p.kind, p.stream)
      } else {
        // Read inside the write transaction: LMDB has one writer, so two processes never take the same number.
        seq = this.#index.get(['meta', 'nextSeq']) as number
        this.#index.putSync(['meta', 'nextSeq'], seq + 1)
      }
      const id = `${String(startMs).padStart(ID_MS_DIGITS, '0')}-${String(seq).padStart(ID_SEQ_DIGITS, '0')}`
      play = {
        id,
        stream: p.stream,
        kind: p.kind,
        trackId: p.trackId,
        title: p.title,
        artist: p.artist,
        album: p.album,
        ...catalogFields(p),
        startedAt: new Date(startMs).toISOString(),
        endedAt: null,
        startStreamSeconds: p.startStreamSeconds,
        endStreamSeconds: null,
        startOffsetSeconds: p.startOffsetSeconds,
        endOffsetSeconds: null,
        peakConfidence: p.peakConfidence,
        lastSeenAt: new Date(startMs).toISOString(),
        lastStreamSeconds: p.startStreamSeconds,
        open: true,
        speed: p.speed ?? 1,
      }
      this.#plays.putSync(id, play)
      this.#open.putSync(id, { lastSeenAt: play.lastSeenAt, lastStreamSeconds: play.lastStreamSeconds, peakConfidence: play.peakConfidence, speed: play.speed })
      for (const key of indexKeysOf(play)) this.#index.putSync(key, 1)
    }))
    this.#options.onWrite({ ...play as Play }, 'open')
    return play as Play
  }

  /**
   * Note that an open play is still heard. Cheap (one async put of a small record, batched per event turn); meant
   * for about once a second per open play. A closed or unknown id is ignored.
   */
  touch (id: string, seen: PlaySeen): void {
    let live = this.#live.get(id)
    if (live === undefined) {
      // First touch in this process: one read to check that the play is open.
      const row = this.#plays.get(id)
      if (row?.open !== true) return
      live = { speed: row.speed, ...(this.#open.get(id) ?? { lastSeenAt: row.lastSeenAt, lastStreamSeconds: row.lastStreamSeconds, peakConfidence: row.peakConfidence }) }
      this.#live.set(id, live)
    }
    live.lastSeenAt = seen.lastSeenAt
    live.lastStreamSeconds = seen.lastStreamSeconds
    live.peakConfidence = Math.max(live.peakConfidence, seen.peakConfidence)
    if (seen.speed !== undefined) live.speed = seen.speed
    this.#writes.background('where a play was last heard', this.#open.put(id, { ...live }))
    if (this.#options.onWrite !== defaultOptions.onWrite) {
      const row = this.#plays.get(id)
      if (row !== undefined) this.#options.onWrite(this.#merged(row), 'touch')
    }
  }

  /**
   * End an open play: written and synced before it returns. Returns the closed row, the row as it is when it was
   * already closed, or undefined for an unknown id.
   * @throws EAR_ERR_DISK_FULL when it cannot be stored (it is written with the next write that can be)
   */
  close (id: string, end: PlayEnd): Play | undefined {
    const row = this.#plays.get(id)
    if (row === undefined || !row.open) return row
    const play = this.#merged(row)
    if (end.speed !== undefined) play.speed = end.speed
    if (end.startStreamSeconds !== undefined && end.startStreamSeconds !== play.startStreamSeconds) {
      const delta = end.startStreamSeconds - play.startStreamSeconds
      play.startStreamSeconds = end.startStreamSeconds
      play.startOffsetSeconds = round(play.startOffsetSeconds + play.speed * delta, 3)
      play.startedAt = new Date(Date.parse(play.startedAt) + Math.round(delta * 1000)).toISOString()
    }
    play.endedAt = end.endedAt
    // A play never ends before it starts, whatever rounding upstream did.
    play.endStreamSeconds = Math.max(end.endStreamSeconds, play.startStreamSeconds)
    play.endOffsetSeconds = end.endOffsetSeconds
    if (end.peakConfidence !== undefined) play.peakConfidence = Math.max(play.peakConfidence, end.peakConfidence)
    play.open = false
    this.#writeClosed([play])
    this.#options.onWrite({ ...play }, 'close')
    return play
  }

  /**
   * File a row as another node of the cluster left it (the shared log's copy): written whole, with its index keys.
   * A row closed here stays closed (a late copy of its open state changes nothing); otherwise the copy that was last
   * heard later wins. Returns whether anything changed.
   */
  apply (row: Play): boolean {
    const here = this.get(row.id)
    if (here !== undefined) {
      if (!here.open && row.open) return false
      if (here.open === row.open && here.lastSeenAt >= row.lastSeenAt && here.endedAt === row.endedAt) return false
    }
    if (here?.open === true && row.open) {
      // Another node's touch (every few seconds per open play): its live values only, written as a touch is.
      const live: Live = { lastSeenAt: row.lastSeenAt, lastStreamSeconds: row.lastStreamSeconds, peakConfidence: row.peakConfidence, speed: row.speed }
      this.#live.set(row.id, live)
      this.#writes.background('where a play was last heard', this.#open.put(row.id, { ...live }))
      return true
    }
    const play = { ...row }
    this.#writes.sync('a play of another node', () => this.#plays.transactionSync(() => {
      this.#plays.putSync(play.id, play)
      if (play.open) this.#open.putSync(play.id, { lastSeenAt: play.lastSeenAt, lastStreamSeconds: play.lastStreamSeconds, peakConfidence: play.peakConfidence, speed: play.speed })
      else this.#open.removeSync(play.id)
      if (here === undefined) for (const key of indexKeysOf(play)) this.#index.putSync(key, 1)
    }))
    this.#live.delete(play.id)
    // As in #writeClosed: this remove lands after any touch still queued.
    if (!play.open) this.#writes.background('the end of a play', this.#open.remove(play.id))
    return true
  }

  /** One play, open or closed, with the latest touch applied. */
  get (id: string): Play | undefined {
    const row = this.#plays.get(id)
    return row === undefined ? undefined : this.#merged(row)
  }

  /** Every open play, oldest first (reads the small `open` database, not the log). */
  openPlays (): Play[] {
    const out: Play[] = []
    for (const id of this.#open.getKeys()) {
      const row = this.#plays.get(id)
      if (row?.open === true) out.push(this.#merged(row))
    }
    return out
  }

  /**
   * After a crash or restart: close every open play where it was last heard (end offset = start offset + speed ×
   * elapsed stream time). Returns the plays it closed; a second call finds none. Call it before any recorder opens plays.
   */
  recover (): Play[] {
    const closed: Play[] = []
    const stale: string[] = []
    for (const id of this.#open.getKeys()) {
      const row = this.#plays.get(id)
      if (row?.open !== true) {
        stale.push(id)
        continue
      }
      const play = this.#merged(row)
      play.endedAt = play.lastSeenAt
      play.endStreamSeconds = Math.max(play.lastStreamSeconds, play.startStreamSeconds)
      play.endOffsetSeconds = round(play.startOffsetSeconds + play.speed * (play.endStreamSeconds - play.startStreamSeconds), 3)
      play.open = false
      closed.push(play)
    }
    this.#writeClosed(closed, stale)
    for (const play of closed) this.#options.onWrite({ ...play }, 'close')
    return closed
  }

  /**
   * Close the open plays last heard before `before` (ms since epoch) where they were last heard, as `recover` does;
   * `keep` spares the plays someone still answers for. A cluster's nodes close the plays of a node that died this way.
   */
  closeStale (before: number, keep: (play: Play) => boolean = () => false): Play[] {
    const closed: Play[] = []
    for (const play of this.openPlays()) {
      if (Date.parse(play.lastSeenAt) >= before || keep(play)) continue
      const done = this.close(play.id, {
        endedAt: play.lastSeenAt,
        endStreamSeconds: play.lastStreamSeconds,
        endOffsetSeconds: round(play.startOffsetSeconds + play.speed * (Math.max(play.lastStreamSeconds, play.startStreamSeconds) - play.startStreamSeconds), 3),
      })
      if (done !== undefined) closed.push(done)
    }
    return closed
  }

  /**
   * A page of plays, newest first (by start time, then by id). The cursor names the last row returned, so rows
   * inserted meanwhile never shift a page: no duplicates, no gaps among the rows that were there.
   *
   * Cost: with no filter, a range scan of the log; with stream and/or trackId, a range scan of the matching
   * secondary index. Either way a page reads at most limit + 1 entries.
   * @throws EAR_ERR_BAD_CURSOR for a cursor this log did not make; EAR_ERR_BAD_REQUEST for bad values
   */
  query (q: PlayQuery): PlayPage {
    const limit = this.#limit(q.limit)
    const { lo, hi } = timeBounds(q.from, q.to)
    let upper = hi
    let after: string | undefined
    if (q.cursor !== undefined) {
      after = decodeCursor(q.cursor)
      if (after < upper) upper = after
    }
    const plays: Play[] = []
    let more = false
    for (const play of this.#scan(q, lo, upper, true)) {
      if (play.id === after) continue // the range start is inclusive
      if (plays.length === limit) {
        more = true
        break
      }
      plays.push(play)
    }
    const last = plays[plays.length - 1]
    return { plays, nextCursor: more && last !== undefined ? encodeCursor(last.id) : null }
  }

  /**
   * Plays and seconds heard per track per UTC day, for plays starting in [from, to). A play counts on the day it
   * started, with its whole length (an open play: up to where it was last heard). Sorted by day, then most played.
   * Reads every play of the range (of the stream, through its index): O(plays), bounded by `maxReportPlays`.
   * @throws EAR_ERR_BAD_REQUEST for bad bounds or a range holding more than maxReportPlays plays
   */
  perTrackPerDay (q: { from: number, to: number, stream?: string, kind?: Play['kind'] }): TrackDay[] {
    if (!Number.isFinite(q.from) || !Number.isFinite(q.to)) throw badQuery('perTrackPerDay needs finite from and to (ms since epoch)')
    const { lo, hi } = timeBounds(q.from, q.to)
    const days = new Map<string, TrackDay>()
    let read = 0
    for (const play of this.#scan({ stream: q.stream, kind: q.kind }, lo, hi, false)) {
      if (++read > this.#options.maxReportPlays) throw badQuery(`more than ${this.#options.maxReportPlays} plays in the range; ask for a shorter one`)
      const day = play.startedAt.slice(0, 10)
      const key = `${day}/${play.trackId}`
      let row = days.get(key)
      if (row === undefined) {
        row = { day, trackId: play.trackId, title: play.title, artist: play.artist, ...codesOf(play), plays: 0, seconds: 0 }
        days.set(key, row)
      }
      row.plays++
      row.seconds += Math.max(0, (play.endStreamSeconds ?? play.lastStreamSeconds) - play.startStreamSeconds)
    }
    const out = [...days.values()]
    for (const row of out) row.seconds = round(row.seconds, 3)
    return out.sort((a, b) => a.day < b.day ? -1 : a.day > b.day ? 1 : b.plays - a.plays || a.trackId - b.trackId)
  }

  /**
   * Plays starting in [from, to) (ms since epoch), oldest first, with the latest touch applied: a range scan of the
   * log, read as the caller iterates.
   * @throws EAR_ERR_BAD_REQUEST for bounds that are not numbers
   */
  * between (from: number, to: number): Generator<Play> {
    const { lo, hi } = timeBounds(from, to)
    yield * this.#scan({}, lo, hi, false)
  }

  /** Resolves once every write made so far (touches included) is on disk. */
  async flushed (): Promise<void> {
    await this.#root.committed
    await this.#root.flushed
  }

  /** Rows of the id range [lo, hi) matching the stream/track filters, in key order (reverse: newest first). */
  * #scan (q: { stream?: string, kind?: Play['kind'], trackId?: number }, lo: string, hi: string, reverse: boolean): Generator<Play> {
    const { stream, trackId, kind = 'monitor' } = q
    if (stream !== undefined && typeof stream !== 'string') throw badQuery('stream must be a string')
    if (kind !== 'monitor' && kind !== 'client') throw badQuery('kind must be monitor or client')
    if (trackId !== undefined && !Number.isInteger(trackId)) throw badQuery('trackId must be an integer')
    if (stream === undefined && trackId === undefined) {
      const range = reverse ? { start: hi, end: lo, reverse } : { start: lo, end: hi }
      for (const { value } of this.#plays.getRange(range)) yield this.#merged(value)
      return
    }
    const [s, st] = STREAM_KEYS[kind]
    const prefix: IndexKey = stream !== undefined && trackId !== undefined
      ? [st, stream, trackId]
      : stream !== undefined ? [s, stream] : ['t', trackId as number]
    const start = [...prefix, reverse ? hi : lo]
    const end = [...prefix, reverse ? lo : hi]
    for (const { key } of this.#index.getRange({ start, end, reverse })) {
      const row = this.#plays.get(key[key.length - 1] as string)
      // Check the row too: it costs nothing more, and no odd stream name can then leak in through the key encoding.
      if (row === undefined || (stream !== undefined && (row.stream !== stream || row.kind !== kind)) || (trackId !== undefined && row.trackId !== trackId)) continue
      yield this.#merged(row)
    }
  }

  #limit (limit: number | undefined): number {
    if (limit === undefined) return this.#options.defaultPageSize
    if (!Number.isInteger(limit) || limit < 1) throw badQuery(`limit must be a positive integer, got ${String(limit)}`)
    return Math.min(limit, this.#options.maxPageSize)
  }

  /** Latest live values of an open play: this process's touches first, then the stored record. */
  #liveOf (id: string): Live | undefined {
    return this.#live.get(id) ?? this.#open.get(id)
  }

  /** A copy of the row; for an open row, with its live values applied. */
  #merged (row: Play): Play {
    const play = { ...row }
    if (play.open) {
      const live = this.#liveOf(play.id)
      if (live !== undefined) {
        play.lastSeenAt = live.lastSeenAt
        play.lastStreamSeconds = live.lastStreamSeconds
        play.peakConfidence = Math.max(play.peakConfidence, live.peakConfidence)
        if (typeof live.speed === 'number') play.speed = live.speed
      }
    }
    return play
  }

  /**
   * Write closed rows (and those whose write failed before) and drop their open records, synced; `stale` open
   * records go too. A row that cannot be written is kept for the next write.
   */
  #writeClosed (closed: readonly Play[], stale: readonly string[] = []): void {
    const plays = this.#unwritten.size === 0 ? closed : [...this.#unwritten.values(), ...closed]
    if (plays.length === 0 && stale.length === 0) return
    try {
      this.#writes.sync('the end of a play', () => this.#plays.transactionSync(() => {
        for (const play of plays) {
          this.#plays.putSync(play.id, play)
          this.#open.removeSync(play.id)
        }
        for (const id of stale) this.#open.removeSync(id)
      }))
    } catch (err) {
      for (const play of closed) this.#unwritten.set(play.id, play)
      throw err
    }
    this.#unwritten.clear()
    for (const play of plays) {
      this.#live.delete(play.id)
      // Async writes run in order: this remove lands after any touch still queued, which would bring the record back.
      this.#writes.background('the end of a play', this.#open.remove(play.id))
    }
  }
}

/** A stream's number for play ids of a shared log: 32-bit FNV-1a of its kind and name (at most 10 digits). */
function streamNumber (kind: Play['kind'], stream: string): number {
  let h = 0x811c9dc5
  const text = `${kind}:${stream}`
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

/** The index prefixes of a stream and of a stream's track, per namespace. */
const STREAM_KEYS: Readonly<Record<Play['kind'], readonly [string, string]>> = { monitor: ['s', 'st'], client: ['cs', 'cst'] }

/** The secondary index keys of a play: by track, by stream, by stream and track. */
function indexKeysOf (p: Pick<Play, 'id' | 'stream' | 'kind' | 'trackId'>): IndexKey[] {
  const [s, st] = STREAM_KEYS[p.kind]
  return [['t', p.trackId, p.id], [s, p.stream, p.id], [st, p.stream, p.trackId, p.id]]
}

/** Id-range bounds of a time range: ids of [from, to) sort in [lo, hi). */
function timeBounds (from: number | undefined, to: number | undefined): { lo: string, hi: string } {
  if (from !== undefined && !Number.isFinite(from)) throw badQuery('from must be a number (ms since epoch)')
  if (to !== undefined && !Number.isFinite(to)) throw badQuery('to must be a number (ms since epoch)')
  const clamp = (ms: number): string => String(Math.min(Math.max(Math.ceil(ms), 0), MAX_ID_MS + 1)).padStart(ID_MS_DIGITS, '0')
  // hi: the 13-digit prefix of `to` sorts before every id of that millisecond; '~' sorts after every digit.
  return { lo: clamp(from ?? 0), hi: to === undefined ? '~' : clamp(to) }
}

function encodeCursor (id: string): string {
  return Buffer.from(CURSOR_PREFIX + id).toString('base64url')
}

function decodeCursor (cursor: string): string {
  const fail = (): EarshotError => earshotError('EAR_ERR_BAD_CURSOR', JSON.stringify(String(cursor).slice(0, 60)))
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw fail()
  const text = Buffer.from(cursor, 'base64url').toString('latin1')
  const id = text.slice(CURSOR_PREFIX.length)
  if (!text.startsWith(CURSOR_PREFIX) || !ID_PATTERN.test(id)) throw fail()
  return id
}


/** A play's ISRC and external id, only those it has (a day's totals carry them). */
function codesOf (p: Play): Pick<Play, 'isrc' | 'externalId'> {
  const { isrc, externalId } = catalogFields(p)
  return { ...(isrc === undefined ? {} : { isrc }), ...(externalId === undefined ? {} : { externalId }) }
}

/**
 * The CSV columns, in order: every field of a Play. Later fields come last, so older columns keep their place:
 * `speed` (format 3), then the track's `isrc`, `externalId` and `labels` (a JSON object, empty when none).
 */
export const PLAY_CSV_COLUMNS: ReadonlyArray<keyof Play> = [
  'id', 'stream', 'kind', 'trackId', 'title', 'artist', 'album', 'startedAt', 'endedAt', 'startStreamSeconds',
  'endStreamSeconds', 'startOffsetSeconds', 'endOffsetSeconds', 'peakConfidence', 'lastSeenAt', 'lastStreamSeconds', 'open',
  'speed', 'isrc', 'externalId', 'labels',
]

/** A play's cells for PLAY_CSV_COLUMNS: labels as one JSON object, so that every row has the same columns. */
export function playCsvCells (play: Play): unknown[] {
  return rowCells(PLAY_CSV_COLUMNS, play)
}

/** Plays as CSV (the one writer, csv.ts): a header line of PLAY_CSV_COLUMNS, then one row per play. */
export function playsToCsv (plays: readonly Play[]): string {
  return toCsv(PLAY_CSV_COLUMNS, plays.map(playCsvCells))
}
