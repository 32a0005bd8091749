/**
 * `earshot identify --segments <file>`: every recognised segment of a long recording, found here on the local index
 * or by a server's identify job (--server), printed as lines, JSON or CSV.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Settings } from '../config/defaults.js'
import { earshotError } from '../errors.js'
import type { Index } from '../index/types.js'
import { segmentsToCsv, type IdentifyJob } from '../recordings/identify-jobs.js'
import { findSegments, type SegmentResult } from '../recordings/segments.js'
import { speedNote } from '../../../protocol/src/speed.js'
import { apiOptions, callApi } from './api-client.js'
import { clock, count, length } from './format.js'
import { errLine, out, outJson, outText, terminal } from './terminal-text.js'

type Values = Record<string, string | boolean | undefined>

/** A server's job is polled this often. */
const POLL_MS = 500
/** Progress lines on a terminal at most this often. */
const PROGRESS_MS = 1000

/** Progress on stderr for people at a terminal; nothing when stderr is a pipe or a file. */
function progressLine (): (audioSeconds: number, totalSeconds: number | null) => void {
  const err = terminal().stderr
  if (!err.isTTY) return () => {}
  let last = 0
  return (seconds, total) => {
    const now = Date.now()
    if (now - last < PROGRESS_MS) return
    last = now
    const share = total ? ` of ${length(total)} (${Math.floor((100 * seconds) / total)} %)` : ''
    err.write(`\rexamined ${length(seconds)}${share}   `)
  }
}

/** Segments of a recording (`file`'s bytes) on the local index, examining at most `http.maxRecordingSeconds` of it. */
export async function segmentsHere (index: Index, settings: Settings, bytes: Uint8Array, file: string): Promise<SegmentResult> {
  const show = progressLine()
  const result = await findSegments(index, settings, { bytes, name: file }, settings.http.maxRecordingSeconds, {
    onProgress: (s) => show(s, null),
  })
  if (terminal().stderr.isTTY) terminal().stderr.write('\r\x1b[K')
  return result
}

/** Segments of `file` by a server's identify job: upload, then poll until it finishes. Ctrl-C cancels the job. */
export async function segmentsOnServer (values: Values, file: string): Promise<SegmentResult> {
  let bytes: Buffer
  try { bytes = await fs.promises.readFile(file) } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw earshotError(code === 'ENOENT' ? 'EAR_ERR_FILE_NOT_FOUND' : 'EAR_ERR_NOT_AUDIO', file)
  }
  const api = apiOptions(values)
  const form = new FormData()
  form.append('audio', new Blob([bytes as Uint8Array<ArrayBuffer>]), path.basename(file))
  let job = JSON.parse((await callApi(api, 'POST', '/v1/identify-jobs', form)).text) as IdentifyJob
  const jobPath = `/v1/identify-jobs/${job.id}`
  // An interrupted command leaves no job running on the server for nobody.
  const cancel = (): void => {
    callApi(api, 'DELETE', jobPath).catch(() => {}).finally(() => process.exit(130))
  }
  process.once('SIGINT', cancel)
  try {
    const show = progressLine()
    while (job.state === 'queued' || job.state === 'running') {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      job = JSON.parse((await callApi(api, 'GET', jobPath)).text) as IdentifyJob
      show(job.audioSeconds, job.durationSeconds)
    }
  } finally {
    process.off('SIGINT', cancel)
    if (terminal().stderr.isTTY) terminal().stderr.write('\r\x1b[K')
  }
  if (job.state !== 'done') throw earshotError('EAR_ERR_API', `the identify job ${job.state}${job.error ? `: ${job.error}` : ''}`)
  return job
}

/** One line per segment for people, then what was examined. */
function printSegments (r: SegmentResult): void {
  for (const s of r.segments) {
    const speed = speedNote(s.speed)
    out(`${clock(s.startSeconds)}–${clock(s.endSeconds)}  #${s.trackId} ${s.artist ? `${s.artist} - ` : ''}${s.title}` +
      `  from ${clock(s.offsetSeconds)}, ${speed ? `${speed}, ` : ''}confidence ${s.confidence.toFixed(2)}`)
  }
  const found = r.segments.length === 0 ? 'no segment recognised' : count(r.segments.length, 'segment')
  out(`${found} in ${length(r.audioSeconds)} of audio`)
  if (r.cut) errLine(`only the first ${length(r.audioSeconds)} were examined (http.maxRecordingSeconds)`)
  if (r.damaged) errLine(`the recording is damaged after ${length(r.audioSeconds)}: ${r.damaged}`)
}

/** Print a report as asked: JSON, CSV, or lines. */
export function showSegments (r: SegmentResult, values: Values): void {
  if (values.json) outJson({ segments: r.segments, audioSeconds: r.audioSeconds, cut: r.cut, damaged: r.damaged })
  else if (values.csv) outText(segmentsToCsv(r.segments))
  else printSegments(r)
}
