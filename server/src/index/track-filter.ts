/**
 * Searching the track table: a filter in (text, ISRC, external id, label), tracks in id order out. The one search of
 * GET /v1/tracks, `earshot tracks list` and the web page.
 *
 * An ISRC or an external id is one lookup (Index.tracksWith); anything else is a scan of the track table from the
 * cursor that stops at a full page, so a page costs at most one scan.
 */
import { earshotError } from '../errors.js'
import { normaliseIsrc, normaliseLabelKey, splitLabel } from './track-metadata.js'
import type { Index, Track } from './types.js'

/** A search as the API and the CLI take it: every part optional, all given parts must hold. */
export interface TrackQuery {
  /** Text in the title, artist, album, ISRC, external id or a label (`key:value`), any case. */
  q?: string
  /** An ISRC, with or without dashes, any case. */
  isrc?: string
  /** The external id, exactly. */
  externalId?: string
  /** `key` (tracks with that label) or `key:value` (with that value, any case; `key=value` too). */
  label?: string
}

/** A checked, normalised search. */
export interface TrackFilter {
  text?: string
  isrc?: string
  externalId?: string
  label?: { key: string, value?: string }
}

/**
 * Check and normalise a search; empty parts are left out.
 * @throws EAR_ERR_BAD_METADATA for an ISRC that cannot be one or a label key of other characters
 */
export function trackFilter (q: TrackQuery): TrackFilter {
  const f: TrackFilter = {}
  const text = q.q?.trim().toLowerCase()
  if (text) f.text = text
  if (q.isrc?.trim()) f.isrc = normaliseIsrc(q.isrc.trim())
  if (q.externalId?.trim()) f.externalId = q.externalId.trim()
  if (q.label?.trim()) {
    const [rawKey, rawValue] = splitLabel(q.label.trim())
    const key = normaliseLabelKey(rawKey, 'label')
    const value = rawValue?.trim().toLowerCase()
    if (value === '') throw earshotError('EAR_ERR_BAD_METADATA', 'label: give key or key:value')
    f.label = value === undefined ? { key } : { key, value }
  }
  return f
}

/** Whether a track passes the filter. */
export function matchesFilter (t: Track, f: TrackFilter): boolean {
  if (f.isrc !== undefined && t.isrc !== f.isrc) return false
  if (f.externalId !== undefined && t.externalId !== f.externalId) return false
  if (f.label !== undefined) {
    const value = t.labels?.[f.label.key]
    if (value === undefined || (f.label.value !== undefined && value.toLowerCase() !== f.label.value)) return false
  }
  if (f.text === undefined || searchText(t).includes(f.text)) return true
  // An ISRC is often written with dashes (US-RC1-76-07839); it is stored without.
  return t.isrc !== undefined && f.text.includes('-') && t.isrc.toLowerCase().includes(f.text.replace(/-/g, ''))
}

/** What the text search looks in, lower-cased. */
function searchText (t: Track): string {
  const labels = Object.entries(t.labels ?? {}).map(([k, v]) => `${k}:${v}`)
  return [t.title, t.artist, t.album, t.isrc ?? '', t.externalId ?? '', ...labels].join('\n').toLowerCase()
}

/** Tracks passing the filter in id order, from the first id above `afterId`. */
export function * findTracks (index: Index, f: TrackFilter, afterId = 0): Generator<Track> {
  const coded = f.isrc !== undefined ? index.tracksWith('isrc', f.isrc) : f.externalId !== undefined ? index.tracksWith('externalId', f.externalId) : undefined
  for (const t of coded ?? index.listTracks(afterId)) {
    if (t.id > afterId && matchesFilter(t, f)) yield t
  }
}
