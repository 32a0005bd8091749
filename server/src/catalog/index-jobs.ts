/**
 * Index jobs of the HTTP API: a folder or file on the server's disk in, tracks in the index out, one job at a time
 * (a job uses every core); later jobs wait their turn. Jobs live in memory: after a restart, run the job again —
 * files already indexed are recognised by their fingerprint digest and cost only their decoding.
 */
import { randomUUID } from 'node:crypto'
import type { Settings } from '../config/defaults.js'
import type { Index } from '../index/types.js'
import { describeError } from '../errors.js'
import { indexFiles } from './indexer.js'

export type JobState = 'queued' | 'running' | 'done' | 'failed'

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
  audioSeconds: number
  error: string | null
}

/** Finished jobs kept for GET /v1/index-jobs/:id. */
const KEEP_FINISHED = 100
/** Skipped files listed per job at most (the count goes on). */
const MAX_SKIPPED_LISTED = 1000

export class IndexJobs {
  readonly #index: Index
  readonly #settings: Settings
  readonly #jobs = new Map<string, IndexJob>()
  #queue: Promise<void> = Promise.resolve()
  /** Told when a job finishes (metrics). */
  onFinished: ((job: IndexJob) => void) | undefined

  constructor (index: Index, settings: Settings) {
    this.#index = index
    this.#settings = settings
  }

  start (paths: string[]): IndexJob {
    const job: IndexJob = {
      id: randomUUID(), paths, state: 'queued', createdAt: new Date().toISOString(), startedAt: null, finishedAt: null,
      total: null, indexed: 0, present: 0, skipped: [], skippedCount: 0, audioSeconds: 0, error: null,
    }
    this.#jobs.set(job.id, job)
    this.#queue = this.#queue.then(() => this.#run(job))
    this.#forgetOld()
    return job
  }

  get (id: string): IndexJob | undefined {
    const job = this.#jobs.get(id)
    return job && { ...job, skipped: [...job.skipped] }
  }

  /** Wait for queued and running jobs (shutdown, tests). */
  async idle (): Promise<void> { await this.#queue }

  async #run (job: IndexJob): Promise<void> {
    job.state = 'running'
    job.startedAt = new Date().toISOString()
    try {
      await indexFiles(this.#index, job.paths, {
        params: this.#settings.fingerprint,
        onEvent: (e) => {
          if (e.type === 'found') job.total = e.total
          else if (e.type === 'indexed') { job.indexed++; job.audioSeconds += e.audioSeconds }
          else if (e.type === 'present') job.present++
          else {
            job.skippedCount++
            if (job.skipped.length < MAX_SKIPPED_LISTED) job.skipped.push({ file: e.file, reason: e.reason })
          }
        },
      })
      job.state = 'done'
    } catch (err) {
      job.state = 'failed'
      job.error = describeError(err)
    }
    job.audioSeconds = Math.round(job.audioSeconds * 100) / 100
    job.finishedAt = new Date().toISOString()
    this.onFinished?.(job)
  }

  #forgetOld (): void {
    const finished = [...this.#jobs.values()].filter((j) => j.state === 'done' || j.state === 'failed')
    for (const j of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.#jobs.delete(j.id)
  }
}
