/**
 * Fingerprint parameters: everything that defines which hashes a piece of audio produces.
 *
 * These values are stored in the index's meta database and checked on open, because changing any of them silently
 * breaks matching against an index built with the old ones; the query-side ones (QUERY_PARAMS) only change what a
 * lookup asks for, so they are neither stored nor compared. Runtime settings (ports, limits) live elsewhere.
 */
export interface FingerprintParams {
  /** Internal sample rate in Hz; every input is resampled to it. */
  readonly sampleRate: number
  /** FFT window length in samples (a power of two). */
  readonly fftSize: number
  /** Hop between frames in samples. */
  readonly hopSize: number
  /** Lowest and highest spectrum bin where peaks may be picked (inclusive, exclusive). */
  readonly minBin: number
  readonly maxBin: number
  /** Half-size of the peak neighbourhood, in bins and in frames. */
  readonly peakBinRadius: number
  readonly peakFrameRadius: number
  /** Peaks are kept per block of frames: at most `peaksPerBlock` in every `blockFrames` frames (sets the density). */
  readonly blockFrames: number
  readonly peaksPerBlock: number
  /** A peak must stand this far (natural log of power) above the frame's mean log power. */
  readonly minPeakProminence: number
  /** Absolute floor on peak power (natural log of |X|^2 for full-scale-normalised input); silence has no peaks. */
  readonly minPeakLogPower: number
  /** Landmark target zone: frames after the anchor (minDeltaFrames..maxDeltaFrames) and semitones either side. */
  readonly minDeltaFrames: number
  readonly maxDeltaFrames: number
  readonly maxIntervalSemitones: number
  /**
   * Targets per anchor peak (the first ones in the zone): the anchor makes a pair with each and a triplet with every
   * two of them (dsp/landmarks.ts).
   */
  readonly fanout: number
  /**
   * Targets a query anchor takes (at least `fanout`): a peak that noise or a voice adds to the zone then does not
   * push the indexed targets out of reach.
   */
  readonly queryFanout: number
  /**
   * A clip's query (identify) makes a stream's hashes and also picks denser peaks from the same spectra, with this
   * frame radius and this many a block, whose anchors make pairs with `clipFanout` targets: a voice over the music
   * beats the music's peaks within the index's neighbourhood, and a smaller one keeps more of them (docs/ENGINE.md,
   * "Peaks"). Streams do without, for their cost per session.
   */
  readonly clipPeakFrameRadius: number
  readonly clipPeaksPerBlock: number
  readonly clipFanout: number
  /**
   * Playback speed change (either way, as a fraction) that queries are made to survive: query landmarks near a cell
   * edge of a speed-dependent hash field also look up the neighbour cell (dsp/landmarks.ts), and matchers search
   * time scales within it (match/time-scale.ts).
   */
  readonly speedTolerance: number
}

/**
 * Defaults, chosen by measurement (see docs/ENGINE.md and bench/RESULTS.md):
 * 11025 Hz keeps the 0–4.8 kHz band where music keeps its strongest, most codec-proof peaks, and 44.1 kHz input
 * decimates by an integer 4. A 1024-point window (93 ms, 10.8 Hz bins) resolves notes; a 256-sample hop (23.2 ms)
 * gives 43 frames a second, fine enough for offsets and cheap enough for hundreds of streams a core.
 */
export const defaultFingerprint: FingerprintParams = Object.freeze({
  sampleRate: 11025,
  fftSize: 1024,
  hopSize: 256,
  minBin: 10, // ~108 Hz: below it is rumble and hum
  maxBin: 446, // ~4.8 kHz: the resampler's passband edge
  peakBinRadius: 12,
  peakFrameRadius: 8,
  blockFrames: 8,
  peaksPerBlock: 6, // ~32 peaks a second
  minPeakProminence: 2.3, // 10 dB above the frame mean
  minPeakLogPower: -23, // ~-100 dBFS: digital silence and dither have no peaks
  minDeltaFrames: 1,
  maxDeltaFrames: 63,
  maxIntervalSemitones: 24,
  fanout: 3, // 3 pairs and 3 triplets an anchor, ~120 landmarks a second
  queryFanout: 4,
  clipPeakFrameRadius: 4, // ±93 ms: a syllable's harmonic no longer hides the music's peaks of the next beat
  clipPeaksPerBlock: 8,
  clipFanout: 4, // 6 found no more voice-over clips for more false positives and time (bench/RESULTS.md)
  speedTolerance: 0.06,
})

/** The query-side parameters: not stored with an index, and free to change without indexing again. */
export const QUERY_PARAMS: ReadonlyArray<keyof FingerprintParams> = ['queryFanout', 'clipPeakFrameRadius', 'clipPeaksPerBlock', 'clipFanout']

/** The parameters that define an index's hashes: what is stored with it and compared on open. */
export function indexParams (p: FingerprintParams): Record<string, unknown> {
  const out: Record<string, unknown> = { ...p }
  for (const k of QUERY_PARAMS) delete out[k]
  return out
}

/** The parameters a clip's query picks its peaks with: the index's, with the clip's neighbourhood and density. */
export function clipPeakParams (p: FingerprintParams): FingerprintParams {
  return { ...p, peakFrameRadius: p.clipPeakFrameRadius, peaksPerBlock: p.clipPeaksPerBlock }
}

/** Frames of look-ahead a stream needs before a hash can be final. */
export function lookaheadFrames (p: FingerprintParams): number {
  return Math.max(p.peakFrameRadius, p.clipPeakFrameRadius) + p.blockFrames + p.maxDeltaFrames
}

/** Frame index to seconds. */
export function framesToSeconds (p: FingerprintParams, frames: number): number {
  return (frames * p.hopSize) / p.sampleRate
}
