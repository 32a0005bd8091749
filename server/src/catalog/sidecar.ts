/**
 * Metadata files (sidecars) of `earshot index --metadata FILE` and of index jobs: a CSV or JSON file in, each named
 * file's catalog metadata out (title, artist, album, ISRC, external id, labels), read and checked whole before anything
 * is indexed, so that a bad row stops the run before it starts rather than halfway.
 *
 * CSV (the file name ends in .csv): a header line, then one row per audio file. `path` is required; the other columns
 * are optional, in any order; `label:KEY` columns give labels.
 *
 *   path,isrc,externalId,label:genre,label:mood
 *   low-tide/03 Harbour Lights.flac,US-RC1-76-07839,cat-0087,jazz,calm
 *
 * JSON (.json): an array of objects with the same fields, labels as an object:
 *
 *   [{ "path": "low-tide/03 Harbour Lights.flac", "isrc": "USRC17607839", "labels": { "genre": "jazz" } }]
 *
 * A path is relative to the metadata file's folder, or absolute, and must name a file. An empty CSV cell, or a field
 * left out, says nothing (the file's tags stand). Values are checked as an edit over the API is
 * (index/track-metadata.ts); errors are EAR_ERR_BAD_METADATA naming the line (CSV) or entry (JSON) and the column.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'
import { earshotError } from '../errors.js'
import { checkEdit, normaliseLabelKey, type MetadataEdit } from '../index/track-metadata.js'
import { fileKind, readFileBytes } from '../audio/file-bytes.js'
import { parseCsv } from '../playlog/csv.js'

/** Each file's metadata, by its resolved path (path.resolve). */
export type Sidecar = ReadonlyMap<string, MetadataEdit>

/** A metadata file larger than this is refused before it is read: 256 MiB, over a million rows. */
export const MAX_SIDECAR_BYTES = 256 * 1024 * 1024
/** Files checked for existence at once. */
const STAT_BATCH = 64

const TEXT_FIELDS = ['title', 'artist', 'album', 'isrc', 'externalId'] as const
type TextField = typeof TEXT_FIELDS[number]
const FIELDS: readonly string[] = ['path', ...TEXT_FIELDS, 'labels']

interface Entry { where: string, file: string, edit: MetadataEdit }

const bad = (why: string): Error => earshotError('EAR_ERR_BAD_METADATA', why)

/**
 * Read and check a metadata file.
 * @throws EAR_ERR_BAD_METADATA for a bad row, field or name; the file errors of a file that cannot be read
 */
export async function readSidecar (file: string): Promise<Sidecar> {
  const ext = path.extname(file).toLowerCase()
  if (ext !== '.csv' && ext !== '.json') throw bad(`${file}: a metadata file is .csv or .json`)
  const text = Buffer.from(await readFileBytes(file, MAX_SIDECAR_BYTES)).toString('utf8')
  const base = path.dirname(path.resolve(file))
  const entries = ext === '.csv' ? csvEntries(file, text) : jsonEntries(file, text)
  const out = new Map<string, MetadataEdit>()
  const seen = new Map<string, string>()
  for (const e of entries) {
    const full = path.resolve(base, e.file)
    const first = seen.get(full)
    if (first !== undefined) throw bad(`${e.where}: ${JSON.stringify(e.file)} is named already (${first})`)
    seen.set(full, e.where)
    out.set(full, checkEdit(e.edit, e.where))
  }
  // Every path must name a file: a typo found now, not as metadata that silently went nowhere.
  const list = [...seen.entries()]
  for (let i = 0; i < list.length; i += STAT_BATCH) {
    await Promise.all(list.slice(i, i + STAT_BATCH).map(async ([full, where]) => {
      let kind: string
      try {
        const stat = await fsp.stat(full)
        if (stat.isFile()) return
        kind = fileKind(stat)
      } catch {
        kind = 'no such file'
      }
      throw bad(`${where}, path: ${full}: ${kind}`)
    }))
  }
  return out
}

function csvEntries (file: string, text: string): Entry[] {
  let records
  try {
    records = parseCsv(text)
  } catch (err) {
    throw bad(`${file} ${(err as Error).message}`)
  }
  const [header, ...rows] = records
  if (header === undefined) throw bad(`${file}: empty; the first line names the columns (path, title, artist, album, isrc, externalId, label:KEY)`)
  const columns = header.cells.map((name, i) => {
    const n = name.trim()
    if (n.startsWith('label:')) return { label: normaliseLabelKey(n.slice(6), `${file} line ${header.line}, column ${i + 1}`) }
    if (n === 'path' || (TEXT_FIELDS as readonly string[]).includes(n)) return { field: n as 'path' | TextField }
    throw bad(`${file} line ${header.line}, column ${i + 1}: unknown column ${JSON.stringify(n.slice(0, 60))}; known: path, title, artist, album, isrc, externalId, label:KEY`)
  })
  const pathColumn = columns.findIndex((c) => c.field === 'path')
  if (pathColumn < 0) throw bad(`${file} line ${header.line}: no path column`)
  const names = columns.map((c) => c.field ?? `label:${c.label ?? ''}`)
  const twice = names.find((n, i) => names.indexOf(n) !== i)
  if (twice !== undefined) throw bad(`${file} line ${header.line}: the column ${twice} is there twice`)
  return rows.map(({ line, cells }) => {
    const where = `${file} line ${line}`
    if (cells.length > columns.length) throw bad(`${where}: ${cells.length} cells, but the header names ${columns.length} columns`)
    const edit: MetadataEdit = {}
    const labels: Record<string, string> = {}
    let filePath = ''
    cells.forEach((cell, i) => {
      const c = columns[i]
      if (cell.trim() === '') return // an empty cell says nothing
      if (c.field === 'path') filePath = cell
      else if (c.field !== undefined) edit[c.field] = cell
      else if (c.label !== undefined) labels[c.label] = cell
    })
    if (filePath.trim() === '') throw bad(`${where}, column ${pathColumn + 1}: the path is empty`)
    if (Object.keys(labels).length > 0) edit.labels = labels
    return { where, file: filePath, edit }
  })
}

function jsonEntries (file: string, text: string): Entry[] {
  let value: unknown
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
  } catch (err) {
    throw bad(`${file}: not JSON (${(err as Error).message})`)
  }
  if (!Array.isArray(value)) throw bad(`${file}: not a JSON array of {"path", "isrc", "externalId", "labels", ...}`)
  return value.map((v: unknown, i) => {
    const where = `${file} entry ${i + 1}`
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`${where}: not an object`)
    const o = v as Record<string, unknown>
    const unknown = Object.keys(o).find((k) => !FIELDS.includes(k))
    if (unknown !== undefined) throw bad(`${where}: unknown field ${JSON.stringify(unknown.slice(0, 60))}; known: ${FIELDS.join(', ')}`)
    if (typeof o.path !== 'string' || o.path.trim() === '') throw bad(`${where}, path: a file's path is required`)
    const edit: MetadataEdit = {}
    for (const f of TEXT_FIELDS) {
      const x = o[f]
      if (x === undefined) continue
      if (typeof x !== 'string') throw bad(`${where}, ${f}: not a string`)
      edit[f] = x
    }
    if (o.labels !== undefined) {
      const labels = o.labels
      if (typeof labels !== 'object' || labels === null || Array.isArray(labels) || Object.values(labels).some((x) => typeof x !== 'string')) {
        throw bad(`${where}, labels: not an object of strings ({"genre": "jazz"})`)
      }
      edit.labels = labels as Record<string, string>
    }
    return { where, file: o.path, edit }
  })
}
