/**
 * An hour of a station's air made from the bench corpus, for bench:segments: excerpts of known (indexed) and unknown
 * tracks one after the other, joined by linear crossfades, now and then a few seconds of a presenter talking, and the
 * truth of where each piece lies.
 *
 * All choices come from one seeded generator, in this order for each piece: known or unknown (1 in 5 unknown), the
 * track (each pool shuffled once and taken in order, so no track plays twice), the excerpt's length (60–240 s, or
 * the whole track when it is shorter), where in the track it starts, and whether talk follows it (1 in 4: 5–8 s of
 * espeak-ng, left out when espeak-ng is missing). Pieces are added until the air is at least the length asked for.
 * A track's silence at either end (under -60 dBFS) is not part of it here: excerpts are drawn from its sound.
 *
 * Tracks are decoded by the server's own decoder (audio/decode.ts) at their own rate, then the excerpt is resampled
 * to the air's rate by ffmpeg (bench/degrade.ts `resample`).
 */
import path from 'node:path'
import { decodeFile, type DecodedAudio } from '../server/src/audio/decode.js'
import { chooseSpeech, makeRng, power, resample, synthesiseSpeech } from './degrade.js'

/** A music track the air may play; `trackId` is its id in the index when it is indexed. */
export interface AirTrack {
  file: string
  trackId: number | undefined
}

/** One piece of the air, and the truth about it. */
export interface AirPiece {
  kind: 'known' | 'unknown' | 'talk'
  /** The track's file (undefined for talk). */
  file: string | undefined
  /** The track's id in the index (known pieces only). */
  trackId: number | undefined
  /** Where it is heard, in air seconds: the midpoints of its crossfades (0 and the air's end at either end). */
  startSeconds: number
  endSeconds: number
  /** Track seconds at `startSeconds` (0 for talk). */
  offsetSeconds: number
  /** The excerpt's length, fades included, in seconds. */
  excerptSeconds: number
}

export interface Air {
  samples: Float32Array
  sampleRate: number
  pieces: AirPiece[]
  /** False when espeak-ng could not be run: no talk between the songs. */
  talk: boolean
}

export interface AirOptions {
  known: readonly AirTrack[]
  unknown: readonly AirTrack[]
  /** The air is at least this long, in seconds. */
  seconds: number
  seed: number
  /** [22050] the air's rate, in Hz. */
  sampleRate?: number
  log?: (line: string) => void
}

/** Linear crossfade between two pieces, in seconds. */
export const CROSSFADE_SECONDS = 2
/** Share of excerpts taken from unknown tracks. */
const UNKNOWN_SHARE = 0.2
/** Shortest and longest excerpt, in seconds. */
const MIN_EXCERPT = 60
const MAX_EXCERPT = 240
/** Share of excerpts followed by talk, and its length (fades included), in seconds. */
const TALK_SHARE = 0.25
const MIN_TALK = 5
const MAX_TALK = 8

/** Deterministic shuffle (Fisher–Yates) of a copy. */
function shuffled<T> (xs: readonly T[], rng: () => number): T[] {
  const out = xs.slice()
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1))
    const t = out[i]; out[i] = out[j]; out[j] = t
  }
  return out
}

/** Level under which a window counts as silence, in dBFS, and the window, in seconds. */
const SILENCE_DB = -60
const SILENCE_WINDOW = 0.1

/**
 * Seconds where a track's sound starts and ends: some tracks end in a minute of digital silence, which no station
 * airs and nobody could recognise.
 */
export function audibleSpan (audio: DecodedAudio): [number, number] {
  const w = Math.max(1, Math.round(SILENCE_WINDOW * audio.sampleRate))
  const floor = w * 10 ** (SILENCE_DB / 10)
  const loud = (at: number): boolean => {
    let p = 0
    for (let i = at; i < Math.min(audio.samples.length, at + w); i++) p += audio.samples[i] * audio.samples[i]
    return p > floor
  }
  let first = 0
  while (first < audio.samples.length && !loud(first)) first += w
  let last = Math.ceil(audio.samples.length / w) * w
  while (last > first && !loud(last - w)) last -= w
  return [first / audio.sampleRate, Math.min(audio.samples.length, last) / audio.sampleRate]
}

/** `seconds` of decoded audio from `startSeconds`, at the air's rate. */
function excerpt (audio: DecodedAudio, startSeconds: number, seconds: number, rate: number): Promise<Float32Array> {
  const from = Math.round(startSeconds * audio.sampleRate)
  const to = Math.min(audio.samples.length, from + Math.round(seconds * audio.sampleRate))
  return resample(audio.samples.subarray(from, to), audio.sampleRate, rate)
}

/** A presenter talking for `seconds`, at the RMS of `level` (the music before it). Undefined when espeak-ng fails. */
async function talkPiece (seconds: number, seed: number, rate: number, level: Float32Array): Promise<Float32Array | undefined> {
  let speech: Float32Array
  try {
    speech = await synthesiseSpeech(chooseSpeech(seconds, makeRng(seed)), rate)
  } catch {
    return undefined
  }
  const out = new Float32Array(Math.round(seconds * rate))
  out.set(speech.subarray(0, out.length))
  const ps = power(out)
  const g = ps > 0 ? Math.sqrt(power(level) / ps) : 0
  for (let i = 0; i < out.length; i++) out[i] *= g
  return out
}

/** Builds the air; see the header for what it holds. */
export async function buildAir (o: AirOptions): Promise<Air> {
  const rate = o.sampleRate ?? 22050
  const log = o.log ?? (() => {})
  const rng = makeRng(o.seed)
  const pools = { known: shuffled(o.known, rng), unknown: shuffled(o.unknown, rng) }
  const taken = { known: 0, unknown: 0 }
  const fade = Math.round(CROSSFADE_SECONDS * rate)
  const audio: Float32Array[] = []
  const pieces: AirPiece[] = []
  let length = 0 // samples of air so far, the last piece's fade-out included
  let talk = true
  while (length < o.seconds * rate) {
    const kind = rng() < UNKNOWN_SHARE ? 'unknown' : 'known'
    const pool = pools[kind]
    if (pool.length === 0) throw new Error(`no ${kind} tracks to play`)
    const track = pool[taken[kind]++ % pool.length]
    const want = MIN_EXCERPT + rng() * (MAX_EXCERPT - MIN_EXCERPT)
    const at = rng()
    const talkDraw = rng()
    const talkSeconds = MIN_TALK + rng() * (MAX_TALK - MIN_TALK)
    const talkSeed = Math.floor(rng() * 2 ** 32)
    const decoded = await decodeFile(track.file)
    const [from, to] = audibleSpan(decoded)
    const seconds = Math.min(want, to - from)
    const start = from + (to - from - seconds) * at
    const x = await excerpt(decoded, start, seconds, rate)
    audio.push(x)
    pieces.push({ kind, file: track.file, trackId: track.trackId, startSeconds: 0, endSeconds: 0, offsetSeconds: start, excerptSeconds: x.length / rate })
    length += x.length - (audio.length > 1 ? fade : 0)
    log(`${String(pieces.length).padStart(3)} ${kind.padEnd(7)} ${path.basename(track.file)} from ${start.toFixed(1)} s for ${seconds.toFixed(1)} s`)
    if (talk && talkDraw < TALK_SHARE && length < o.seconds * rate) {
      const speech = await talkPiece(talkSeconds, talkSeed, rate, x)
      if (speech === undefined) {
        talk = false
        log('espeak-ng could not be run: no talk between the songs')
      } else {
        audio.push(speech)
        pieces.push({ kind: 'talk', file: undefined, trackId: undefined, startSeconds: 0, endSeconds: 0, offsetSeconds: 0, excerptSeconds: speech.length / rate })
        length += speech.length - fade
        log(`${String(pieces.length).padStart(3)} talk    ${talkSeconds.toFixed(1)} s`)
      }
    }
  }
  // Each piece fades in over the previous one's fade-out; the gains of the two always sum to 1.
  const samples = new Float32Array(length)
  let at = 0
  for (const [i, x] of audio.entries()) {
    const first = i === 0
    const last = i === audio.length - 1
    for (let k = 0; k < x.length; k++) {
      let g = 1
      if (!first && k < fade) g = (k + 0.5) / fade
      else if (!last && k >= x.length - fade) g = (x.length - k - 0.5) / fade
      samples[at + k] += g * x[k]
    }
    const p = pieces[i]
    p.startSeconds = first ? 0 : (at + fade / 2) / rate
    p.endSeconds = last ? length / rate : (at + x.length - fade / 2) / rate
    // The piece is heard from its fade-in's midpoint: that far into the excerpt.
    if (p.kind !== 'talk') p.offsetSeconds += p.startSeconds - at / rate
    at += x.length - fade
  }
  return { samples, sampleRate: rate, pieces, talk }
}
