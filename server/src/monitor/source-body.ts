/**
 * What a monitored stream's response body is, and so who reads it: from its content type, the URL's path, its
 * headers and its first bytes. Apart from the connection so that the rules can be read (and changed) in one place:
 *
 *   audio/wav (or a body opening RIFF....WAVE)  the header is read from the stream; 16-bit integer or 32-bit float,
 *                                               1 or 2 channels at 8000..96000 Hz pass through; any other WAV goes
 *                                               to ffmpeg
 *   audio/pcm;rate=R;encoding=E;channels=C      raw, passed through
 *   audio/L16;rate=R;channels=C                 raw big-endian, swapped to little-endian
 *   HLS (a playlist type, a path ending .m3u8   the response is closed and ffmpeg reads the URL itself
 *   or a body opening #EXTM3U)
 *   anything else (MP3, AAC, Ogg…)              the body is piped into ffmpeg's stdin; no second request
 */
import type http from 'node:http'
import type { PcmFormat } from '../../../protocol/src/index.js'
import { parseContentType, rawPcmType } from '../net/content-type.js'
import { isWavMagic } from './wav-header.js'

export type BodyKind =
  | { kind: 'raw', format: PcmFormat, bigEndian: boolean }
  | { kind: 'wav' | 'hls' }
  /** Unknown from the headers: its first bytes tell (sniffBody). */
  | { kind: 'sniff' }
  | { kind: 'bad', reason: string }

/** What the first bytes of a body say: not enough yet, a playlist, a WAV, or anything else (ffmpeg's to decode). */
export type Sniffed = 'more' | 'hls' | 'wav' | 'other'

/** Bytes needed to tell a WAV (RIFF....WAVE) or a playlist (#EXTM3U) from anything else. */
const SNIFF_BYTES = 12
const HLS_MAGIC = '#EXTM3U'
const HLS_TYPES = new Set(['application/vnd.apple.mpegurl', 'application/x-mpegurl', 'audio/mpegurl', 'audio/x-mpegurl'])
const WAV_TYPES = new Set(['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave'])

/** What to do with a response body, from its content type and the URL's path. */
export function classifyBody (contentType: string | undefined, pathname: string): BodyKind {
  const ct = parseContentType(contentType)
  if (HLS_TYPES.has(ct.type) || pathname.toLowerCase().endsWith('.m3u8')) return { kind: 'hls' }
  if (WAV_TYPES.has(ct.type)) return { kind: 'wav' }
  const pcm = rawPcmType(ct)
  if (pcm === undefined) return { kind: 'sniff' }
  if (pcm.problem !== undefined) return { kind: 'bad', reason: pcm.problem }
  return { kind: 'raw', format: pcm.format, bigEndian: pcm.bigEndian }
}

/** What the first `length` bytes of a body of kind 'sniff' say it is. */
export function sniffBody (head: Buffer, length: number): Sniffed {
  if (length < SNIFF_BYTES) return 'more'
  if (head.toString('latin1', 0, HLS_MAGIC.length) === HLS_MAGIC) return 'hls'
  return isWavMagic(head, length) ? 'wav' : 'other'
}

/**
 * Whether a response is a finite source, a file on a web server rather than a live stream: a known length, not
 * SHOUTcast/Icecast (no `icy-*` header), not HLS. Such a source is read at real-time pace and finished at its end.
 */
export function isFiniteSource (headers: http.IncomingHttpHeaders, body: BodyKind): boolean {
  if (body.kind === 'hls' || headers['content-length'] === undefined) return false
  return !Object.keys(headers).some((name) => name.startsWith('icy-'))
}
