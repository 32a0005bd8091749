/**
 * Index jobs of the HTTP API: a folder or file on the server's disk in, tracks in the index out, one job at a time
 * (a job uses every core); later jobs wait their turn in a bounded queue. A queued or running job can be cancelled;
 * closing cancels them all. Jobs live in memory: after a restart, run the job again — files already indexed are
 * recognised by their fingerprint digest and cost only their decoding.
 */
import { randomUUID } from 'node:crypto'
import type { Settings } from '../config/defaults.js'
import type { Index } from '../index/types.js'
import { describeError, earshotError } from '../errors.js'
import { silentLogger, type Logger } from '../log.js'
import { analyzeLimits } from './analyze-limits.js'
import { indexFiles, isTruncated } from './indexer.js'
import type { Sidecar } from './sidecar.js'
import { round } from '../round.js'

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled'

export interface IndexJob {
  id: string
  paths: string[]
  state: JobState
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  /** Files found; null until the walk is done. */
  total: number | null
  indexed: number
  present: number
  /** Files that could not be indexed, with the reason (the first MAX_SKIPPED_LISTED). */
  skipped: Array<{ file: string, reason: string }>
  /** Files that could not be indexed, all of them counted. */
  skippedCount: number
  /** Of the skipped, files refused as truncated or damaged (EAR_ERR_AUDIO_TRUNCATED): perhaps still being copied. */
  truncated: number
  /** Symbolic links met in folders and not followed. */
  symlinks: number
  audioSeconds: number
  error: string | null
  /** The metadata file applied, as given (catalog/sidecar.ts). */
  metadata?: string
}

/** Finished jobs kept for GET /v1/index-jobs/:id. */
const KEEP_FINISHED = 100
/** Skipped files listed per job at most (the count goes on). */
const MAX_SKIPPED_LISTED = 1000

function finished (job: IndexJob): boolean {
  return job.state === 'done' || job.state === 'failed' || job.state === 'cancelled'
}

function copyOf (job: IndexJob): IndexJob {
  return { ...job, paths: [...job.paths], skipped: [...job.skipped] }
}

export class IndexJobs {
  readonly #index: Index
  readonly #settings: Settings
  readonly #log: Logger
  readonly #jobs = new Map<string, IndexJob>()
  /** The metadata of each job that has a metadata file, read when it was started. */
  readonly #metadata = new Map<string, Sidecar>()
  readonly #waiting: IndexJob[] = []
  #running: { job: IndexJob, abort: AbortController, done: Promise<void> } | undefined
  #closed = false
  /** Told when a job finishes, whatever its end (metrics). */
  onFinished: ((job: IndexJob) => void) | undefined

  /** @param log the jobs' log: start, end and cancellation of each job */
  constructor (index: Index, settings: Settings, log: Logger = silentLogger) {
    this.#index = index
    this.#settings = settings
    this.#log = log
  }

  /**
   * Queue a job; throws EAR_ERR_JOB_QUEUE_FULL when `catalog.maxQueuedJobs` wait already. `metadata`: a metadata file
   * read and checked already (catalog/sidecar.ts), and its name.
   */
  start (paths: string[], metadata?: { file: string, entries: Sidecar }): IndexJob {
    if (this.#waiting.length >= this.#settings.catalog.maxQueuedJobs) throw earshotError('EAR_ERR_JOB_QUEUE_FULL', this.#settings.catalog.maxQueuedJobs)
    const job: IndexJob = {
      id: randomUUID(), paths, state: 'queued', createdAt: new Date().toISOString(), startedAt: null, finishedAt: null,
      total: null, indexed: 0, present: 0, skipped: [], skippedCount: 0, truncated: 0, symlinks: 0, audioSeconds: 0, error: null,
      ...(metadata ? { metadata: metadata.file } : {}),
    }
    if (metadata) this.#metadata.set(job.id, metadata.entries)
    this.#jobs.set(job.id, job)
    this.#forgetOld()
    if (this.#closed) this.#finish(job, 'cancelled') // the server is shutting down
    else this.#waiting.push(job)
    this.#next()
    return copyOf(job)
  }

  get (id: string): IndexJob | undefined {
    const job = this.#jobs.get(id)
    return job && copyOf(job)
  }

  /** Every job kept, oldest first. */
  list (): IndexJob[] {
    return [...this.#jobs.values()].map(copyOf)
  }

  /** Jobs waiting behind the running one (the metric earshot_index_jobs_queued; /health may report a full queue). */
  get queued (): number { return this.#waiting.length }

  /** The running job's id and start (ms since 1970), for /health to report a job running very long; undefined when idle. */
  get running (): { id: string, startedAt: number } | undefined {
    const job = this.#running?.job
    return job && { id: job.id, startedAt: Date.parse(job.startedAt ?? '') }
  }

  /**
   * Cancel a queued or running job; a running one is stopped (its workers terminated) before this resolves. Tracks
   * it wrote stay in the index. A finished job is left as it is. Undefined when no job has that id.
   */
  async cancel (id: string): Promise<IndexJob | undefined> {
    const job = this.#jobs.get(id)
    if (!job) return undefined
    if (job.state === 'queued') {
      this.#waiting.splice(this.#waiting.indexOf(job), 1)
      this.#finish(job, 'cancelled')
    } else if (this.#running?.job === job) {
      const running = this.#running
      running.abort.abort()
      await running.done
    }
    return copyOf(job)
  }

  /** Wait for queued and running jobs (tests). */
  async idle (): Promise<void> {
    while (this.#running) await this.#running.done
  }

  /** Cancel every job and refuse new ones (shutdown). */
  async close (): Promise<void> {
    this.#closed = true
    for (const job of this.#waiting.splice(0)) this.#finish(job, 'cancelled')
    const running = this.#running
    running?.abort.abort()
    await running?.done
  }

  #next (): void {
    if (this.#running || this.#closed) return
    const job = this.#waiting.shift()
    if (!job) return
    const abort = new AbortController()
    this.#running = { job, abort, done: this.#run(job, abort.signal) }
  }

  async #run (job: IndexJob, signal: AbortSignal): Promise<void> {
    job.state = 'running'
    job.startedAt = new Date().toISOString()
    this.#log.info({ job: job.id, paths: job.paths.length }, 'index job started')
    let state: JobState = 'done'
    try {
      await indexFiles(this.#index, job.paths, {
        params: this.#settings.fingerprint,
        limits: analyzeLimits(this.#settings),
        signal,
        metadata: this.#metadata.get(job.id),
        onEvent: (e) => {
          if (e.type === 'found') job.total = e.total
          else if (e.type === 'indexed') { job.indexed++; job.audioSeconds += e.audioSeconds }
          else if (e.type === 'present') job.present++
          else if (e.type === 'symlink') job.symlinks++
          else if (e.type === 'warning') this.#log.warn({ job: job.id, file: e.file }, e.message)
          else if (e.type === 'skipped') {
            job.skippedCount++
            if (isTruncated(e.reason)) job.truncated++
            if (job.skipped.length < MAX_SKIPPED_LISTED) job.skipped.push({ file: e.file, reason: e.reason })
          }
        },
      })
      // Nothing to index at all (a folder that is missing, empty, or holds no audio): the job failed, it did not finish.
      if (job.total === 0) {
        state = 'failed'
        job.error = job.skipped[0]?.reason ?? 'no audio files in the paths given'
      }
    } catch (err) {
      if (signal.aborted) {
        state = 'cancelled'
      } else {
        state = 'failed'
        job.error = describeError(err)
        this.#log.error({ job: job.id, err }, 'index job failed')
      }
    }
    this.#finish(job, state)
    this.#running = undefined
    this.#next()
  }

  #finish (job: IndexJob, state: JobState): void {
    this.#metadata.delete(job.id)
    job.state = state
    job.audioSeconds = round(job.audioSeconds, 2)
    job.finishedAt = new Date().toISOString()
    this.#log.info({ job: job.id, state, indexed: job.indexed, present: job.present, skipped: job.skippedCount, truncated: job.truncated, symlinks: job.symlinks }, `index job ${state}`)
    this.onFinished?.(job)
  }

  #forgetOld (): void {
    const done = [...this.#jobs.values()].filter(finished)
    for (const j of done.slice(0, Math.max(0, done.length - KEEP_FINISHED))) this.#jobs.delete(j.id)
  }
}
