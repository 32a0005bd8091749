/**
 * Segments: the immutable, sorted part of the index, where nearly all postings of a big catalog live.
 *
 * Each segment is an LMDB database `seg:<id>` whose keys are (hash, part) and whose values are packed buckets
 * (segment-codec.ts), written once in key order with LMDB's append mode (full pages, no splits) and never changed.
 * The list of segments lives in the meta database; a generation counter changes whenever that list or the set of
 * removed tracks does, so a reader (in this process or another) reloads it before its next lookup. A reader's
 * transaction sees one list and the databases it names, so a merge never shows half its work.
 *
 * Removed tracks are tombstones: their postings stay in the segments, are skipped by lookups, and are dropped when
 * their segments are merged. A tombstone names the segments that may hold the track's postings; it is deleted when
 * none of them is left.
 *
 * Merging: segments are grouped by size in tiers of a factor MERGE_FACTOR; a tier holding MERGE_FACTOR segments is
 * merged into one. The output is written in many short write transactions under a name no list holds, then swapped
 * for its inputs in one transaction, so readers keep answering from the inputs until then, other writers interleave,
 * and a crash leaves an unlisted database that the next maintenance drops.
 */
import type { Database, RootDatabase } from 'lmdb'
import { isProcessAlive } from '../processes.js'
import { DepthProfile, type DepthBands } from './depth-profile.js'
import { BucketEncoder, MAX_PARTS, bucketCount, decodePart, hashOfKey, headerBytes, partKey, type PartSink } from './segment-codec.js'

/** One segment, as listed in the meta database. */
export interface SegmentInfo {
  id: number
  /** Postings stored (tombstoned ones included until a merge drops them). */
  postings: number
  /** Buckets (distinct hashes) stored. */
  buckets: number
  /** How deep they are (depth-profile.ts); absent in segments written before it was kept. */
  depths?: DepthBands
}

/** Segments merged at once, and the size ratio between tiers. */
export const MERGE_FACTOR = 4
/** Segments up to this many postings share the lowest tier. */
const TIER_BASE = 4_000_000
/** Keys written per write transaction while merging: short enough to let other writers in often. */
const MERGE_CHUNK_KEYS = 50_000

/** Growable (track, frame) arrays that buckets decode into. */
export class PostingBuffer {
  tracks = new Uint32Array(1 << 12)
  frames = new Uint32Array(1 << 12)

  /** Make room for `n` postings, keeping the first `keep`. */
  reserve (n: number, keep: number): void {
    if (n <= this.tracks.length) return
    let size = this.tracks.length
    while (size < n) size *= 2
    const tracks = new Uint32Array(size)
    const frames = new Uint32Array(size)
    tracks.set(this.tracks.subarray(0, keep))
    frames.set(this.frames.subarray(0, keep))
    this.tracks = tracks
    this.frames = frames
  }
}

type Meta = Database<unknown, string>

export class Segments {
  readonly #root: RootDatabase
  readonly #meta: Meta
  /**
   * Generation counter: one uint32 under key 0, read with no decoding on every lookup. This and the tombstones are
   * undefined in a format 1 backup opened read-only, which has neither (nor segments).
   */
  readonly #generation: Database<Buffer, number> | undefined
  /** Removed track id -> ids of the segments that may still hold its postings. */
  readonly #tombstones: Database<number[], number> | undefined
  readonly #handles = new Map<number, Database<Buffer, number>>()
  #loaded = -1
  list: SegmentInfo[] = []
  #dbs: Array<Database<Buffer, number>> = []
  /** Removed track ids as a bitmap (undefined when there are none): lookups skip their postings. */
  removed: Uint8Array | undefined

  constructor (root: RootDatabase, meta: Meta) {
    this.#root = root
    this.#meta = meta
    this.#generation = root.openDB<Buffer, number>('generation', { keyEncoding: 'uint32', encoding: 'binary' })
    this.#tombstones = root.openDB<number[], number>('tombstones', { keyEncoding: 'uint32', encoding: 'msgpack' })
  }

  #db (id: number): Database<Buffer, number> {
    let db = this.#handles.get(id)
    if (!db) {
      db = this.#root.openDB<Buffer, number>(`seg:${id}`, { keyEncoding: 'uint32', encoding: 'binary' })
      this.#handles.set(id, db)
    }
    return db
  }

  /** The databases writes need; a writable environment always has them (the constructor opens or creates them). */
  get #writable (): { generation: Database<Buffer, number>, tombstones: Database<number[], number> } {
    if (!this.#generation || !this.#tombstones) throw new Error('the index is a read-only format 1 backup')
    return { generation: this.#generation, tombstones: this.#tombstones }
  }

  /** The listed segments' databases and the small ones beside them (for the pages they hold). */
  databases (): Array<Database<unknown, number>> {
    return [...this.#dbs, this.#generation, this.#tombstones].filter((db) => db !== undefined) as Array<Database<unknown, number>>
  }

  /** The depth profile of every listed segment together (call sync first). */
  profile (): DepthProfile {
    if (this.#profile === undefined) {
      this.#profile = new DepthProfile()
      for (const s of this.list) this.#profile.merge(s.depths)
    }
    return this.#profile
  }

  #profile: DepthProfile | undefined

  /** Bring the list and tombstones up to the current snapshot; cheap when nothing changed. */
  sync (): void {
    const g = this.#generation?.getBinaryFast(0)
    const generation = g ? g.readUInt32LE(0) : 0
    if (generation === this.#loaded) return
    this.list = (this.#meta.get('segments') as SegmentInfo[] | undefined) ?? []
    this.#dbs = this.list.map((s) => this.#db(s.id))
    this.#profile = undefined
    let removed: Uint8Array | undefined
    for (const { key } of this.#tombstones?.getRange({}) ?? []) {
      if (!removed || removed.length <= key) {
        const grown = new Uint8Array(Math.max(key + 1, (removed?.length ?? 0) * 2))
        if (removed) grown.set(removed)
        removed = grown
      }
      removed[key] = 1
    }
    this.removed = removed
    this.#loaded = generation
  }

  /** Inside a write transaction: readers must reload. */
  #bump (): void {
    const g = this.#writable.generation.getBinary(0)
    const next = g ? (g.readUInt32LE(0) + 1) >>> 0 : 1
    const b = Buffer.alloc(4)
    b.writeUInt32LE(next)
    this.#writable.generation.putSync(0, b)
  }

  /** Postings decoded by the last `read`. */
  decoded = 0

  /**
   * The postings of `hash` in every segment: returns their count, and decodes them into `into` (setting `decoded`)
   * when it is at most `limit`.
   */
  read (hash: number, into: PostingBuffer, limit: number): number {
    let total = 0
    let n = 0
    const dbs = this.#dbs
    for (let s = 0; s < dbs.length; s++) {
      const db = dbs[s]
      const part0 = db.getBinaryFast(partKey(hash, 0))
      if (!part0) continue
      const count = bucketCount(part0)
      total += count
      if (total > limit) continue
      into.reserve(n + count, n)
      const end = n + count
      n = decodePart(part0, headerBytes(count), into.tracks, into.frames, n)
      for (let part = 1; n < end && part < MAX_PARTS; part++) {
        const next = db.getBinaryFast(partKey(hash, part))
        if (!next) break
        n = decodePart(next, 0, into.tracks, into.frames, n)
      }
    }
    this.decoded = total > limit ? 0 : n
    return total
  }

  /** Every posting of every segment, skipping removed tracks (for export and import: one pass over the disk). */
  scan (buf: PostingBuffer, take: (hash: number, track: number, frame: number) => void): void {
    const removed = this.removed
    for (const db of this.#dbs) {
      for (const { key, value } of db.getRange({})) {
        const hash = hashOfKey(key)
        const first = key === partKey(hash, 0)
        const start = first ? headerBytes(bucketCount(value)) : 0
        buf.reserve(value.length, 0)
        const n = decodePart(value, start, buf.tracks, buf.frames, 0)
        for (let p = 0; p < n; p++) {
          if (removed !== undefined && removed[buf.tracks[p]] === 1) continue
          take(hash, buf.tracks[p], buf.frames[p])
        }
      }
    }
  }

  /**
   * Inside a write transaction: store a new segment whose buckets `fill` writes in ascending hash order, and list it.
   * `fill` gets an encoder and a sink; it returns the postings and buckets written.
   */
  add (fill: (encoder: BucketEncoder, sink: PartSink) => { postings: number, buckets: number }): SegmentInfo | undefined {
    const id = this.#nextId()
    const db = this.#db(id)
    const encoder = new BucketEncoder()
    const { postings, buckets } = fill(encoder, (key, bytes) => { db.putSync(key, bytes, { append: true }) })
    if (postings === 0) {
      db.dropSync()
      this.#handles.delete(id)
      return undefined
    }
    const info: SegmentInfo = { id, postings, buckets, depths: encoder.depths.bands }
    this.#meta.putSync('segments', [...this.#listed(), info])
    this.#bump()
    return info
  }

  #listed (): SegmentInfo[] {
    return (this.#meta.get('segments') as SegmentInfo[] | undefined) ?? []
  }

  #nextId (): number {
    const id = (this.#meta.get('nextSegmentId') as number | undefined) ?? 1
    this.#meta.putSync('nextSegmentId', id + 1)
    return id
  }

  /** Inside a write transaction: mark a track removed; its postings are skipped from now on. */
  tombstone (trackId: number): void {
    const holders = this.#listed().map((s) => s.id)
    if (holders.length === 0) return
    this.#writable.tombstones.putSync(trackId, holders)
    this.#bump()
  }

  /** Tracks removed but still present in some segment. */
  tombstoneCount (): number {
    return this.#tombstones?.getCount() ?? 0
  }

  /** The segments to merge next, or undefined when every tier has fewer than MERGE_FACTOR. */
  planMerge (): SegmentInfo[] | undefined {
    const tiers = new Map<number, SegmentInfo[]>()
    for (const s of this.#listed()) {
      const tier = Math.max(0, Math.floor(Math.log(s.postings / TIER_BASE) / Math.log(MERGE_FACTOR)) + 1)
      const group = tiers.get(tier) ?? []
      group.push(s)
      tiers.set(tier, group)
    }
    for (const tier of [...tiers.keys()].sort((a, b) => a - b)) {
      const group = tiers.get(tier) as SegmentInfo[]
      if (group.length >= MERGE_FACTOR) return group.slice(0, MERGE_FACTOR)
    }
    return undefined
  }

  /** Every segment, when there is more than one (or tombstones to drop): a full compaction. */
  planCompaction (): SegmentInfo[] | undefined {
    const all = this.#listed()
    if (all.length > 1 || (all.length === 1 && this.tombstoneCount() > 0)) return all
    return undefined
  }

  /**
   * Merge `inputs` into one new segment, dropping tombstoned postings. Writes in short transactions; returns false
   * (and drops its output) when another process merged or changed the inputs meanwhile.
   */
  merge (inputs: SegmentInfo[]): boolean {
    const id = this.#root.transactionSync(() => {
      const next = this.#nextId()
      this.#meta.putSync(`building:${next}`, { pid: process.pid, startedAt: new Date().toISOString() })
      return next
    })
    const out = this.#db(id)
    // Handles first: a database opened after a read transaction began is not valid in it.
    const sources = inputs.map((s) => this.#db(s.id))
    // The snapshot the merge reads: its inputs and the tombstones it drops.
    const readTxn = this.#root.useReadTransaction()
    try {
      const dropped = new Set<number>()
      for (const { key } of this.#writable.tombstones.getRange({ transaction: readTxn })) dropped.add(key)
      const result = this.#writeMerged(sources, dropped, out, readTxn)
      const committed = this.#root.transactionSync(() => {
        const listed = this.#listed()
        const inputIds = new Set(inputs.map((s) => s.id))
        if (inputs.some((s) => !listed.some((l) => l.id === s.id))) return false
        const rest = listed.filter((s) => !inputIds.has(s.id))
        const info: SegmentInfo = { id, postings: result.postings, buckets: result.buckets, depths: result.depths }
        this.#meta.putSync('segments', result.postings > 0 ? [...rest, info] : rest)
        this.#meta.removeSync(`building:${id}`)
        // Tombstones: those the merge applied lose its inputs; later ones now point at the output instead.
        for (const { key, value } of this.#writable.tombstones.getRange({})) {
          const holders = value.filter((h) => !inputIds.has(h))
          if (holders.length === value.length) continue // none of its segments was merged
          if (!dropped.has(key) && result.postings > 0) holders.push(id)
          if (holders.length === 0) this.#writable.tombstones.removeSync(key)
          else this.#writable.tombstones.putSync(key, holders)
        }
        for (const s of inputs) this.#db(s.id).dropSync()
        if (result.postings === 0) out.dropSync()
        this.#bump()
        return true
      })
      for (const s of inputs) this.#handles.delete(s.id)
      if (!committed) this.#dropBuilding(id)
      return committed
    } catch (err) {
      this.#dropBuilding(id)
      throw err
    } finally {
      readTxn.done()
    }
  }

  #writeMerged (inputs: Array<Database<Buffer, number>>, dropped: Set<number>, out: Database<Buffer, number>, readTxn: unknown): { postings: number, buckets: number, depths: DepthBands } {
    const iterators = inputs.map((db) => db.getRange({ transaction: readTxn as never })[Symbol.iterator]())
    const heads = iterators.map((it) => it.next())
    const buf = new PostingBuffer()
    const encoder = new BucketEncoder()
    let pending: Array<[number, Buffer]> = []
    const flush = (): void => {
      const batch = pending
      pending = []
      this.#root.transactionSync(() => { for (const [key, bytes] of batch) out.putSync(key, bytes, { append: true }) })
    }
    const sink: PartSink = (key, bytes) => { pending.push([key, Buffer.from(bytes)]) }
    let postings = 0
    let buckets = 0
    for (;;) {
      let hash = Infinity
      for (const h of heads) if (h.done !== true) hash = Math.min(hash, hashOfKey(h.value.key))
      if (hash === Infinity) break
      // Decode this hash's parts from every input holding it (each input's parts are consecutive keys).
      let n = 0
      for (let s = 0; s < heads.length; s++) {
        while (heads[s].done !== true && hashOfKey(heads[s].value.key) === hash) {
          const { key, value } = heads[s].value
          let start = 0
          if (key === partKey(hash, 0)) {
            const count = bucketCount(value)
            buf.reserve(n + count, n)
            start = headerBytes(count)
          }
          n = decodePart(value, start, buf.tracks, buf.frames, n)
          heads[s] = iterators[s].next()
        }
      }
      const kept = dropTombstoned(buf, n, dropped)
      sortPostings(buf, kept)
      if (kept > 0) {
        postings += encoder.encode(hash, buf.tracks, buf.frames, 0, kept, sink)
        buckets++
      }
      if (pending.length >= MERGE_CHUNK_KEYS) flush()
    }
    if (pending.length > 0) flush()
    return { postings, buckets, depths: encoder.depths.bands }
  }

  #dropBuilding (id: number): void {
    this.#root.transactionSync(() => {
      this.#meta.removeSync(`building:${id}`)
      this.#db(id).dropSync()
    })
    this.#handles.delete(id)
  }

  /** Merges under way (in any process): their outputs are written but not listed yet. */
  building (): number {
    let n = 0
    for (const _ of this.#meta.getKeys({ start: 'building:', end: 'building;' })) n++
    return n
  }

  /** Drop the outputs of merges whose process died before listing them. */
  dropAbandoned (): number {
    // Read them all first: a write transaction would end the iteration's read.
    const abandoned: number[] = []
    for (const { key, value } of this.#meta.getRange({ start: 'building:', end: 'building;' })) {
      const { pid } = value as { pid: number }
      if (!isProcessAlive(pid)) abandoned.push(Number(String(key).slice('building:'.length)))
    }
    for (const id of abandoned) this.#dropBuilding(id)
    return abandoned.length
  }
}

/** Remove postings of removed tracks from buf[0..n); returns the new n. */
function dropTombstoned (buf: PostingBuffer, n: number, dropped: Set<number>): number {
  if (dropped.size === 0) return n
  let w = 0
  for (let i = 0; i < n; i++) {
    if (dropped.has(buf.tracks[i])) continue
    buf.tracks[w] = buf.tracks[i]
    buf.frames[w++] = buf.frames[i]
  }
  return w
}

/** Sort buf[0..n) by track then frame, unless it already is (inputs usually hold disjoint ranges of ids). */
export function sortPostings (buf: PostingBuffer, n: number): void {
  let sorted = true
  for (let i = 1; i < n && sorted; i++) {
    const d = buf.tracks[i] - buf.tracks[i - 1]
    if (d < 0 || (d === 0 && buf.frames[i] < buf.frames[i - 1])) sorted = false
  }
  if (sorted) return
  const keys = new Float64Array(n)
  for (let i = 0; i < n; i++) keys[i] = buf.tracks[i] * 2 ** 24 + buf.frames[i]
  keys.sort()
  for (let i = 0; i < n; i++) {
    buf.tracks[i] = Math.floor(keys[i] / 2 ** 24)
    buf.frames[i] = keys[i] % 2 ** 24
  }
}
