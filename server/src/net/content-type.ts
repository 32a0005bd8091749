/**
 * Content types: the one parser of a Content-Type header, for request bodies (http/body.ts) and for the responses of
 * monitored streams (monitor/source-body.ts), and what a raw PCM type (audio/pcm, audio/L16) says about its audio.
 * Both sides take raw PCM with its format in the parameters, so both read it the same way and refuse it in the
 * same words.
 */
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, type PcmFormat } from '../../../protocol/src/index.js'

export interface ContentType { type: string, params: Record<string, string> }

/** What a raw PCM content type gives: the audio's format and byte order, or why it cannot be read. */
export type RawPcmType =
  | { format: PcmFormat, bigEndian: boolean, problem?: undefined }
  | { problem: string }

/** A parameter value as it may appear in a message: one short line (the value comes from a client or a remote server). */
const MAX_QUOTED_CHARS = 20

/** `audio/pcm; rate=44100; encoding=s16le` → { type: 'audio/pcm', params: { rate: '44100', encoding: 's16le' } } */
export function parseContentType (header: string | undefined): ContentType {
  const [type, ...rest] = (header ?? '').split(';')
  const params: Record<string, string> = {}
  for (const p of rest) {
    const eq = p.indexOf('=')
    if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1')
  }
  return { type: type.trim().toLowerCase(), params }
}

/**
 * The audio of a raw PCM type: `audio/pcm;rate=R;encoding=s16le|f32le;channels=1|2` (little-endian), or
 * `audio/L16;rate=R;channels=1|2` (16-bit big-endian, RFC 2586); undefined for any other type.
 */
export function rawPcmType (ct: ContentType): RawPcmType | undefined {
  if (ct.type !== 'audio/pcm' && ct.type !== 'audio/l16') return undefined
  const bigEndian = ct.type === 'audio/l16'
  const rate = Number(ct.params.rate)
  const channels = Number(ct.params.channels ?? '1')
  const encoding = bigEndian ? 's16le' : (ct.params.encoding ?? 's16le').toLowerCase()
  if (!Number.isInteger(rate) || rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE) {
    return { problem: `${ct.type} needs rate=${MIN_SAMPLE_RATE}..${MAX_SAMPLE_RATE} in its content type, got ${quoted(ct.params.rate ?? 'none')}` }
  }
  if (channels !== 1 && channels !== 2) return { problem: `${ct.type} with channels=${quoted(ct.params.channels)} (1 or 2 are read)` }
  if (encoding !== 's16le' && encoding !== 'f32le') return { problem: `${ct.type} with encoding=${quoted(encoding)} (s16le or f32le are read)` }
  return { format: { sampleRate: rate, encoding, channels }, bigEndian }
}

function quoted (value: string): string {
  return value.replace(/\s+/g, ' ').trim().slice(0, MAX_QUOTED_CHARS)
}
