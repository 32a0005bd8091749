/**
 * Decoding: an audio file's bytes in, mono float PCM at the file's own rate out, block by block, up to a limit.
 *
 * WAV, MP3, FLAC, Ogg Vorbis, Opus and friends decode in WebAssembly through `audio-decode`, so they need nothing but
 * `npm install`. Anything else goes to `ffmpeg` (audio/ffmpeg.ts) when it is on the PATH.
 *
 * Decoding streams: the bytes go to the format's stream decoder a few kilobytes at a time, each decoded block is
 * mixed to mono and handed on at once, and decoding stops as soon as the caller's limit is reached. A caller that
 * keeps only the first seconds (identify) holds only those; one that fingerprints a whole track holds one block at a
 * time. Decoding whole files first held every sample a file declared: a 555 KB FLAC of an hour of 96 kHz silence took
 * 2.8 GB (issue 10; the figures are in bench/RESULTS.md).
 */
import decodeAudio from 'audio-decode'
import audioType from 'audio-type'
import { defaults } from '../config/defaults.js'
import { earshotError, wrapError, EarshotError } from '../errors.js'
import { FfmpegDecoder, STDIN_INPUT } from './ffmpeg.js'
import { readFileBytes } from './file-bytes.js'
import { PcmFramer } from './pcm-framer.js'
import { frameBytesOf, pcmToMono, type PcmLayout } from './pcm-to-mono.js'

export interface DecodedAudio {
  /** Mono PCM in -1..1. */
  samples: Float32Array
  sampleRate: number
  durationSeconds: number
  /** The audio goes on past the limit (only its start was decoded). */
  cut: boolean
  /** Why decoding stopped early on damaged data, after the audio it gave; undefined when the data ran to its end. */
  damaged: string | undefined
}

/** Receives each decoded block: mono, at the file's rate. The block is the sink's to keep. */
export type PcmSink = (samples: Float32Array, sampleRate: number) => void

export interface DecodeSummary {
  sampleRate: number
  /** Samples handed to the sink. */
  samples: number
  cut: boolean
  damaged: string | undefined
}

/**
 * Encoded bytes handed to a decoder per call. It bounds what one call can decode: ffmpeg's FLAC of digital silence
 * holds ~700 samples a byte, so 4 KiB decodes to ~3 M samples (11 MB); CD-quality music is ~0.3 samples a byte.
 * Smaller chunks cost more calls for ordinary files, larger ones let a bomb allocate more per call.
 */
const INPUT_CHUNK = 4096

/**
 * decodeBytes holds at most maxSeconds at this rate, in samples: FLAC may declare up to 655 kHz, and the seconds
 * kept would cost 3.4 times what 192 kHz costs. A file above it keeps fewer seconds.
 */
const MAX_HELD_RATE = 192_000

/** Sample rate ffmpeg decodes to when it has to: high enough for any internal rate. */
const FFMPEG_RATE = 44100
/** What ffmpeg outputs: mono 32-bit float, so nothing is lost before the engine's own resampling. */
const FFMPEG_LAYOUT: PcmLayout = { encoding: 'f32le', channels: 1 }
const FFMPEG_FRAME_BYTES = frameBytesOf(FFMPEG_LAYOUT)

interface StreamDecoder {
  (chunk?: Uint8Array): Promise<{ channelData: Float32Array[], sampleRate: number }>
  free (): void
}

/** Average the channels into one. */
export function downmix (channels: readonly Float32Array[]): Float32Array {
  if (channels.length === 1) return channels[0]
  const n = channels[0].length
  const out = new Float32Array(n)
  const scale = 1 / channels.length
  for (const ch of channels) for (let i = 0; i < n; i++) out[i] += ch[i] * scale
  return out
}

export interface DecodeOptions {
  /** Above this sample rate, the limit counts samples as if at this rate (fewer seconds pass). */
  maxRate?: number
  /** [settings' ffmpegPath] the ffmpeg executable, for formats the in-process decoders do not know. */
  ffmpegPath?: string
  /**
   * Awaited between two pieces of input: a long decode gives the event loop its turns here, and stops when it
   * rejects (a cancelled job). Decoding a whole file otherwise runs from start to end on microtasks alone.
   */
  pace?: () => Promise<void>
}

/**
 * Decode `bytes` block by block into `sink`, stopping after `maxSeconds` of audio.
 * @param name only for messages
 */
export async function decodeStream (bytes: Uint8Array, name: string, maxSeconds: number, sink: PcmSink, options: DecodeOptions = {}): Promise<DecodeSummary> {
  if (bytes.length === 0) throw earshotError('EAR_ERR_FILE_EMPTY', name)
  const limit = { maxSeconds, maxRate: options.maxRate ?? Infinity, ffmpegPath: options.ffmpegPath ?? defaults.ffmpegPath, pace: options.pace }
  let firstError: unknown
  try {
    const summary = await decodeWasm(bytes, limit, sink)
    if (summary && summary.samples > 0) return summary
  } catch (err) {
    if (err instanceof Stopped) throw err.reason
    firstError = err
  }
  try {
    return await decodeWithFfmpeg(bytes, limit, sink)
  } catch (err) {
    if (err instanceof Stopped) throw err.reason
    if (err instanceof EarshotError) throw err
    throw wrapError('EAR_ERR_NOT_AUDIO', firstError ?? err, name)
  }
}

/** Decode bytes already in memory (an upload, a file's contents), keeping at most the first `maxSeconds`. */
export async function decodeBytes (bytes: Uint8Array, name: string, maxSeconds: number, ffmpegPath?: string): Promise<DecodedAudio> {
  const blocks: Float32Array[] = []
  const summary = await decodeStream(bytes, name, maxSeconds, (block) => { blocks.push(block) }, { maxRate: MAX_HELD_RATE, ffmpegPath })
  // One array of exactly the samples kept: a block may be a view of a larger decoder buffer.
  const samples = new Float32Array(summary.samples)
  let at = 0
  for (const b of blocks) { samples.set(b, at); at += b.length }
  return { samples, sampleRate: summary.sampleRate, durationSeconds: summary.samples / summary.sampleRate, cut: summary.cut, damaged: summary.damaged }
}

/** Decode a file, keeping at most the first `maxSeconds` (default: the longest track indexing takes). */
export async function decodeFile (file: string, maxSeconds: number = defaults.catalog.maxTrackSeconds, ffmpegPath?: string): Promise<DecodedAudio> {
  return decodeBytes(await readFileBytes(file, defaults.catalog.maxFileBytes), file, maxSeconds, ffmpegPath)
}

interface Limit { maxSeconds: number, maxRate: number, ffmpegPath: string, pace: (() => Promise<void>) | undefined }

/** The caller's pace stopped the decoding (its reason is rethrown as it is, not taken for damaged audio). */
class Stopped {
  constructor (readonly reason: unknown) {}
}

/** The caller's pace, its rejection marked as a stop. */
async function paced (limit: Limit): Promise<void> {
  if (limit.pace === undefined) return
  try { await limit.pace() } catch (err) { throw new Stopped(err) }
}

/**
 * The in-process decoders. Undefined when no decoder knows the format or it gave no audio; throws when the decoder
 * failed before giving any audio (ffmpeg gets a try then). A failure after some audio ends the stream as damaged.
 */
async function decodeWasm (bytes: Uint8Array, limit: Limit, sink: PcmSink): Promise<DecodeSummary | undefined> {
  const type = audioType(bytes)
  const open = type ? (decodeAudio as unknown as Record<string, (() => Promise<StreamDecoder>) | undefined>)[type] : undefined
  if (!open) return undefined
  const dec = await open()
  const out = new BlockLimiter(limit, sink)
  let offset = 0
  try {
    while (offset < bytes.length && !out.full) {
      const end = Math.min(bytes.length, offset + INPUT_CHUNK)
      out.push(await dec(bytes.subarray(offset, end)), end < bytes.length)
      offset = end
      await paced(limit)
    }
    if (out.full) {
      dec.free()
    } else {
      out.push(await dec(), false) // end of stream: flush and free
    }
  } catch (err) {
    dec.free()
    if (out.samples === 0 || err instanceof Stopped) throw err
    out.damaged = (err as Error).message || String(err)
  }
  return out.summary()
}

/**
 * Hands blocks on to the sink, mixed to mono, until `maxSeconds` of audio have passed; the rest of the block that
 * crosses the limit is dropped and the stream marked cut.
 */
class BlockLimiter {
  readonly #limit: Limit
  readonly #sink: PcmSink
  #max = Infinity
  sampleRate = 0
  samples = 0
  full = false
  cut = false
  damaged: string | undefined

  constructor (limit: Limit, sink: PcmSink) {
    this.#limit = limit
    this.#sink = sink
  }

  /** One block from a decoder; `more` says whether input remains after it. */
  push (block: { channelData: readonly Float32Array[], sampleRate: number }, more: boolean): void {
    if (block.channelData.length === 0 || block.channelData[0].length === 0) return
    this.setRate(block.sampleRate)
    this.pushMono(downmix(block.channelData), more)
  }

  pushMono (mono: Float32Array, more: boolean): void {
    if (this.full || mono.length === 0) return
    const room = this.#max - this.samples
    const keep = mono.length > room ? mono.subarray(0, room) : mono
    this.samples += keep.length
    if (keep.length > 0) this.#sink(keep, this.sampleRate)
    if (this.samples >= this.#max) {
      this.full = true
      this.cut = mono.length > keep.length || more
    }
  }

  setRate (rate: number): void {
    if (this.sampleRate === 0 && rate > 0) {
      this.sampleRate = rate
      this.#max = Math.round(this.#limit.maxSeconds * Math.min(rate, this.#limit.maxRate))
    }
  }

  summary (): DecodeSummary {
    return { sampleRate: this.sampleRate, samples: this.samples, cut: this.cut, damaged: this.damaged }
  }
}

/** Decode with ffmpeg to mono f32le, stopping it once `maxSeconds` have arrived; rejects when ffmpeg is missing or the bytes are not audio. */
function decodeWithFfmpeg (bytes: Uint8Array, limit: Limit, sink: PcmSink): Promise<DecodeSummary> {
  return new Promise((resolve, reject) => {
    // -t stops ffmpeg itself just past the limit, so the cut is still seen.
    const ffmpeg = new FfmpegDecoder({ ffmpegPath: limit.ffmpegPath, input: STDIN_INPUT, sampleRate: FFMPEG_RATE, encoding: FFMPEG_LAYOUT.encoding, maxSeconds: limit.maxSeconds + 1 })
    const out = new BlockLimiter(limit, sink)
    out.setRate(FFMPEG_RATE)
    let stopped: Stopped | undefined
    const framer = new PcmFramer((frames) => {
      // A block of its own: the sink keeps it, and node reuses the pipe's buffer.
      const block = new Float32Array(frames.length / FFMPEG_FRAME_BYTES)
      pcmToMono(frames, FFMPEG_LAYOUT, block)
      out.pushMono(block, true)
      if (out.full) { framer.halt(); ffmpeg.kill() }
    })
    framer.reset(FFMPEG_FRAME_BYTES)
    ffmpeg.stdout.on('data', (c: Buffer) => {
      if (stopped !== undefined) return
      if (out.full) { out.cut = true; return }
      framer.push(c)
      if (limit.pace === undefined) return
      // The caller's turn: ffmpeg waits on a full pipe meanwhile.
      ffmpeg.stdout.pause()
      paced(limit).then(() => ffmpeg.stdout.resume(), (err: Stopped) => { stopped = err; ffmpeg.kill(); ffmpeg.stdout.resume() })
    })
    ffmpeg.process.on('error', (err) => reject(new Error(ffmpeg.startFailure(err))))
    ffmpeg.process.on('close', (code, signal) => {
      if (stopped !== undefined) { reject(stopped); return }
      if (out.full) { resolve(out.summary()); return }
      if (code === 0 && out.samples === 0) {
        // ffmpeg read the container fine and found no samples in it.
        reject(earshotError('EAR_ERR_AUDIO_TOO_SHORT', '0 s of audio'))
        return
      }
      if (code !== 0) {
        reject(new Error(ffmpeg.exitFailure(code, signal)))
        return
      }
      out.cut = false
      resolve(out.summary())
    })
    ffmpeg.stdin?.end(bytes)
  })
}
