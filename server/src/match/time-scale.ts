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
/** Neighbouring speeds whose votes are bounded together before any of them is counted. */
const BLOCK = 4
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
  // Buffers for one track's votes, grown to the largest: moved keys, the order by key, and in that order the
  // nominal keys still worth moving, their query frames from the centre, and their reach counts.
  #scratch = new Float64Array(1 << 10)
  #order = new Uint32Array(1 << 10)
  #live = new Float64Array(1 << 10)
  #x = new Float64Array(1 << 10)
  #reachCount = new Uint32Array(1 << 10)
  // Per block of speeds (see `best`), the most votes a window can hold; -1 until counted.
  #blockBound = new Int32Array(2 * Math.ceil(MAX_STEPS / BLOCK))

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
   * A track that cannot reach `floor` at any speed may be left with any score below it.
   *
   * Exact, though most votes are never moved: a window at any speed holds only votes whose nominal keys lie within
   * `reach` of each other, so a vote none of whose nominal reach windows holds `need` votes cannot be in a window
   * of `need` votes, and is dropped before the speeds are counted. `need` is the score that could still change the
   * answer: above the best window so far (ties keep the earlier one), and at least `floor`. Windows of `need` or more
   * are counted in full, in the same order, so the first best window is the same one.
   */
  best (keys: Float64Array, frames: Uint32Array, from: number, to: number, floor = 0): void {
    const n = to - from
    if (this.#live.length < n) this.#grow(n)
    this.score = 0
    this.key = 0
    this.drift = 0
    // Votes in ascending order of key (a tally lays them out so; track-tally.ts), with their frames from the centre.
    const live = this.#live
    const x = this.#x
    const centre = this.#centre
    let sorted = true
    for (let i = from + 1; i < to && sorted; i++) sorted = keys[i - 1] <= keys[i]
    if (sorted) {
      for (let j = 0; j < n; j++) { live[j] = keys[from + j]; x[j] = frames[from + j] - centre }
    } else {
      const order = this.#order
      this.#sortByKey(keys, from, n)
      for (let j = 0; j < n; j++) { live[j] = keys[from + order[j]]; x[j] = frames[from + order[j]] - centre }
    }
    // Nominal speed first: keys are whole frames, so the keys in order are hypothesis 0's moved keys, sorted.
    this.#scan(live, n, 0)
    if (this.#hypotheses === 1) return
    // The most votes any window at any speed can hold.
    const bound = this.#reachCounts(live, n)
    let need = Math.max(floor, this.score + 1)
    if (bound < need) return
    let m = this.#prune(n, need)
    const a = this.#scratch
    const blockBound = this.#blockBound
    blockBound.fill(-1)
    let far = 0 // the farthest any vote lies from the centre frame
    for (let j = 0; j < m; j++) if (Math.abs(x[j]) > far) far = Math.abs(x[j])
    for (let h = 1; h < this.#hypotheses && m >= need; h++) {
      // Speeds are taken in blocks of BLOCK neighbours on either side of 1; a block that cannot reach `need` is
      // skipped whole.
      const s = (h + 1) >> 1
      const b = 2 * Math.floor((s - 1) / BLOCK) + (h & 1)
      if (blockBound[b] < 0) {
        const lo = Math.floor((s - 1) / BLOCK) * BLOCK + 1
        const hi = Math.min(lo + BLOCK - 1, (this.#hypotheses - 1) >> 1)
        const sign = (h & 1) === 1 ? 1 : -1
        blockBound[b] = this.#spreadCount(m, sign * this.#step * (lo + hi) / 2, this.#step * (hi - lo) / 2, far)
      }
      if (blockBound[b] < need) continue
      const drift = this.#drifts[h]
      for (let j = 0; j < m; j++) a[j] = Math.round(live[j] - drift * x[j])
      nearlySorted(a, m)
      this.#scan(a, m, drift)
      if (this.score >= bound) break // no hypothesis can do better
      if (this.score >= need) {
        // Only a window above this one can change the answer now: drop the votes that cannot be in one.
        need = this.score + 1
        if (this.#reachCounts(live, m) < need) break
        m = this.#prune(m, need)
      }
    }
  }

  /** Leave in #order the indexes 0..n of keys[from..from + n) in ascending order of key. */
  #sortByKey (keys: Float64Array, from: number, n: number): void {
    const order = this.#order
    if (n < ORDER_LIMIT) {
      // Pack the index beside the key (votes of one track: keys differ by less than 2^25), sort once natively.
      const a = this.#scratch
      const origin = keys[from]
      for (let i = 0; i < n; i++) a[i] = (keys[from + i] - origin + KEY_RANGE) * ORDER_LIMIT + i
      sortPrefix(a, n)
      for (let j = 0; j < n; j++) order[j] = a[j] % ORDER_LIMIT
      return
    }
    for (let i = 0; i < n; i++) order[i] = i
    order.subarray(0, n).sort((i, j) => keys[from + i] - keys[from + j])
  }

  /**
   * Count the windows of ±1 frame around each key of a[0..n), sorted (runs of equal keys, plus the runs one frame
   * either side), and keep the first that beats `score` in `score`, `key` and `drift`.
   */
  #scan (a: Float64Array, n: number, drift: number): void {
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
  }

  /**
   * For each j, the votes in keys[j..n) (ascending) within `reach` of keys[j], in #reachCount; returns the most.
   * Every window of ±1 frame, at any speed, lies within the reach window of its lowest vote.
   */
  #reachCounts (keys: Float64Array, n: number): number {
    const counts = this.#reachCount
    const reach = this.#reach
    let most = 0
    for (let i = 0, j = 0; i < n; i++) {
      while (j < n && keys[j] <= keys[i] + reach) j++
      counts[i] = j - i
      if (j - i > most) most = j - i
    }
    return most
  }

  /**
   * The most votes of #live and #x [0..m) that one window of ±1 frame can hold at any speed 1 + d with
   * |d - drift| <= half: moved by `drift` instead of d, a vote lies at most half * far from where d puts it, and
   * a window's votes, rounded to three whole frames, lie within 3 + 2 half far of each other.
   */
  #spreadCount (m: number, drift: number, half: number, far: number): number {
    const live = this.#live
    const x = this.#x
    const b = this.#scratch
    const origin = live[0]
    // Relative to the first key, so that the float error is far below the margin of 0.001 frame.
    for (let j = 0; j < m; j++) b[j] = (live[j] - origin) - drift * x[j]
    nearlySorted(b, m)
    const width = 3 + 2 * half * far + 0.001
    let most = 0
    for (let i = 0, j = 0; i < m; i++) {
      while (j < m && b[j] <= b[i] + width) j++
      if (j - i > most) most = j - i
    }
    return most
  }

  /**
   * Keep, in order, the votes of #live and #x [0..n) that lie in a reach window (#reachCount) of at least `need`
   * votes; returns how many.
   */
  #prune (n: number, need: number): number {
    const counts = this.#reachCount
    const live = this.#live
    const x = this.#x
    let until = 0 // votes before this lie in a window of `need`
    let m = 0
    for (let i = 0; i < n; i++) {
      if (counts[i] >= need && i + counts[i] > until) until = i + counts[i]
      if (i < until) { live[m] = live[i]; x[m++] = x[i] }
    }
    return m
  }

  #grow (n: number): void {
    this.#scratch = new Float64Array(2 * n)
    this.#order = new Uint32Array(2 * n)
    this.#live = new Float64Array(2 * n)
    this.#x = new Float64Array(2 * n)
    this.#reachCount = new Uint32Array(2 * n)
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
