/**
 * The LMDB index: a memory-mapped environment in a folder.
 *
 *   seg:<id>    segments: immutable sorted buckets of varint-packed postings, where a big catalog lives (segments.ts)
 *   postings    the live part: uint32 hash -> bucket of (track id, frame) uint32 little-endian pairs, for tracks added
 *               one at a time since the last flush; small, so rewriting a bucket on every addition stays cheap
 *   hashes      uint32 id -> the distinct hashes of a track of the live part (to remove its postings without a scan)
 *   tracks      uint32 id -> Track (msgpack)
 *   tombstones, generation   removed tracks whose postings are still in segments; the segment list's version
 *   meta        string -> format version, fingerprint parameters, id counter, totals, segment list; and per track
 *               `digest:<digest>` -> id, `isrc:<ISRC>` and `xid:<external id>` -> [ids] (lookups by catalog code)
 *
 * Lookups read every segment and the live part. Tracks added one at a time go to the live part; maintenance
 * (`maintain`) writes it into a segment once it holds LIVE_POSTINGS, and merges segments tier by tier. Bulk loads
 * (`bulkWriter`) write sorted runs straight into segments. Every write is one synchronous transaction, so a crash or
 * kill -9 leaves it all in or all out; merges write their output unlisted and list it in one transaction. LMDB allows
 * one writer and many readers across processes: a server keeps reading while `earshot index` writes or merges.
 *
 * The map is not given a size: lmdb-js grows it as the file grows, so the catalog is bounded by the disk only.
 * Format 1 (everything in the live part) is format 2 with no segments: `earshot migrate` upgrades it in place.
 * Catalog metadata (ISRC, external id, labels) came within format 2: rows are msgpack maps, and a row written before
 * has none of those fields and no `isrc:`/`xid:` keys, which is what a track without them has, so no step is needed.
 * An earshot from before reads such an index too (it ignores the fields; one that removes a track leaves its code
 * keys behind, which `tracksWith` skips).
 */
import fs from 'node:fs'
import path from 'node:path'
import type { RootDatabase, Database } from 'lmdb'
import { indexParams, type FingerprintParams } from '../config/fingerprint.js'
import type { HashList } from '../dsp/pipeline.js'
import { describeError, earshotError, wrapError, EarshotError } from '../errors.js'
import { openChecked } from './lmdb-check.js'
import { PostingBuffer, Segments, sortPostings } from './segments.js'
import { appendByHash, MAX_FRAMES, MAX_LIVE_BUCKET, sortedKeys } from './posting-keys.js'

export { MAX_LIVE_BUCKET }
import { BulkWriter, type BulkOptions } from './bulk-writer.js'
import type { AddResult, CodeField, Index, IndexStats, NewTrack, PostingVisitor, ReadFailure, Track } from './types.js'

/** The meta key prefix of each catalog code's lookup: `isrc:USRC17607839` -> [ids]. */
const CODE_KEY: Readonly<Record<CodeField, string>> = { isrc: 'isrc:', externalId: 'xid:' }

/** Bump when the stored layout changes; an index with another version is refused (see MIGRATABLE_VERSIONS). */
export const INDEX_FORMAT_VERSION = 2
/** Versions `earshot migrate` upgrades in place. */
export const MIGRATABLE_VERSIONS: readonly number[] = [1]
/**
 * The live part is written into a segment once it holds this many postings (~100 tracks of 3.5 min): small enough
 * that adding a track rewrites only shallow buckets, large enough that flushes are rare.
 */
export const LIVE_POSTINGS = 2_000_000
/** Named databases: the fixed ones and every segment this process opens (a reader keeps handles of merged ones). */
const MAX_DBS = 10_000

export interface LmdbIndexOptions {
  /** Open without writing (a reader beside another process's writer). */
  readOnly?: boolean
  /** The server checked the file when it opened it (its maintenance process opening it again skips the walk). */
  checked?: boolean
}

interface Totals { postings: number, frames: number, tracks: number, live?: number }

/** What one call of `maintain` did. */
export interface Maintenance {
  /** Postings moved from the live part into a new segment. */
  flushed: number
  /** Merges done. */
  merges: number
  /** Outputs of interrupted merges dropped. */
  abandoned: number
}

export class LmdbIndex implements Index {
  readonly dir: string
  readonly params: FingerprintParams
  readonly readOnly: boolean
  readonly #root: RootDatabase
  readonly #live: Database<Buffer, number>
  readonly #segments: Segments
  readonly #buf = new PostingBuffer()
  readonly #tracks: Database<Track, number>
  readonly #hashes: Database<Buffer, number>
  readonly #meta: Database<unknown, string>
  /**
   * Lookups look for other processes' changes (segments, tombstones, whether the live part holds anything) once per
   * turn of the event loop, not once per hash: a stream's tick looks up hundreds of hashes, and those checks were a
   * third of their LMDB reads. lmdb-js keeps one read snapshot at least that long; this process's writes clear it.
   */
  #checkedThisTurn = false
  #liveEmpty = false
  readonly #nextTurn = (): void => { this.#checkedThisTurn = false }
  /** Reads that met a damaged page since the index was opened; each failed one request or session. */
  readFailures = 0
  /** The last of them, for /health to report the index as degraded; undefined while every read succeeds. */
  lastReadFailure: ReadFailure | undefined

  private constructor (dir: string, params: FingerprintParams, root: RootDatabase, readOnly: boolean) {
    this.dir = dir
    this.readOnly = readOnly
    this.params = params
    this.#root = root
    this.#live = root.openDB<Buffer, number>('postings', { keyEncoding: 'uint32', encoding: 'binary' })
    this.#tracks = root.openDB<Track, number>('tracks', { keyEncoding: 'uint32', encoding: 'msgpack' })
    this.#hashes = root.openDB<Buffer, number>('hashes', { keyEncoding: 'uint32', encoding: 'binary' })
    this.#meta = root.openDB<unknown, string>('meta', { encoding: 'msgpack' })
    this.#segments = new Segments(root, this.#meta)
  }

  /**
   * Open (or create) the index in `dir`. The stored fingerprint parameters must equal `params`.
   * @throws EAR_ERR_INDEX_OPEN, EAR_ERR_INDEX_FORMAT, EAR_ERR_INDEX_PARAMS
   */
  static open (dir: string, params: FingerprintParams, options: LmdbIndexOptions = {}): LmdbIndex {
    let root: RootDatabase
    try {
      root = openChecked({ path: dir, maxDbs: MAX_DBS, readOnly: options.readOnly === true, noSubdir: false }, { create: options.readOnly !== true, checked: options.checked === true })
    } catch (err) {
      throw wrapError('EAR_ERR_INDEX_OPEN', err, dir)
    }
    return LmdbIndex.#checked(dir, params, root, options.readOnly === true)
  }

  /** Open a backup file written by `backup` (read-only). */
  static openBackup (file: string, params: FingerprintParams): LmdbIndex {
    let root: RootDatabase
    try {
      root = openChecked({ path: file, maxDbs: MAX_DBS, readOnly: true, noSubdir: true }, { create: false, noSubdir: true })
      if (root.openDB('meta', { encoding: 'msgpack' }).get('formatVersion') === undefined) throw new Error('not an earshot backup')
    } catch (err) {
      throw wrapError('EAR_ERR_IMPORT', err, file)
    }
    // A backup of an older format is read as it is: format 1 is format 2 with every posting in the live part.
    return LmdbIndex.#checked(file, params, root, true, MIGRATABLE_VERSIONS)
  }

  /**
   * Upgrade the index in `dir` to INDEX_FORMAT_VERSION in place, in one transaction (a crash leaves it as it was).
   * Format 1 kept every posting in what is now the live part: it moves into one segment.
   * @throws EAR_ERR_INDEX_OPEN, EAR_ERR_INDEX_FORMAT (a version it cannot upgrade), EAR_ERR_INDEX_PARAMS
   */
  static migrate (dir: string, params: FingerprintParams): { from: number, to: number, tracks: number, postings: number, seconds: number } {
    const started = performance.now()
    let root: RootDatabase
    try {
      root = openChecked({ path: dir, maxDbs: MAX_DBS, noSubdir: false }, { create: false })
    } catch (err) {
      throw wrapError('EAR_ERR_INDEX_OPEN', err, dir)
    }
    const index = new LmdbIndex(dir, params, root, false)
    try {
      const from = index.#meta.get('formatVersion') as number | undefined
      if (from === undefined) throw earshotError('EAR_ERR_INDEX_OPEN', dir)
      if (from !== INDEX_FORMAT_VERSION && !MIGRATABLE_VERSIONS.includes(from)) {
        throw earshotError('EAR_ERR_INDEX_FORMAT', dir, from, INDEX_FORMAT_VERSION, 'this version cannot be upgraded; index the music again into a new folder')
      }
      index.#checkParams()
      let postings = 0
      if (from !== INDEX_FORMAT_VERSION) {
        root.transactionSync(() => {
          const t = index.#totals()
          index.#meta.putSync('totals', { ...t, live: t.postings })
          postings = index.flushLive()
          index.#meta.putSync('formatVersion', INDEX_FORMAT_VERSION)
        })
      }
      return { from, to: INDEX_FORMAT_VERSION, tracks: index.#totals().tracks, postings, seconds: (performance.now() - started) / 1000 }
    } finally {
      void root.close()
    }
  }

  static #checked (dir: string, params: FingerprintParams, root: RootDatabase, readOnly: boolean, readable: readonly number[] = []): LmdbIndex {
    const index = new LmdbIndex(dir, params, root, readOnly)
    try {
      index.#checkMeta(readOnly, readable)
    } catch (err) {
      void root.close()
      if (err instanceof EarshotError) throw err
      throw wrapError('EAR_ERR_INDEX_OPEN', err, dir)
    }
    return index
  }

  #checkMeta (readOnly: boolean, readable: readonly number[]): void {
    const version = this.#meta.get('formatVersion') as number | undefined
    if (version === undefined) {
      if (readOnly) return
      this.#meta.transactionSync(() => {
        this.#meta.putSync('formatVersion', INDEX_FORMAT_VERSION)
        this.#meta.putSync('params', indexParams(this.params))
        this.#meta.putSync('nextTrackId', 1)
        this.#meta.putSync('totals', { postings: 0, frames: 0, tracks: 0 } satisfies Totals)
      })
      return
    }
    if (version !== INDEX_FORMAT_VERSION && !readable.includes(version)) {
      const how = MIGRATABLE_VERSIONS.includes(version) ? `run earshot migrate --db ${this.dir}` : 'index the music again into a new folder'
      throw earshotError('EAR_ERR_INDEX_FORMAT', this.dir, version, INDEX_FORMAT_VERSION, how)
    }
    this.#checkParams()
  }

  #checkParams (): void {
    // Query-side parameters are left out: indexes that stored them (queryFanout) open whatever they now are.
    const stored = indexParams(this.#meta.get('params') as FingerprintParams)
    const expected = indexParams(this.params)
    const differ = Object.keys({ ...stored, ...expected }).filter((k) => stored[k] !== expected[k])
    if (differ.length > 0) {
      throw earshotError('EAR_ERR_INDEX_PARAMS', this.dir, differ.map((k) => `${k}: stored ${String(stored[k])}, expected ${String(expected[k])}`).join(', '))
    }
  }

  #totals (): Totals {
    try {
      return (this.#meta.get('totals') as Totals | undefined) ?? { postings: 0, frames: 0, tracks: 0 }
    } catch (err) { this.#readFailed(err) }
  }

  addTrack (meta: NewTrack, list: HashList, replaces?: number): AddResult {
    if (list.frameCount >= MAX_FRAMES) throw earshotError('EAR_ERR_AUDIO_TOO_LONG', `${meta.durationSeconds.toFixed(0)} s`)
    const keys = sortedKeys(list)
    let result: AddResult
    try {
      result = this.#addSorted(meta, list, keys, replaces)
    } catch (err) {
      if (isPageError(err)) this.#readFailed(err)
      throw err
    }
    // Nobody maintained the index (no server, no CLI): keep the live part from growing without bound.
    if (result.added && (this.#totals().live ?? 0) >= 4 * LIVE_POSTINGS) this.flushLive()
    return result
  }

  #addSorted (meta: NewTrack, list: HashList, keys: Float64Array, replaces: number | undefined): AddResult {
    return this.#root.transactionSync(() => {
      const existing = this.findByDigest(meta.digest)
      if (existing) return { track: existing, added: false }
      const id = this.#meta.get('nextTrackId') as number
      const { stored, distinct } = appendByHash(keys, (hash, from, to) => this.#appendPostings(hash, id, keys, from, to))
      const track = this.#putTrack(meta, id, stored, list.frameCount)
      this.#hashes.putSync(id, Buffer.from(Uint32Array.from(distinct).buffer))
      this.#meta.putSync('nextTrackId', id + 1)
      this.#addTotals(stored, list.frameCount, 1, stored)
      // In the same transaction: a crash leaves the old track or the new one, never both nor neither.
      if (replaces !== undefined) this.#removeTrack(replaces)
      return { track, added: true }
    })
  }

  /** Inside a write transaction: the track's row, its digest and its catalog codes. */
  #putTrack (meta: NewTrack, id: number, hashCount: number, frameCount: number): Track {
    const track: Track = { ...meta, id, indexedAt: new Date().toISOString(), hashCount, frameCount }
    this.#tracks.putSync(id, track)
    this.#meta.putSync(`digest:${meta.digest}`, id)
    this.#putCodes(track, true)
    return track
  }

  /** Inside a write transaction: add (or drop) the track's id under each catalog code it has. */
  #putCodes (track: Track, add: boolean): void {
    for (const field of Object.keys(CODE_KEY) as CodeField[]) {
      const value = track[field]
      if (value === undefined) continue
      const key = CODE_KEY[field] + value
      const ids = ((this.#meta.get(key) as number[] | undefined) ?? []).filter((x) => x !== track.id)
      if (add) ids.push(track.id)
      if (ids.length === 0) this.#meta.removeSync(key)
      else this.#meta.putSync(key, ids.sort((a, b) => a - b))
    }
  }

  updateTrack (id: number, change: (track: Track) => Track): Track | undefined {
    try {
      return this.#root.transactionSync(() => {
        const old = this.#tracks.get(id)
        if (!old) return undefined
        const { id: _, digest, durationSeconds, indexedAt, hashCount, frameCount } = old
        const track: Track = { ...change({ ...old }), id, digest, durationSeconds, indexedAt, hashCount, frameCount }
        this.#putCodes(old, false)
        this.#tracks.putSync(id, track)
        this.#putCodes(track, true)
        return track
      })
    } catch (err) {
      if (isPageError(err)) this.#readFailed(err)
      throw err
    }
  }

  tracksWith (field: CodeField, value: string): Track[] {
    try {
      const ids = (this.#meta.get(CODE_KEY[field] + value) as number[] | undefined) ?? []
      // An earshot from before the codes may have removed a track and left its id here: only rows that still say so.
      return ids.map((id) => this.#tracks.get(id)).filter((t): t is Track => t !== undefined && t[field] === value)
    } catch (err) { this.#readFailed(err) }
  }

  #addTotals (postings: number, frames: number, tracks: number, live: number): void {
    this.#checkedThisTurn = false
    const t = this.#totals()
    this.#meta.putSync('totals', { postings: t.postings + postings, frames: t.frames + frames, tracks: t.tracks + tracks, live: Math.max(0, (t.live ?? 0) + live) } satisfies Totals)
  }

  /** Append one track's postings for one hash (keys[from..to)) to the live part; returns how many were stored. */
  #appendPostings (hash: number, id: number, keys: Float64Array, from: number, to: number): number {
    const old = this.#live.getBinary(hash)
    const oldBytes = old ? old.length : 0
    const room = MAX_LIVE_BUCKET - oldBytes / 8
    const n = Math.min(room, to - from)
    if (n <= 0) return 0
    const bucket = Buffer.allocUnsafe(oldBytes + n * 8)
    if (old) old.copy(bucket, 0)
    for (let k = 0; k < n; k++) {
      bucket.writeUInt32LE(id, oldBytes + k * 8)
      bucket.writeUInt32LE(keys[from + k] % MAX_FRAMES, oldBytes + k * 8 + 4)
    }
    this.#live.putSync(hash, bucket)
    return n
  }

  removeTrack (id: number): boolean {
    try {
      return this.#removeTrack(id)
    } catch (err) {
      if (isPageError(err)) this.#readFailed(err)
      throw err
    }
  }

  #removeTrack (id: number): boolean {
    return this.#root.transactionSync(() => {
      const track = this.#tracks.get(id)
      if (!track) return false
      const distinct = this.#hashes.getBinary(id)
      let live = 0
      if (distinct) {
        // A track of the live part: remove its postings from its buckets.
        for (let i = 0; i + 4 <= distinct.length; i += 4) {
          const hash = distinct.readUInt32LE(i)
          const bucket = this.#live.getBinary(hash)
          if (!bucket) continue
          const kept = Buffer.allocUnsafe(bucket.length)
          let k = 0
          for (let p = 0; p + 8 <= bucket.length; p += 8) {
            if (bucket.readUInt32LE(p) === id) { live++; continue }
            bucket.copy(kept, k, p, p + 8)
            k += 8
          }
          if (k === 0) this.#live.removeSync(hash)
          else this.#live.putSync(hash, kept.subarray(0, k))
        }
        this.#hashes.removeSync(id)
      } else {
        // A track of the segments: a tombstone, applied when they are merged.
        this.#segments.tombstone(id)
      }
      this.#tracks.removeSync(id)
      this.#meta.removeSync(`digest:${track.digest}`)
      this.#putCodes(track, false)
      this.#addTotals(-track.hashCount, -track.frameCount, -1, -live)
      return true
    })
  }

  /**
   * Write the live part into a new segment and empty it, in one transaction. Returns the postings moved.
   */
  flushLive (): number {
    return this.#root.transactionSync(() => {
      const buf = this.#buf
      let moved = 0
      this.#segments.add((encoder, sink) => {
        let buckets = 0
        for (const { key, value } of this.#live.getRange({})) {
          const n = value.length >>> 3
          buf.reserve(n, 0)
          for (let p = 0; p < n; p++) {
            buf.tracks[p] = value.readUInt32LE(p * 8)
            buf.frames[p] = value.readUInt32LE(p * 8 + 4)
          }
          sortPostings(buf, n)
          moved += encoder.encode(key, buf.tracks, buf.frames, 0, n, sink)
          buckets++
        }
        return { postings: moved, buckets }
      })
      this.#live.clearSync()
      this.#hashes.clearSync()
      const t = this.#totals()
      this.#meta.putSync('totals', { ...t, live: 0 })
      this.#checkedThisTurn = false
      return moved
    })
  }

  /**
   * Keep the index in shape: drop outputs of interrupted merges, flush the live part once it is big enough (or at
   * all, with `compact`), then merge segments tier by tier (or all into one, with `compact`). Long merges write in
   * short transactions: readers are never blocked, and other writers wait at most one chunk.
   */
  maintain (options: { compact?: boolean } = {}): Maintenance {
    const done: Maintenance = { flushed: 0, merges: 0, abandoned: this.#segments.dropAbandoned() }
    const live = this.#totals().live ?? 0
    if (live >= LIVE_POSTINGS || (options.compact === true && live > 0)) done.flushed = this.flushLive()
    for (;;) {
      const plan = options.compact === true ? this.#segments.planCompaction() : this.#segments.planMerge()
      if (!plan || !this.#segments.merge(plan)) break
      done.merges++
    }
    this.#checkedThisTurn = false
    return done
  }

  /** Whether `maintain` has work: a live part due for a flush, or a tier of segments due for a merge. */
  needsMaintenance (): boolean {
    return (this.#totals().live ?? 0) >= LIVE_POSTINGS || this.#segments.planMerge() !== undefined
  }

  /** Merges under way in any process (their output is not listed yet). */
  mergesInProgress (): number {
    return this.#segments.building()
  }

  /**
   * A bulk load: tracks are buffered and written as sorted segments, one run at a time; each run commits all its
   * tracks in one transaction. Call `finish()` at the end, then `maintain()`.
   */
  bulkWriter (options: BulkOptions = {}): BulkWriter {
    return new BulkWriter({
      findByDigest: (digest) => this.findByDigest(digest),
      reserveIds: (n) => this.#root.transactionSync(() => {
        const first = this.#meta.get('nextTrackId') as number
        this.#meta.putSync('nextTrackId', first + n)
        return first
      }),
      commit: (tracks, fill) => this.#root.transactionSync(() => {
        // Another writer may have added the same audio since the run began: keep the first.
        const fresh = tracks.filter((t) => this.findByDigest(t.meta.digest) === undefined)
        const keep = new Set(fresh.map((t) => t.id))
        this.#segments.add((encoder, sink) => fill(encoder, sink, keep))
        let postings = 0
        let frames = 0
        const rows = fresh.map((t) => {
          postings += t.hashCount
          frames += t.frameCount
          return this.#putTrack(t.meta, t.id, t.hashCount, t.frameCount)
        })
        this.#addTotals(postings, frames, rows.length, 0)
        for (const t of fresh) if (t.replaces !== undefined) this.#removeTrack(t.replaces)
        return rows
      }),
    }, options)
  }

  /**
   * A read met a damaged page (lmdb-js throws MDB_CORRUPTED, MDB_PAGE_NOTFOUND...): fail this one request or session
   * with a coded error, and remember it for /health.
   */
  #readFailed (err: unknown): never {
    // Anything else (a closed index, a bug) is not a damaged page: it passes as it is, to be logged as a fault.
    if (!isPageError(err)) throw err
    // LMDB leaves the failed read transaction unusable: the next read starts a fresh one.
    try { this.#root.resetReadTxn() } catch {}
    const coded = wrapError('EAR_ERR_INDEX_READ', err)
    this.noteReadFailure(describeError(coded))
    throw coded
  }

  /** Count a read that met a damaged page, for /health: this instance's, or another thread's on the same files. */
  noteReadFailure (message: string): void {
    this.readFailures++
    this.lastReadFailure = { at: new Date().toISOString(), message }
  }

  getTrack (id: number): Track | undefined {
    try { return this.#tracks.get(id) } catch (err) { this.#readFailed(err) }
  }

  findByDigest (digest: string): Track | undefined {
    try {
      const id = this.#meta.get(`digest:${digest}`) as number | undefined
      return id === undefined ? undefined : this.#tracks.get(id)
    } catch (err) { this.#readFailed(err) }
  }

  * listTracks (afterId = 0): Iterable<Track> {
    let it: Iterator<{ value: Track }>
    try { it = this.#tracks.getRange({ start: afterId + 1 })[Symbol.iterator]() } catch (err) { this.#readFailed(err) }
    for (;;) {
      let next: IteratorResult<{ value: Track }>
      try { next = it.next() } catch (err) { this.#readFailed(err) }
      if (next.done === true) return
      yield next.value.value
    }
  }

  /** The (hash, frame) pairs stored for one track (a scan of every segment for a track not in the live part). */
  trackHashes (id: number): HashList | undefined {
    const track = this.#tracks.get(id)
    if (!track) return undefined
    for (const { list } of this.fingerprints(id - 1, 1, id)) return list
    return undefined
  }

  /**
   * Every track after `afterId` (up to `lastId`) with its (hash, frame) pairs, in id order, for export, import and
   * migration. Tracks are taken in batches of up to `batchPostings` postings; each batch reads every segment once.
   */
  * fingerprints (afterId = 0, batchPostings = 32_000_000, lastId = Infinity): Generator<{ track: Track, list: HashList }> {
    let batch: Track[] = []
    let postings = 0
    for (const track of this.listTracks(afterId)) {
      if (track.id > lastId) break
      if (batch.length > 0 && postings + track.hashCount > batchPostings) {
        yield * this.#batchFingerprints(batch)
        batch = []
        postings = 0
      }
      batch.push(track)
      postings += track.hashCount
    }
    if (batch.length > 0) yield * this.#batchFingerprints(batch)
  }

  * #batchFingerprints (batch: Track[]): Generator<{ track: Track, list: HashList }> {
    const first = batch[0].id
    const slot = new Int32Array(batch[batch.length - 1].id - first + 1).fill(-1)
    batch.forEach((t, i) => { slot[t.id - first] = i })
    const lists = batch.map((t) => ({ hashes: new Uint32Array(t.hashCount), frames: new Uint32Array(t.hashCount), count: 0, frameCount: t.frameCount }))
    const take = (hash: number, track: number, frame: number): void => {
      const i = track - first
      if (i < 0 || i >= slot.length || slot[i] < 0) return
      const list = lists[slot[i]]
      if (list.count === list.hashes.length) return
      list.hashes[list.count] = hash
      list.frames[list.count++] = frame
    }
    this.#segments.sync()
    this.#segments.scan(this.#buf, take)
    for (const { key, value } of this.#live.getRange({})) {
      for (let p = 0; p + 8 <= value.length; p += 8) take(key, value.readUInt32LE(p), value.readUInt32LE(p + 4))
    }
    for (let i = 0; i < batch.length; i++) {
      const list = lists[i]
      yield { track: batch[i], list: { ...list, hashes: list.hashes.subarray(0, list.count), frames: list.frames.subarray(0, list.count) } }
    }
  }

  lookup (hash: number, visit: PostingVisitor, limit = Infinity): number {
    const segments = this.#segments
    const buf = this.#buf
    let total: number
    let live: Buffer | undefined
    try {
      this.#checkForChanges()
      total = segments.read(hash, buf, limit)
      // The buffer is reused by the next get: it is read completely below, before any other get.
      live = this.#liveEmpty ? undefined : this.#live.getBinaryFast(hash)
    } catch (err) { this.#readFailed(err) }
    const nLive = live ? live.length >>> 3 : 0
    total += nLive
    if (total > limit) return total
    const n = segments.decoded
    const removed = segments.removed
    const tracks = buf.tracks
    const frames = buf.frames
    for (let p = 0; p < n; p++) {
      const track = tracks[p]
      if (removed !== undefined && removed[track] === 1) continue
      visit(track, frames[p])
    }
    if (live) for (let p = 0; p < nLive; p++) visit(live.readUInt32LE(p * 8), live.readUInt32LE(p * 8 + 4))
    return total
  }

  #checkForChanges (): void {
    if (this.#checkedThisTurn) return
    this.#segments.sync()
    // Only a count of 0 says the live part is empty: the totals of an index from before the count do not say.
    this.#liveEmpty = this.#totals().live === 0
    this.#checkedThisTurn = true
    queueMicrotask(this.#nextTurn)
  }

  bucketLimit (postingsPerLookup: number): number {
    try {
      this.#segments.sync()
    } catch (err) { this.#readFailed(err) }
    return this.#segments.profile().limitFor(postingsPerLookup)
  }

  totalFrames (): number {
    return this.#totals().frames
  }

  stats (): IndexStats {
    const t = this.#totals()
    let bytesOnDisk = 0
    try { bytesOnDisk = fs.statSync(path.join(this.dir, 'data.mdb')).size } catch {}
    const audioSeconds = (t.frames * this.params.hopSize) / this.params.sampleRate
    let buckets = 0
    let liveBuckets = 0
    let tombstones = 0
    try {
      this.#segments.sync()
      for (const s of this.#segments.list) buckets += s.buckets
      liveBuckets = (this.#live.getStats() as { entryCount?: number }).entryCount ?? 0
      tombstones = this.#segments.tombstoneCount()
    } catch {}
    return {
      tracks: t.tracks,
      postings: t.postings,
      distinctHashes: buckets + liveBuckets,
      audioSeconds,
      bytesOnDisk,
      bytesPerAudioSecond: audioSeconds > 0 ? bytesOnDisk / audioSeconds : 0,
      segments: this.#segments.list.length,
      livePostings: t.live ?? 0,
      tombstones,
      bytesInUse: this.#bytesInUse(),
    }
  }

  /** Pages held by every database, in bytes: the file less the free pages LMDB will reuse. */
  #bytesInUse (): number {
    const dbs: Array<{ getStats: () => unknown }> = [this.#root, this.#live, this.#tracks, this.#hashes, this.#meta, ...this.#segments.databases()]
    let bytes = 0
    for (const db of dbs) {
      const s = db.getStats() as { pageSize: number, treeBranchPageCount: number, treeLeafPageCount: number, overflowPages: number }
      bytes += s.pageSize * (s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages)
    }
    return bytes
  }

  /** Write a consistent snapshot of the whole environment to `file` (safe while others read and write). */
  async backup (file: string): Promise<void> {
    await backupEnvironment(this.#root, file)
  }

  /** Pids of other processes with the environment open (LMDB's reader table, stale entries cleared first). */
  otherReaders (): number[] {
    this.#root.readerCheck()
    const pids = new Set<number>()
    for (const line of this.#root.readerList().split('\n').slice(1)) {
      const pid = Number(line.trim().split(/\s+/)[0])
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) pids.add(pid)
    }
    return [...pids]
  }

  /**
   * Rewrite the file without its free pages (those left by merges and removals), then close the index. Only when no
   * other process has it open: the copy replaces the file they would have mapped. Returns the sizes, or why not.
   */
  async shrinkFile (): Promise<{ before: number, after: number } | { busy: number[] }> {
    const busy = this.otherReaders()
    if (busy.length > 0) return { busy }
    const file = path.join(this.dir, 'data.mdb')
    const before = fs.statSync(file).size
    const copy = path.join(this.dir, `data.mdb.shrink-${process.pid}`)
    await this.backup(copy)
    await this.close()
    // The copy holds every committed page in use; the lock file describes the old file and is made anew.
    fs.renameSync(copy, file)
    fs.rmSync(path.join(this.dir, 'lock.mdb'), { force: true })
    return { before, after: fs.statSync(file).size }
  }

  async close (): Promise<void> {
    await this.#root.close()
  }
}

/**
 * Write a consistent, compacted snapshot of an LMDB environment to `file`: one read transaction, so it is safe while
 * other processes read and write it (the index's, and the server state's).
 */
export async function backupEnvironment (root: RootDatabase, file: string): Promise<void> {
  // LMDB copies a folder environment into a folder: copy beside the target, then move the one file into place.
  const tmp = `${file}.partial-${process.pid}`
  fs.mkdirSync(tmp)
  try {
    await root.backup(tmp, true)
    fs.renameSync(path.join(tmp, 'data.mdb'), file)
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

/** LMDB's errors for pages that are not what they should be (a write can also fail for other reasons: a full disk). */
function isPageError (err: unknown): boolean {
  return err instanceof Error && /MDB_(CORRUPTED|PAGE_NOTFOUND|BAD_TXN)/.test(err.message)
}
