/**
 * Identify jobs: a long recording uploaded, every recognised segment found in the background (recordings/).
 *
 * A job's id is its capability: whoever uploaded the recording polls, downloads and cancels it by id, with a client
 * token; only an administrator lists every job (they hold other clients' results).
 */
import { Type } from '@sinclair/typebox'
import { readHeaders } from '../audio/tags.js'
import { defaults } from '../config/defaults.js'
import { earshotError } from '../errors.js'
import { segmentsToCsv, SEGMENT_COLUMNS } from '../recordings/identify-jobs.js'
import { audioUpload, readAudio } from './body.js'
import { answer, route } from './router.js'
import { catalogProperties, dateTime, int, nullable, num, oneOf, speed, str, uuid } from './schemas.js'

const MiB = 1024 * 1024

const Segment = Type.Object({
  startSeconds: num('Seconds into the recording where the track is first heard'),
  endSeconds: num('Seconds into the recording where it is last heard'),
  trackId: int('Track id'),
  title: str(), artist: str(), album: str(),
  ...catalogProperties,
  offsetSeconds: num('Where in the track the segment starts, in track seconds'),
  confidence: num('The highest confidence its matches reached, 0..1, rounded to 0.001', { minimum: 0, maximum: 1 }),
  speed: speed('recording'),
}, { $id: 'Segment' })

const IdentifyJob = Type.Object({
  id: str(undefined, { format: 'uuid' }),
  state: oneOf(['queued', 'running', 'done', 'failed', 'cancelled'], 'Jobs run one at a time, in order'),
  createdAt: dateTime('When it was submitted'),
  startedAt: nullable(dateTime('Null while queued')),
  finishedAt: nullable(dateTime('Null until done, failed or cancelled')),
  name: str('The uploaded file\'s name'),
  bytes: int('Bytes uploaded'),
  durationSeconds: nullable(num(), 'The recording\'s length as its headers declare it; null when they do not say'),
  audioSeconds: num('Seconds of audio examined so far'),
  progress: nullable(num(undefined, { minimum: 0, maximum: 1 }), '0..1 of the audio to examine; null while its length is unknown; 1 when done'),
  segments: Type.Array(Segment, { description: 'Every recognised segment found so far, in the order heard; a running job\'s list grows' }),
  cut: Type.Boolean({ description: `The recording goes on past http.maxRecordingSeconds (${defaults.http.maxRecordingSeconds / 3600} h): only its start was examined` }),
  damaged: nullable(str(), 'Why decoding stopped early on damaged data, after the audio it gave; null when it ran to its end'),
  error: nullable(str(), 'Why the job failed'),
}, { $id: 'IdentifyJob' })

const jobIdParams = Type.Object({ id: uuid('Identify job id') })
const JOB_NOT_FOUND = { 404: 'EAR_ERR_JOB_NOT_FOUND: unknown, forgotten (the last 100 finished jobs are kept) or from before a restart' }

export const recordingRoutes = [
  route({
    method: 'POST',
    path: '/v1/identify-jobs',
    access: 'client',
    limited: 'identify',
    bodyLimit: 'maxRecordingBytes',
    operationId: 'startIdentifyJob',
    tag: 'catalog',
    summary: 'Find every recognised segment of a long recording (an hour of air, a DJ set) in the background',
    description: 'The recording is matched as a live stream is, faster than real time: each segment is a song heard from its start to its end in the recording. ' +
      `Jobs run one at a time and live in memory; at most ${defaults.http.maxQueuedIdentifyJobs} wait (http.maxQueuedIdentifyJobs), and at most the first ` +
      `${defaults.http.maxRecordingSeconds / 3600} h of a recording are examined (http.maxRecordingSeconds). Poll the Location for progress and segments; ` +
      'an hour of MP3 takes about half a minute of one core.',
    upload: audioUpload(true, Type.Object({ audio: Type.String({ format: 'binary', description: 'The recording (the field `file`, or the first file of the form, also works)' }) })),
    responses: { 202: { description: 'Queued', json: IdentifyJob, headers: { Location: 'The job\'s path' } } },
    errors: {
      400: 'EAR_ERR_BAD_REQUEST: bad PCM parameters, a partial sample frame, NaN samples, an unreadable form or a form without a file; EAR_ERR_FILE_EMPTY: an empty body or file',
      413: `EAR_ERR_BODY_TOO_LARGE: more than ${defaults.http.maxRecordingBytes / MiB} MiB (http.maxRecordingBytes)`,
      415: 'EAR_ERR_CONTENT_TYPE: a content type not listed here',
      503: `EAR_ERR_JOB_QUEUE_FULL: ${defaults.http.maxQueuedIdentifyJobs} jobs wait already (http.maxQueuedIdentifyJobs)`,
    },
    async handle ({ services, req }) {
      const audio = await readAudio(req)
      const job = audio.kind === 'pcm'
        ? services.identifyJobs.start({
          recording: audio, name: 'upload.pcm', bytes: Number(req.header('content-length') ?? 0) || audio.samples.byteLength,
          durationSeconds: audio.samples.length / audio.sampleRate,
        })
        : services.identifyJobs.start({
          recording: { bytes: audio.bytes, name: audio.name }, name: audio.name, bytes: audio.bytes.length,
          durationSeconds: (await readHeaders(audio.bytes, audio.name)).declaredSeconds,
        })
      return answer(202, job, { location: `/v1/identify-jobs/${job.id}` })
    },
  }),
  route({
    method: 'GET',
    path: '/v1/identify-jobs',
    access: 'admin',
    operationId: 'listIdentifyJobs',
    tag: 'catalog',
    summary: 'Identify jobs kept in memory: queued, running and the last finished',
    responses: {
      200: {
        description: 'Every job kept, oldest first',
        json: Type.Object({ jobs: Type.Array(IdentifyJob, { description: 'Oldest first: queued, running and the last 100 finished' }) }, { $id: 'IdentifyJobList' }),
      },
    },
    handle: ({ services }) => answer(200, { jobs: services.identifyJobs.list() }),
  }),
  route({
    method: 'GET',
    path: '/v1/identify-jobs/:id',
    access: 'client',
    operationId: 'getIdentifyJob',
    tag: 'catalog',
    summary: 'Progress and segments of an identify job; its segments as CSV with Accept: text/csv or format=csv',
    params: jobIdParams,
    query: Type.Object({
      format: Type.Optional(str('csv: the segments as CSV (like `Accept: text/csv`); anything else: JSON', { example: 'csv' })),
    }),
    responses: {
      200: {
        description: 'The job',
        json: IdentifyJob,
        content: {
          'text/csv': str('RFC 4180, CRLF line ends, a header line, then one row per segment found so far', { example: `${SEGMENT_COLUMNS.join(',')}\r\n` }),
        },
        headers: { 'Content-Disposition': 'CSV only: `attachment; filename="segments.csv"`' },
      },
    },
    errors: JOB_NOT_FOUND,
    handle ({ services, req, params: { id }, query }) {
      const job = services.identifyJobs.get(id)
      if (!job) throw earshotError('EAR_ERR_JOB_NOT_FOUND', id)
      const csv = query.format === 'csv' || /\btext\/csv\b/.test(req.header('accept') ?? '')
      if (!csv) return answer(200, job)
      return { status: 200, type: 'text/csv; charset=utf-8', body: segmentsToCsv(job.segments), headers: { 'content-disposition': 'attachment; filename="segments.csv"' } }
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/identify-jobs/:id',
    access: 'client',
    operationId: 'cancelIdentifyJob',
    tag: 'catalog',
    summary: 'Cancel a queued or running identify job',
    description: 'A queued job leaves the queue; a running one stops before the answer, keeping the segments found so far. A finished job is left as it is: the answer shows its state.',
    params: jobIdParams,
    responses: { 200: { description: 'The job, cancelled or as it finished', json: IdentifyJob } },
    errors: JOB_NOT_FOUND,
    async handle ({ services, params: { id } }) {
      const job = await services.identifyJobs.cancel(id)
      if (!job) throw earshotError('EAR_ERR_JOB_NOT_FOUND', id)
      return answer(200, job)
    },
  }),
]
