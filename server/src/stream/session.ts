/**
 * One audio stream, the orchestrator of every stage (the only place that wires them):
 *
 *   PCM bytes -> samples -> Fingerprinter (dsp) -> StreamMatcher (match) -> typed results (SessionListener)
 *
 * Created for a client after a valid `hello`, and for each connection of a monitor to its source. Audio is decoded
 * from the wire encoding in pieces (audio/pcm-to-mono.ts) into one mono buffer shared by all sessions, so a frame of
 * any size costs no allocation beyond a view. Results go to a listener as typed events with exact (unrounded) times: the session
 * never touches a socket and knows nothing of the wire; the connection alone turns results into protocol messages.
 */
import type { MatchState, PcmFormat } from '../../../protocol/src/index.js'
import { PIECE_FRAMES, frameBytesOf, hasNonFiniteFloats, pcmToMono } from '../audio/pcm-to-mono.js'
import type { Settings } from '../config/defaults.js'
import { framesToSeconds, type FingerprintParams } from '../config/fingerprint.js'
import { Fingerprinter } from '../dsp/pipeline.js'
import type { Index, Track } from '../index/types.js'
import { StreamMatcher, type StreamMatcherOptions, type StreamMatchEndEvent, type StreamMatchEvent } from '../match/stream-matcher.js'

/**
 * Mono samples of one piece, shared by every session: a piece is converted and fingerprinted within one synchronous
 * call, so one buffer serves them all.
 */
const pieceMono = new Float32Array(PIECE_FRAMES)

export type AudioProblem = 'EAR_ERR_AUDIO_ALIGNMENT' | 'EAR_ERR_AUDIO_INVALID' | undefined

/** A track heard in the stream, or heard better: sent when it appears, firms up, or its estimates move. */
export interface SessionMatch {
  state: MatchState
  track: Track
  confidence: number
  /** Track seconds per stream second (1.03: played 3 % fast). */
  speed: number
  /** Stream seconds received when the match was reported. */
  streamSeconds: number
  /** Where the track is at `streamSeconds`. */
  offsetSeconds: number
  /** Stream seconds of the match's first evidence. */
  startSeconds: number
}

/** A track no longer heard. */
export interface SessionMatchEnd {
  trackId: number
  /** Stream seconds of its first evidence (may be firmer than when it was confirmed). */
  startSeconds: number
  /** Stream seconds of its last evidence. */
  endSeconds: number
}

/** Who hears a session's results. */
export interface SessionListener {
  match (e: SessionMatch): void
  matchEnd (e: SessionMatchEnd): void
}

export class StreamSession {
  readonly format: PcmFormat
  readonly #index: Index
  readonly #settings: Settings
  readonly #listener: SessionListener
  readonly #fingerprinter: Fingerprinter
  readonly #matcher: StreamMatcher
  readonly #pieceBytes: number // bytes of one piece: PIECE_FRAMES sample frames
  #flushed = false

  /**
   * @param listener hears every result
   * @param onTick told of each tick's lookups (metrics)
   */
  constructor (index: Index, settings: Settings, format: PcmFormat, listener: SessionListener,
    onTick?: StreamMatcherOptions['onTick']) {
    this.format = format
    this.#index = index
    this.#settings = settings
    this.#listener = listener
    this.#pieceBytes = PIECE_FRAMES * frameBytesOf(format)
    const params = settings.fingerprint
    this.#matcher = new StreamMatcher(index, params, {
      match: (e) => this.#onMatch(e),
      end: (e) => this.#onEnd(e),
    }, { ...settings.matcher, confirmConfidence: settings.minConfidence, maxBucket: settings.maxBucket, postingsPerLookup: settings.postingsPerLookup, onTick })
    const matcher = this.#matcher
    this.#fingerprinter = new Fingerprinter(params, format.sampleRate, (hash, frame) => matcher.addHash(hash, frame), { query: true })
  }

  /** Seconds of audio received. */
  get streamSeconds (): number { return this.#fingerprinter.inputSeconds }

  get flushed (): boolean { return this.#flushed }

  /** Process a frame of PCM bytes, checked beforehand with pcmProblem. */
  write (pcm: Uint8Array): void {
    for (let at = 0; at < pcm.length; at += this.#pieceBytes) {
      const frames = pcmToMono(pcm.subarray(at, at + this.#pieceBytes), this.format, pieceMono)
      this.#fingerprinter.write(pieceMono, 0, frames)
      this.#matcher.advance(this.#fingerprinter.frames)
    }
  }

  /** End of input: report the final results. A later flush does nothing. */
  flush (): void {
    if (this.#flushed) return
    this.#flushed = true
    this.#fingerprinter.end()
    this.#matcher.end(this.#fingerprinter.frames)
  }

  #onMatch (e: StreamMatchEvent): void {
    const track = this.#index.getTrack(e.trackId)
    if (!track) return // removed while playing
    const p = this.#settings.fingerprint
    const streamSeconds = this.streamSeconds
    this.#listener.match({
      state: e.state,
      track,
      confidence: e.confidence,
      speed: e.speed,
      streamSeconds,
      offsetSeconds: trackSecondsNow(p, e, streamSeconds),
      startSeconds: framesToSeconds(p, e.startFrame),
    })
  }

  #onEnd (e: StreamMatchEndEvent): void {
    const p = this.#settings.fingerprint
    this.#listener.matchEnd({ trackId: e.trackId, startSeconds: framesToSeconds(p, e.startFrame), endSeconds: framesToSeconds(p, e.endFrame) })
  }
}

/**
 * What is wrong with a frame of PCM bytes, checked before anything is processed: a whole number of sample frames,
 * and for floats no NaN or infinity. Undefined when the audio is fine.
 */
export function pcmProblem (pcm: Uint8Array, format: PcmFormat): AudioProblem {
  if (pcm.length % frameBytesOf(format) !== 0) return 'EAR_ERR_AUDIO_ALIGNMENT'
  if (format.encoding === 'f32le' && hasNonFiniteFloats(pcm)) return 'EAR_ERR_AUDIO_INVALID'
  return undefined
}

/**
 * Where the track is now: its position at the event's stream frame, carried forward to `streamSeconds` (the audio
 * received) at the event's speed, since the track moves `speed` seconds per stream second (radio plays songs fast).
 */
export function trackSecondsNow (p: FingerprintParams, e: Pick<StreamMatchEvent, 'offsetFrames' | 'speed' | 'streamFrame'>, streamSeconds: number): number {
  return framesToSeconds(p, e.offsetFrames + e.streamFrame) + e.speed * (streamSeconds - framesToSeconds(p, e.streamFrame))
}
