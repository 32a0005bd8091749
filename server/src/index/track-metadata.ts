/**
 * Catalog metadata of a track beside its tags: an ISRC, the catalog's own id (`externalId`) and free key/value
 * labels. Values in (an API body, a CLI flag, a sidecar row, a tag), checked and normalised values out, and the rules
 * that merge a change into a track. Every way in goes through `checkEdit`, so a bad value is refused with the same
 * code (EAR_ERR_BAD_METADATA) and the same words wherever it comes from.
 *
 * Who wins when several say something about one field:
 *   tags  <  a sidecar or an upload's fields  <  an edit by hand (PATCH /v1/tracks/:id, earshot tracks edit)
 * A field edited by hand is listed in `editedFields` and no later indexing overwrites it. When a changed file
 * replaces its old track (catalog/indexer.ts), what a file can say (title, artist, album, ISRC) is read from it
 * again, what it cannot (external id, labels) stays with the path, and what was edited by hand stays as it was.
 */
import { earshotError } from '../errors.js'
import type { Track } from './types.js'

/** Labels a track holds at most. */
export const MAX_LABELS = 32
/** Characters of a label key at most: a letter or digit, then letters, digits, `_`, `.` or `-`; stored lower-case. */
export const MAX_LABEL_KEY = 64
/** Characters of a label value at most. */
export const MAX_LABEL_VALUE = 256
/** Characters of an external id at most. */
export const MAX_EXTERNAL_ID = 200
/** Characters of a title, artist or album at most (as uploads take them). */
export const MAX_TAG_TEXT = 500

/** An ISRC once normalised: country (2 letters), registrant (3 letters or digits), year (2 digits), number (5 digits). */
const ISRC = /^[A-Z]{2}[A-Z0-9]{3}\d{7}$/
const LABEL_KEY = /^[a-z0-9][a-z0-9_.-]*$/
const CONTROL = /\p{Cc}/u

/** The fields of a track that can be changed after indexing. */
export const EDITABLE_FIELDS = ['title', 'artist', 'album', 'isrc', 'externalId', 'labels'] as const
export type EditableField = typeof EDITABLE_FIELDS[number]

/** What the limits are, in words, for docs and schema descriptions. */
export const LIMITS_TEXT = {
  isrc: 'An ISRC: 12 characters, CC-XXX-YY-NNNNN (country, registrant, year, number); dashes and spaces are dropped and letters made upper case',
  externalId: `The catalog's own id for the track: 1 to ${MAX_EXTERNAL_ID} characters, no control characters`,
  labels: `Free labels, key to value: at most ${MAX_LABELS}; a key is 1 to ${MAX_LABEL_KEY} letters, digits, _ . or - starting with a letter or digit (stored lower-case), a value 1 to ${MAX_LABEL_VALUE} characters`,
}

/**
 * A change of a track's metadata. An absent field is left as it is; null removes an optional one. Labels merge key by
 * key (a key set to null is removed); `labels: null` removes them all. Title, artist and album cannot be removed.
 */
export interface MetadataEdit {
  title?: string
  artist?: string
  album?: string
  isrc?: string | null
  externalId?: string | null
  labels?: Record<string, string | null> | null
}

/** The catalog fields of a track as they travel with a match, a play and a webhook: only those it has. */
export type CatalogFields = Pick<Track, 'isrc' | 'externalId' | 'labels'>

/** The track's ISRC, external id and labels, only those it has (labels copied). */
export function catalogFields (t: CatalogFields): CatalogFields {
  const out: CatalogFields = {}
  if (t.isrc !== undefined) out.isrc = t.isrc
  if (t.externalId !== undefined) out.externalId = t.externalId
  if (t.labels !== undefined && Object.keys(t.labels).length > 0) out.labels = { ...t.labels }
  return out
}

function bad (where: string, why: string): Error {
  return earshotError('EAR_ERR_BAD_METADATA', where === '' ? why : `${where}: ${why}`)
}

const shown = (v: string): string => JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)

/**
 * `text` as an ISRC: dashes and spaces dropped, upper case. `where` names the value in the error (a field, a row).
 * @throws EAR_ERR_BAD_METADATA when it is not one
 */
export function normaliseIsrc (text: string, where = 'isrc'): string {
  const isrc = text.replace(/[-\s]/g, '').toUpperCase()
  if (!ISRC.test(isrc)) throw bad(where, `${shown(text)} is not an ISRC (12 characters: CC-XXX-YY-NNNNN, e.g. US-RC1-76-07839)`)
  return isrc
}

/** An ISRC as a tag holds it, or undefined with the reason when it is not one (a tag is skipped, not refused). */
export function isrcFromTag (text: string): { isrc: string } | { problem: string } {
  try {
    return { isrc: normaliseIsrc(text.trim(), 'the ISRC tag') }
  } catch (err) {
    return { problem: (err as Error).message }
  }
}

/** A label key as stored (lower case), or EAR_ERR_BAD_METADATA. */
export function normaliseLabelKey (key: string, where = 'labels'): string {
  const k = key.trim().toLowerCase()
  if (k.length === 0 || k.length > MAX_LABEL_KEY || !LABEL_KEY.test(k)) {
    throw bad(where, `the label key ${shown(key)} must be 1 to ${MAX_LABEL_KEY} letters, digits, _ . or -, starting with a letter or digit`)
  }
  return k
}

function checkText (v: string, max: number, where: string, what: string): string {
  const s = v.trim()
  if (s.length === 0) throw bad(where, `${what} must not be empty`)
  if (s.length > max) throw bad(where, `${what} is longer than ${max} characters`)
  if (CONTROL.test(s)) throw bad(where, `${what} holds a control character`)
  return s
}

/**
 * Check and normalise an edit: the ISRC's shape, the external id's and labels' lengths and characters. `where` starts
 * each error message (`tracks.csv line 3`); the field is named after it.
 * @throws EAR_ERR_BAD_METADATA
 */
export function checkEdit (edit: MetadataEdit, where = ''): MetadataEdit {
  const at = (field: string): string => where === '' ? field : `${where}, ${field}`
  const out: MetadataEdit = {}
  for (const f of ['title', 'artist', 'album'] as const) {
    const v = edit[f]
    if (v === undefined) continue
    if (v.length > MAX_TAG_TEXT) throw bad(at(f), `longer than ${MAX_TAG_TEXT} characters`)
    out[f] = v.trim()
  }
  if (edit.isrc !== undefined) out.isrc = edit.isrc === null ? null : normaliseIsrc(edit.isrc, at('isrc'))
  if (edit.externalId !== undefined) out.externalId = edit.externalId === null ? null : checkText(edit.externalId, MAX_EXTERNAL_ID, at('externalId'), 'the external id')
  if (edit.labels !== undefined) {
    if (edit.labels === null) out.labels = null
    else {
      const labels: Record<string, string | null> = {}
      const entries = Object.entries(edit.labels)
      if (entries.length > MAX_LABELS) throw bad(at('labels'), `more than ${MAX_LABELS} labels`)
      for (const [key, value] of entries) {
        const k = normaliseLabelKey(key, at('labels'))
        if (Object.hasOwn(labels, k)) throw bad(at('labels'), `the label key ${shown(k)} is given twice`)
        labels[k] = value === null ? null : checkText(value, MAX_LABEL_VALUE, at(`label ${k}`), 'the value')
      }
      out.labels = labels
    }
  }
  return out
}

type Editable = Pick<Track, EditableField | 'editedFields'>

/**
 * A copy of `track` with a checked edit applied. `byHand`: the fields the edit names join `editedFields`, so that no
 * later indexing overwrites them. Fields a hand edit has set are left alone by any other edit.
 * @throws EAR_ERR_BAD_METADATA when the labels would number more than MAX_LABELS
 */
export function applyEdit<T extends Editable> (track: T, edit: MetadataEdit, byHand: boolean): T {
  const out: T = { ...track }
  const pinned = new Set<string>(byHand ? [] : track.editedFields ?? [])
  const named: EditableField[] = []
  for (const f of EDITABLE_FIELDS) {
    const v = edit[f]
    if (v === undefined || pinned.has(f)) continue
    named.push(f)
    if (f === 'title' || f === 'artist' || f === 'album') out[f] = v as string
    else if (f === 'labels') {
      const labels: Record<string, string> = v === null ? {} : { ...out.labels }
      for (const [k, value] of Object.entries(v ?? {})) {
        if (value === null) delete labels[k]
        else labels[k] = value
      }
      if (Object.keys(labels).length > MAX_LABELS) throw bad('labels', `a track holds at most ${MAX_LABELS} labels`)
      if (Object.keys(labels).length === 0) delete out.labels
      else out.labels = sortedLabels(labels)
    } else if (v === null) delete out[f]
    else out[f] = v as string
  }
  if (byHand && named.length > 0) out.editedFields = [...new Set([...track.editedFields ?? [], ...named])].sort()
  return out
}

/**
 * A changed file's fresh metadata (`fresh`: its tags, with a sidecar's values over them) for the track that replaces
 * `old`: the external id and labels of `old` stay (a file does not hold them; the sidecar's values merge over them),
 * and every field edited by hand keeps the value it was given.
 */
export function carryOver<T extends Editable> (old: Editable, fresh: T): T {
  const out: T = { ...fresh }
  if (out.externalId === undefined && old.externalId !== undefined) out.externalId = old.externalId
  if (old.labels !== undefined) out.labels = sortedLabels({ ...old.labels, ...out.labels })
  for (const f of old.editedFields ?? []) {
    const v = old[f as EditableField]
    if (v === undefined) delete out[f as EditableField]
    else (out as Record<string, unknown>)[f] = f === 'labels' ? { ...v as Record<string, string> } : v
  }
  if (old.editedFields !== undefined) out.editedFields = [...old.editedFields]
  if (Object.keys(out.labels ?? {}).length > MAX_LABELS) throw bad('labels', `the old track's labels and the new ones together are more than ${MAX_LABELS}`)
  return out
}

/** Labels in key order: the same labels always read (and compare) the same. */
function sortedLabels (labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
}

/** Whether two tracks' editable metadata differ. */
export function metadataDiffers (a: Editable, b: Editable): boolean {
  return EDITABLE_FIELDS.some((f) => JSON.stringify(a[f] ?? null) !== JSON.stringify(b[f] ?? null)) ||
    JSON.stringify(a.editedFields ?? []) !== JSON.stringify(b.editedFields ?? [])
}

/** `KEY=VALUE` or `KEY:VALUE`, cut at the first `=` or `:` (a key holds neither); no separator: all of it is the key. */
export function splitLabel (text: string): [string, string | undefined] {
  const cut = text.search(/[=:]/)
  return cut < 0 ? [text, undefined] : [text.slice(0, cut), text.slice(cut + 1)]
}

/** Labels as people read them: `genre=jazz, mood=calm`. */
export function labelsText (labels: Record<string, string> | undefined): string {
  return Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', ')
}
