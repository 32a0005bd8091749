/**
 * Matching a live stream: (hash, frame) pairs in, match lifecycle events out.
 *
 * Hashes are gathered for one tick (about half a second of audio), then looked up together. Their votes go to one
 * scratch buffer shared by every stream (JavaScript runs one tick at a time), are counted per track and in runs like
 * the clip matcher's, and only the strongest few (track, offset) keys of the tick are kept, in a small candidate
 * table that holds per-tick counts for a sliding window of ticks. Old ticks fall out of the window, so a track that
 * stops playing loses its evidence and the next one can take over. Per stream, memory is a few kilobytes whatever
 * the catalogue size.
 *
 * Lifecycle of the leading candidate: `tentative` once its confidence reaches `tentativeConfidence`, `confirmed`
 * once it holds `confirmConfidence` for `confirmTicks` ticks in a row, updates only when the state, the offset or the
 * confidence (by `confidenceStep`) moves, and `end` when its confidence falls under `endConfidence` or another track
 * is confirmed. Candidates whose votes agree group by group are copies of one recording (agreement.ts): they are
 * not each other's runner-up, and a copy of the playing recording never takes over from it.
 */
import type { MatchState } from '../../../protocol/src/index.js'
import { defaults } from '../config/defaults.js'
import type { FingerprintParams } from '../config/fingerprint.js'
import type { Index } from '../index/types.js'
import { confidence } from './score.js'
import { VoteCaster, OFFSET_BIAS, TRACK_SCALE } from './votes.js'
import { Agreement, SAME_RECORDING_SHARE } from './agreement.js'
import { TrackTally } from './track-tally.js'
import { TimeScaleSearch } from './time-scale.js'


export interface StreamMatcherOptions {
  /** Frames per evaluation tick (default: about 0.5 s). */
  tickFrames?: number
  /** Ticks in the sliding window (default 16: about 8 s). */
  windowTicks?: number
  /** (track, offset) keys kept per tick. */
  keysPerTick?: number
  /** Candidates kept across the window. */
  candidates?: number
  tentativeConfidence?: number
  confirmConfidence?: number
  /** Consecutive ticks at confirmConfidence before `confirmed`. */
  confirmTicks?: number
  endConfidence?: number
  /** Ticks without a single vote after which the active match ends (default 6: about 3 s). */
  endSilentTicks?: number
  /** A confidence change that is worth an update. */
  confidenceStep?: number
  maxBucket?: number
  /** Postings a lookup may read on average (see Settings.postingsPerLookup). */
  postingsPerLookup?: number
  /** Told after each tick's lookups: hashes looked up, distinct lookups, postings read, and the seconds it took. */
  onTick?: (hashes: number, lookups: number, postings: number, seconds: number) => void
}

export interface StreamMatchEvent {
  state: MatchState
  trackId: number
  confidence: number
  /** Track frame minus stream frame, at `streamFrame`. */
  offsetFrames: number
  /** Playback speed of the stream against the track: track seconds per stream second (1.03: played 3% fast). */
  speed: number
  /** The stream frame of the tick that produced the event. */
  streamFrame: number
  /** The stream frame of the match's first vote. */
  startFrame: number
}

export interface StreamMatchEndEvent {
  trackId: number
  /** Stream frames of the first and last vote for the match. */
  startFrame: number
  endFrame: number
}

export interface StreamMatchSink {
  match (e: StreamMatchEvent): void
  end (e: StreamMatchEndEvent): void
}

/** Votes of one tick, shared by every stream: a tick is processed synchronously from start to end. */
const caster = new VoteCaster()
/** The tick's votes by track; shared like the caster. */
const tally = new TrackTally()
/** Group-by-group agreement of one tick's kept keys; shared like the caster (keys past its 30 are not compared). */
const agreement = new Agreement(30)
/** Numbers kept per candidate for its speed line. */
const LINE = 8
/** A change of the reported speed that is news (0.2 %: twice the precision clients show it with). */
const SPEED_NEWS = 0.002
/** Each track's best window of a tick over the speeds searched; shared like the caster. */
const search = new TimeScaleSearch()

export class StreamMatcher {
  readonly #index: Index
  readonly #o: Required<Omit<StreamMatcherOptions, 'onTick'>>
  readonly #onTick: StreamMatcherOptions['onTick']
  readonly #speedTolerance: number
  #hypotheses = 1 // speeds the last tick with votes searched
  #step = 0 // and the speed difference between two of them
  readonly #sink: StreamMatchSink
  // Hashes waiting for the next tick.
  #pendingHashes: Uint32Array
  #pendingFrames: Uint32Array
  #pending = 0
  #nextTick: number
  #tick = 0
  // Candidate table: key, per-tick counts (ring), window total, first and last stream frame with votes.
  // The key is track frame minus stream frame at stream frame #candCentre; it drifts by (speed - 1) a frame.
  readonly #candKey: Float64Array
  readonly #candCentre: Float64Array
  readonly #candDrift: Float64Array
  // Least-squares line through the candidate's tick keys, for its speed: at c * LINE, the ticks and the sums of x,
  // y, xx, xy, yy, then the first key and centre (x: centre - first centre, y: key - first key).
  readonly #candLine: Float64Array
  readonly #candSpeed: Float64Array // the speed reported: the line's once significant, else 1
  readonly #candCounts: Uint16Array
  readonly #candTotal: Int32Array
  readonly #candFirst: Int32Array
  readonly #candLast: Int32Array
  readonly #candLastTick: Int32Array // the tick that last gave the candidate votes
  readonly #tickVotes: Int32Array // all votes cast per tick, for the chance model
  // Selection of the tick's strongest keys (one per track), with each key's speed - 1.
  readonly #topKey: Float64Array
  readonly #topDrift: Float64Array
  readonly #topCount: Int32Array
  readonly #topSlot: Int32Array // the candidate slot each kept key went to, or -1
  // Agreement between candidate slots, summed over the ticks since each slot took its key.
  readonly #agreeOwn: Uint32Array // groups that voted for the slot
  readonly #agreeBoth: Uint32Array // groups that voted for both slots, at c * candidates + d
  // The match being reported.
  #active = -1 // candidate slot, or -1
  #activeTrack = -1
  #activeState: MatchState | undefined
  #activeConfidence = 0
  #activeSpeed = 1
  #activeOffset = 0
  #activeFrame = 0 // the stream frame of the last report
  /** The match's first and last votes, over every offset of its track it has been at. */
  #activeFirst = 0
  #activeLast = 0
  #strongTicks = 0

  constructor (index: Index, params: FingerprintParams, sink: StreamMatchSink, options: StreamMatcherOptions = {}) {
    this.#index = index
    this.#sink = sink
    this.#o = {
      tickFrames: Math.max(1, Math.round((0.5 * params.sampleRate) / params.hopSize)),
      keysPerTick: 16,
      candidates: 32,
      endConfidence: 0.1,
      confidenceStep: 0.1,
      // The thresholds a server may set (config/schema.ts), at their defaults.
      ...defaults.matcher,
      confirmConfidence: defaults.minConfidence,
      maxBucket: defaults.maxBucket,
      postingsPerLookup: defaults.postingsPerLookup,
      ...options,
    }
    this.#onTick = options.onTick
    this.#speedTolerance = params.speedTolerance
    const o = this.#o
    this.#nextTick = o.tickFrames
    // Music gives about 100 hashes a second: start with room for a dense tick and grow if needed.
    this.#pendingHashes = new Uint32Array(256)
    this.#pendingFrames = new Uint32Array(256)
    this.#candKey = new Float64Array(o.candidates).fill(-1)
    this.#candCentre = new Float64Array(o.candidates)
    this.#candDrift = new Float64Array(o.candidates)
    this.#candLine = new Float64Array(o.candidates * LINE)
    this.#candSpeed = new Float64Array(o.candidates).fill(1)
    this.#candCounts = new Uint16Array(o.candidates * o.windowTicks)
    this.#candTotal = new Int32Array(o.candidates)
    this.#candFirst = new Int32Array(o.candidates)
    this.#candLast = new Int32Array(o.candidates)
    this.#candLastTick = new Int32Array(o.candidates)
    this.#tickVotes = new Int32Array(o.windowTicks)
    this.#topKey = new Float64Array(o.keysPerTick)
    this.#topDrift = new Float64Array(o.keysPerTick)
    this.#topCount = new Int32Array(o.keysPerTick)
    this.#topSlot = new Int32Array(o.keysPerTick)
    this.#agreeOwn = new Uint32Array(o.candidates)
    this.#agreeBoth = new Uint32Array(o.candidates * o.candidates)
  }

  /** A hash from the stream's fingerprinter. */
  addHash (hash: number, frame: number): void {
    if (this.#pending === this.#pendingHashes.length) {
      const h = new Uint32Array(this.#pending * 2); h.set(this.#pendingHashes); this.#pendingHashes = h
      const f = new Uint32Array(this.#pending * 2); f.set(this.#pendingFrames); this.#pendingFrames = f
    }
    this.#pendingHashes[this.#pending] = hash
    this.#pendingFrames[this.#pending++] = frame
  }

  /** The stream has reached `frames` spectrum frames: run every tick that is due. */
  advance (frames: number): void {
    while (frames >= this.#nextTick) {
      this.#runTick(this.#nextTick)
      this.#nextTick += this.#o.tickFrames
    }
  }

  /** End of stream at `frames`: a last tick for what is pending, and the end of the active match. */
  end (frames: number): void {
    this.#runTick(frames)
    if (this.#active >= 0) this.#endActive()
  }

  #runTick (streamFrame: number): void {
    const o = this.#o
    const slot = this.#tick % o.windowTicks
    this.#tick++
    // The slot being reused held the oldest tick: take it out of the window.
    const cand = o.candidates
    for (let c = 0; c < cand; c++) {
      const k = c * o.windowTicks + slot
      if (this.#candCounts[k] !== 0) {
        this.#candTotal[c] -= this.#candCounts[k]
        this.#candCounts[k] = 0
        if (this.#candTotal[c] <= 0 && c !== this.#active) this.#freeCandidate(c)
      }
    }
    // Vote, noting the span of stream frames the tick's hashes cover.
    let firstFrame = Infinity
    let lastFrame = 0
    for (let i = 0; i < this.#pending; i++) {
      const f = this.#pendingFrames[i]
      if (f < firstFrame) firstFrame = f
      if (f > lastFrame) lastFrame = f
    }
    const started = performance.now()
    const n = caster.cast(this.#index, this.#pendingHashes, this.#pendingFrames, this.#pending, o.maxBucket, o.postingsPerLookup)
    this.#onTick?.(this.#pending, caster.lookups, caster.postings, (performance.now() - started) / 1000)
    this.#pending = 0
    this.#tickVotes[slot] = n
    if (n > 0) this.#selectAndMerge(n, slot, firstFrame, lastFrame)
    this.#evaluate(streamFrame)
  }

  /**
   * Find each voted track's best window of the tick over the speeds searched (time-scale.ts) and merge the
   * strongest `keysPerTick` (most votes first, then lowest key) into the candidate table.
   *
   * Exact like the clip matcher's ranking: tracks are visited from the most raw votes down, and the visit stops once
   * `keysPerTick` keys are kept and the next track's raw count is below the weakest kept count; a window holds only
   * its track's votes, so no track not visited could enter or tie.
   */
  #selectAndMerge (n: number, slot: number, firstFrame: number, lastFrame: number): void {
    tally.tally(caster.votes, n, caster.frames)
    const centre = Math.floor((firstFrame + lastFrame) / 2)
    this.#hypotheses = search.prepare(lastFrame - firstFrame + 1, centre, this.#speedTolerance)
    this.#step = search.step
    const K = this.#o.keysPerTick
    const topKey = this.#topKey
    const topCount = this.#topCount
    const topDrift = this.#topDrift
    let kept = 0
    for (let t = 0; t < tally.tracks; t++) {
      const raw = tally.raw(t)
      if (kept === K && raw < topCount[K - 1]) break
      const from = tally.start(t)
      search.best(tally.sorted, tally.sortedFrames, from, from + raw, kept === K ? topCount[K - 1] : 0)
      const key = search.key
      const count = search.score
      if (kept === K && (count < topCount[K - 1] || (count === topCount[K - 1] && key > topKey[K - 1]))) continue
      // Insert in descending order of count, then ascending key.
      let p = kept < K ? kept++ : K - 1
      while (p > 0 && (topCount[p - 1] < count || (topCount[p - 1] === count && topKey[p - 1] > key))) {
        topKey[p] = topKey[p - 1]
        topCount[p] = topCount[p - 1]
        topDrift[p] = topDrift[p - 1]
        p--
      }
      topKey[p] = key
      topCount[p] = count
      topDrift[p] = search.drift
    }
    const W = this.#o.windowTicks
    for (let t = 0; t < kept; t++) {
      const key = this.#topKey[t]
      const count = this.#topCount[t]
      let target = this.#findCandidate(key, centre, this.#step)
      this.#topSlot[t] = target
      if (target < 0) {
        target = this.#freeSlot(count)
        this.#topSlot[t] = target
        if (target < 0) continue
        this.#freeCandidate(target)
        this.#candKey[target] = key
        this.#candCentre[target] = centre
        this.#candDrift[target] = topDrift[t]
        this.#candLine.fill(0, target * LINE, target * LINE + LINE)
        this.#candCounts.fill(0, target * W, target * W + W)
        this.#candTotal[target] = 0
        this.#candFirst[target] = firstFrame
      }
      this.#follow(target, key, centre, topDrift[t])
      this.#candCounts[target * W + slot] = Math.min(65535, this.#candCounts[target * W + slot] + count)
      this.#candTotal[target] += count
      this.#candLast[target] = lastFrame
      this.#candLastTick[target] = this.#tick
    }
    this.#countAgreement(n, kept, centre)
  }

  /**
   * Move candidate c to this tick's key, and update its speed: the slope of a line through its tick keys once
   * they span a second of stream, the tick's own estimate before (a tick spans too little to measure it finely).
   */
  #follow (c: number, key: number, centre: number, tickDrift: number): void {
    const line = this.#candLine
    const l = c * LINE
    if (line[l] === 0) { line[l + 6] = key; line[l + 7] = centre }
    const x = centre - line[l + 7]
    const y = key - line[l + 6]
    line[l] += 1
    line[l + 1] += x
    line[l + 2] += y
    line[l + 3] += x * x
    line[l + 4] += x * y
    line[l + 5] += y * y
    const n = line[l]
    const sxx = line[l + 3] - (line[l + 1] * line[l + 1]) / n
    const sxy = line[l + 4] - (line[l + 1] * line[l + 2]) / n
    const syy = line[l + 5] - (line[l + 2] * line[l + 2]) / n
    const tolerance = this.#speedTolerance
    const slope = sxx > 0 ? Math.max(-tolerance, Math.min(tolerance, sxy / sxx)) : 0
    // Following: the line once the ticks span a second (standard deviation of their centres), the tick's own speed
    // before. Reporting: the line's slope once it stands out from its standard error, else speed 1.
    this.#candDrift[c] = Math.sqrt(sxx / n) >= this.#o.tickFrames ? slope : tickDrift
    const residual = Math.max(0, syy - slope * sxy)
    // Three standard errors over at least six ticks: keys are whole frames, and three ticks in a row can line up
    // on a slope of 2 % by a frame of jitter.
    const error = n >= 6 && sxx > 0 ? Math.sqrt(residual / (n - 2) / sxx) : Infinity
    this.#candSpeed[c] = Math.abs(slope) > 3 * error ? 1 + slope : 1
    this.#candKey[c] = key
    this.#candCentre[c] = centre
  }

  /** Add the tick's group-by-group agreement between its kept keys to their slots'. */
  #countAgreement (n: number, kept: number, centre: number): void {
    const a = agreement
    const k = Math.min(kept, a.max)
    const m = tally.keepTracks(caster.votes, n, caster.groupStart, caster.groups, this.#topKey, k)
    tally.reset()
    a.count(tally.kept, m, tally.keptGroupStart, caster.groupFrame, caster.groups, this.#topKey, k, undefined, this.#topDrift, centre)
    const C = this.#o.candidates
    for (let t = 0; t < k; t++) {
      const s = this.#topSlot[t]
      if (s < 0) continue
      this.#agreeOwn[s] += a.own[t]
      for (let u = 0; u < k; u++) {
        const v = this.#topSlot[u]
        if (u !== t && v >= 0 && v !== s) this.#agreeBoth[s * C + v] += a.co[t * a.max + u]
      }
    }
  }

  /** Whether candidate slots c and d hold copies of one recording (which play at one speed, see clip-matcher.ts). */
  #same (c: number, d: number): boolean {
    if (Math.abs(this.#candDrift[c] - this.#candDrift[d]) > this.#step) return false
    const weaker = Math.min(this.#agreeOwn[c], this.#agreeOwn[d])
    return weaker > 0 && this.#agreeBoth[c * this.#o.candidates + d] >= SAME_RECORDING_SHARE * weaker
  }

  /** Empty a candidate slot, and forget its agreement with the others. */
  #freeCandidate (c: number): void {
    const C = this.#o.candidates
    this.#candKey[c] = -1
    this.#agreeOwn[c] = 0
    this.#agreeBoth.fill(0, c * C, c * C + C)
    for (let d = 0; d < C; d++) this.#agreeBoth[d * C + c] = 0
  }

  /**
   * The candidate whose key, carried forward to `centre` at its speed, is within a frame and a half of this key
   * (plus what an error of half a speed step, `step` / 2, adds over the distance), or -1.
   */
  #findCandidate (key: number, centre: number, step: number): number {
    const track = Math.floor(key / TRACK_SCALE)
    for (let c = 0; c < this.#o.candidates; c++) {
      const ck = this.#candKey[c]
      if (ck < 0 || Math.floor(ck / TRACK_SCALE) !== track) continue
      const distance = centre - this.#candCentre[c]
      if (Math.abs(ck + this.#candDrift[c] * distance - key) <= 1.5 + (Math.abs(distance) * step) / 2) return c
    }
    return -1
  }

  /** An empty slot, else the weakest candidate weaker than `count` (never the active match), else -1. */
  #freeSlot (count: number): number {
    let weakest = -1
    for (let c = 0; c < this.#o.candidates; c++) {
      if (this.#candKey[c] < 0) return c
      if (c !== this.#active && (weakest < 0 || this.#candTotal[c] < this.#candTotal[weakest])) weakest = c
    }
    return weakest >= 0 && this.#candTotal[weakest] < count ? weakest : -1
  }

  #evaluate (streamFrame: number): void {
    const o = this.#o
    let best = -1
    for (let c = 0; c < o.candidates; c++) {
      if (this.#candKey[c] >= 0 && (best < 0 || this.#candTotal[c] > this.#candTotal[best])) best = c
    }
    let votes = 0
    for (let t = 0; t < o.windowTicks; t++) votes += this.#tickVotes[t]
    // Each speed a tick searches is another set of bins that chance could fill.
    const bins = this.#index.totalFrames() * this.#hypotheses
    const conf = (c: number): number => {
      const track = Math.floor(this.#candKey[c] / TRACK_SCALE)
      let runnerUp = 0
      for (let d = 0; d < o.candidates; d++) {
        if (d !== c && this.#candKey[d] >= 0 && Math.floor(this.#candKey[d] / TRACK_SCALE) !== track && !this.#same(c, d)) {
          runnerUp = Math.max(runnerUp, this.#candTotal[d])
        }
      }
      return confidence({ score: this.#candTotal[c], runnerUp, votes, bins })
    }
    // The active match first: does it hold?
    if (this.#active >= 0) {
      let c = this.#active
      let k = conf(c)
      // The track stopped: either its evidence has faded, or nothing has voted for it for a while (a song change
      // should not wait for the whole window to drain). Unless the track is still heard at another offset: a tick
      // keeps one key per track, so while a repeated section plays its votes may go to the repeat's offset, and the
      // song goes on there (and back) as one match.
      if (k < o.endConfidence || this.#tick - this.#candLastTick[c] >= o.endSilentTicks) {
        const other = this.#heardElsewhere(c, conf)
        if (other >= 0) {
          this.#moveTo(other)
          c = other
          k = conf(c)
        } else {
          this.#endActive()
        }
      }
      if (this.#active >= 0) {
        if (this.#activeState === 'tentative' && k >= o.confirmConfidence) this.#strongTicks++
        else if (k < o.confirmConfidence) this.#strongTicks = 0
        // Another track confirmed takes over; a stronger candidate of the same track is the same match moved.
        if (best !== c && best >= 0 && this.#candTotal[best] > this.#candTotal[c]) {
          const bestTrack = Math.floor(this.#candKey[best] / TRACK_SCALE)
          if (bestTrack === this.#activeTrack) {
            // The same track at another offset: confirmation needs the new offset to hold for its own ticks.
            this.#moveTo(best)
          } else if (this.#same(best, c)) {
            // Another copy of the recording that is playing: the match goes on as it is.
          } else if (conf(best) >= o.confirmConfidence) {
            this.#endActive()
          }
        }
        // Report only on fresh evidence: a fading window is no news.
        if (this.#active >= 0 && this.#candLastTick[this.#active] === this.#tick) this.#report(streamFrame, conf(this.#active))
        return
      }
    }
    if (best < 0 || this.#candLastTick[best] !== this.#tick) return
    const k = conf(best)
    if (k >= o.tentativeConfidence) {
      this.#active = best
      this.#activeFirst = this.#candFirst[best]
      this.#activeLast = this.#candLast[best]
      this.#activeTrack = Math.floor(this.#candKey[best] / TRACK_SCALE)
      this.#activeState = undefined
      this.#strongTicks = k >= o.confirmConfidence ? 1 : 0
      this.#report(streamFrame, k)
    }
  }

  /** Emit a `match` event if the state, offset or confidence moved enough. */
  #report (streamFrame: number, k: number): void {
    const o = this.#o
    const c = this.#active
    const state: MatchState = this.#activeState === 'confirmed' || this.#strongTicks >= o.confirmTicks ? 'confirmed' : 'tentative'
    // Track frame minus stream frame now: the key carried forward from its tick at the candidate's speed.
    const drift = this.#candDrift[c]
    const offset = this.#candKey[c] - this.#activeTrack * TRACK_SCALE - OFFSET_BIAS + drift * (streamFrame - this.#candCentre[c])
    // The offset moves by the drift every frame; news is a move from where the last report said it would be.
    const expected = this.#activeOffset + drift * (streamFrame - this.#activeFrame)
    // The speed line firms up over the song: a refined estimate is news too.
    const speed = this.#candSpeed[c]
    const moved = state !== this.#activeState || Math.abs(offset - expected) > 1 ||
      Math.abs(k - this.#activeConfidence) >= o.confidenceStep || Math.abs(speed - this.#activeSpeed) >= SPEED_NEWS
    if (!moved) return
    this.#activeState = state
    this.#activeOffset = offset
    this.#activeFrame = streamFrame
    this.#activeConfidence = k
    this.#activeSpeed = speed
    this.#sink.match({ state, trackId: this.#activeTrack, confidence: k, offsetFrames: offset, speed, streamFrame, startFrame: this.#activeFirst })
  }

  /** Another candidate of the active track that has voted within endSilentTicks and holds endConfidence, or -1. */
  #heardElsewhere (c: number, conf: (d: number) => number): number {
    let found = -1
    for (let d = 0; d < this.#o.candidates; d++) {
      if (d === c || this.#candKey[d] < 0 || Math.floor(this.#candKey[d] / TRACK_SCALE) !== this.#activeTrack) continue
      if (this.#tick - this.#candLastTick[d] >= this.#o.endSilentTicks || conf(d) < this.#o.endConfidence) continue
      if (found < 0 || this.#candTotal[d] > this.#candTotal[found]) found = d
    }
    return found
  }

  /**
   * The active match goes on at candidate d, another offset of its track. A confirmed match keeps its first vote (the
   * song was heard from there: d is a repeat of a section); one not confirmed yet starts again from d's, since its
   * votes so far were at an offset the song did not hold (often chance, before the song's own took over).
   */
  #moveTo (d: number): void {
    const c = this.#active
    if (this.#activeState !== 'confirmed') {
      this.#activeFirst = this.#candFirst[d]
      this.#strongTicks = 0
    }
    this.#activeLast = Math.max(this.#activeLast, this.#candLast[c])
    this.#active = d
  }

  #endActive (): void {
    const c = this.#active
    if (this.#activeState !== undefined) {
      this.#sink.end({ trackId: this.#activeTrack, startFrame: this.#activeFirst, endFrame: Math.max(this.#activeLast, this.#candLast[c]) })
    }
    this.#active = -1
    this.#activeTrack = -1
    this.#activeState = undefined
    this.#activeConfidence = 0
    this.#activeSpeed = 1
    this.#strongTicks = 0
    if (this.#candTotal[c] <= 0) this.#freeCandidate(c)
  }
}
