/**
 * Matching a clip: hashes in, ranked candidates out.
 *
 * Every posting of every query hash votes for (track, track frame - query frame) (see votes.ts). The votes are
 * sorted natively and counted in runs; a window of ±1 frame absorbs frame jitter between the query and the indexed
 * audio. Each track keeps its best window. A candidate's margin is taken over the best candidate that is another
 * recording: copies of one recording agree group by group (agreement.ts) and do not count against each other.
 */
import type { FingerprintParams } from '../config/fingerprint.js'
import { framesToSeconds } from '../config/fingerprint.js'
import type { HashList } from '../dsp/pipeline.js'
import type { Index } from '../index/types.js'
import { confidence, type Evidence } from './score.js'
import { VoteCaster, OFFSET_BIAS, TRACK_SCALE } from './votes.js'
import { Agreement } from './agreement.js'


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
  /** Tracks among the stronger candidates that hold the same recording (their votes agree), if any. */
  sameAs?: number[]
}

export interface ClipMatchOptions {
  /** Candidates returned at most. */
  maxCandidates?: number
  /** Buckets larger than this are skipped (they say little and cost much). */
  maxBucket?: number
  /** Told of the query frame of every landmark group that voted for the best candidate (to measure coverage). */
  onBestHit?: (queryFrame: number) => void
}

export interface ClipMatch {
  candidates: Candidate[]
  evidence: Evidence
}

export class ClipMatcher {
  readonly #index: Index
  readonly #params: FingerprintParams
  readonly #caster = new VoteCaster()
  readonly #agreement = new Agreement()
  /** The votes in group order, kept before they are sorted. */
  #grouped = new Float64Array(1 << 15)
  readonly #keys = new Float64Array(this.#agreement.max)

  constructor (index: Index, params: FingerprintParams) {
    this.#index = index
    this.#params = params
  }

  match (list: HashList, options: ClipMatchOptions = {}): ClipMatch {
    const maxCandidates = options.maxCandidates ?? 5
    const caster = this.#caster
    const n = caster.cast(this.#index, list.hashes, list.frames, list.count, options.maxBucket ?? 4096)
    if (this.#grouped.length < n) this.#grouped = new Float64Array(caster.votes.length)
    this.#grouped.set(caster.votes.subarray(0, n))
    const votes = caster.votes.subarray(0, n).sort()
    // Best window per track: runs of equal keys, plus the runs one frame either side.
    const best = new Map<number, { score: number, offset: number, key: number }>()
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
      if (!current || score > current.score) best.set(trackId, { score, offset: key - trackId * TRACK_SCALE - OFFSET_BIAS, key })
      prevKey = key
      prevCount = count
      i = j
    }
    const ranked = [...best.entries()].sort((a, b) => b[1].score - a[1].score)
    const bins = this.#index.totalFrames()
    // Which of the strongest candidates are one recording: their votes come from the same groups.
    const agreement = this.#agreement
    const k = Math.min(agreement.max, ranked.length)
    for (let c = 0; c < k; c++) this.#keys[c] = ranked[c][1].key
    const onBestHit = options.onBestHit
    agreement.count(this.#grouped, n, caster.groupStart, caster.groupFrame, caster.groups, this.#keys, k,
      onBestHit && ((c, frame) => { if (c === 0) onBestHit(frame) }))
    /** The best score among candidates that are another recording than candidate r. */
    const runnerUpOf = (r: number): number => {
      for (let d = 0; d < ranked.length; d++) if (d !== r && !agreement.same(r, d)) return ranked[d][1].score
      return 0
    }
    const candidates: Candidate[] = []
    for (let r = 0; r < Math.min(maxCandidates, ranked.length); r++) {
      const [trackId, { score, offset }] = ranked[r]
      const candidate: Candidate = {
        trackId,
        score,
        confidence: confidence({ score, runnerUp: runnerUpOf(r), votes: n, bins }),
        offsetFrames: offset,
        offsetSeconds: framesToSeconds(this.#params, offset),
      }
      const same = ranked.slice(0, k).filter((_, d) => d !== r && agreement.same(r, d)).map(([id]) => id)
      if (same.length > 0) candidate.sameAs = same
      candidates.push(candidate)
    }
    const evidence: Evidence = {
      score: ranked[0]?.[1].score ?? 0,
      runnerUp: ranked.length > 0 ? runnerUpOf(0) : 0,
      votes: n,
      bins,
    }
    return { candidates, evidence }
  }
}
