/**
 * Truncation: a file's bytes and the seconds its decoding gave in, the reason it looks cut short out (or undefined).
 *
 * A file indexed while half copied decodes without error to its first half; indexed silently, it would match only
 * there. The container says how long the audio should be: a WAV's data chunk size, FLAC's STREAMINFO sample count,
 * the duration an MP3's Xing/Info header or an MP4's movie header gives (read by music-metadata), and an Ogg stream's
 * last page carries the end-of-stream flag. Audio that falls short of the declared length, or an Ogg stream that
 * stops without its last page, is truncated.
 */

/** Decoded audio may fall this far short of the declared length without being truncated, in seconds and as a fraction. */
const SLACK_SECONDS = 0.5
const SLACK_FRACTION = 0.01 // encoder delay and padding, and FLAC's chunked decoder losing a few tiny frames of silence

/**
 * Why the file looks truncated, or undefined.
 * @param declaredSeconds the length music-metadata read from the headers, if any (used for containers other than WAV,
 *   where music-metadata reports what is there rather than what the header says)
 */
export function truncation (bytes: Uint8Array, decodedSeconds: number, declaredSeconds: number | undefined): string | undefined {
  if (isOgg(bytes)) return oggEnded(bytes) ? undefined : 'the Ogg stream stops before its last page'
  const declared = isWav(bytes) ? wavDeclaredSeconds(bytes) : declaredSeconds
  if (declared === undefined || !(declared > 0) || !Number.isFinite(declared)) return undefined
  if (decodedSeconds >= declared - Math.max(SLACK_SECONDS, declared * SLACK_FRACTION)) return undefined
  return `${decodedSeconds.toFixed(1)} s of audio where the header declares ${declared.toFixed(1)} s`
}

function ascii (b: Uint8Array, at: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return false
  return true
}

function isWav (b: Uint8Array): boolean { return b.length >= 12 && ascii(b, 0, 'RIFF') && ascii(b, 8, 'WAVE') }
function isOgg (b: Uint8Array): boolean { return b.length >= 4 && ascii(b, 0, 'OggS') }

/** Seconds a WAV's data chunk declares; undefined for a streamed WAV (size 0 or 0xFFFFFFFF) or a header it cannot read. */
function wavDeclaredSeconds (b: Uint8Array): number | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  let blockAlign = 0
  let rate = 0
  for (let at = 12; at + 8 <= b.length;) {
    const size = view.getUint32(at + 4, true)
    if (ascii(b, at, 'fmt ') && at + 22 <= b.length) {
      rate = view.getUint32(at + 12, true)
      blockAlign = view.getUint16(at + 20, true)
    } else if (ascii(b, at, 'data')) {
      if (size === 0 || size === 0xffffffff || blockAlign === 0 || rate === 0) return undefined
      return size / blockAlign / rate
    }
    at += 8 + size + (size & 1) // chunks are padded to an even size
  }
  return undefined
}

/** Whether the last page of an Ogg stream is whole and flagged end-of-stream (header type bit 2). */
function oggEnded (b: Uint8Array): boolean {
  // Pages are at most 65 307 bytes: the last one starts within that distance of the end.
  for (let at = b.length - 27; at >= Math.max(0, b.length - 65_307 - 27); at--) {
    if (b[at] !== 0x4f || !ascii(b, at, 'OggS') || b[at + 4] !== 0) continue
    const segments = b[at + 26]
    let end = at + 27 + segments
    if (end > b.length) return false
    for (let i = at + 27; i < at + 27 + segments; i++) end += b[i]
    return end === b.length && (b[at + 5] & 4) !== 0
  }
  return false
}
