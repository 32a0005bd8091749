/**
 * Matching a clip: hashes in, ranked candidates out.
 *
 * Every posting of every query hash votes for (track, track frame - query frame) (see votes.ts). The votes are
 * sorted natively and counted in runs; a window of ±1 frame absorbs frame jitter between the query and the indexed
 * audio. Each track keeps its best window.
 */
import type { FingerprintParams } from '../config/fingerprint.js'
import { framesToSeconds } from '../config/fingerprint.js'
import type { HashList } from '../dsp/pipeline.js'
import type { Index } from '../index/types.js'
import { confidence, type Evidence } from './score.js'
import { VoteCaster, OFFSET_BIAS, TRACK_SCALE } from './votes.js'


export interface Candidate {
  trackId: number
  /** Aligned votes at the best offset. */
  score: number
  /** 0..1, see match/score.ts. */
  confidence: number
  /** Where in the track the clip starts, in seconds. */
  offsetSeconds: number
  /** The same in frames. */
  offsetFrames: number
}

export interface ClipMatchOptions {
  /** Candidates returned at most. */
  maxCandidates?: number
  /** Buckets larger than this are skipped (they say little and cost much). */
  maxBucket?: number
}

export interface ClipMatch {
  candidates: Candidate[]
  evidence: Evidence
}

export class ClipMatcher {
  readonly #index: Index
  readonly #params: FingerprintParams
  readonly #caster = new VoteCaster()

  constructor (index: Index, params: FingerprintParams) {
    this.#index = index
    this.#params = params
  }

  match (list: HashList, options: ClipMatchOptions = {}): ClipMatch {
    const maxCandidates = options.maxCandidates ?? 5
    const n = this.#caster.cast(this.#index, list.hashes, list.frames, list.count, options.maxBucket ?? 4096)
    const votes = this.#caster.votes.subarray(0, n).sort()
    // Best window per track: runs of equal keys, plus the runs one frame either side.
    const best = new Map<number, { score: number, offset: number }>()
    let prevKey = -2
    let prevCount = 0
    let i = 0
    while (i < n) {
      const key = votes[i]
      let j = i
      while (j < n && votes[j] === key) j++
      const count = j - i
      let nextCount = 0
      if (j < n && votes[j] === key + 1) {
        let k = j
        while (k < n && votes[k] === key + 1) k++
        nextCount = k - j
      }
      const score = count + nextCount + (prevKey === key - 1 ? prevCount : 0)
      const trackId = Math.floor(key / TRACK_SCALE)
      const current = best.get(trackId)
      if (!current || score > current.score) best.set(trackId, { score, offset: key - trackId * TRACK_SCALE - OFFSET_BIAS })
      prevKey = key
      prevCount = count
      i = j
    }
    const ranked = [...best.entries()].sort((a, b) => b[1].score - a[1].score)
    const bins = this.#index.totalFrames()
    const candidates: Candidate[] = []
    for (let r = 0; r < Math.min(maxCandidates, ranked.length); r++) {
      const [trackId, { score, offset }] = ranked[r]
      // Each candidate is judged against the best of the others.
      const runnerUp = r === 0 ? (ranked[1]?.[1].score ?? 0) : ranked[0][1].score
      candidates.push({
        trackId,
        score,
        confidence: confidence({ score, runnerUp, votes: n, bins }),
        offsetFrames: offset,
        offsetSeconds: framesToSeconds(this.#params, offset),
      })
    }
    const evidence: Evidence = {
      score: ranked[0]?.[1].score ?? 0,
      runnerUp: ranked[1]?.[1].score ?? 0,
      votes: n,
      bins,
    }
    return { candidates, evidence }
  }
}
