/**
 * Agreement between candidates: the votes of one cast (in group order, see votes.ts) and a few candidate keys in,
 * for each pair of candidates the number of landmark groups that voted for both out.
 *
 * Two copies of one recording in the index (an MP3 beside the FLAC, the same song on a compilation starting later, a
 * file indexed half copied and again complete) each collect a vote from nearly every group the query shares with
 * the recording: their votes agree, group by group, at their own consistent offsets. Two different recordings
 * share only coincidences, which fall in different groups. A candidate is therefore measured against the best
 * candidate that is a different recording, not against its own copy, which would drive its margin to zero.
 */
import { TRACK_SCALE } from './votes.js'

/** Two candidates are one recording when at least this share of the weaker one's groups voted for both. */
export const SAME_RECORDING_SHARE = 0.5

export class Agreement {
  /** Candidates compared at most (the strongest ones). */
  readonly max: number
  /** Groups that voted for candidate k (within ±1 frame of its key). */
  readonly own: Uint32Array
  /** Groups that voted for both k and j, at co[k * max + j]. */
  readonly co: Uint32Array
  #k = 0

  constructor (max = 8) {
    this.max = max
    this.own = new Uint32Array(max)
    this.co = new Uint32Array(max * max)
  }

  /**
   * Count, over the groups of one cast, which of `keys` (at most `max`) each group voted for.
   * @param votes the cast's votes in group order (before any sort)
   * @param onHit told of each (candidate, query frame of the group) that voted for a candidate
   * @param drifts each candidate's speed minus one, its key being taken at query frame `centre` (time-scale.ts);
   *   a group at query frame f votes for it near key + drift (f - centre)
   */
  count (votes: Float64Array, n: number, groupStart: Uint32Array, groupFrame: Uint32Array, groups: number,
    keys: ArrayLike<number>, k: number, onHit?: (candidate: number, frame: number) => void,
    drifts?: ArrayLike<number>, centre = 0): void {
    k = Math.min(k, this.max)
    this.#k = k
    this.own.fill(0, 0, k)
    this.co.fill(0, 0, this.max * this.max)
    for (let g = 0; g < groups; g++) {
      const end = g + 1 < groups ? groupStart[g + 1] : n
      let mask = 0
      const fromCentre = groupFrame[g] - centre
      for (let v = groupStart[g]; v < end; v++) {
        const vote = votes[v]
        for (let c = 0; c < k; c++) {
          // Keys are whole frames; at another speed the expected vote falls between them.
          const expected = drifts === undefined ? keys[c] : keys[c] + drifts[c] * fromCentre
          if (Math.abs(vote - expected) <= 1.5) mask |= 1 << c
        }
      }
      if (mask === 0) continue
      for (let c = 0; c < k; c++) {
        if ((mask & (1 << c)) === 0) continue
        this.own[c]++
        onHit?.(c, groupFrame[g])
        for (let d = c + 1; d < k; d++) {
          if ((mask & (1 << d)) !== 0) { this.co[c * this.max + d]++; this.co[d * this.max + c]++ }
        }
      }
    }
  }

  /** Whether candidates c and d (indexes into the last `count`'s keys) are the same recording. */
  same (c: number, d: number): boolean {
    if (c >= this.#k || d >= this.#k) return false
    const weaker = Math.min(this.own[c], this.own[d])
    return weaker > 0 && this.co[c * this.max + d] >= SAME_RECORDING_SHARE * weaker
  }
}

/** The track of a packed (track, offset) key. */
export function keyTrack (key: number): number {
  return Math.floor(key / TRACK_SCALE)
}
