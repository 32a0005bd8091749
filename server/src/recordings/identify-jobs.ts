/**
 * Identify jobs of the HTTP API: a long recording uploaded, its segments found in the background (segments.ts), one
 * job at a time behind a small queue. A waiting job holds its upload in memory, so the queue is short
 * (`http.maxQueuedIdentifyJobs`); the upload is let go once its job starts. Segments appear on the job as they are
 * found, so a client polling it sees them come in.
 */
import type { Settings } from '../config/defaults.js'
import type { Index } from '../index/types.js'
import { JobQueue, type Job } from '../jobs/job-queue.js'
import { silentLogger, type Logger } from '../log.js'
import { rowCells, toCsv } from '../playlog/csv.js'
import { round } from '../round.js'
import { findSegments, type Recording, type Segment } from './segments.js'

export type { Segment }

export interface IdentifyJob extends Job {
  /** The upload's file name, or what the content type named. */
  name: string
  /** Bytes uploaded. */
  bytes: number
  /** The recording's length as its headers declare it; null when they do not say. */
  durationSeconds: number | null
  /** Seconds of audio examined so far. */
  audioSeconds: number
  /** 0..1 of the audio to examine; null while its length is unknown. */
  progress: number | null
  /** Segments found so far, in order; a running job's list grows. */
  segments: Segment[]
  /** The recording goes on past `http.maxRecordingSeconds`: only its start was examined. */
  cut: boolean
  /** Why decoding stopped early on damaged data, after the audio it gave; null when it ran to its end. */
  damaged: string | null
}

/** A recording as uploaded, and its declared length. */
export interface Upload {
  recording: Recording
  name: string
  bytes: number
  durationSeconds: number | undefined
}

export class IdentifyJobs {
  readonly #queue: JobQueue<IdentifyJob, Recording>

  constructor (index: Index, settings: Settings, log: Logger = silentLogger) {
    const maxSeconds = settings.http.maxRecordingSeconds
    this.#queue = new JobQueue<IdentifyJob, Recording>({
      kind: 'identify',
      maxQueued: settings.http.maxQueuedIdentifyJobs,
      log,
      summary: (job) => ({ name: job.name, audioSeconds: job.audioSeconds, segments: job.segments.length }),
      run: async (job, recording, signal) => {
        const toExamine = job.durationSeconds === null ? null : Math.min(job.durationSeconds, maxSeconds)
        const result = await findSegments(index, settings, recording, maxSeconds, {
          signal,
          onSegment: (s) => job.segments.push(s),
          onProgress: (seconds) => {
            job.audioSeconds = round(seconds, 2)
            // Headers may declare less than there is: never past 99 % before the end.
            if (toExamine !== null && toExamine > 0) job.progress = round(Math.min(0.99, seconds / toExamine), 3)
          },
        })
        job.audioSeconds = result.audioSeconds
        job.progress = 1
        job.cut = result.cut
        job.damaged = result.damaged
      },
    })
  }

  /** Told when a job finishes, whatever its end (metrics). */
  set onFinished (f: ((job: IdentifyJob) => void) | undefined) { this.#queue.onFinished = f }

  /** Queue a recording; throws EAR_ERR_JOB_QUEUE_FULL when `http.maxQueuedIdentifyJobs` wait already. */
  start (upload: Upload): IdentifyJob {
    return this.#queue.start({
      name: upload.name,
      bytes: upload.bytes,
      durationSeconds: upload.durationSeconds === undefined ? null : round(upload.durationSeconds, 2),
      audioSeconds: 0,
      progress: upload.durationSeconds === undefined ? null : 0,
      segments: [],
      cut: false,
      damaged: null,
    }, upload.recording)
  }

  get (id: string): IdentifyJob | undefined { return this.#queue.get(id) }

  /** Every job kept, oldest first. */
  list (): IdentifyJob[] { return this.#queue.list() }

  /** Jobs waiting behind the running one. */
  get queued (): number { return this.#queue.queued }

  /** Cancel a queued or running job (stopped when this resolves); a finished one is left as it is. */
  async cancel (id: string): Promise<IdentifyJob | undefined> { return this.#queue.cancel(id) }

  /** Wait for queued and running jobs (tests). */
  async idle (): Promise<void> { return this.#queue.idle() }

  /** Cancel every job and refuse new ones (shutdown). */
  async close (): Promise<void> { return this.#queue.close() }
}

/** The columns of a segment list as CSV: where in the recording first, the track's catalog fields last (as plays have them). */
export const SEGMENT_COLUMNS = ['startSeconds', 'endSeconds', 'trackId', 'title', 'artist', 'album', 'offsetSeconds', 'confidence', 'speed', 'isrc', 'externalId', 'labels'] as const

/** A segment list as CSV (RFC 4180, a header line; labels as one JSON object): what `identify --segments --csv` and the API give. */
export function segmentsToCsv (segments: readonly Segment[]): string {
  return toCsv(SEGMENT_COLUMNS, segments.map((s) => rowCells(SEGMENT_COLUMNS, s)))
}
