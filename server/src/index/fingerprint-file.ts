/**
 * The fingerprint file: tracks' metadata and (hash, frame) pairs as a stream of records, written by
 * `earshot fingerprint` and read by `earshot import`. Layout in docs/FINGERPRINTS.md.
 *
 * Each record is a 4-byte big-endian length followed by that many bytes of msgpack (a plain map). The first record is
 * the header; every later one is a track. Hashes and frames travel as msgpack bin holding little-endian uint32s, so
 * any msgpack library can read them. Reading is incremental: one record in memory at a time, whatever the file size.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Packr, Unpackr } from 'msgpackr'
import { indexParams, type FingerprintParams } from '../config/fingerprint.js'
import type { HashList } from '../dsp/pipeline.js'
import type { NewTrack } from './types.js'
import { earshotError } from '../errors.js'
import { catalogFields } from './track-metadata.js'

export const FINGERPRINT_FORMAT = 'earshot-fingerprints'
/** Record and hash layout version; a file of another version is refused. */
export const FINGERPRINT_FILE_VERSION = 3 // 3: pairs beside triplets (2: triplets only; 1: exact peak pairs)
/** Largest record accepted (bytes): a garbled length prefix is refused instead of allocated. 256 MiB. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024

export interface FingerprintHeader {
  format: typeof FINGERPRINT_FORMAT
  version: number
  /** The index-defining fingerprint parameters (indexParams). */
  fingerprint: Record<string, unknown>
  /** ISO 8601 time the file was started. */
  createdAt: string
}

export interface FingerprintRecord {
  meta: NewTrack
  hashes: HashList
}

// Plain maps, no records or extensions: the file must stay readable by other msgpack libraries.
const packr = new Packr({ useRecords: false, moreTypes: false })
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' })

// The typed arrays are written and read as their memory, which is little-endian only on little-endian machines
// (every platform Node ships for today). Checked when a file is opened, not at load, so other commands still run.
function checkEndianness (): void {
  if (os.endianness() !== 'LE') throw new RangeError('fingerprint files need a little-endian machine')
}

/** Whether the first bytes of a file are those of a fingerprint file (the header's format string near the start). */
export function isFingerprintFile (file: string): boolean {
  const head = Buffer.alloc(64)
  let fd: number | undefined
  try {
    fd = fs.openSync(file, 'r')
    const n = fs.readSync(fd, head, 0, head.length, 0)
    return head.subarray(0, n).includes(FINGERPRINT_FORMAT)
  } catch {
    return false // a folder or an unreadable file: whoever opens it next reports why
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}

function frame (value: unknown): Buffer {
  const body = packr.pack(value)
  const out = Buffer.allocUnsafe(4 + body.length)
  out.writeUInt32BE(body.length, 0)
  body.copy(out, 4)
  return out
}

function bytesOf (a: Uint32Array, count: number): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, count * 4)
}

/** Writes a fingerprint file: the header at creation, then one record per `write`. Refuses an existing file. */
export class FingerprintWriter {
  #fd: number
  tracks = 0

  /** `file` must not exist (EAR_ERR_USAGE otherwise). */
  constructor (file: string, params: FingerprintParams) {
    checkEndianness()
    try {
      this.#fd = fs.openSync(file, 'wx') // wx: fails rather than overwrite
    } catch (err) {
      switch ((err as NodeJS.ErrnoException).code) {
        case 'EEXIST': throw earshotError('EAR_ERR_USAGE', `${file} exists; earshot fingerprint does not overwrite`)
        case 'ENOENT': throw earshotError('EAR_ERR_FILE_NOT_FOUND', path.dirname(file))
        case 'EACCES':
        case 'EPERM': throw earshotError('EAR_ERR_FILE_DENIED', file)
        default: throw err
      }
    }
    const header: FingerprintHeader = { format: FINGERPRINT_FORMAT, version: FINGERPRINT_FILE_VERSION, fingerprint: indexParams(params), createdAt: new Date().toISOString() }
    fs.writeSync(this.#fd, frame(header))
  }

  write (meta: NewTrack, list: HashList): void {
    const { title, artist, album, source, durationSeconds, digest } = meta
    // Synchronous on purpose: the record goes out before the next one is made, so memory stays at one track.
    fs.writeSync(this.#fd, frame({
      title, artist, album, source, durationSeconds, digest,
      ...catalogFields(meta),
      frameCount: list.frameCount,
      hashes: bytesOf(list.hashes, list.count),
      frames: bytesOf(list.frames, list.count),
    }))
    this.tracks++
  }

  close (): void {
    fs.closeSync(this.#fd)
  }
}

const refuse = (file: string, why: string): Error => earshotError('EAR_ERR_IMPORT', `${file}: ${why}`)

/** Reads one length-prefixed record at a time from an open file. */
class RecordReader {
  #fd: number
  #pos = 0
  #size: number
  constructor (readonly file: string) {
    checkEndianness()
    this.#fd = fs.openSync(file, 'r')
    this.#size = fs.fstatSync(this.#fd).size
  }

  /** The next record's decoded value, or undefined at the end of the file. */
  next (): unknown {
    if (this.#pos === this.#size) return undefined
    if (this.#size - this.#pos < 4) throw refuse(this.file, `truncated at byte ${this.#pos}`)
    const len = Buffer.alloc(4)
    fs.readSync(this.#fd, len, 0, 4, this.#pos)
    const n = len.readUInt32BE(0)
    if (n === 0 || n > MAX_RECORD_BYTES) throw refuse(this.file, `garbled record length ${n} at byte ${this.#pos}`)
    if (this.#pos + 4 + n > this.#size) throw refuse(this.file, `truncated at byte ${this.#size} (a record of ${n} bytes starts at ${this.#pos})`)
    const body = Buffer.allocUnsafe(n)
    fs.readSync(this.#fd, body, 0, n, this.#pos + 4)
    const at = this.#pos
    this.#pos += 4 + n
    try {
      return unpackr.unpack(body)
    } catch (err) {
      throw refuse(this.file, `garbled record at byte ${at} (${(err as Error).message})`)
    }
  }

  close (): void { fs.closeSync(this.#fd) }
}

function isMap (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype
}

/** The fingerprint parameters on which two sets differ, as `name a≠b`. */
function paramDifferences (params: FingerprintParams, header: Record<string, unknown>): string[] {
  // Query-side parameters are left out: they do not change the hashes a file holds.
  const a = indexParams(params)
  const b = indexParams(header as unknown as FingerprintParams)
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  return [...keys].filter((k) => a[k] !== b[k]).map((k) => `${k} ${String(b[k])}≠${String(a[k])}`)
}

function uint32s (file: string, name: string, v: unknown): Uint32Array {
  if (!(v instanceof Uint8Array) || v.length % 4 !== 0) throw refuse(file, `a track's ${name} is not a binary array of uint32`)
  // Copy to an aligned buffer: the record's bytes may start at any offset.
  return new Uint32Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.length))
}

function track (file: string, v: unknown): FingerprintRecord {
  if (!isMap(v)) throw refuse(file, 'a track record is not a map')
  const { title, artist, album, source, durationSeconds, digest, frameCount } = v
  for (const [k, s] of Object.entries({ title, artist, album, source, digest })) {
    if (typeof s !== 'string') throw refuse(file, `a track's ${k} is not a string`)
  }
  if (typeof durationSeconds !== 'number' || typeof frameCount !== 'number') throw refuse(file, 'a track\'s durationSeconds or frameCount is not a number')
  const hashes = uint32s(file, 'hashes', v.hashes)
  const frames = uint32s(file, 'frames', v.frames)
  if (hashes.length !== frames.length || hashes.length === 0) throw refuse(file, `track '${String(title)}' has ${hashes.length} hashes and ${frames.length} frames`)
  // Catalog fields are optional (files written before them have none); taken as written, only when of their type.
  const { isrc, externalId, labels } = v
  for (const [k, x] of Object.entries({ isrc, externalId })) {
    if (x !== undefined && typeof x !== 'string') throw refuse(file, `track '${String(title)}': its ${k} is not a string`)
  }
  if (labels !== undefined && (!isMap(labels) || Object.values(labels).some((x) => typeof x !== 'string'))) throw refuse(file, `track '${String(title)}': its labels are not a map of strings`)
  return {
    meta: { title, artist, album, source, digest, durationSeconds, ...catalogFields({ isrc, externalId, labels } as NewTrack) } as NewTrack,
    hashes: { hashes, frames, count: hashes.length, frameCount },
  }
}

/**
 * Read a fingerprint file made with `params`, record by record. Throws EAR_ERR_IMPORT (a coded error) on another
 * format or version, other fingerprint parameters, and truncated or garbled records; a caller that must not write
 * part of a bad file reads it through once with `checkFingerprintFile` first.
 */
export function * readFingerprintFile (file: string, params: FingerprintParams): Generator<FingerprintRecord> {
  const reader = new RecordReader(file)
  try {
    let header: unknown
    try { header = reader.next() } catch { throw refuse(file, `not a fingerprint file (${FINGERPRINT_FORMAT})`) }
    if (!isMap(header) || header.format !== FINGERPRINT_FORMAT) throw refuse(file, `not a fingerprint file (${FINGERPRINT_FORMAT})`)
    if (header.version !== FINGERPRINT_FILE_VERSION) throw refuse(file, `format version ${String(header.version)}; this earshot reads version ${FINGERPRINT_FILE_VERSION}: fingerprint the audio again with this earshot (hashes of another version cannot be converted)`)
    if (!isMap(header.fingerprint)) throw refuse(file, 'the header holds no fingerprint parameters')
    const diff = paramDifferences(params, header.fingerprint)
    if (diff.length > 0) throw refuse(file, `made with other fingerprint parameters than the index's (${diff.join(', ')}); fingerprint the audio again with this earshot`)
    for (let v = reader.next(); v !== undefined; v = reader.next()) yield track(file, v)
  } finally { reader.close() }
}

/** Read a whole fingerprint file without keeping it, to refuse a bad one before anything is written; returns tracks. */
export function checkFingerprintFile (file: string, params: FingerprintParams): number {
  let n = 0
  for (const _ of readFingerprintFile(file, params)) n++
  return n
}
