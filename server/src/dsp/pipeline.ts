/**
 * The fingerprint pipeline for one stream: mono PCM at any rate in, (hash, frame) pairs out.
 *
 *   resample -> spectrogram -> peaks -> landmarks
 *
 * Everything is allocated in the constructor; `write` can take any chunk size and gives exactly the hashes that
 * whole-file processing gives. Hashes are final when emitted; the delay is bounded by `lookaheadFrames`, and is
 * usually much less (a landmark is emitted when its target peak is decided).
 */
import { clipPeakParams, type FingerprintParams } from '../config/fingerprint.js'
import { Resampler } from './resample.js'
import { Spectrogram } from './spectrogram.js'
import { PeakPicker, type PeakSink } from './peaks.js'
import { LandmarkHasher, type HashSink } from './landmarks.js'

export type { HashSink } from './landmarks.js'

export interface FingerprinterOptions {
  /** Called for every spectral peak, before landmarks are formed (for diagnostics and tests). */
  onPeak?: PeakSink
  /**
   * Hashes for lookups, with neighbour cells near speed-dependent edges (see LandmarkHasher); not for indexing.
   * `'clip'`: a clip's lookup (identify): a stream's hashes, and pairs from denser peaks (clipPeakParams).
   */
  query?: boolean | 'clip'
}

export class Fingerprinter {
  readonly params: FingerprintParams
  readonly #resampler: Resampler
  readonly #spectrogram: Spectrogram
  readonly #peaks: PeakPicker
  readonly #landmarks: LandmarkHasher
  readonly #clipPeaks: PeakPicker | undefined
  readonly #clipLandmarks: LandmarkHasher | undefined
  #inputSamples = 0
  #ended = false

  /**
   * @param params fingerprint parameters (must match the index)
   * @param inputRate sample rate of the PCM given to `write`, in Hz
   * @param onHash receives every hash with its anchor frame, in frame order
   */
  constructor (params: FingerprintParams, inputRate: number, onHash: HashSink, options: FingerprinterOptions = {}) {
    this.params = params
    this.#landmarks = new LandmarkHasher(params, onHash, { query: options.query === 'clip' ? true : options.query })
    const onPeak = options.onPeak
    const landmarks = this.#landmarks
    this.#peaks = new PeakPicker(params, onPeak
      ? (frame, bin, df, db) => { onPeak(frame, bin, df, db); landmarks.write(frame, bin, df, db) }
      : (frame, bin, df, db) => landmarks.write(frame, bin, df, db))
    const peaks = this.#peaks
    // A clip's query also takes pairs from denser peaks, picked from the same spectra.
    if (options.query === 'clip') {
      const clipLandmarks = this.#clipLandmarks = new LandmarkHasher(params, onHash, { query: 'clip' })
      this.#clipPeaks = new PeakPicker(clipPeakParams(params), (frame, bin, df, db) => clipLandmarks.write(frame, bin, df, db))
    }
    const clipPeaks = this.#clipPeaks
    this.#spectrogram = new Spectrogram(params.fftSize, params.hopSize, clipPeaks
      ? (lp, frame) => { peaks.write(lp, frame); clipPeaks.write(lp, frame) }
      : (lp, frame) => peaks.write(lp, frame),
    [params.minBin, params.maxBin])
    const spectrogram = this.#spectrogram
    this.#resampler = new Resampler(inputRate, params.sampleRate, (s, n) => spectrogram.write(s, n))
  }

  /** Seconds of input audio written so far. */
  get inputSeconds (): number { return this.#inputSamples / this.#resampler.inputRate }

  /** Frames of spectrum computed so far. */
  get frames (): number { return this.#spectrogram.frames }

  /** Feed mono PCM in -1..1 at the input rate. */
  write (samples: ArrayLike<number>, offset = 0, length = samples.length - offset): void {
    this.#inputSamples += length
    this.#resampler.write(samples, offset, length)
  }

  /** End of input: flush every stage so the last hashes are emitted. */
  end (): void {
    if (this.#ended) return
    this.#ended = true
    this.#resampler.end()
    this.#peaks.end()
    this.#clipPeaks?.end()
    this.#landmarks.end()
    this.#clipLandmarks?.end()
  }
}

/** Hashes of a whole clip, as parallel arrays. */
export interface HashList {
  hashes: Uint32Array
  frames: Uint32Array
  count: number
  /** Spectrum frames the clip spans. */
  frameCount: number
}

/** Collects hashes into growing parallel arrays: the sink of a Fingerprinter whose hashes are all kept. */
export class HashCollector {
  #hashes: Uint32Array
  #frames: Uint32Array
  #count = 0

  /** @param expected hashes expected, to size the arrays once (they grow if it is short) */
  constructor (expected = 64) {
    this.#hashes = new Uint32Array(Math.max(64, expected))
    this.#frames = new Uint32Array(this.#hashes.length)
  }

  readonly add: HashSink = (hash, frame) => {
    if (this.#count === this.#hashes.length) {
      const h = new Uint32Array(this.#hashes.length * 2); h.set(this.#hashes); this.#hashes = h
      const f = new Uint32Array(this.#frames.length * 2); f.set(this.#frames); this.#frames = f
    }
    this.#hashes[this.#count] = hash
    this.#frames[this.#count++] = frame
  }

  /** The hashes so far, as views of the collector's arrays. */
  list (frameCount: number): HashList {
    return { hashes: this.#hashes, frames: this.#frames, count: this.#count, frameCount }
  }
}

/** Fingerprint a whole clip of mono PCM (`query`: for a lookup, see FingerprinterOptions). */
export function fingerprint (params: FingerprintParams, pcm: Float32Array, sampleRate: number, options: { query?: boolean | 'clip' } = {}): HashList {
  // Expect about k pairs and k (k - 1) / 2 triplets per peak; grow if the estimate is short.
  const estFrames = Math.ceil((pcm.length / sampleRate) * params.sampleRate / params.hopSize) + 1
  const k = options.query === undefined || options.query === false ? params.fanout : params.queryFanout
  const clip = options.query === 'clip' ? params.clipFanout * params.clipPeaksPerBlock : 0
  const hashes = new HashCollector(Math.ceil(estFrames * ((k * (k + 1)) / 2 * params.peaksPerBlock + clip) / params.blockFrames))
  const fp = new Fingerprinter(params, sampleRate, hashes.add, { query: options.query })
  fp.write(pcm)
  fp.end()
  return hashes.list(fp.frames)
}
