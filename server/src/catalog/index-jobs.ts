/**
 * Index jobs of the HTTP API: a folder or file on the server's disk in, tracks in the index out, one job at a time
 * (a job uses every core); later jobs wait their turn in a bounded queue. A queued or running job can be cancelled;
 * closing cancels them all. Jobs live in memory: after a restart, run the job again — files already indexed are
 * recognised by their fingerprint digest and cost only their decoding.
 */
import type { Settings } from '../config/defaults.js'
import type { Index } from '../index/types.js'
import { JobQueue, type Job } from '../jobs/job-queue.js'
import { silentLogger, type Logger } from '../log.js'
import { analyzeLimits } from './analyze-limits.js'
import { indexFiles, isTruncated } from './indexer.js'
import type { Sidecar } from './sidecar.js'
import { round } from '../round.js'

export type { JobState } from '../jobs/job-queue.js'

export interface IndexJob extends Job {
  paths: string[]
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
  /** The metadata file applied, as given (catalog/sidecar.ts). */
  metadata?: string
}

/** Skipped files listed per job at most (the count goes on). */
const MAX_SKIPPED_LISTED = 1000

export class IndexJobs {
  /** A job's input: the metadata of its metadata file, read and checked when it was started. */
  readonly #queue: JobQueue<IndexJob, Sidecar | undefined>

  /** @param log the jobs' log: start, end and cancellation of each job */
  constructor (index: Index, settings: Settings, log: Logger = silentLogger) {
    this.#queue = new JobQueue<IndexJob, Sidecar | undefined>({
      kind: 'index',
      maxQueued: settings.catalog.maxQueuedJobs,
      log,
      summary: (job) => ({ paths: job.paths.length, indexed: job.indexed, present: job.present, skipped: job.skippedCount, truncated: job.truncated, symlinks: job.symlinks }),
      run: async (job, metadata, signal) => {
        try {
          await indexFiles(index, job.paths, {
            params: settings.fingerprint,
            limits: analyzeLimits(settings),
            signal,
            metadata,
            onEvent: (e) => {
              if (e.type === 'found') job.total = e.total
              else if (e.type === 'indexed') { job.indexed++; job.audioSeconds += e.audioSeconds }
              else if (e.type === 'present') job.present++
              else if (e.type === 'symlink') job.symlinks++
              else if (e.type === 'warning') log.warn({ job: job.id, file: e.file }, e.message)
              else if (e.type === 'skipped') {
                job.skippedCount++
                if (isTruncated(e.reason)) job.truncated++
                if (job.skipped.length < MAX_SKIPPED_LISTED) job.skipped.push({ file: e.file, reason: e.reason })
              }
            },
          })
        } finally {
          job.audioSeconds = round(job.audioSeconds, 2)
        }
        // Nothing to index at all (a folder that is missing, empty, or holds no audio): the job failed, it did not finish.
        if (job.total === 0) job.error = job.skipped[0]?.reason ?? 'no audio files in the paths given'
      },
    })
  }

  /** Told when a job finishes, whatever its end (metrics). */
  set onFinished (f: ((job: IndexJob) => void) | undefined) { this.#queue.onFinished = f }

  /**
   * Queue a job; throws EAR_ERR_JOB_QUEUE_FULL when `catalog.maxQueuedJobs` wait already. `metadata`: a metadata file
   * read and checked already (catalog/sidecar.ts), and its name.
   */
  start (paths: string[], metadata?: { file: string, entries: Sidecar }): IndexJob {
    return this.#queue.start({
      paths, total: null, indexed: 0, present: 0, skipped: [], skippedCount: 0, truncated: 0, symlinks: 0, audioSeconds: 0,
      ...(metadata ? { metadata: metadata.file } : {}),
    }, metadata?.entries)
  }

  get (id: string): IndexJob | undefined { return this.#queue.get(id) }

  /** Every job kept, oldest first. */
  list (): IndexJob[] { return this.#queue.list() }

  /** Jobs waiting behind the running one (the metric earshot_index_jobs_queued; /health may report a full queue). */
  get queued (): number { return this.#queue.queued }

  /** The running job's id and start (ms since 1970), for /health to report a job running very long; undefined when idle. */
  get running (): { id: string, startedAt: number } | undefined { return this.#queue.running }

  /**
   * Cancel a queued or running job; a running one is stopped (its workers terminated) before this resolves. Tracks
   * it wrote stay in the index. A finished job is left as it is. Undefined when no job has that id.
   */
  async cancel (id: string): Promise<IndexJob | undefined> { return this.#queue.cancel(id) }

  /** Wait for queued and running jobs (tests). */
  async idle (): Promise<void> { return this.#queue.idle() }

  /** Cancel every job and refuse new ones (shutdown). */
  async close (): Promise<void> { return this.#queue.close() }
}
