/**
 * The best window of one track's votes when the query may play faster or slower than the indexed audio.
 *
 * A vote says: track frame t minus query frame q is k = t - q. At speed r (track frames per query frame) the true
 * votes lie on t = r q + c0, so their k drift by (r - 1) per query frame: at 3 % over a 10 s clip, 13 frames, and a
 * window of ±1 frame would hold a tenth of them. For each hypothesis r the votes are moved to the query's centre
 * frame m, a = k - (r - 1) (q - m), and counted in windows of ±1 frame like the nominal ones. Hypotheses are spaced
 * so that the error at the clip's ends is at most half a frame (2 / span apart), within ±speedTolerance, and are
 * tried from r = 1 outwards: ties keep the speed nearest 1, so audio at nominal speed is ranked exactly as before.
 * The winner's speed is then refined by a least-squares line through the votes of its window.
 *
 * Example: votes (q, k) = (0, 100), (100, 103), (200, 106) lie on a line of slope 0.03: at r = 1 they fall in three
 * windows of one vote; centred on m = 100, at r = 1.02 they move to 102, 103, 104, one window of ±1 around 103
 * (the first hypothesis that holds all three wins), and the line through them refines the speed to 1.03.
 */

/** Hypotheses searched at most (either side of 1); beyond that the spacing widens. */
const MAX_STEPS = 24
/** Tracks with at most this many votes are sorted by insertion. */
const INSERTION_SORT_MAX = 32

export class TimeScaleSearch {
  /** Score of the last `best`: votes in the best window. */
  score = 0
  /** Its key (k at the centre frame, rounded; the lowest of the best windows of the winning hypothesis). */
  key = 0
  /** Its speed minus one, refined by `refine`. */
  drift = 0
  #drifts = new Float64Array(1)
  #hypotheses = 1
  #step = 0
  #reach = 2
  #centre = 0
  #scratch = new Float64Array(1 << 10)
  #order = new Uint32Array(1 << 10)

  /**
   * Set the hypotheses for queries spanning `span` frames around `centre`, within ±tolerance of speed 1.
   * Returns how many there are (the chance model counts each as another set of bins).
   */
  prepare (span: number, centre: number, tolerance: number): number {
    this.#centre = centre
    // A vote moves by at most tolerance * (span / 2 + 1) frames, and rounds by half a frame: a window of ±1 at any
    // speed holds only votes whose nominal keys lie within this reach of each other.
    this.#reach = Math.floor(2 * (tolerance * (Math.max(1, span) / 2 + 1) + 0.5) + 2)
    // Steps of at most 2 / span, ending exactly at the tolerance.
    const steps = tolerance > 0 ? Math.min(MAX_STEPS, Math.ceil((tolerance * Math.max(1, span)) / 2)) : 0
    const step = steps > 0 ? tolerance / steps : 0
    this.#step = step
    this.#hypotheses = 2 * steps + 1
    if (this.#drifts.length < this.#hypotheses) this.#drifts = new Float64Array(this.#hypotheses)
    this.#drifts[0] = 0
    for (let s = 1; s <= steps; s++) {
      this.#drifts[2 * s - 1] = s * step
      this.#drifts[2 * s] = -s * step
    }
    return this.#hypotheses
  }

  get hypotheses (): number { return this.#hypotheses }
  /** Speed difference between neighbouring hypotheses. */
  get step (): number { return this.#step }
  get centre (): number { return this.#centre }

  /**
   * The best window of votes keys[from..to) with query frames frames[from..to), over every hypothesis: sets
   * `score`, `key` and `drift`. Keys are packed votes (votes.ts); only differences between them matter here.
   * A track that cannot reach `floor` at any speed may be left with score 0.
   */
  best (keys: Float64Array, frames: Uint32Array, from: number, to: number, floor = 0): void {
    const n = to - from
    if (this.#scratch.length < n) {
      this.#scratch = new Float64Array(2 * n)
      this.#order = new Uint32Array(2 * n)
    }
    const a = this.#scratch
    const order = this.#order
    const centre = this.#centre
    this.score = 0
    this.key = 0
    this.drift = 0
    // Order the votes by key once (votes of one track: keys differ by less than 2^25). Every other speed moves a
    // key by at most tolerance * span / 2 frames, so in that order the moved keys are nearly sorted, and an
    // insertion sort puts them right in about n steps where a sort per speed cost n log n.
    const byKey = n < ORDER_LIMIT
    if (byKey) {
      const origin = keys[from]
      for (let i = 0; i < n; i++) a[i] = (keys[from + i] - origin + KEY_RANGE) * ORDER_LIMIT + i
      sortPrefix(a, n)
      for (let j = 0; j < n; j++) order[j] = a[j] % ORDER_LIMIT
    }
    // No window at any speed holds more votes than the nominal keys within `reach` of each other: when that is under
    // `floor` (the score the caller's ranking needs), no speed is worth counting. Most tracks of a large catalog
    // hold a few chance votes spread over the whole track and stop here.
    let bound = n
    if (byKey && this.#hypotheses > 1) {
      bound = 0
      const reach = this.#reach
      for (let i = 0, j = 0; j < n; j++) {
        const k = keys[from + order[j]]
        while (keys[from + order[i]] < k - reach) i++
        if (j - i + 1 > bound) bound = j - i + 1
      }
      if (bound < floor) return
    }
    for (let h = 0; h < this.#hypotheses; h++) {
      const drift = this.#drifts[h]
      if (byKey) {
        for (let j = 0; j < n; j++) {
          const i = from + order[j]
          a[j] = Math.round(keys[i] - drift * (frames[i] - centre))
        }
        if (h > 0) nearlySorted(a, n)
      } else {
        for (let i = 0; i < n; i++) a[i] = Math.round(keys[from + i] - drift * (frames[from + i] - centre))
        sortPrefix(a, n)
      }
      // Runs of equal keys, plus the runs one frame either side: the ±1 frame window.
      let prevKey = -2
      let prevCount = 0
      let v = 0
      while (v < n) {
        const key = a[v]
        let j = v
        while (j < n && a[j] === key) j++
        const count = j - v
        let nextCount = 0
        if (j < n && a[j] === key + 1) {
          let l = j
          while (l < n && a[l] === key + 1) l++
          nextCount = l - j
        }
        const score = count + nextCount + (prevKey === key - 1 ? prevCount : 0)
        if (score > this.score) { this.score = score; this.key = key; this.drift = drift }
        prevKey = key
        prevCount = count
        v = j
      }
      if (this.score >= bound) break // no hypothesis can do better
    }
  }

  /**
   * Refine `drift` by a least-squares line through the votes within a frame and a half of the best window (the
   * grid is 2 / span apart, so the best hypothesis can be off by a frame at the ends). Keeps `key` and `score`.
   */
  refine (keys: Float64Array, frames: Uint32Array, from: number, to: number): void {
    const centre = this.#centre
    let n = 0; let sx = 0; let sy = 0; let sxx = 0; let sxy = 0
    for (let i = from; i < to; i++) {
      const x = frames[i] - centre
      const y = keys[i] - this.key
      if (Math.abs(y - this.drift * x) > 1.5) continue
      n++; sx += x; sy += y; sxx += x * x; sxy += x * y
    }
    const det = n * sxx - sx * sx
    if (n < 3 || det <= 0) return
    const slope = (n * sxy - sx * sy) / det
    // The true speed is within a grid step of the winner's; a steeper line is votes bunched together by chance.
    if (Math.abs(slope - this.drift) <= this.#step) this.drift = slope
  }
}

/** Votes of one track are ordered by key when fewer than this (their index is packed beside the key). */
const ORDER_LIMIT = 2 ** 21
/** Keys of one track's votes differ by less than this (votes.ts: offsets are below 2^25). */
const KEY_RANGE = 2 ** 25

/**
 * Sort a[0..n), nearly sorted, ascending: by insertion while that stays cheap (about 8 moves a value), natively
 * after (the votes of a track playing at a speed far from the one the order came from cross each other).
 */
function nearlySorted (a: Float64Array, n: number): void {
  let budget = 8 * n
  for (let k = 1; k < n; k++) {
    const v = a[k]
    let j = k - 1
    while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; budget-- }
    a[j + 1] = v
    if (budget < 0) {
      a.subarray(0, n).sort()
      return
    }
  }
}

/** Sort a[0..n) ascending, by insertion when short. */
function sortPrefix (a: Float64Array, n: number): void {
  if (n > INSERTION_SORT_MAX) {
    a.subarray(0, n).sort()
    return
  }
  for (let k = 1; k < n; k++) {
    const v = a[k]
    let j = k - 1
    while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j-- }
    a[j + 1] = v
  }
}
