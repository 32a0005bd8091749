/**
 * Matching a clip: hashes in, ranked candidates out.
 *
 * Every posting of every query hash votes for (track, track frame - query frame) (see votes.ts). The votes are
 * counted per track first, and only the tracks whose raw count can still reach the strongest few have their votes
 * counted in windows of ±1 frame, over the speeds the query may be played at (time-scale.ts; track-tally.ts). Each
 * track keeps its best window and the speed it was found at. A candidate's margin is taken over the best candidate
 * that is another recording: copies of one recording agree group by group (agreement.ts) and do not count against
 * each other.
 */
import { defaults } from '../config/defaults.js'
import type { FingerprintParams } from '../config/fingerprint.js'
import { framesToSeconds } from '../config/fingerprint.js'
import type { HashList } from '../dsp/pipeline.js'
import type { Index } from '../index/types.js'
import { confidence, type Evidence } from './score.js'
import { VoteCaster, OFFSET_BIAS, TRACK_SCALE } from './votes.js'
import { Agreement } from './agreement.js'
import { TrackTally } from './track-tally.js'
import { TimeScaleSearch } from './time-scale.js'


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
  /** Playback speed of the clip against the track: track seconds per clip second (1.03: played 3% fast). */
  speed: number
  /** Tracks among the stronger candidates that hold the same recording (their votes agree), if any. */
  sameAs?: number[]
}

export interface ClipMatchOptions {
  /** Candidates returned at most. */
  maxCandidates?: number
  /** Buckets larger than this are skipped (they say little and cost much). */
  maxBucket?: number
  /** Postings a lookup may read on average (see Settings.postingsPerLookup). */
  postingsPerLookup?: number
  /** Told of the query frame of every landmark group that voted for the best candidate (to measure coverage). */
  onBestHit?: (queryFrame: number) => void
  /** Speed change searched either way (default: the fingerprint's speedTolerance; 0: nominal speed only). */
  speedTolerance?: number
}

export interface ClipMatch {
  candidates: Candidate[]
  evidence: Evidence
}

export class ClipMatcher {
  readonly #index: Index
  readonly #params: FingerprintParams
  readonly #caster = new VoteCaster()
  readonly #tally = new TrackTally()
  readonly #agreement = new Agreement()
  readonly #search = new TimeScaleSearch()
  // The strongest tracks so far: best window, its key (at the query's centre frame), speed - 1, the track; ranked
  // by score, then track id.
  #topScore = new Int32Array(16)
  #topKey = new Float64Array(16)
  #topDrift = new Float64Array(16)
  #topTrack = new Int32Array(16)
  #placed = -1

  constructor (index: Index, params: FingerprintParams) {
    this.#index = index
    this.#params = params
  }

  match (list: HashList, options: ClipMatchOptions = {}): ClipMatch {
    const maxCandidates = options.maxCandidates ?? 5
    const caster = this.#caster
    const n = caster.cast(this.#index, list.hashes, list.frames, list.count, options.maxBucket ?? defaults.maxBucket, options.postingsPerLookup)
    const agreement = this.#agreement
    // Tracks ranked: the candidates reported, the agreement's strongest, and one more, the runner-up of them all.
    const want = Math.max(maxCandidates, agreement.max + 1)
    const search = this.#search
    const centre = Math.floor(list.frameCount / 2)
    const hypotheses = search.prepare(list.frameCount, centre, options.speedTolerance ?? this.#params.speedTolerance)
    const ranked = this.#rank(caster.votes, caster.frames, n, want)
    // Each speed searched is another set of (track, offset) bins that chance could fill.
    const bins = this.#index.totalFrames() * hypotheses
    // Which of the strongest candidates are one recording: their votes come from the same groups.
    const k = Math.min(agreement.max, ranked)
    const tally = this.#tally
    const m = tally.keepTracks(caster.votes, n, caster.groupStart, caster.groups, this.#topKey, k)
    const onBestHit = options.onBestHit
    agreement.count(tally.kept, m, tally.keptGroupStart, caster.groupFrame, caster.groups, this.#topKey, k,
      onBestHit && ((c, frame) => { if (c === 0) onBestHit(frame) }), this.#topDrift, centre)
    tally.reset()
    // Copies of one recording play at one speed against the clip: candidates found at speeds more than a step apart
    // are different recordings, whatever their groups share (a landmark's neighbour-cell lookups share its group).
    const drifts = this.#topDrift
    const same = (r: number, d: number): boolean => agreement.same(r, d) && Math.abs(drifts[r] - drifts[d]) <= search.step
    /** The best score among candidates that are another recording than candidate r. */
    const runnerUpOf = (r: number): number => {
      for (let d = 0; d < ranked; d++) if (d !== r && !same(r, d)) return this.#topScore[d]
      return 0
    }
    const candidates: Candidate[] = []
    for (let r = 0; r < Math.min(maxCandidates, ranked); r++) {
      const score = this.#topScore[r]
      const trackId = this.#topTrack[r]
      // The key is track frame minus query frame at the centre; the clip starts `speed` times the centre earlier.
      const drift = this.#topDrift[r]
      const offset = this.#topKey[r] - trackId * TRACK_SCALE - OFFSET_BIAS - drift * centre
      const candidate: Candidate = {
        trackId,
        score,
        confidence: confidence({ score, runnerUp: runnerUpOf(r), votes: n, bins }),
        offsetFrames: Math.round(offset),
        offsetSeconds: framesToSeconds(this.#params, offset),
        speed: 1 + drift,
      }
      const copies: number[] = []
      for (let d = 0; d < k; d++) if (d !== r && same(r, d)) copies.push(this.#topTrack[d])
      if (copies.length > 0) candidate.sameAs = copies
      candidates.push(candidate)
    }
    const evidence: Evidence = {
      score: ranked > 0 ? this.#topScore[0] : 0,
      runnerUp: ranked > 0 ? runnerUpOf(0) : 0,
      votes: n,
      bins,
    }
    return { candidates, evidence }
  }

  /**
   * Rank tracks by their best window (±1 frame around a key, at the best speed; see time-scale.ts), then by track
   * id, and keep the first `want` in #top*; returns how many were kept.
   *
   * Exact: tracks are visited from the most raw votes down, and the visit stops once `want` tracks are kept and the
   * next track's raw count is below the weakest kept score. A window holds only its track's votes, so every track
   * not visited scores at most its raw count, which is below `want` kept scores: it ranks after all of them, ties
   * included. A track whose raw count equals the weakest kept score is still visited, as it may tie and win on id.
   */
  #rank (votes: Float64Array, frames: Uint32Array, n: number, want: number): number {
    if (this.#topScore.length < want) {
      this.#topScore = new Int32Array(want)
      this.#topKey = new Float64Array(want)
      this.#topDrift = new Float64Array(want)
      this.#topTrack = new Int32Array(want)
    }
    const tally = this.#tally
    const search = this.#search
    tally.tally(votes, n, frames)
    let kept = 0
    for (let i = 0; i < tally.tracks; i++) {
      const raw = tally.raw(i)
      if (kept === want && raw < this.#topScore[want - 1]) break
      const from = tally.start(i)
      // Once `want` are kept, a track must reach the weakest of them (a tie may still win on track id).
      search.best(tally.sorted, tally.sortedFrames, from, from + raw, kept === want ? this.#topScore[want - 1] : 0)
      const track = tally.track(i)
      kept = this.#insert(kept, want, search.score, search.key, track)
      // Only the kept ones are reported: refine their speed.
      if (this.#placed >= 0) {
        search.refine(tally.sorted, tally.sortedFrames, from, from + raw)
        this.#topDrift[this.#placed] = search.drift
      }
    }
    return kept
  }

  /**
   * Put (score, key, track) in its ranked place among the `kept` strongest (at most `want`); returns the new count
   * and leaves the place in #placed (-1 if it did not rank).
   */
  #insert (kept: number, want: number, score: number, key: number, track: number): number {
    const s = this.#topScore
    const t = this.#topTrack
    this.#placed = -1
    if (kept === want && (s[want - 1] > score || (s[want - 1] === score && t[want - 1] < track))) return kept
    let p = kept < want ? kept++ : want - 1
    while (p > 0 && s[p - 1] <= score && (s[p - 1] !== score || t[p - 1] > track)) {
      s[p] = s[p - 1]; t[p] = t[p - 1]; this.#topKey[p] = this.#topKey[p - 1]; this.#topDrift[p] = this.#topDrift[p - 1]
      p--
    }
    s[p] = score; t[p] = track; this.#topKey[p] = key
    this.#placed = p
    return kept
  }
}
