/**
 * The indexer: files and folders in, tracks in the index out.
 *
 * Folders are walked recursively for regular files with audio extensions; symbolic links inside them are not followed
 * (a link may loop or lead out of the folder) but counted. Files named directly are always tried, through links. Only
 * regular files are read: devices, FIFOs and sockets are skipped with EAR_ERR_FILE_NOT_REGULAR. Decoding and
 * fingerprinting run on every core in a worker pool; the main thread writes each track in its own transaction. An
 * abort signal stops the walk and terminates the workers.
 *
 * A file indexed before from the same path is skipped while its size and modification time are the same. One that
 * changed is read again: the same audio (its tags edited) updates its track in place; other audio replaces its old
 * track in the transaction that stores the new one, so a file that fails to read leaves the old track as it was.
 * A metadata file (catalog/sidecar.ts) gives tracks their ISRC, external id and labels; for a file skipped as
 * unchanged, its values are applied to the track as it is. Metadata edited by hand survives both
 * (index/track-metadata.ts says who wins).
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import os from 'node:os'
import { setMaxListeners } from 'node:events'
import { Piscina } from 'piscina'
import type { FingerprintParams } from '../config/fingerprint.js'
import type { Index, NewTrack, Track } from '../index/types.js'
import type { HashList } from '../dsp/pipeline.js'
import type { Analysis } from './analyze.js'
import type { AnalyzeLimits } from './analyze-limits.js'
import { describeError, earshotError } from '../errors.js'
import { defaults } from '../config/defaults.js'
import { addTrackOnce, describePresent } from '../match/duplicate-finder.js'
import { fileError, fileKind } from '../audio/file-bytes.js'
import { applyEdit, carryOver, metadataDiffers } from '../index/track-metadata.js'
import type { Sidecar } from './sidecar.js'

/** Extensions taken from folders (lower case, with the dot). */
export const AUDIO_EXTENSIONS = new Set(['.wav', '.wave', '.mp3', '.flac', '.ogg', '.oga', '.opus', '.m4a', '.aac',
  '.mp4', '.aif', '.aiff', '.aifc', '.caf', '.webm', '.wma', '.amr', '.qoa', '.mka', '.wv', '.ape', '.ac3', '.dts'])

export type IndexEvent =
  | { type: 'found', total: number }
  /** `replaced`: the old track of a changed file, removed in the transaction that stored `track`. */
  | { type: 'indexed', file: string, track: Track, audioSeconds: number, replaced?: Track }
  /** `updated`: the track's metadata or file details were brought up to date (metadata file, tags edited in the file). */
  | { type: 'present', file: string, track: Track, reason: string, updated?: boolean }
  /** A value skipped with a reason (an ISRC tag that is not one); the file is indexed without it. */
  | { type: 'warning', file: string, message: string }
  /** A track handed to `IndexOptions.keep` instead of the index. */
  | { type: 'kept', file: string, meta: NewTrack }
  /** `reason` starts with its code: `EAR_ERR_…: message`. */
  | { type: 'skipped', file: string, reason: string }
  | { type: 'symlink', file: string }

export interface IndexSummary {
  indexed: number
  /** Of the indexed, changed files whose new track replaced the old one. */
  replaced: number
  present: number
  /** Of the present, tracks whose metadata or file details were brought up to date. */
  updated: number
  /** Values skipped with a warning (IndexEvent 'warning'). */
  warnings: number
  skipped: number
  /** Of the skipped, files refused as truncated or damaged (EAR_ERR_AUDIO_TRUNCATED). */
  truncated: number
  /** Symbolic links met in folders and not followed. */
  symlinks: number
  audioSeconds: number
  seconds: number
  /** Worker time spent decoding and fingerprinting, in seconds. */
  decodeSeconds: number
  fingerprintSeconds: number
}

/** What the walk reports besides the files it finds. */
export interface WalkSink {
  skip (file: string, reason: string): void
  symlink (file: string): void
}

/**
 * Expand files and folders into the list of files to try, reporting what cannot be read. In folders, only files with
 * one of `extensions` (lower case, with the dot) are taken; files named directly are always tried.
 */
export async function collectFiles (inputs: readonly string[], sink: WalkSink, signal?: AbortSignal, extensions: ReadonlySet<string> = AUDIO_EXTENSIONS): Promise<string[]> {
  const files: string[] = []
  const skipError = (file: string, err: unknown): void => sink.skip(file, describeError(fileError(err, file)))
  async function walk (dir: string): Promise<void> {
    signal?.throwIfAborted()
    let entries
    try {
      entries = await fs.readdir(dir, { withFileTypes: true })
    } catch (err) {
      skipError(dir, err)
      return
    }
    entries.sort((a, b) => a.name.localeCompare(b.name))
    for (const e of entries) {
      const full = path.join(dir, e.name)
      // Dirent types come from the folder listing (lstat-like): a link is a link, whatever it points to.
      if (e.isSymbolicLink()) sink.symlink(full)
      else if (e.isDirectory()) await walk(full)
      else if (!extensions.has(path.extname(e.name).toLowerCase())) continue
      else if (e.isFile()) files.push(full)
      else sink.skip(full, describeError(earshotError('EAR_ERR_FILE_NOT_REGULAR', full, 'a FIFO, socket or device')))
    }
  }
  const unique = (): string[] => {
    // A file named twice (directly and inside a named folder) is tried once.
    const seen = new Set<string>()
    return files.filter((f) => { const r = path.resolve(f); if (seen.has(r)) return false; seen.add(r); return true })
  }
  for (const input of inputs) {
    let stat
    try {
      stat = await fs.stat(input)
    } catch (err) {
      skipError(input, err)
      continue
    }
    if (stat.isDirectory()) {
      const before = files.length
      await walk(input)
      if (files.length === before) sink.skip(input, 'EAR_ERR_NOT_AUDIO: no audio files in this folder')
    } else if (stat.isFile()) {
      files.push(input)
    } else {
      sink.skip(input, describeError(earshotError('EAR_ERR_FILE_NOT_REGULAR', input, fileKind(stat))))
    }
  }
  return unique()
}

/** Whether a skip reason is EAR_ERR_AUDIO_TRUNCATED (summaries count them apart: a file may still be copying). */
export function isTruncated (reason: string): boolean {
  return reason.startsWith('EAR_ERR_AUDIO_TRUNCATED:')
}

export interface IndexOptions {
  params: FingerprintParams
  limits: AnalyzeLimits
  /** Worker threads; default: one per core. */
  threads?: number
  /** A copy of an indexed recording matched at this confidence is not indexed again (default: identify's threshold). */
  minConfidence?: number
  onEvent?: (e: IndexEvent) => void
  /** Stops the walk and the workers; indexFiles then rejects with the signal's reason. Tracks written stay. */
  signal?: AbortSignal
  /**
   * Where analysed tracks go instead of an index (earshot fingerprint writes them to a file); counted as indexed.
   * Called on the main thread, one track at a time.
   */
  keep?: (meta: NewTrack, hashes: HashList, file: string) => void
  /** Extensions taken from folders (lower case, with the dot); default AUDIO_EXTENSIONS. */
  extensions?: ReadonlySet<string>
  /** Files' catalog metadata from a metadata file (catalog/sidecar.ts), by resolved path; over the files' tags. */
  metadata?: Sidecar
  /**
   * Write through the index's bulk path: sorted runs straight into segments, each run one transaction. Much faster
   * for big folders; a copy of a recording is then recognised only against runs already written, not within its own.
   */
  bulk?: boolean
}

/** Analyse files and folders into `index`, or into `options.keep` when it is set (then `index` may be undefined). */
export async function indexFiles (index: Index | undefined, inputs: readonly string[], options: IndexOptions): Promise<IndexSummary> {
  if (index === undefined && options.keep === undefined) throw new TypeError('indexFiles needs an index or options.keep')
  const started = performance.now()
  const emit = options.onEvent ?? (() => {})
  const summary: IndexSummary = { indexed: 0, replaced: 0, present: 0, updated: 0, warnings: 0, skipped: 0, truncated: 0, symlinks: 0, audioSeconds: 0, seconds: 0, decodeSeconds: 0, fingerprintSeconds: 0 }
  const skip = (file: string, reason: string): void => {
    summary.skipped++
    if (isTruncated(reason)) summary.truncated++
    emit({ type: 'skipped', file, reason })
  }
  const symlink = (file: string): void => { summary.symlinks++; emit({ type: 'symlink', file }) }
  const { signal } = options
  const files = await collectFiles(inputs, { skip, symlink }, signal, options.extensions)
  emit({ type: 'found', total: files.length })
  // Files indexed before, by path: one unchanged since (same size and modification time) is not decoded again.
  const known = new Map<string, Track>()
  if (index !== undefined && options.keep === undefined && files.length > 0) {
    for (const t of index.listTracks()) if (t.fileBytes !== undefined) known.set(path.resolve(t.source), t)
  }
  if (files.length > 0) {
    const threads = Math.max(1, Math.min(options.threads ?? os.availableParallelism(), files.length))
    const pool = new Piscina({
      filename: new URL('./analyze-worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
    })
    const bulk = options.bulk === true && index?.bulkWriter ? index.bulkWriter() : undefined
    const minConfidence = options.minConfidence ?? defaults.minConfidence
    /** Add a track unless its audio is there already; `replaced`: the changed file's old track it replaces. */
    const add = (meta: NewTrack, hashes: HashList, file: string, replaced?: Track): void => {
      const added = addTrackOnce(index!, options.params, meta, hashes, minConfidence, { bulk, replaces: replaced?.id })
      const { track } = added
      if (added.added) {
        summary.indexed++
        if (replaced) summary.replaced++
        summary.audioSeconds += track.durationSeconds
        emit({ type: 'indexed', file, track, audioSeconds: track.durationSeconds, ...(replaced ? { replaced } : {}) })
      } else {
        // Held by another track already: the old track of a changed file stays (it is what this path was).
        summary.present++
        emit({ type: 'present', file, track, reason: describePresent(added) })
      }
    }
    /**
     * A changed file (same path, another size or time) read again: the same audio updates its track in place (its tags
     * may have been edited), other audio replaces it. `meta` is what the old track's row becomes (carryOver).
     */
    const replaceChanged = (index: Index, before: Track, meta: NewTrack, hashes: HashList, file: string): void => {
      if (meta.digest !== before.digest) return add(meta, hashes, file, before)
      // The whole row anew, as a new track would be: a field the file no longer says is gone.
      const track = index.updateTrack(before.id, (t) => ({ id: t.id, indexedAt: t.indexedAt, hashCount: t.hashCount, frameCount: t.frameCount, ...meta })) ?? before
      summary.present++
      summary.updated++
      emit({ type: 'present', file, track, reason: 'the same audio as when it was indexed; its tags and file details are read again', updated: true })
    }
    // Every queued task listens to the signal (piscina terminates the worker of a running one on abort).
    if (signal) setMaxListeners(files.length + 10, signal)
    try {
      // Keep a few tasks per thread in flight, writing results in the order they finish.
      await Promise.all(files.map(async (file) => {
        let stat: { size: number, mtime: Date } | undefined
        try { stat = await fs.stat(file) } catch {} // the worker's read says why, if it fails too
        const edit = options.metadata?.get(path.resolve(file)) ?? {}
        const before = known.get(path.resolve(file))
        if (before !== undefined && stat !== undefined && before.fileBytes === stat.size && before.fileModified === stat.mtime.toISOString()) {
          // Not read again; what the metadata file says of it still applies (fields edited by hand are kept). A
          // write only when it changes something: indexing a big folder again costs no transaction per file.
          let track = before
          try {
            if (metadataDiffers(before, applyEdit(before, edit, false))) track = index!.updateTrack(before.id, (t) => applyEdit(t, edit, false)) ?? before
          } catch (err) {
            skip(file, describeError(err))
            return
          }
          const updated = track !== before
          summary.present++
          if (updated) summary.updated++
          emit({ type: 'present', file, track, reason: `unchanged since it was indexed (the same path, size and modification time)${updated ? '; its metadata is updated' : ''}`, updated })
          return
        }
        const result = await pool.run({ file, params: options.params, limits: options.limits }, { signal }) as ({ ok: true } & Analysis) | { ok: false, error: string }
        signal?.throwIfAborted()
        if (!result.ok) { skip(file, result.error); return }
        if (stat !== undefined && options.keep === undefined) Object.assign(result.meta, { fileBytes: stat.size, fileModified: stat.mtime.toISOString() })
        summary.decodeSeconds += result.decodeMs / 1000
        summary.fingerprintSeconds += result.fingerprintMs / 1000
        for (const message of result.warnings) { summary.warnings++; emit({ type: 'warning', file, message }) }
        try {
          const meta = applyEdit(result.meta, edit, false)
          if (options.keep) {
            options.keep(meta, result.hashes, file)
            summary.indexed++
            summary.audioSeconds += meta.durationSeconds
            emit({ type: 'kept', file, meta })
            return
          }
          if (before !== undefined) replaceChanged(index!, before, carryOver(before, meta), result.hashes, file)
          else add(meta, result.hashes, file)
        } catch (err) {
          skip(file, describeError(err))
        }
      }))
    } finally {
      // What was analysed is written, even when the walk stopped early.
      try { bulk?.finish() } finally { await pool.destroy() }
    }
  }
  summary.seconds = (performance.now() - started) / 1000
  return summary
}
