/**
 * The WAV header of a live stream: the bytes at the start of a body in, what follows the header out (the PCM
 * format and where the audio starts, a layout to hand to ffmpeg, a need for more bytes, or why it is not a WAV).
 *
 * A live WAV never knows its length, so its RIFF and `data` sizes are 0 or 0xFFFFFFFF: they are ignored, and the
 * audio is everything after the `data` chunk header. Other chunks before it (`LIST`, `fact`, `ds64` of RF64…) are
 * skipped by their sizes. Layout of the smallest header this reads (44 bytes, little-endian):
 *
 *   0  'RIFF' (or 'RF64')   4  size (ignored)   8  'WAVE'
 *   12 'fmt '  16 chunk size (16, 18 or 40)
 *   20 format tag (1 = integer PCM, 3 = IEEE float, 0xFFFE = extensible: the real tag opens the sub-format GUID at 44)
 *   22 channels  24 sample rate  28 byte rate  32 block align  34 bits per sample
 *   36 'data'  40 size (ignored)   44 audio…
 */
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, type PcmFormat } from '../../../protocol/src/index.js'

const RIFF_HEADER_BYTES = 12
const CHUNK_HEADER_BYTES = 8
const FMT_MIN_BYTES = 16
/** In an extensible fmt chunk, the sub-format GUID starts this far into the chunk; its first two bytes are the tag. */
const EXTENSIBLE_SUBFORMAT_OFFSET = 24
const EXTENSIBLE_MIN_BYTES = 40

const TAG_PCM = 1
const TAG_FLOAT = 3
const TAG_EXTENSIBLE = 0xfffe
const SIZE_UNKNOWN = 0xffffffff

export type WavHeader =
  /** The header is not complete yet: call again with more bytes. */
  | { kind: 'more' }
  /** A layout passed through as is; audio starts at `dataOffset`. */
  | { kind: 'pcm', format: PcmFormat, dataOffset: number }
  /** A valid WAV in a layout earshot does not pass through (24-bit, 5.1, µ-law…): decode it with ffmpeg. */
  | { kind: 'other', layout: string, dataOffset: number }
  /** Not a WAV header earshot can read: a one-line reason. */
  | { kind: 'bad', reason: string }

function fourcc (b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3])
}

function u16 (b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8)
}

function u32 (b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0
}

/** Whether the first 12 bytes say RIFF/RF64 ... WAVE (false while fewer than 12 bytes are there). */
export function isWavMagic (b: Uint8Array, length = b.length): boolean {
  if (length < RIFF_HEADER_BYTES) return false
  const riff = fourcc(b, 0)
  return (riff === 'RIFF' || riff === 'RF64') && fourcc(b, 8) === 'WAVE'
}

/**
 * Read the header from the first `length` bytes of `b` (the start of the body). Pure: call it again on a longer
 * prefix while it answers 'more'; the caller bounds how long the prefix may grow.
 */
export function parseWavHeader (b: Uint8Array, length = b.length): WavHeader {
  if (length < RIFF_HEADER_BYTES) return { kind: 'more' }
  if (!isWavMagic(b, length)) return { kind: 'bad', reason: 'not a WAV stream (no RIFF/WAVE header)' }
  let fmt: { format?: PcmFormat, layout: string } | undefined
  let pos = RIFF_HEADER_BYTES
  for (;;) {
    if (pos + CHUNK_HEADER_BYTES > length) return { kind: 'more' }
    const id = fourcc(b, pos)
    const size = u32(b, pos + 4)
    const body = pos + CHUNK_HEADER_BYTES
    if (id === 'data') {
      if (!fmt) return { kind: 'bad', reason: 'WAV data chunk before its fmt chunk' }
      return fmt.format
        ? { kind: 'pcm', format: fmt.format, dataOffset: body }
        : { kind: 'other', layout: fmt.layout, dataOffset: body }
    }
    if (size === SIZE_UNKNOWN) return { kind: 'bad', reason: `WAV chunk '${printable(id)}' of unknown size before the data` }
    if (id === 'fmt ') {
      if (size < FMT_MIN_BYTES) return { kind: 'bad', reason: `WAV fmt chunk of ${size} bytes (at least ${FMT_MIN_BYTES})` }
      if (body + size > length) return { kind: 'more' }
      const read = readFmt(b, body, size)
      if (typeof read === 'string') return { kind: 'bad', reason: read }
      fmt = read
    }
    pos = body + size + (size & 1) // chunks are padded to an even length
  }
}

/** The fmt chunk at `at`: a pass-through format, or another layout's description, or why it is unreadable. */
function readFmt (b: Uint8Array, at: number, size: number): { format?: PcmFormat, layout: string } | string {
  let tag = u16(b, at)
  const channels = u16(b, at + 2)
  const sampleRate = u32(b, at + 4)
  const blockAlign = u16(b, at + 12)
  const bits = u16(b, at + 14)
  if (channels === 0 || sampleRate === 0 || bits === 0 || blockAlign === 0) {
    return `WAV fmt chunk with ${channels} channels, ${sampleRate} Hz, ${bits} bits, block ${blockAlign}`
  }
  if (tag === TAG_EXTENSIBLE && size >= EXTENSIBLE_MIN_BYTES) tag = u16(b, at + EXTENSIBLE_SUBFORMAT_OFFSET)
  const layout = `format ${tag}, ${bits}-bit, ${channels} channels, ${sampleRate} Hz`
  const encoding = tag === TAG_PCM && bits === 16 ? 's16le' : tag === TAG_FLOAT && bits === 32 ? 'f32le' : undefined
  const passThrough = encoding !== undefined && (channels === 1 || channels === 2) &&
    blockAlign === channels * bits / 8 && Number.isInteger(sampleRate) &&
    // Rates a stream may carry pass through untouched; a WAV at another rate goes to ffmpeg.
    sampleRate >= MIN_SAMPLE_RATE && sampleRate <= MAX_SAMPLE_RATE
  return passThrough ? { format: { sampleRate, encoding, channels: channels as 1 | 2 }, layout } : { layout }
}

function printable (id: string): string {
  return id.replace(/[^\x20-\x7e]/g, '?')
}
