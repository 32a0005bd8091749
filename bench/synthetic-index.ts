/**
 * A synthetic catalogue for the matching benchmark: real fingerprints of a few originals in; an in-memory Index of
 * many distinct tracks with the same hash statistics out.
 *
 * Copy c of every original is copy c of bench:scale's synthetic catalogue (bench/synthetic-catalog.ts): every hash's
 * landmark fields shifted by the per-copy amounts of `variants`, a bijection of the hash space; every frame stays.
 * Copy 0 is the original itself; the other copies share only chance hashes with it at its frames, so a clip of an
 * original must find the original, not a copy.
 *
 * Track ids: copy c of original o is c * originals + o + 1 (ids start at 1, buckets list postings in id order as
 * the LMDB index does). A 100k-track catalogue holds ~1.9 billion postings, too many for this process, so only the
 * buckets the benchmark's queries read are built, each complete; `depths` gives the depth of every bucket of the
 * whole catalogue (for the index stats and the bucket-limit figures) without building them.
 */
import type { FingerprintParams } from '../server/src/config/fingerprint.js'
import { HASH_LIMIT } from '../server/src/dsp/landmarks.js'
import type { HashList } from '../server/src/dsp/pipeline.js'
import type { AddResult, Index, IndexStats, PostingVisitor, Track } from '../server/src/index/types.js'
import { HashShift, inverse, variants } from './synthetic-catalog.js'

/** The shifts of the first `count` copies (the first is the identity), and their inverses. */
function shifts (params: FingerprintParams, count: number): { forward: HashShift[], back: HashShift[] } {
  const all = variants(params)
  if (count > all.length) throw new RangeError(`${count} copies asked, ${all.length} variants available`)
  const used = all.slice(0, count)
  return { forward: used.map((v) => new HashShift(params, v)), back: used.map((v) => new HashShift(params, inverse(v))) }
}

/** Postings of the originals by hash (CSR: postings of hash h at [offsets[h], offsets[h + 1])). */
export class Originals {
  readonly count: number
  readonly offsets = new Uint32Array(HASH_LIMIT + 1)
  readonly tracks: Uint32Array
  readonly frames: Uint32Array
  readonly frameTotal: number
  readonly postings: number
  /** Distinct hashes of the originals. */
  readonly hashes: Uint32Array

  constructor (lists: HashList[]) {
    this.count = lists.length
    let total = 0
    let frameTotal = 0
    for (const l of lists) {
      for (let i = 0; i < l.count; i++) this.offsets[l.hashes[i] + 1]++
      total += l.count
      frameTotal += l.frameCount
    }
    this.postings = total
    this.frameTotal = frameTotal
    let distinct = 0
    for (let h = 0; h < HASH_LIMIT; h++) {
      if (this.offsets[h + 1] > 0) distinct++
      this.offsets[h + 1] += this.offsets[h]
    }
    this.hashes = new Uint32Array(distinct)
    for (let h = 0, d = 0; h < HASH_LIMIT; h++) if (this.offsets[h + 1] > this.offsets[h]) this.hashes[d++] = h
    this.tracks = new Uint32Array(total)
    this.frames = new Uint32Array(total)
    const at = this.offsets.slice(0, HASH_LIMIT)
    lists.forEach((l, o) => {
      for (let i = 0; i < l.count; i++) {
        const p = at[l.hashes[i]]++
        this.tracks[p] = o
        this.frames[p] = l.frames[i]
      }
    })
  }
}

/** Depth of every bucket of a catalogue of `copies` copies of the originals. */
export function depths (params: FingerprintParams, originals: Originals, copies: number): Uint32Array {
  const depth = new Uint32Array(HASH_LIMIT)
  const o = originals.offsets
  for (const t of shifts(params, copies).forward) {
    for (const h of originals.hashes) depth[t.apply(h)] += o[h + 1] - o[h]
  }
  return depth
}

/** The catalogue of `copies` copies of the originals, with the buckets of `needed` hashes built. */
export class SyntheticIndex implements Index {
  readonly tracks: number
  /** Postings visited by lookups since the last reset (skipped buckets not counted). */
  postingsRead = 0
  readonly #originals: Originals
  readonly #copies: number
  readonly #distinct: number
  readonly #offsets = new Uint32Array(HASH_LIMIT + 1)
  readonly #track: Uint32Array
  readonly #frame: Uint32Array

  constructor (params: FingerprintParams, originals: Originals, copies: number, depth: Uint32Array, needed: Iterable<number>) {
    this.#originals = originals
    this.#copies = copies
    this.tracks = originals.count * copies
    let distinct = 0
    for (let h = 0; h < HASH_LIMIT; h++) if (depth[h] > 0) distinct++
    this.#distinct = distinct
    const wanted = new Uint8Array(HASH_LIMIT)
    for (const h of needed) wanted[h] = 1
    for (let h = 0; h < HASH_LIMIT; h++) this.#offsets[h + 1] = this.#offsets[h] + (wanted[h] === 1 ? depth[h] : 0)
    this.#track = new Uint32Array(this.#offsets[HASH_LIMIT])
    this.#frame = new Uint32Array(this.#offsets[HASH_LIMIT])
    const back = shifts(params, copies).back
    const oo = originals.offsets
    for (let h = 0; h < HASH_LIMIT; h++) {
      if (wanted[h] === 0) continue
      let at = this.#offsets[h]
      back.forEach((t, c) => {
        const src = t.apply(h)
        for (let p = oo[src]; p < oo[src + 1]; p++) {
          this.#track[at] = c * originals.count + originals.tracks[p] + 1
          this.#frame[at++] = originals.frames[p]
        }
      })
      if (at !== this.#offsets[h + 1]) throw new Error(`bucket ${h}: built ${at - this.#offsets[h]}, expected ${depth[h]}`)
    }
  }

  lookup (hash: number, visit: PostingVisitor, limit = Infinity): number {
    const from = this.#offsets[hash]
    const to = this.#offsets[hash + 1]
    if (to - from > limit) return to - from
    for (let p = from; p < to; p++) visit(this.#track[p], this.#frame[p])
    this.postingsRead += to - from
    return to - from
  }

  totalFrames (): number {
    return this.#originals.frameTotal * this.#copies
  }

  stats (): IndexStats {
    return {
      tracks: this.tracks,
      postings: this.#originals.postings * this.#copies,
      distinctHashes: this.#distinct,
      audioSeconds: 0,
      bytesOnDisk: 0,
      bytesPerAudioSecond: 0,
    }
  }

  addTrack (): AddResult { throw new Error('the synthetic index is read-only') }
  removeTrack (): boolean { throw new Error('the synthetic index is read-only') }
  updateTrack (): Track | undefined { throw new Error('the synthetic index is read-only') }
  tracksWith (): Track[] { return [] }
  getTrack (): Track | undefined { return undefined }
  findByDigest (): Track | undefined { return undefined }
  listTracks (): Iterable<Track> { return [] }
  async close (): Promise<void> {}
}
