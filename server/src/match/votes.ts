/**
 * Votes: query hashes in, (track, offset) votes out, packed as track * 2^25 + offset + 2^24 in doubles (exact).
 *
 * Two rules keep one piece of evidence from counting many times:
 *  - each distinct hash votes once, from its first occurrence: a sustained sound (a drone, a held chord) repeats the
 *    same hash frame after frame, and against a track with a similar sound every repeat would vote along a band of
 *    offsets;
 *  - the landmarks of one anchor frame and one shape in time (the harmonics of one note with those of the next two
 *    share anchor frame and shape: a pair's frame difference, a triplet's span and position) vote at most once per
 *    (track, offset): one coincidence, not several. One vote per anchor frame alone was measured and lost more true
 *    votes than chance ones (bench/RESULTS.md, "Pairs beside triplets").
 * Votes are left in query-frame order, one group of landmarks after another; `groupStart` and `groupFrame` say where
 * each group's votes begin and at which query frame, so that a matcher can ask which candidates one coincidence
 * voted for (two copies of one recording collect their votes from the same groups; see agreement.ts).
 * Shared by the clip matcher and the stream matcher; buffers grow to the largest query and are reused.
 */
import type { Index } from '../index/types.js'
import { SHAPE_COUNT, shapeOf } from '../dsp/landmarks.js'

export const OFFSET_BIAS = 1 << 24
export const TRACK_SCALE = 2 ** 25

export class VoteCaster {
  votes = new Float64Array(1 << 15)
  /** The query frame of each vote (what a time-scale search needs beside the offset). */
  frames = new Uint32Array(1 << 15)
  /** Lookups and postings read by the last cast (for metrics). */
  lookups = 0
  postings = 0
  /** Groups of the last cast; group g's votes are votes[groupStart[g] .. groupStart[g + 1]) (the last ends at n). */
  groups = 0
  groupStart = new Uint32Array(1 << 10)
  /** The query frame of each group. */
  groupFrame = new Uint32Array(1 << 10)
  #order = new Uint32Array(1 << 10)
  #pair = new Float64Array(1 << 10)
  readonly #seen = new Set<number>()
  // The set of one group's votes (see #dedupe): slots hold a vote when their stamp is the current one.
  #setKeys = new Float64Array(1 << 10)
  #setStamps = new Uint32Array(1 << 10)
  #stamp = 0
  #n = 0
  #qFrame = 0
  readonly #visit = (trackId: number, frame: number): void => {
    if (this.#n === this.votes.length) {
      const grown = new Float64Array(this.votes.length * 2)
      grown.set(this.votes)
      this.votes = grown
      const frames = new Uint32Array(grown.length)
      frames.set(this.frames)
      this.frames = frames
    }
    this.frames[this.#n] = this.#qFrame
    this.votes[this.#n++] = trackId * TRACK_SCALE + (frame - this.#qFrame + OFFSET_BIAS)
  }

  /**
   * Look up `count` hashes and leave their votes in `votes[0..n)`; returns n. Buckets deeper than `maxBucket`, or
   * than the index's limit for `postingsPerLookup` on average (Index.bucketLimit), are skipped.
   */
  cast (index: Index, hashes: ArrayLike<number>, frames: ArrayLike<number>, count: number, maxBucket: number, postingsPerLookup = Infinity): number {
    const limit = Math.min(maxBucket, postingsPerLookup === Infinity ? Infinity : index.bucketLimit?.(postingsPerLookup) ?? Infinity)
    if (this.#order.length < count) {
      this.#order = new Uint32Array(count * 2)
      this.#pair = new Float64Array(count * 2)
      this.groupStart = new Uint32Array(count * 2)
      this.groupFrame = new Uint32Array(count * 2)
    }
    // First occurrences only, grouped by anchor frame and shape in time (one coincidence, see landmarks.ts).
    const seen = this.#seen
    seen.clear()
    this.lookups = 0
    this.postings = 0
    let m = 0
    for (let i = 0; i < count; i++) {
      if (seen.has(hashes[i])) continue
      seen.add(hashes[i])
      this.#pair[m] = frames[i] * SHAPE_COUNT + shapeOf(hashes[i])
      this.#order[m++] = i
    }
    const order = this.#order
    const pair = this.#pair
    // Sort the kept indices by pair (insertion sort on runs: hashes arrive nearly in frame order).
    for (let i = 1; i < m; i++) {
      const o = order[i]; const p = pair[i]
      let j = i - 1
      while (j >= 0 && pair[j] > p) { order[j + 1] = order[j]; pair[j + 1] = pair[j]; j-- }
      order[j + 1] = o; pair[j + 1] = p
    }
    this.#n = 0
    this.groups = 0
    for (let g = 0; g < m;) {
      const start = this.#n
      const key = pair[g]
      this.groupStart[this.groups] = start
      this.groupFrame[this.groups++] = frames[order[g]]
      for (; g < m && pair[g] === key; g++) {
        const i = order[g]
        this.#qFrame = frames[i]
        this.postings += index.lookup(hashes[i], this.#visit, limit)
        this.lookups++
      }
      // One vote per (track, offset) for the whole group. Its votes share one query frame, so `frames` needs no
      // compaction.
      if (this.#n - start > 1) this.#n = this.#dedupe(start, this.#n)
    }
    return this.#n
  }

  /**
   * Drop repeated votes from votes[from..to), keeping first occurrences in order; returns the new end. An open
   * addressing set of the votes seen, cleared by bumping its stamp: linear in the group's votes, where a sort of
   * each group's votes cost a sort of nearly all votes at a large catalogue.
   */
  #dedupe (from: number, to: number): number {
    let bits = 4
    while (1 << bits < 2 * (to - from)) bits++
    if (this.#setKeys.length < 1 << bits) {
      this.#setKeys = new Float64Array(1 << bits)
      this.#setStamps = new Uint32Array(1 << bits)
      this.#stamp = 0
    }
    const keys = this.#setKeys
    const stamps = this.#setStamps
    if (this.#stamp === 0xffffffff) { stamps.fill(0); this.#stamp = 0 }
    const stamp = ++this.#stamp
    const mask = (1 << bits) - 1
    const votes = this.votes
    let w = from
    for (let k = from; k < to; k++) {
      const v = votes[k]
      const track = Math.floor(v / TRACK_SCALE)
      let h = (Math.imul(track, 0x9e3779b1) ^ Math.imul(v - track * TRACK_SCALE, 0x85ebca6b)) >>> (32 - bits)
      while (stamps[h] === stamp && keys[h] !== v) h = (h + 1) & mask
      if (stamps[h] === stamp) continue
      stamps[h] = stamp
      keys[h] = v
      votes[w++] = v
    }
    return w
  }
}
