/**
 * A synthetic catalogue for the matching benchmark: real fingerprints of a few originals in; an in-memory Index of
 * many distinct tracks with the same hash statistics out.
 *
 * Copy c of every original moves each hash by a per-copy transform that keeps the layout of dsp/landmarks.ts: the
 * anchor bin goes up by `shift` bins and the biased bin difference by `skew` (mod 2^8); the frame difference and
 * every frame stay. Copy 0 is the original itself (no shift, no skew); the other copies share only chance hashes
 * with it, so a clip of an original must find the original, not a copy. Transforms are taken smallest first, so a
 * copy's hashes keep nearly the frequency profile (common low bins, common small differences) of its original.
 *
 * Track ids: copy c of original o is c * originals + o + 1 (ids start at 1, buckets list postings in id order as
 * the LMDB index does). A 100k-track catalogue holds ~1.9 billion postings, too many for this process, so only the
 * buckets the benchmark's queries read are built, each complete; `depths` gives the depth of every bucket of the
 * whole catalogue (for the index stats and the bucket-limit figures) without building them.
 */
import type { HashList } from '../server/src/dsp/pipeline.js'
import type { AddResult, Index, IndexStats, PostingVisitor, Track } from '../server/src/index/types.js'

const HASH_SPACE = 1 << 23
const BIN_SHIFT = 14
const DELTA_BIN_SHIFT = 6
const DELTA_BIN_MASK = 0xff
const MAX_SHIFT = 63 // anchor bins up to 446 + 63 stay within the 9-bit field
const MAX_SKEW = 8

export interface Transform { shift: number, skew: number }

/** The first `count` transforms, smallest first; the first is the identity. */
export function transforms (count: number): Transform[] {
  const all: Transform[] = []
  for (let shift = 0; shift <= MAX_SHIFT; shift++) {
    for (let skew = -MAX_SKEW; skew <= MAX_SKEW; skew++) all.push({ shift, skew })
  }
  all.sort((a, b) => (a.shift + Math.abs(a.skew)) - (b.shift + Math.abs(b.skew)) || a.shift - b.shift || a.skew - b.skew)
  if (count > all.length) throw new RangeError(`${count} copies asked, ${all.length} transforms available`)
  return all.slice(0, count)
}

function applyTransform (hash: number, t: Transform): number {
  const bin = (hash >>> BIN_SHIFT) + t.shift
  const delta = (((hash >>> DELTA_BIN_SHIFT) & DELTA_BIN_MASK) + t.skew) & DELTA_BIN_MASK
  return ((bin << BIN_SHIFT) | (delta << DELTA_BIN_SHIFT) | (hash & ((1 << DELTA_BIN_SHIFT) - 1))) >>> 0
}

/** The original hash that `t` moves to `hash`, or -1 when there is none. */
function invertTransform (hash: number, t: Transform): number {
  const bin = (hash >>> BIN_SHIFT) - t.shift
  if (bin < 0) return -1
  const delta = (((hash >>> DELTA_BIN_SHIFT) & DELTA_BIN_MASK) - t.skew) & DELTA_BIN_MASK
  return ((bin << BIN_SHIFT) | (delta << DELTA_BIN_SHIFT) | (hash & ((1 << DELTA_BIN_SHIFT) - 1))) >>> 0
}

/** Postings of the originals by hash (CSR: postings of hash h at [offsets[h], offsets[h + 1])). */
export class Originals {
  readonly count: number
  readonly offsets = new Uint32Array(HASH_SPACE + 1)
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
    for (let h = 0; h < HASH_SPACE; h++) {
      if (this.offsets[h + 1] > 0) distinct++
      this.offsets[h + 1] += this.offsets[h]
    }
    this.hashes = new Uint32Array(distinct)
    for (let h = 0, d = 0; h < HASH_SPACE; h++) if (this.offsets[h + 1] > this.offsets[h]) this.hashes[d++] = h
    this.tracks = new Uint32Array(total)
    this.frames = new Uint32Array(total)
    const at = this.offsets.slice(0, HASH_SPACE)
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
export function depths (originals: Originals, copies: number): Uint32Array {
  const depth = new Uint32Array(HASH_SPACE)
  const o = originals.offsets
  for (const t of transforms(copies)) {
    for (const h of originals.hashes) depth[applyTransform(h, t)] += o[h + 1] - o[h]
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
  readonly #offsets = new Uint32Array(HASH_SPACE + 1)
  readonly #track: Uint32Array
  readonly #frame: Uint32Array

  constructor (originals: Originals, copies: number, depth: Uint32Array, needed: Iterable<number>) {
    this.#originals = originals
    this.#copies = copies
    this.tracks = originals.count * copies
    let distinct = 0
    for (let h = 0; h < HASH_SPACE; h++) if (depth[h] > 0) distinct++
    this.#distinct = distinct
    const wanted = new Uint8Array(HASH_SPACE)
    for (const h of needed) wanted[h] = 1
    for (let h = 0; h < HASH_SPACE; h++) this.#offsets[h + 1] = this.#offsets[h] + (wanted[h] === 1 ? depth[h] : 0)
    this.#track = new Uint32Array(this.#offsets[HASH_SPACE])
    this.#frame = new Uint32Array(this.#offsets[HASH_SPACE])
    const ts = transforms(copies)
    const oo = originals.offsets
    for (let h = 0; h < HASH_SPACE; h++) {
      if (wanted[h] === 0) continue
      let at = this.#offsets[h]
      ts.forEach((t, c) => {
        const src = invertTransform(h, t)
        if (src < 0) return
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
  getTrack (): Track | undefined { return undefined }
  findByDigest (): Track | undefined { return undefined }
  listTracks (): Iterable<Track> { return [] }
  async close (): Promise<void> {}
}
