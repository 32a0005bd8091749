/**
 * One-shot identify: a clip in, the tracks it comes from out (used by `earshot identify` and POST /v1/identify).
 */
import type { Match } from '../../../protocol/src/index.js'
import type { Settings } from '../config/defaults.js'
import { fingerprint } from '../dsp/pipeline.js'
import type { Index } from '../index/types.js'
import { ClipMatcher, type ClipMatch } from './clip-matcher.js'
import { round } from '../round.js'
import { catalogFields } from '../index/track-metadata.js'

/**
 * A match of a clip: the track fields of a stream's `match` message, its confidence, where in the track the clip
 * starts, and the clip's playback speed against the track (track seconds per clip second, rounded to 0.001).
 */
export type IdentifiedMatch = Pick<Match, 'id' | 'title' | 'artist' | 'album' | 'source' | 'isrc' | 'externalId' | 'labels' | 'confidence' | 'offsetSeconds' | 'speed'>

export interface IdentifyResult {
  matches: IdentifiedMatch[]
  queryDurationMs: number
  processingTimeMs: number
}

export class Identifier {
  readonly #index: Index
  readonly #settings: Settings
  readonly #matcher: ClipMatcher

  /** Told of every answer and the seconds its lookups and voting took (metrics). */
  onResult: ((result: IdentifyResult, lookupSeconds: number) => void) | undefined

  constructor (index: Index, settings: Settings) {
    this.#index = index
    this.#settings = settings
    this.#matcher = new ClipMatcher(index, settings.fingerprint)
  }

  /** Identify mono PCM; `details` receives the raw evidence (for the benchmark and diagnostics). */
  identify (samples: Float32Array, sampleRate: number, details?: (m: ClipMatch) => void): IdentifyResult {
    const started = performance.now()
    const list = fingerprint(this.#settings.fingerprint, samples, sampleRate, { query: 'clip' })
    const matchStarted = performance.now()
    const result = this.#matcher.match(list, { maxCandidates: this.#settings.maxMatches, maxBucket: this.#settings.maxBucket, postingsPerLookup: this.#settings.postingsPerLookup })
    const lookupSeconds = (performance.now() - matchStarted) / 1000
    details?.(result)
    const matches: IdentifiedMatch[] = []
    for (const c of result.candidates) {
      if (c.confidence < this.#settings.minConfidence) continue
      const t = this.#index.getTrack(c.trackId)
      if (!t) continue // removed since the lookup
      matches.push({
        id: t.id,
        title: t.title,
        artist: t.artist,
        album: t.album,
        source: t.source,
        ...catalogFields(t),
        confidence: round(c.confidence, 3),
        offsetSeconds: round(c.offsetSeconds, 2),
        speed: round(c.speed, 3),
      })
    }
    const answer: IdentifyResult = {
      matches,
      queryDurationMs: Math.round((samples.length / sampleRate) * 1000),
      processingTimeMs: round(performance.now() - started, 1),
    }
    this.onResult?.(answer, lookupSeconds)
    return answer
  }
}
