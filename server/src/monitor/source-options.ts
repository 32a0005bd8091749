/**
 * The options of a SourcePuller: each with its default and the reason for it, and the one check of a caller's
 * values. Apart from the puller because its connections read them too.
 */
import type { AddressPolicy } from '../net/address-policy.js'
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from '../../../protocol/src/index.js'
import { DEFAULT_FFMPEG_PATH } from '../audio/ffmpeg.js'

export interface SourceOptions {
  /** [ffmpegPath='ffmpeg'] the ffmpeg executable, looked up on the PATH unless absolute. */
  ffmpegPath?: string
  /** [ffmpegSampleRate=11025] Hz of ffmpeg's output (mono s16le), 8000..96000. */
  ffmpegSampleRate?: number
  /** [connectTimeoutMs=10000] from the request to the response headers, redirects included. */
  connectTimeoutMs?: number
  /** [stallTimeoutMs=15000] no audio bytes for this long (from the response on) and the source counts as dropped. */
  stallTimeoutMs?: number
  /** [initialBackoffMs=1000] wait before the first retry; doubled per failed attempt in a row, ±20 % jitter. */
  initialBackoffMs?: number
  /** [maxBackoffMs=60000] the longest wait between attempts. */
  maxBackoffMs?: number
  /** [resetAfterMs=30000] listening at least this long makes the next failure wait initialBackoffMs again. */
  resetAfterMs?: number
  /** [maxHeaderBytes=65536] bytes read to sniff the body or find a WAV header's data chunk before giving up. */
  maxHeaderBytes?: number
  /** [addressPolicy=null] checks the address of every connection and redirect; null: any address. */
  addressPolicy?: AddressPolicy | null
}

export type ResolvedSourceOptions = Readonly<Required<SourceOptions>>

/** The defaults, one line each; options are spread over them. */
export const sourceDefaults: ResolvedSourceOptions = Object.freeze({
  ffmpegPath: DEFAULT_FFMPEG_PATH, // found on the PATH
  ffmpegSampleRate: 11025, // Hz: the fingerprint rate, so audio is resampled once
  connectTimeoutMs: 10_000, // a live server answers in well under a second; DNS and TLS can take a few
  stallTimeoutMs: 15_000, // longer than a slow HLS segment fetch or a stream's start-up buffering
  initialBackoffMs: 1000, // first retry after about a second
  maxBackoffMs: 60_000, // a source that is down for hours is still tried every minute
  resetAfterMs: 30_000, // half a minute of audio means the source works again
  maxHeaderBytes: 65_536, // a WAV header with a large LIST chunk still fits
  addressPolicy: null, // the server passes its own
})

/** setTimeout fires at once for longer delays (a 32-bit signed count of ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1
/** The smallest head buffer: room to sniff a body and read a minimal WAV header. */
const MIN_HEADER_BYTES = 64

/** The options over the defaults, checked. @throws TypeError or RangeError for a bad value */
export function resolveSourceOptions (options: SourceOptions): ResolvedSourceOptions {
  const o = { ...sourceDefaults }
  for (const [key, value] of Object.entries(options)) {
    if (key in sourceDefaults && value !== undefined) (o as Record<string, unknown>)[key] = value
  }
  if (typeof o.ffmpegPath !== 'string' || o.ffmpegPath === '') throw new TypeError('SourceOptions.ffmpegPath must be a non-empty string')
  const positive = ['connectTimeoutMs', 'stallTimeoutMs', 'initialBackoffMs', 'maxBackoffMs', 'resetAfterMs'] as const
  for (const key of positive) {
    const v = o[key]
    if (typeof v !== 'number' || !(v > 0 && v <= MAX_TIMER_MS)) throw new RangeError(`SourceOptions.${key} must be from 1 to ${MAX_TIMER_MS} ms, got ${String(v)}`)
  }
  if (!Number.isInteger(o.ffmpegSampleRate) || o.ffmpegSampleRate < MIN_SAMPLE_RATE || o.ffmpegSampleRate > MAX_SAMPLE_RATE) {
    throw new RangeError(`SourceOptions.ffmpegSampleRate must be an integer from ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz, got ${String(o.ffmpegSampleRate)}`)
  }
  if (!Number.isInteger(o.maxHeaderBytes) || o.maxHeaderBytes < MIN_HEADER_BYTES) {
    throw new RangeError(`SourceOptions.maxHeaderBytes must be an integer of at least ${MIN_HEADER_BYTES}, got ${String(o.maxHeaderBytes)}`)
  }
  return Object.freeze(o)
}
