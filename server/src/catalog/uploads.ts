/**
 * Audio that arrives over HTTP: decoded for identify, or analysed and added to the index, in one small worker pool
 * so that decoding never stalls the event loop that carries live streams.
 */
import { Piscina } from 'piscina'
import type { Settings } from '../config/defaults.js'
import type { Index, AddResult } from '../index/types.js'
import { EarshotError, errorCatalogue, type ErrorCode } from '../errors.js'
import type { Analysis } from './analyze.js'
import { analyzeLimits } from './analyze-limits.js'
import type { AnalyzeTask } from './analyze-worker.js'
import { addTrackOnce } from '../match/duplicate-finder.js'
import { applyEdit, type MetadataEdit } from '../index/track-metadata.js'

type WorkerResult<T> = ({ ok: true } & T) | { ok: false, error: string, code: string }

/** Threads of the upload pool: one, so uploads queue and leave the other cores to live streams and index jobs. */
const UPLOAD_THREADS = 1
/** An idle worker exits after this long, in ms. */
const IDLE_MS = 30_000

export interface DecodedUpload { samples: Float32Array, sampleRate: number, durationSeconds: number }

export class TrackUploads {
  readonly #index: Index
  readonly #settings: Settings
  #pool: Piscina | undefined

  constructor (index: Index, settings: Settings) {
    this.#index = index
    this.#settings = settings
  }

  /** Decode an upload to mono PCM, keeping at most the first `maxIdentifySeconds`. */
  async decode (bytes: Uint8Array, source: string): Promise<DecodedUpload> {
    return this.#run<DecodedUpload>({ mode: 'decode', bytes, source, maxSeconds: this.#settings.http.maxIdentifySeconds, ffmpegPath: this.#settings.ffmpegPath })
  }

  /**
   * Analyse an upload and add it to the index; `edit` (checked: index/track-metadata.ts checkEdit) goes over the tags
   * read from the file. `warnings`: tag values skipped (an ISRC tag that is not one).
   */
  async add (bytes: Uint8Array, source: string, edit: MetadataEdit): Promise<AddResult & { warnings: string[] }> {
    const a = await this.#run<Analysis>({ mode: 'analyze-bytes', bytes, source, params: this.#settings.fingerprint, limits: analyzeLimits(this.#settings) })
    const added = addTrackOnce(this.#index, this.#settings.fingerprint, applyEdit(a.meta, edit, false), a.hashes, this.#settings.minConfidence)
    return { ...added, warnings: a.warnings }
  }

  async close (): Promise<void> {
    const pool = this.#pool
    this.#pool = undefined
    await pool?.destroy()
  }

  async #run<T> (task: AnalyzeTask): Promise<T> {
    this.#pool ??= new Piscina({
      filename: new URL('./analyze-worker.js', import.meta.url).href,
      minThreads: 0,
      maxThreads: UPLOAD_THREADS,
      idleTimeout: IDLE_MS,
    })
    const r = await this.#pool.run(task) as WorkerResult<T>
    if (!r.ok) {
      // Rebuild the catalogued error from its code, keeping the worker's message.
      const code = (r.code in errorCatalogue ? r.code : 'EAR_ERR_INTERNAL') as ErrorCode
      const err = new EarshotError(code)
      err.message = r.error.replace(/^EAR_ERR_[A-Z_]+: /, '')
      throw err
    }
    return r
  }
}
