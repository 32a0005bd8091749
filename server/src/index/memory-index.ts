/**
 * An index held in memory, behind the same interface as the LMDB index: for tests and tools that need a catalog but
 * no disk (the matchers and sessions run on it unchanged), and the second implementation that keeps the `Index`
 * interface honest (test/index/index-contract.test.ts runs one suite against both).
 *
 * It keeps the LMDB live part's rules: a bucket holds (track id, frame) postings in the order tracks were added,
 * frames ascending within a track; a bucket stops growing at MAX_LIVE_BUCKET; a digest is stored once; a track spans
 * fewer than MAX_FRAMES frames. Nothing persists, and one process owns it.
 */
import type { FingerprintParams } from '../config/fingerprint.js'
import type { HashList } from '../dsp/pipeline.js'
import { earshotError } from '../errors.js'
import { DepthProfile } from './depth-profile.js'
import { appendByHash, MAX_FRAMES, MAX_LIVE_BUCKET, sortedKeys } from './posting-keys.js'
import type { AddResult, CodeField, Index, IndexStats, NewTrack, PostingVisitor, Track } from './types.js'

/** One hash's postings: (track id, frame) pairs, interleaved, in a buffer that doubles as it fills. */
interface Bucket { pairs: Uint32Array, length: number }

export class MemoryIndex implements Index {
  readonly params: FingerprintParams
  readonly readFailures = 0
  readonly #tracks = new Map<number, Track>()
  readonly #digests = new Map<string, number>()
  readonly #buckets = new Map<number, Bucket>()
  /** The distinct hashes of each track: a removal visits only its buckets. */
  readonly #trackHashes = new Map<number, Uint32Array>()
  #nextId = 1
  #postings = 0
  #frames = 0
  /** Bucket depths, built on the first `bucketLimit` after a change. */
  #profile: DepthProfile | undefined

  constructor (params: FingerprintParams) {
    this.params = params
  }

  addTrack (meta: NewTrack, list: HashList, replaces?: number): AddResult {
    if (list.frameCount >= MAX_FRAMES) throw earshotError('EAR_ERR_AUDIO_TOO_LONG', `${meta.durationSeconds.toFixed(0)} s`)
    const existing = this.findByDigest(meta.digest)
    if (existing) return { track: existing, added: false }
    const keys = sortedKeys(list)
    const id = this.#nextId++
    const { stored, distinct } = appendByHash(keys, (hash, from, to) => this.#append(hash, id, keys, from, to))
    const track: Track = { ...meta, id, indexedAt: new Date().toISOString(), hashCount: stored, frameCount: list.frameCount }
    this.#tracks.set(id, track)
    this.#digests.set(meta.digest, id)
    this.#trackHashes.set(id, Uint32Array.from(distinct))
    this.#postings += stored
    this.#frames += list.frameCount
    this.#profile = undefined
    if (replaces !== undefined) this.removeTrack(replaces)
    return { track: copyOf(track), added: true }
  }

  updateTrack (id: number, change: (track: Track) => Track): Track | undefined {
    const old = this.#tracks.get(id)
    if (!old) return undefined
    const { digest, durationSeconds, indexedAt, hashCount, frameCount } = old
    const track: Track = { ...change(copyOf(old)), id, digest, durationSeconds, indexedAt, hashCount, frameCount }
    this.#tracks.set(id, track)
    return copyOf(track)
  }

  tracksWith (field: CodeField, value: string): Track[] {
    // A scan: this index serves tests and tools, whose catalogs are small.
    return [...this.#tracks.values()].filter((t) => t[field] === value).map(copyOf)
  }

  /** One track's postings of one hash (keys[from..to)), up to the bucket's limit; returns how many were stored. */
  #append (hash: number, id: number, keys: Float64Array, from: number, to: number): number {
    let bucket = this.#buckets.get(hash)
    const have = bucket?.length ?? 0
    const n = Math.min(MAX_LIVE_BUCKET - have, to - from)
    if (n <= 0) return 0
    if (bucket === undefined || 2 * (have + n) > bucket.pairs.length) {
      const grown = new Uint32Array(Math.max(8, 4 * (have + n)))
      if (bucket) grown.set(bucket.pairs.subarray(0, 2 * have))
      bucket = { pairs: grown, length: have }
      this.#buckets.set(hash, bucket)
    }
    const pairs = bucket.pairs
    for (let k = 0; k < n; k++) {
      pairs[2 * (have + k)] = id
      pairs[2 * (have + k) + 1] = keys[from + k] % MAX_FRAMES
    }
    bucket.length = have + n
    return n
  }

  removeTrack (id: number): boolean {
    const track = this.#tracks.get(id)
    if (!track) return false
    for (const hash of this.#trackHashes.get(id) ?? []) {
      const bucket = this.#buckets.get(hash)
      if (!bucket) continue
      const pairs = bucket.pairs
      let kept = 0
      for (let p = 0; p < bucket.length; p++) {
        if (pairs[2 * p] === id) continue
        pairs[2 * kept] = pairs[2 * p]
        pairs[2 * kept + 1] = pairs[2 * p + 1]
        kept++
      }
      if (kept === 0) this.#buckets.delete(hash)
      else bucket.length = kept
    }
    this.#tracks.delete(id)
    this.#digests.delete(track.digest)
    this.#trackHashes.delete(id)
    this.#postings -= track.hashCount
    this.#frames -= track.frameCount
    this.#profile = undefined
    return true
  }

  getTrack (id: number): Track | undefined {
    const track = this.#tracks.get(id)
    return track && copyOf(track)
  }

  findByDigest (digest: string): Track | undefined {
    const id = this.#digests.get(digest)
    return id === undefined ? undefined : this.getTrack(id)
  }

  * listTracks (afterId = 0): Iterable<Track> {
    // Ids only grow, and a Map iterates in insertion order: this is id order.
    for (const track of this.#tracks.values()) if (track.id > afterId) yield copyOf(track)
  }

  lookup (hash: number, visit: PostingVisitor, limit = Infinity): number {
    const bucket = this.#buckets.get(hash)
    if (!bucket) return 0
    const n = bucket.length
    if (n > limit) return n
    const pairs = bucket.pairs
    for (let p = 0; p < n; p++) visit(pairs[2 * p], pairs[2 * p + 1])
    return n
  }

  bucketLimit (postingsPerLookup: number): number {
    if (this.#profile === undefined) {
      const profile = new DepthProfile()
      for (const bucket of this.#buckets.values()) profile.add(bucket.length)
      this.#profile = profile
    }
    return this.#profile.limitFor(postingsPerLookup)
  }

  totalFrames (): number {
    return this.#frames
  }

  stats (): IndexStats {
    return {
      tracks: this.#tracks.size,
      postings: this.#postings,
      distinctHashes: this.#buckets.size,
      audioSeconds: (this.#frames * this.params.hopSize) / this.params.sampleRate,
      bytesOnDisk: 0,
      bytesPerAudioSecond: 0,
    }
  }

  async close (): Promise<void> {
    this.#tracks.clear()
    this.#digests.clear()
    this.#buckets.clear()
    this.#trackHashes.clear()
  }
}

/** A copy a caller may change without changing the stored row (as a row read from LMDB is). */
function copyOf (t: Track): Track {
  const copy = { ...t }
  if (t.labels) copy.labels = { ...t.labels }
  if (t.editedFields) copy.editedFields = [...t.editedFields]
  return copy
}
