/**
 * What analysing a file may take, as the settings give it: a module of its own so that the server's main thread,
 * which only hands limits to the analysis workers, does not load the decoders.
 */
import type { Settings } from '../config/defaults.js'

/** What analysis may take (seconds of audio, bytes of a file), and the ffmpeg that decodes what the built-in decoders do not. */
export interface AnalyzeLimits {
  maxTrackSeconds: number
  maxFileBytes: number
  ffmpegPath?: string
}

/** The limits of analysis as the settings give them. */
export function analyzeLimits (settings: Pick<Settings, 'catalog' | 'ffmpegPath'>): AnalyzeLimits {
  return { maxTrackSeconds: settings.catalog.maxTrackSeconds, maxFileBytes: settings.catalog.maxFileBytes, ffmpegPath: settings.ffmpegPath }
}

