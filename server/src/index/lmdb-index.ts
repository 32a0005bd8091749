/**
 * The LMDB index: a memory-mapped environment in a folder, with four databases.
 *
 *   postings  uint32 hash -> packed bucket of (track id, frame) uint32 little-endian pairs
 *   tracks    uint32 id   -> Track (msgpack)
 *   hashes    uint32 id   -> the track's distinct hashes, uint32 LE (to remove its postings without a scan)
 *   meta      string      -> format version, fingerprint parameters, id counter, totals
 *
 * Packed buckets make a lookup one B-tree search and one contiguous read (`getBinaryFast`, no copy); a dupsort
 * layout would cost a cursor step per posting. Writes of one track run in one synchronous transaction, so a crash
 * or kill -9 leaves it all in or all out. LMDB allows one writer and many readers across processes: a server keeps
 * reading while `earshot index` writes.
 */
import fs from 'node:fs'
import path from 'node:path'
import { createHash } from 'node:crypto'
import type { RootDatabase, Database } from 'lmdb'
import type { FingerprintParams } from '../config/fingerprint.js'
import type { HashList } from '../dsp/pipeline.js'
import { describeError, earshotError, wrapError, EarshotError } from '../errors.js'
import { openChecked } from './lmdb-check.js'
import type { AddResult, Index, IndexStats, NewTrack, PostingVisitor, ReadFailure, Track } from './types.js'

/** Bump when the stored layout changes; an index with another version is refused. */
export const INDEX_FORMAT_VERSION = 1
/** A bucket stops growing at this many postings: such a hash says little about which track is playing. */
export const MAX_BUCKET_POSTINGS = 8192
/** Frame numbers are stored in 32 bits but hashes are grouped by hash*2^24+frame: tracks up to 2^24 frames (~108 h). */
const MAX_FRAMES = 1 << 24
/** Address space reserved for the map; LMDB grows the file as needed. 64 GiB on 64-bit platforms. */
const MAP_SIZE = 64 * 1024 ** 3

export interface LmdbIndexOptions {
  /** Open without writing (a reader beside another process's writer). */
  readOnly?: boolean
}

interface Totals { postings: number, frames: number, tracks: number }

export class LmdbIndex implements Index {
  readonly dir: string
  readonly params: FingerprintParams
  readonly #root: RootDatabase
  readonly #postings: Database<Buffer, number>
  readonly #tracks: Database<Track, number>
  readonly #hashes: Database<Buffer, number>
  readonly #meta: Database<unknown, string>
  /** Reads that met a damaged page since the index was opened; each failed one request or session. */
  readFailures = 0
  /** The last of them, for /health to report the index as degraded; undefined while every read succeeds. */
  lastReadFailure: ReadFailure | undefined

  private constructor (dir: string, params: FingerprintParams, root: RootDatabase) {
    this.dir = dir
    this.params = params
    this.#root = root
    this.#postings = root.openDB<Buffer, number>('postings', { keyEncoding: 'uint32', encoding: 'binary' })
    this.#tracks = root.openDB<Track, number>('tracks', { keyEncoding: 'uint32', encoding: 'msgpack' })
    this.#hashes = root.openDB<Buffer, number>('hashes', { keyEncoding: 'uint32', encoding: 'binary' })
    this.#meta = root.openDB<unknown, string>('meta', { encoding: 'msgpack' })
  }

  /**
   * Open (or create) the index in `dir`. The stored fingerprint parameters must equal `params`.
   * @throws EAR_ERR_INDEX_OPEN, EAR_ERR_INDEX_FORMAT, EAR_ERR_INDEX_PARAMS
   */
  static open (dir: string, params: FingerprintParams, options: LmdbIndexOptions = {}): LmdbIndex {
    let root: RootDatabase
    try {
      root = openChecked({ path: dir, maxDbs: 8, mapSize: MAP_SIZE, readOnly: options.readOnly === true, noSubdir: false }, { create: options.readOnly !== true })
    } catch (err) {
      throw wrapError('EAR_ERR_INDEX_OPEN', err, dir)
    }
    return LmdbIndex.#checked(dir, params, root, options.readOnly === true)
  }

  /** Open a backup file written by `backup` (read-only). */
  static openBackup (file: string, params: FingerprintParams): LmdbIndex {
    let root: RootDatabase
    try {
      root = openChecked({ path: file, maxDbs: 8, readOnly: true, noSubdir: true }, { create: false, noSubdir: true })
      if (root.openDB('meta', { encoding: 'msgpack' }).get('formatVersion') === undefined) throw new Error('not an earshot backup')
    } catch (err) {
      throw wrapError('EAR_ERR_IMPORT', err, file)
    }
    return LmdbIndex.#checked(file, params, root, true)
  }

  static #checked (dir: string, params: FingerprintParams, root: RootDatabase, readOnly: boolean): LmdbIndex {
    const index = new LmdbIndex(dir, params, root)
    try {
      index.#checkMeta(readOnly)
    } catch (err) {
      void root.close()
      if (err instanceof EarshotError) throw err
      throw wrapError('EAR_ERR_INDEX_OPEN', err, dir)
    }
    return index
  }

  #checkMeta (readOnly: boolean): void {
    const version = this.#meta.get('formatVersion') as number | undefined
    if (version === undefined) {
      if (readOnly) return
      this.#meta.transactionSync(() => {
        this.#meta.putSync('formatVersion', INDEX_FORMAT_VERSION)
        this.#meta.putSync('params', { ...this.params })
        this.#meta.putSync('nextTrackId', 1)
        this.#meta.putSync('totals', { postings: 0, frames: 0, tracks: 0 } satisfies Totals)
      })
      return
    }
    if (version !== INDEX_FORMAT_VERSION) throw earshotError('EAR_ERR_INDEX_FORMAT', this.dir, version, INDEX_FORMAT_VERSION)
    const stored = this.#meta.get('params') as Record<string, unknown>
    const differ = Object.keys({ ...stored, ...this.params })
      .filter((k) => stored[k] !== (this.params as unknown as Record<string, unknown>)[k])
    if (differ.length > 0) {
      throw earshotError('EAR_ERR_INDEX_PARAMS', this.dir, differ.map((k) => `${k}: stored ${String(stored[k])}, expected ${String((this.params as unknown as Record<string, unknown>)[k])}`).join(', '))
    }
  }

  #totals (): Totals {
    try {
      return (this.#meta.get('totals') as Totals | undefined) ?? { postings: 0, frames: 0, tracks: 0 }
    } catch (err) { this.#readFailed(err) }
  }

  addTrack (meta: NewTrack, list: HashList): AddResult {
    if (list.frameCount >= MAX_FRAMES) throw earshotError('EAR_ERR_AUDIO_TOO_LONG', `${meta.durationSeconds.toFixed(0)} s`)
    // Group postings by hash: sort hash*2^24+frame keys (exact in a double) natively.
    const keys = new Float64Array(list.count)
    for (let i = 0; i < list.count; i++) keys[i] = list.hashes[i] * MAX_FRAMES + list.frames[i]
    keys.sort()
    try {
      return this.#addSorted(meta, list, keys)
    } catch (err) {
      if (isPageError(err)) this.#readFailed(err)
      throw err
    }
  }

  #addSorted (meta: NewTrack, list: HashList, keys: Float64Array): AddResult {
    return this.#root.transactionSync(() => {
      const existing = this.findByDigest(meta.digest)
      if (existing) return { track: existing, added: false }
      const id = this.#meta.get('nextTrackId') as number
      const distinct: number[] = []
      let stored = 0
      for (let i = 0; i < keys.length;) {
        const hash = Math.floor(keys[i] / MAX_FRAMES)
        let j = i
        while (j < keys.length && Math.floor(keys[j] / MAX_FRAMES) === hash) j++
        stored += this.#appendPostings(hash, id, keys, i, j)
        distinct.push(hash)
        i = j
      }
      const track: Track = {
        ...meta,
        id,
        indexedAt: new Date().toISOString(),
        hashCount: stored,
        frameCount: list.frameCount,
      }
      this.#tracks.putSync(id, track)
      this.#hashes.putSync(id, Buffer.from(Uint32Array.from(distinct).buffer))
      this.#meta.putSync(`digest:${meta.digest}`, id)
      this.#meta.putSync('nextTrackId', id + 1)
      const t = this.#totals()
      this.#meta.putSync('totals', { postings: t.postings + stored, frames: t.frames + list.frameCount, tracks: t.tracks + 1 })
      return { track, added: true }
    })
  }

  /** Append one track's postings for one hash (keys[from..to)); returns how many were stored. */
  #appendPostings (hash: number, id: number, keys: Float64Array, from: number, to: number): number {
    const old = this.#postings.getBinary(hash)
    const oldBytes = old ? old.length : 0
    const room = MAX_BUCKET_POSTINGS - oldBytes / 8
    const n = Math.min(room, to - from)
    if (n <= 0) return 0
    const bucket = Buffer.allocUnsafe(oldBytes + n * 8)
    if (old) old.copy(bucket, 0)
    for (let k = 0; k < n; k++) {
      bucket.writeUInt32LE(id, oldBytes + k * 8)
      bucket.writeUInt32LE(keys[from + k] % MAX_FRAMES, oldBytes + k * 8 + 4)
    }
    this.#postings.putSync(hash, bucket)
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
      let removed = 0
      if (distinct) {
        for (let i = 0; i + 4 <= distinct.length; i += 4) {
          const hash = distinct.readUInt32LE(i)
          const bucket = this.#postings.getBinary(hash)
          if (!bucket) continue
          const kept = Buffer.allocUnsafe(bucket.length)
          let k = 0
          for (let p = 0; p + 8 <= bucket.length; p += 8) {
            if (bucket.readUInt32LE(p) === id) { removed++; continue }
            bucket.copy(kept, k, p, p + 8)
            k += 8
          }
          if (k === 0) this.#postings.removeSync(hash)
          else this.#postings.putSync(hash, kept.subarray(0, k))
        }
      }
      this.#tracks.removeSync(id)
      this.#hashes.removeSync(id)
      this.#meta.removeSync(`digest:${track.digest}`)
      const t = this.#totals()
      this.#meta.putSync('totals', { postings: t.postings - removed, frames: t.frames - track.frameCount, tracks: t.tracks - 1 })
      return true
    })
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
    this.readFailures++
    this.lastReadFailure = { at: new Date().toISOString(), message: describeError(coded) }
    throw coded
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

  /** The (hash, frame) pairs stored for a track, rebuilt from its buckets (for export and import). */
  trackHashes (id: number): HashList | undefined {
    const track = this.#tracks.get(id)
    const distinct = this.#hashes.getBinary(id)
    if (!track || !distinct) return undefined
    const hashes: number[] = []
    const frames: number[] = []
    for (let i = 0; i + 4 <= distinct.length; i += 4) {
      const hash = distinct.readUInt32LE(i)
      this.lookup(hash, (trackId, frame) => {
        if (trackId === id) { hashes.push(hash); frames.push(frame) }
      }, Infinity)
    }
    return { hashes: Uint32Array.from(hashes), frames: Uint32Array.from(frames), count: hashes.length, frameCount: track.frameCount }
  }

  lookup (hash: number, visit: PostingVisitor, limit = MAX_BUCKET_POSTINGS): number {
    // The buffer is reused by the next get: read it completely before returning.
    let bucket: Buffer | undefined
    try { bucket = this.#postings.getBinaryFast(hash) } catch (err) { this.#readFailed(err) }
    if (!bucket) return 0
    const n = bucket.length >>> 3
    if (n > limit) return n
    for (let p = 0; p < n; p++) visit(bucket.readUInt32LE(p * 8), bucket.readUInt32LE(p * 8 + 4))
    return n
  }

  totalFrames (): number {
    return this.#totals().frames
  }

  stats (): IndexStats {
    const t = this.#totals()
    let bytesOnDisk = 0
    try { bytesOnDisk = fs.statSync(path.join(this.dir, 'data.mdb')).size } catch {}
    const audioSeconds = (t.frames * this.params.hopSize) / this.params.sampleRate
    let distinctHashes = 0
    try { distinctHashes = (this.#postings.getStats() as { entryCount?: number }).entryCount ?? 0 } catch {}
    return {
      tracks: t.tracks,
      postings: t.postings,
      distinctHashes,
      audioSeconds,
      bytesOnDisk,
      bytesPerAudioSecond: audioSeconds > 0 ? bytesOnDisk / audioSeconds : 0,
    }
  }

  /** Write a consistent snapshot of the whole environment to `file` (safe while others read and write). */
  async backup (file: string): Promise<void> {
    // LMDB copies a folder environment into a folder: copy beside the target, then move the one file into place.
    const tmp = `${file}.partial-${process.pid}`
    fs.mkdirSync(tmp)
    try {
      await this.#root.backup(tmp, true)
      fs.renameSync(path.join(tmp, 'data.mdb'), file)
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  }

  async close (): Promise<void> {
    await this.#root.close()
  }
}

/** LMDB's errors for pages that are not what they should be (a write can also fail for other reasons: a full disk). */
function isPageError (err: unknown): boolean {
  return err instanceof Error && /MDB_(CORRUPTED|PAGE_NOTFOUND|BAD_TXN)/.test(err.message)
}

/** Digest of a fingerprint: same audio, same digest, whatever the file's container or tags. */
export function fingerprintDigest (list: HashList): string {
  const h = createHash('sha256')
  h.update(Buffer.from(list.hashes.buffer, list.hashes.byteOffset, list.count * 4))
  h.update(Buffer.from(list.frames.buffer, list.frames.byteOffset, list.count * 4))
  return h.digest('hex').slice(0, 32)
}
