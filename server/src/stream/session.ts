/**
 * One audio stream, the orchestrator of every stage (the only place that wires them):
 *
 *   PCM bytes -> samples -> Fingerprinter (dsp) -> StreamMatcher (match) -> typed results (SessionListener)
 *
 * Created for a client after a valid `hello`, and for each connection of a monitor to its source. Audio is decoded
 * from the wire encoding in pieces through one buffer shared by all sessions, so a frame of any size costs no
 * allocation beyond a view. Results go to a listener as typed events with exact (unrounded) times: the session
 * never touches a socket and knows nothing of the wire; the connection alone turns results into protocol messages.
 */
import type { MatchState, PcmFormat } from '../../../protocol/src/index.js'
import { BYTES_PER_SAMPLE } from '../../../protocol/src/index.js'
import type { Settings } from '../config/defaults.js'
import { framesToSeconds, type FingerprintParams } from '../config/fingerprint.js'
import { Fingerprinter } from '../dsp/pipeline.js'
import type { Index, Track } from '../index/types.js'
import { StreamMatcher, type StreamMatcherOptions, type StreamMatchEndEvent, type StreamMatchEvent } from '../match/stream-matcher.js'

/** Samples converted per piece. */
const PIECE_SAMPLES = 1024
/**
 * Conversion scratch shared by every session: a piece is copied, converted and fingerprinted within one synchronous
 * call, so one aligned buffer (room for a stereo f32 piece) and one mono buffer serve them all.
 */
const pieceBuffer = new ArrayBuffer(PIECE_SAMPLES * 8)
const pieceBytes = new Uint8Array(pieceBuffer)
const pieceS16 = new Int16Array(pieceBuffer)
const pieceF32 = new Float32Array(pieceBuffer)
const pieceMono = new Float32Array(PIECE_SAMPLES)

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
  readonly #bytesPerFrame: number
  readonly #pieceBytes: number // bytes of one piece: PIECE_SAMPLES sample frames
  #flushed = false
  /** Audio received, in bytes. */
  bytesReceived = 0

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
    this.#bytesPerFrame = BYTES_PER_SAMPLE[format.encoding] * format.channels
    this.#pieceBytes = PIECE_SAMPLES * this.#bytesPerFrame
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

  /**
   * Check a frame of PCM bytes before anything is processed: a whole number of sample frames, and for floats no
   * NaN or infinity. Returns the problem's code, or undefined when the audio is fine.
   */
  check (pcm: Uint8Array): AudioProblem {
    if (pcm.length % this.#bytesPerFrame !== 0) return 'EAR_ERR_AUDIO_ALIGNMENT'
    if (this.format.encoding === 'f32le') {
      for (let at = 0; at < pcm.length; at += this.#pieceBytes) {
        const n = Math.min(this.#pieceBytes, pcm.length - at)
        pieceBytes.set(pcm.subarray(at, at + n))
        for (let i = 0, m = n >> 2; i < m; i++) if (!Number.isFinite(pieceF32[i])) return 'EAR_ERR_AUDIO_INVALID'
      }
    }
    return undefined
  }

  /** Process a checked frame of PCM bytes. */
  write (pcm: Uint8Array): void {
    this.bytesReceived += pcm.length
    const channels = this.format.channels
    const isFloat = this.format.encoding === 'f32le'
    const mono = pieceMono
    for (let at = 0; at < pcm.length; at += this.#pieceBytes) {
      const n = Math.min(this.#pieceBytes, pcm.length - at)
      pieceBytes.set(pcm.subarray(at, at + n))
      const frames = n / this.#bytesPerFrame
      if (isFloat) {
        const x = pieceF32
        if (channels === 1) for (let i = 0; i < frames; i++) mono[i] = x[i]
        else for (let i = 0; i < frames; i++) mono[i] = 0.5 * (x[2 * i] + x[2 * i + 1])
      } else {
        const x = pieceS16
        if (channels === 1) for (let i = 0; i < frames; i++) mono[i] = x[i] / 32768
        else for (let i = 0; i < frames; i++) mono[i] = (x[2 * i] + x[2 * i + 1]) / 65536
      }
      this.#fingerprinter.write(mono, 0, frames)
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
 * Where the track is now: its position at the event's stream frame, carried forward to `streamSeconds` (the audio
 * received) at the event's speed, since the track moves `speed` seconds per stream second (radio plays songs fast).
 */
export function trackSecondsNow (p: FingerprintParams, e: Pick<StreamMatchEvent, 'offsetFrames' | 'speed' | 'streamFrame'>, streamSeconds: number): number {
  return framesToSeconds(p, e.offsetFrames + e.streamFrame) + e.speed * (streamSeconds - framesToSeconds(p, e.streamFrame))
}
