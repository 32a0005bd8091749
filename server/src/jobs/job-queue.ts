/**
 * Background jobs of the HTTP API (index jobs, identify jobs): one at a time, in order, behind a bounded queue. A
 * queued or running job can be cancelled; closing cancels them all. Jobs live in memory, and the last finished ones
 * are kept for their results.
 *
 * The queue knows a job's life (queued, running, done, failed or cancelled, and when); what a job does and what it
 * reports is the `run` function's, which fills the job's own fields as it goes. A job may come with an input that
 * is not part of what it reports (an upload): the queue holds it until the job starts, and lets it go then.
 */
import { randomUUID } from 'node:crypto'
import { describeError, earshotError } from '../errors.js'
import { silentLogger, type Logger } from '../log.js'

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled'

export interface Job {
  id: string
  state: JobState
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  /** Why the job failed. */
  error: string | null
}

/** A job's own fields, as `start` is given them. */
export type JobFields<J extends Job> = Omit<J, keyof Job>

export interface JobQueueOptions<J extends Job, I> {
  /** What the queue's errors and logs call its jobs: "index", "identify". */
  kind: string
  /** Jobs waiting behind the running one at most; more are refused with EAR_ERR_JOB_QUEUE_FULL. */
  maxQueued: number
  /** Does the job's work, filling its fields; resolves when done (throws: failed). `signal` aborts on cancel. */
  run: (job: J, input: I, signal: AbortSignal) => Promise<void>
  /** [100] finished jobs kept. */
  keepFinished?: number
  log?: Logger
  /** A job's fields for its log lines when it finishes. */
  summary?: (job: J) => Record<string, unknown>
}

function finished (job: Job): boolean {
  return job.state === 'done' || job.state === 'failed' || job.state === 'cancelled'
}

export class JobQueue<J extends Job, I = undefined> {
  readonly #o: Required<JobQueueOptions<J, I>>
  readonly #jobs = new Map<string, J>()
  readonly #waiting: Array<{ job: J, input: I }> = []
  #running: { job: J, abort: AbortController, done: Promise<void> } | undefined
  #closed = false
  /** Told when a job finishes, whatever its end (metrics). */
  onFinished: ((job: J) => void) | undefined

  constructor (options: JobQueueOptions<J, I>) {
    this.#o = { keepFinished: 100, log: silentLogger, summary: () => ({}), ...options }
  }

  /** Queue a job; throws EAR_ERR_JOB_QUEUE_FULL when `maxQueued` wait already. Returns a copy. */
  start (fields: JobFields<J>, input: I): J {
    if (this.#waiting.length >= this.#o.maxQueued) throw earshotError('EAR_ERR_JOB_QUEUE_FULL', this.#o.kind, this.#o.maxQueued)
    const job = { id: randomUUID(), state: 'queued', createdAt: new Date().toISOString(), startedAt: null, finishedAt: null, ...fields, error: null } as unknown as J
    this.#jobs.set(job.id, job)
    this.#forgetOld()
    if (this.#closed) this.#finish(job, 'cancelled') // the server is shutting down
    else this.#waiting.push({ job, input })
    this.#next()
    return structuredClone(job)
  }

  /** A copy of the job, or undefined when no job has that id. */
  get (id: string): J | undefined {
    const job = this.#jobs.get(id)
    return job && structuredClone(job)
  }

  /** Every job kept, oldest first. */
  list (): J[] {
    return [...this.#jobs.values()].map((j) => structuredClone(j))
  }

  /** Jobs waiting behind the running one. */
  get queued (): number { return this.#waiting.length }

  /** The running job's id and start (ms since 1970); undefined when idle. */
  get running (): { id: string, startedAt: number } | undefined {
    const job = this.#running?.job
    return job && { id: job.id, startedAt: Date.parse(job.startedAt ?? '') }
  }

  /**
   * Cancel a queued or running job; a running one has stopped when this resolves. A finished job is left as it is.
   * Undefined when no job has that id.
   */
  async cancel (id: string): Promise<J | undefined> {
    const job = this.#jobs.get(id)
    if (!job) return undefined
    if (job.state === 'queued') {
      this.#waiting.splice(this.#waiting.findIndex((w) => w.job === job), 1)
      this.#finish(job, 'cancelled')
    } else if (this.#running?.job === job) {
      const running = this.#running
      running.abort.abort()
      await running.done
    }
    return structuredClone(job)
  }

  /** Wait for queued and running jobs (tests). */
  async idle (): Promise<void> {
    while (this.#running) await this.#running.done
  }

  /** Cancel every job and refuse new ones (shutdown). */
  async close (): Promise<void> {
    this.#closed = true
    for (const { job } of this.#waiting.splice(0)) this.#finish(job, 'cancelled')
    const running = this.#running
    running?.abort.abort()
    await running?.done
  }

  #next (): void {
    if (this.#running || this.#closed) return
    const next = this.#waiting.shift()
    if (!next) return
    const abort = new AbortController()
    this.#running = { job: next.job, abort, done: this.#run(next.job, next.input, abort.signal) }
  }

  async #run (job: J, input: I, signal: AbortSignal): Promise<void> {
    job.state = 'running'
    job.startedAt = new Date().toISOString()
    this.#o.log.info({ job: job.id }, `${this.#o.kind} job started`)
    let state: JobState = 'done'
    try {
      await this.#o.run(job, input, signal)
      if (job.error !== null) state = 'failed' // the work ended without an exception, but found nothing to do
    } catch (err) {
      if (signal.aborted) {
        state = 'cancelled'
      } else {
        state = 'failed'
        job.error = describeError(err)
        this.#o.log.error({ job: job.id, err }, `${this.#o.kind} job failed`)
      }
    }
    this.#finish(job, state)
    this.#running = undefined
    this.#next()
  }

  #finish (job: J, state: JobState): void {
    job.state = state
    job.finishedAt = new Date().toISOString()
    this.#o.log.info({ job: job.id, state, ...this.#o.summary(job) }, `${this.#o.kind} job ${state}`)
    this.onFinished?.(job)
  }

  #forgetOld (): void {
    const done = [...this.#jobs.values()].filter(finished)
    for (const j of done.slice(0, Math.max(0, done.length - this.#o.keepFinished))) this.#jobs.delete(j.id)
  }
}
