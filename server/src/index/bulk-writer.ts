/**
 * Bulk loads: tracks in, sorted segments out, as fast as fingerprinting allows.
 *
 * Postings are buffered in a run of typed arrays; when the run is full, a counting sort by hash (stable, so each
 * bucket stays in track order, frames ascending) lays them out bucket by bucket and they are written as one new
 * segment, with the tracks' rows, in one transaction: a crash loses at most the run being buffered, and the next
 * load skips the tracks already committed (by digest). No bucket is read or rewritten, whatever the index holds.
 */
import type { HashList } from '../dsp/pipeline.js'
import type { BucketEncoder, PartSink } from './segment-codec.js'
import { MAX_HASH } from './segment-codec.js'
import { sortedKeys, MAX_FRAMES } from './posting-keys.js'
import type { AddResult, NewTrack, Track } from './types.js'

export interface BulkOptions {
  /**
   * Postings buffered per run: 20 bytes of memory each while sorting. Default 48 M (~1 GB at the peak, ~2,500 tracks
   * of 3.5 min). Bigger runs make fewer, bigger segments, and the merges after the load read fewer keys.
   */
  runPostings?: number
}

/** A track buffered in the current run. */
export interface PendingTrack {
  id: number
  meta: NewTrack
  hashCount: number
  frameCount: number
  /** A track to remove in the transaction that commits this one (a changed file's old track). */
  replaces?: number
}

/** Fills a new segment with the run's buckets, leaving out tracks not in `keep`. */
export type RunFill = (encoder: BucketEncoder, sink: PartSink, keep: Set<number>) => { postings: number, buckets: number }

/** What the writer needs of the index (lmdb-index.ts provides it). */
export interface BulkStore {
  findByDigest: (digest: string) => Track | undefined
  /** Reserve `n` consecutive track ids; returns the first. */
  reserveIds: (n: number) => number
  /**
   * In one transaction: write the run as a segment and the rows of the tracks still absent, and remove the tracks
   * those replace; returns the rows written.
   */
  commit: (tracks: PendingTrack[], fill: RunFill) => Track[]
}

const ID_BLOCK = 1024

export class BulkWriter {
  readonly #store: BulkStore
  readonly #runPostings: number
  #hashes: Uint32Array
  #tracks: Uint32Array
  #frames: Uint32Array
  #n = 0
  #pending: PendingTrack[] = []
  readonly #digests = new Map<string, Track>()
  #nextId = 0
  #idsLeft = 0
  /** Tracks committed so far. */
  committed = 0

  constructor (store: BulkStore, options: BulkOptions = {}) {
    this.#store = store
    this.#runPostings = options.runPostings ?? 48_000_000
    // The buffers grow as tracks come, up to a run: a small import never takes the memory of a big one.
    const size = Math.min(this.#runPostings, 1 << 20)
    this.#hashes = new Uint32Array(size)
    this.#tracks = new Uint32Array(size)
    this.#frames = new Uint32Array(size)
  }

  /** Buffer a track. `added` is false when the same audio is indexed or buffered already. */
  add (meta: NewTrack, list: HashList, replaces?: number): AddResult {
    const existing = this.#digests.get(meta.digest) ?? this.#store.findByDigest(meta.digest)
    if (existing) return { track: existing, added: false }
    if (list.frameCount >= MAX_FRAMES) throw new RangeError(`track of ${list.frameCount} frames is too long`)
    const keys = sortedKeys(list)
    const need = this.#n + keys.length
    if (need > this.#hashes.length) {
      if (need <= this.#runPostings) this.#grow(Math.min(this.#runPostings, Math.max(need, this.#hashes.length * 2)))
      else {
        this.flush()
        if (keys.length > this.#hashes.length) this.#grow(keys.length)
      }
    }
    if (this.#idsLeft === 0) {
      this.#nextId = this.#store.reserveIds(ID_BLOCK)
      this.#idsLeft = ID_BLOCK
    }
    const id = this.#nextId++
    this.#idsLeft--
    let n = this.#n
    for (let i = 0; i < keys.length; i++) {
      this.#hashes[n] = Math.floor(keys[i] / MAX_FRAMES)
      this.#tracks[n] = id
      this.#frames[n++] = keys[i] % MAX_FRAMES
    }
    this.#n = n
    const pending: PendingTrack = { id, meta, hashCount: keys.length, frameCount: list.frameCount, ...(replaces === undefined ? {} : { replaces }) }
    this.#pending.push(pending)
    const track: Track = { ...meta, id, indexedAt: new Date().toISOString(), hashCount: keys.length, frameCount: list.frameCount }
    this.#digests.set(meta.digest, track)
    return { track, added: true }
  }

  /** Room for `size` postings, keeping those buffered. */
  #grow (size: number): void {
    const grown = (old: Uint32Array): Uint32Array => {
      const a = new Uint32Array(size)
      a.set(old.subarray(0, this.#n))
      return a
    }
    this.#hashes = grown(this.#hashes)
    this.#tracks = grown(this.#tracks)
    this.#frames = grown(this.#frames)
  }

  /** Write the buffered run as one segment; returns the rows committed. */
  flush (): Track[] {
    if (this.#pending.length === 0) return []
    const n = this.#n
    const hashes = this.#hashes
    const tracks = this.#tracks
    const frames = this.#frames
    const rows = this.#store.commit(this.#pending, (encoder, sink, keep) => {
      const all = keep.size === this.#pending.length
      // Counting sort by hash: bucket starts, then a stable scatter.
      const start = new Uint32Array(MAX_HASH + 1)
      for (let i = 0; i < n; i++) start[hashes[i] + 1]++
      for (let h = 0; h < MAX_HASH; h++) start[h + 1] += start[h]
      const sortedTracks = new Uint32Array(n)
      const sortedFrames = new Uint32Array(n)
      const at = start.slice()
      for (let i = 0; i < n; i++) {
        const pos = at[hashes[i]]++
        sortedTracks[pos] = tracks[i]
        sortedFrames[pos] = frames[i]
      }
      let postings = 0
      let buckets = 0
      for (let h = 0; h < MAX_HASH; h++) {
        const from = start[h]
        let count = start[h + 1] - from
        if (count === 0) continue
        if (!all) count = keepOnly(sortedTracks, sortedFrames, from, count, keep)
        if (count === 0) continue
        postings += encoder.encode(h, sortedTracks, sortedFrames, from, count, sink)
        buckets++
      }
      return { postings, buckets }
    })
    this.committed += rows.length
    this.#n = 0
    this.#pending = []
    this.#digests.clear()
    return rows
  }

  /** Write what is left; the writer can be used again afterwards. */
  finish (): Track[] {
    return this.flush()
  }
}

/** Compact tracks/frames[from..from+count) to the postings of kept tracks; returns how many remain. */
function keepOnly (tracks: Uint32Array, frames: Uint32Array, from: number, count: number, keep: Set<number>): number {
  let w = from
  for (let i = from; i < from + count; i++) {
    if (!keep.has(tracks[i])) continue
    tracks[w] = tracks[i]
    frames[w++] = frames[i]
  }
  return w - from
}
