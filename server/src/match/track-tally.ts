/**
 * Votes by track: the packed votes of one cast (votes.ts) in; each voted track's raw vote count, and its votes
 * sorted by key, out.
 *
 * A matcher wants the strongest few (track, offset) windows of a cast. A window never holds more votes than its
 * track received, so the matcher visits tracks from the most voted down and stops at the first whose raw count is
 * below the weakest window it keeps: no track after it can enter. At a large catalogue most voted tracks hold a
 * few chance votes each, and only the tracks that could still compete are sorted, a few votes each, instead of one
 * sort of every vote and a Map entry per voted track.
 *
 * Given query frames (a time-scale search), every voted track's votes are laid out in key order at once instead: a
 * radix sort of all votes by offset, linear, cost less than a sort per track.
 *
 * Counts live in typed arrays indexed by track id, reset through the list of tracks touched; every buffer grows to
 * the largest cast and is reused. Example: votes for tracks 7, 3, 7, 9, 7, 3 give visiting order 7 (3 votes),
 * 3 (2), 9 (1); a matcher keeping one window that finds a window of 3 in track 7 stops before track 3.
 */
import { TRACK_SCALE } from './votes.js'

/** Digits of the radix sort by offset: offsets span under 2^25, so at most three passes. */
const RADIX_BITS = 11
const RADIX = 1 << RADIX_BITS
const MAX_PASSES = 3
/** Tracks at most this many votes are sorted by insertion (no view to allocate); larger ones natively. */
const INSERTION_SORT_MAX = 32

export class TrackTally {
  /** Tracks voted for in the last tally, most raw votes first. */
  tracks = 0
  /**
   * Votes of the visited tracks, track after track: in ascending order of key within a track when the tally was
   * given query frames (what a time-scale search reads), else in cast order (see `sortTrack`).
   */
  sorted = new Float64Array(1 << 15)
  /** The query frame of each vote in `sorted`, when the tally was given them. */
  sortedFrames = new Uint32Array(1 << 15)
  /** Votes of the chosen tracks only, in group order; see `keepTracks`. */
  kept = new Float64Array(1 << 10)
  /** Where each group's kept votes begin (groups as in votes.ts). */
  keptGroupStart = new Uint32Array(1 << 10)
  #count = new Uint32Array(1 << 10) // raw votes per track id; all zero between tallies
  #mark = new Uint8Array(1 << 10) // tracks chosen by keepTracks; all zero between calls
  #start = new Uint32Array(1 << 10) // where each track's votes begin in `sorted`
  #order = new Uint32Array(1 << 10) // track ids, most raw votes first
  #touched = new Uint32Array(1 << 10) // track ids in the order first voted for
  #byCount = new Uint32Array(1 << 10) // histogram of raw counts, for the counting sort of tracks
  // The sort of the votes by offset (see #sortByOffset): each vote's offset, the order and its scratch, the digit
  // histograms.
  #offsets = new Uint32Array(1 << 10)
  #byOffsetOrder = new Uint32Array(1 << 10)
  #radixOrder = new Uint32Array(1 << 10)
  #digits = new Uint32Array(RADIX * MAX_PASSES)

  /**
   * Count `votes[0..n)` per track, and lay them out track after track (most voted first) in `sorted`; if query
   * `frames` are given, with them in `sortedFrames` and each track's votes in ascending order of key.
   */
  tally (votes: Float64Array, n: number, frames?: Uint32Array): void {
    let count = this.#count
    let touched = 0
    let most = 0
    // With frames, each vote's offset (key within its track) and their range, for the sort by key.
    const byKey = frames !== undefined
    if (byKey && this.#offsets.length < n) {
      this.#offsets = new Uint32Array(votes.length)
      this.#byOffsetOrder = new Uint32Array(votes.length)
      this.#radixOrder = new Uint32Array(votes.length)
    }
    const offsets = this.#offsets
    let lowest = TRACK_SCALE
    let highest = 0
    for (let i = 0; i < n; i++) {
      const t = Math.floor(votes[i] / TRACK_SCALE)
      if (byKey) {
        const offset = votes[i] - t * TRACK_SCALE
        offsets[i] = offset
        if (offset < lowest) lowest = offset
        if (offset > highest) highest = offset
      }
      if (t >= count.length) count = this.#growTracks(t)
      const c = ++count[t]
      if (c === 1) {
        if (touched === this.#touched.length) this.#touched = grow32(this.#touched, touched * 2)
        this.#touched[touched++] = t
      }
      if (c > most) most = c
    }
    this.tracks = touched
    // Order tracks by raw count, most first: a counting sort, as counts are small integers.
    if (this.#byCount.length <= most + 1) this.#byCount = new Uint32Array(2 * (most + 2))
    const byCount = this.#byCount
    byCount.fill(0, 0, most + 2)
    for (let i = 0; i < touched; i++) byCount[most - count[this.#touched[i]] + 1]++
    for (let c = 1; c <= most + 1; c++) byCount[c] += byCount[c - 1]
    if (this.#order.length < touched) this.#order = new Uint32Array(this.#touched.length)
    const order = this.#order
    for (let i = 0; i < touched; i++) {
      const t = this.#touched[i]
      order[byCount[most - count[t]]++] = t
    }
    // Lay the votes out track after track in that order.
    if (this.sorted.length < n) this.sorted = new Float64Array(votes.length)
    if (frames !== undefined && this.sortedFrames.length < n) this.sortedFrames = new Uint32Array(votes.length)
    const start = this.#start
    let at = 0
    for (let i = 0; i < touched; i++) { start[order[i]] = at; at += count[order[i]] }
    if (frames === undefined) {
      for (let i = 0; i < n; i++) {
        const v = votes[i]
        this.sorted[start[Math.floor(v / TRACK_SCALE)]++] = v
      }
    } else {
      // Stable by track after a sort by offset: each track's votes come out in key order, in linear time, where a
      // sort per track cost n log n (a search would sort them anyway).
      const byOffset = this.#sortByOffset(n, lowest, highest)
      const sortedFrames = this.sortedFrames
      for (let i = 0; i < n; i++) {
        const k = byOffset[i]
        const v = votes[k]
        const at = start[Math.floor(v / TRACK_SCALE)]++
        this.sorted[at] = v
        sortedFrames[at] = frames[k]
      }
    }
    for (let i = 0; i < touched; i++) start[order[i]] -= count[order[i]]
  }

  /**
   * The indexes of votes[0..n) in ascending order of offset, stable: an LSD radix sort of the offsets in
   * #offsets[0..n) (each minus `lowest`), into #byOffsetOrder.
   */
  #sortByOffset (n: number, lowest: number, highest: number): Uint32Array {
    const offsets = this.#offsets
    const bits = 32 - Math.clz32(Math.max(0, highest - lowest))
    const passes = Math.max(1, Math.ceil(bits / RADIX_BITS))
    const width = Math.ceil(bits / passes)
    const mask = (1 << width) - 1
    const digits = this.#digits
    digits.fill(0, 0, passes * RADIX)
    for (let i = 0; i < n; i++) {
      const r = offsets[i] - lowest
      for (let p = 0; p < passes; p++) digits[p * RADIX + ((r >>> (p * width)) & mask)]++
    }
    let src = this.#radixOrder
    let dst = this.#byOffsetOrder
    if (passes % 2 === 0) { src = this.#byOffsetOrder; dst = this.#radixOrder } // end in #byOffsetOrder
    for (let p = 0; p < passes; p++) {
      const base = p * RADIX
      let at = 0
      for (let d = 0; d <= mask; d++) { const c = digits[base + d]; digits[base + d] = at; at += c }
      const shift = p * width
      for (let i = 0; i < n; i++) {
        const k = p === 0 ? i : src[i]
        dst[digits[base + (((offsets[k] - lowest) >>> shift) & mask)]++] = k
      }
      const t = src; src = dst; dst = t
    }
    return src
  }

  /** The track visited `i`-th (0: the most voted). */
  track (i: number): number {
    return this.#order[i]
  }

  /** Raw votes of the track visited `i`-th: an upper bound on the votes any of its windows holds. */
  raw (i: number): number {
    return this.#count[this.#order[i]]
  }

  /** Where the votes of the track visited `i`-th begin in `sorted` (and `sortedFrames`); there are raw(i). */
  start (i: number): number {
    return this.#start[this.#order[i]]
  }

  /** Sort the votes of the track visited `i`-th by key; they are `sorted[from .. from + raw(i))`. Returns from. */
  sortTrack (i: number): number {
    const t = this.#order[i]
    const from = this.#start[t]
    const to = from + this.#count[t]
    const a = this.sorted
    if (to - from > INSERTION_SORT_MAX) {
      a.subarray(from, to).sort()
      return from
    }
    for (let k = from + 1; k < to; k++) {
      const v = a[k]
      let j = k - 1
      while (j >= from && a[j] > v) { a[j + 1] = a[j]; j-- }
      a[j + 1] = v
    }
    return from
  }

  /**
   * Copy the votes of `keys`' tracks (k of them), in group order, to `kept`, with `keptGroupStart`: what
   * agreement.ts reads, without the votes of every other track (they can never be within a frame of a key).
   * Returns the number of kept votes.
   */
  keepTracks (votes: Float64Array, n: number, groupStart: Uint32Array, groups: number, keys: ArrayLike<number>,
    k: number): number {
    const mark = this.#mark
    for (let c = 0; c < k; c++) mark[Math.floor(keys[c] / TRACK_SCALE)] = 1
    if (this.keptGroupStart.length < groups) this.keptGroupStart = new Uint32Array(groupStart.length)
    let m = 0
    for (let g = 0; g < groups; g++) {
      this.keptGroupStart[g] = m
      const end = g + 1 < groups ? groupStart[g + 1] : n
      for (let v = groupStart[g]; v < end; v++) {
        const vote = votes[v]
        if (mark[Math.floor(vote / TRACK_SCALE)] === 0) continue
        if (m === this.kept.length) { const grown = new Float64Array(m * 2); grown.set(this.kept); this.kept = grown }
        this.kept[m++] = vote
      }
    }
    for (let c = 0; c < k; c++) mark[Math.floor(keys[c] / TRACK_SCALE)] = 0
    return m
  }

  /** Forget the last tally (only the touched tracks are cleared). */
  reset (): void {
    for (let i = 0; i < this.tracks; i++) this.#count[this.#touched[i]] = 0
    this.tracks = 0
  }

  #growTracks (t: number): Uint32Array<ArrayBuffer> {
    const size = Math.max(2 * this.#count.length, t + 1)
    this.#count = grow32(this.#count, size)
    this.#start = new Uint32Array(size)
    const mark = new Uint8Array(size); mark.set(this.#mark); this.#mark = mark
    return this.#count
  }
}

function grow32 (a: Uint32Array, size: number): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(size)
  b.set(a)
  return b
}
