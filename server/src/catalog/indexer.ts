/**
 * The indexer: files and folders in, tracks in the index out.
 *
 * Folders are walked recursively for files with audio extensions; files named directly are always tried. Decoding
 * and fingerprinting run on every core in a worker pool; the main thread writes each track in its own transaction.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import os from 'node:os'
import { Piscina } from 'piscina'
import type { FingerprintParams } from '../config/fingerprint.js'
import type { Index, Track } from '../index/types.js'
import type { Analysis } from './analyze.js'
import { describeError } from '../errors.js'
import { defaults } from '../config/defaults.js'
import { addTrackOnce, describePresent } from '../match/duplicate-finder.js'

/** Extensions taken from folders (lower case, with the dot). */
export const AUDIO_EXTENSIONS = new Set(['.wav', '.wave', '.mp3', '.flac', '.ogg', '.oga', '.opus', '.m4a', '.aac',
  '.mp4', '.aif', '.aiff', '.aifc', '.caf', '.webm', '.wma', '.amr', '.qoa', '.mka', '.wv', '.ape', '.ac3', '.dts'])

export type IndexEvent =
  | { type: 'found', total: number }
  | { type: 'indexed', file: string, track: Track, audioSeconds: number }
  | { type: 'present', file: string, track: Track, reason: string }
  | { type: 'skipped', file: string, reason: string }

export interface IndexSummary {
  indexed: number
  present: number
  skipped: number
  audioSeconds: number
  seconds: number
  /** Worker time spent decoding and fingerprinting, in seconds. */
  decodeSeconds: number
  fingerprintSeconds: number
}

/** Expand files and folders into the list of files to try, reporting what cannot be read. */
export async function collectFiles (inputs: readonly string[], onSkip: (file: string, reason: string) => void): Promise<string[]> {
  const files: string[] = []
  async function walk (dir: string): Promise<void> {
    let entries
    try {
      entries = await fs.readdir(dir, { withFileTypes: true })
    } catch (err) {
      onSkip(dir, `EAR_ERR_FILE_UNREADABLE: cannot read folder (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
      return
    }
    entries.sort((a, b) => a.name.localeCompare(b.name))
    for (const e of entries) {
      const full = path.join(dir, e.name)
      if (e.isDirectory()) await walk(full)
      else if (e.isFile() && AUDIO_EXTENSIONS.has(path.extname(e.name).toLowerCase())) files.push(full)
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
    } catch {
      onSkip(input, `EAR_ERR_FILE_NOT_FOUND: no such file or folder`)
      continue
    }
    if (stat.isDirectory()) {
      const before = files.length
      await walk(input)
      if (files.length === before) onSkip(input, 'EAR_ERR_NOT_AUDIO: no audio files in this folder')
    } else {
      files.push(input)
    }
  }
  return unique()
}

export interface IndexOptions {
  params: FingerprintParams
  /** Worker threads; default: one per core. */
  threads?: number
  /** A copy of an indexed recording matched at this confidence is not indexed again (default: identify's threshold). */
  minConfidence?: number
  onEvent?: (e: IndexEvent) => void
}

export async function indexFiles (index: Index, inputs: readonly string[], options: IndexOptions): Promise<IndexSummary> {
  const started = performance.now()
  const emit = options.onEvent ?? (() => {})
  const summary: IndexSummary = { indexed: 0, present: 0, skipped: 0, audioSeconds: 0, seconds: 0, decodeSeconds: 0, fingerprintSeconds: 0 }
  const skip = (file: string, reason: string): void => { summary.skipped++; emit({ type: 'skipped', file, reason }) }
  const files = await collectFiles(inputs, skip)
  emit({ type: 'found', total: files.length })
  if (files.length > 0) {
    const threads = Math.max(1, Math.min(options.threads ?? os.availableParallelism(), files.length))
    const pool = new Piscina({
      filename: new URL('./analyze-worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
    })
    try {
      // Keep a few tasks per thread in flight, writing results in the order they finish.
      await Promise.all(files.map(async (file) => {
        const result = await pool.run({ file, params: options.params }) as ({ ok: true } & Analysis) | { ok: false, error: string }
        if (!result.ok) { skip(file, result.error); return }
        summary.decodeSeconds += result.decodeMs / 1000
        summary.fingerprintSeconds += result.fingerprintMs / 1000
        try {
          const added = addTrackOnce(index, options.params, result.meta, result.hashes, options.minConfidence ?? defaults.minConfidence)
          const { track } = added
          if (added.added) {
            summary.indexed++
            summary.audioSeconds += track.durationSeconds
            emit({ type: 'indexed', file, track, audioSeconds: track.durationSeconds })
          } else {
            summary.present++
            emit({ type: 'present', file, track, reason: describePresent(added) })
          }
        } catch (err) {
          skip(file, describeError(err))
        }
      }))
    } finally {
      await pool.destroy()
    }
  }
  summary.seconds = (performance.now() - started) / 1000
  return summary
}
