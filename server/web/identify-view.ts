/**
 * The Identify panel: a file dropped on the zone or picked with the button goes to POST /v1/identify; the matches
 * come back best first, each with its confidence. A long recording (the box ticked) goes to POST /v1/identify-jobs
 * instead: the job is polled, and every song found is shown on a timeline of the recording and listed as it comes.
 */
import { api, ApiError, authHeaders, describe, upload } from './api.js'
import { byId, clock, el, length, percent, saveFile, setAlert } from './dom.js'
import { speedNote } from '../../protocol/src/speed.js'

interface IdentifyMatch { id: number, title: string, artist: string, album: string, confidence: number, offsetSeconds: number, speed: number }
interface IdentifyResult { matches: IdentifyMatch[], queryDurationMs: number, processingTimeMs: number }
interface Segment { startSeconds: number, endSeconds: number, trackId: number, title: string, artist: string, album: string, offsetSeconds: number, confidence: number, speed: number }
interface IdentifyJob {
  id: string
  state: 'queued' | 'running' | 'done' | 'failed' | 'cancelled'
  durationSeconds: number | null
  audioSeconds: number
  progress: number | null
  segments: Segment[]
  cut: boolean
  damaged: string | null
  error: string | null
}

/** A running job is asked for its news this often. */
const POLL_MS = 1000

export class IdentifyView {
  readonly #zone = byId('drop-zone')
  readonly #input = byId<HTMLInputElement>('identify-file')
  readonly #long = byId<HTMLInputElement>('identify-long')
  readonly #status = byId('identify-status')
  readonly #progress = byId<HTMLProgressElement>('identify-progress')
  readonly #results = byId<HTMLOListElement>('identify-results')
  readonly #timeline = byId('identify-timeline')
  readonly #bar = byId('identify-timeline-bar')
  readonly #end = byId('identify-timeline-end')
  readonly #segments = byId<HTMLOListElement>('identify-segments')
  readonly #csv = byId<HTMLButtonElement>('identify-csv')
  #busy = false
  /** The job whose segments are shown, for the CSV button. */
  #job: { id: string, name: string } | undefined

  constructor () {
    this.#input.addEventListener('change', () => {
      const file = this.#input.files?.[0]
      if (file) void this.identify(file)
      this.#input.value = '' // the same file again is a new request
    })
    // Drops are taken on the whole zone; dragover must be cancelled for drop to fire.
    this.#zone.addEventListener('dragover', (e) => { e.preventDefault(); this.#zone.classList.add('dragging') })
    this.#zone.addEventListener('dragleave', () => this.#zone.classList.remove('dragging'))
    this.#zone.addEventListener('drop', (e) => {
      e.preventDefault()
      this.#zone.classList.remove('dragging')
      const file = e.dataTransfer?.files[0]
      if (file) void this.identify(file)
    })
    this.#csv.addEventListener('click', () => { void this.#downloadCsv() })
    const hint = byId('identify-hint')
    const clipHint = hint.textContent
    this.#long.addEventListener('change', () => {
      hint.textContent = this.#long.checked ? 'Every song in it is listed with where it starts and ends; an hour of MP3 takes about half a minute.' : clipHint
    })
  }

  async identify (file: File): Promise<void> {
    if (this.#busy) return
    this.#busy = true
    this.#results.replaceChildren()
    this.#timeline.hidden = true
    setAlert('identify-alert', '')
    try {
      if (this.#long.checked) await this.#recording(file)
      else await this.#clip(file)
    } catch (err) {
      this.#status.textContent = ''
      setAlert('identify-alert', `${file.name}: ${describe(err)}`)
    } finally {
      this.#progress.hidden = true
      this.#busy = false
    }
  }

  async #clip (file: File): Promise<void> {
    this.#status.textContent = `Identifying ${file.name}…`
    const form = new FormData()
    form.append('audio', file, file.name)
    const r = await api<IdentifyResult>('/v1/identify', { method: 'POST', body: form })
    if (r.matches.length === 0) {
      this.#status.textContent = `No match for ${file.name}: nothing in the catalog sounds like it.`
      return
    }
    this.#status.textContent = `${file.name}: ${r.matches.length === 1 ? 'one match' : `${r.matches.length} matches`}, best first (${(r.queryDurationMs / 1000).toFixed(1)} s examined).`
    for (const m of r.matches) this.#results.append(matchItem(m))
  }

  /** Upload a long recording as an identify job, then follow it until it ends, drawing its segments as they come. */
  async #recording (file: File): Promise<void> {
    const form = new FormData()
    form.append('audio', file, file.name)
    this.#progress.hidden = false
    this.#progress.value = 0
    this.#status.textContent = `Sending ${file.name}…`
    const { body } = await upload<IdentifyJob>('/v1/identify-jobs', form, (p) => {
      this.#progress.value = p.sent ? 0 : p.loaded / p.total
      if (p.sent) this.#status.textContent = `${file.name}: waiting for the server…`
    })
    let job = body
    this.#job = { id: job.id, name: file.name }
    for (;;) {
      this.#show(job, file.name)
      if (job.state !== 'queued' && job.state !== 'running') break
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      job = await api<IdentifyJob>(`/v1/identify-jobs/${job.id}`)
    }
    if (job.state === 'failed') throw new ApiError(0, 'EAR_ERR_JOB', job.error ?? 'The job failed')
    if (job.state === 'cancelled') throw new ApiError(0, 'EAR_ERR_JOB', 'The job was cancelled')
  }

  #show (job: IdentifyJob, name: string): void {
    const found = job.segments.length === 0 ? 'no song yet' : job.segments.length === 1 ? 'one song' : `${job.segments.length} songs`
    if (job.state === 'queued') this.#status.textContent = `${name}: waiting for the jobs before it…`
    else if (job.state === 'running') this.#status.textContent = `${name}: ${length(job.audioSeconds)} examined${job.durationSeconds ? ` of ${length(job.durationSeconds)}` : ''}, ${found}…`
    else if (job.state === 'done') {
      const songs = job.segments.length === 0 ? 'no song recognised' : found
      this.#status.textContent = `${name}: ${songs} in ${length(job.audioSeconds)}${job.cut ? ' (only the start was examined: the recording is longer than the server examines)' : ''}.`
    }
    if (job.progress !== null) this.#progress.value = job.progress
    else this.#progress.removeAttribute('value') // an indeterminate bar while the length is unknown
    this.#draw(job)
  }

  /** The timeline (each segment a block at its place) and the list below it. */
  #draw (job: IdentifyJob): void {
    const total = Math.max(job.durationSeconds ?? 0, job.audioSeconds, ...job.segments.map((s) => s.endSeconds), 1)
    this.#timeline.hidden = job.segments.length === 0 && job.state !== 'done'
    this.#end.textContent = length(total)
    this.#bar.setAttribute('aria-label', `${job.segments.length} songs over ${length(total)}`)
    // Each block carries the number of its line in the list below.
    this.#bar.replaceChildren(...job.segments.map((s, i) => {
      const block = el('span', { class: 'seg', title: `${clock(s.startSeconds)}–${clock(s.endSeconds)} ${s.title}${s.artist ? ` — ${s.artist}` : ''}` }, String(i + 1))
      block.style.left = `${(100 * s.startSeconds) / total}%`
      block.style.width = `${(100 * (s.endSeconds - s.startSeconds)) / total}%`
      return block
    }))
    this.#segments.replaceChildren(...job.segments.map(segmentItem))
    this.#csv.hidden = job.segments.length === 0
  }

  async #downloadCsv (): Promise<void> {
    const job = this.#job
    if (!job) return
    try {
      const res = await fetch(`/v1/identify-jobs/${job.id}?format=csv`, { headers: authHeaders() })
      if (!res.ok) throw new ApiError(res.status, 'EAR_ERR_HTTP', `The server answered ${res.status}`)
      saveFile(`segments-${job.name.replace(/\.[^.]*$/, '').replace(/[^\p{L}\p{N}._-]+/gu, '-')}.csv`, await res.blob())
    } catch (err) {
      setAlert('identify-alert', `Could not download the segments: ${describe(err)}`)
    }
  }
}

function matchItem (m: IdentifyMatch): HTMLLIElement {
  const label = `Confidence for ${m.title}`
  const speed = speedNote(m.speed)
  return el('li', { 'data-track-id': m.id },
    el('strong', {}, m.title), m.artist ? ` — ${m.artist}` : '', m.album ? el('span', { class: 'muted' }, ` (${m.album})`) : null,
    el('div', { class: 'muted small' }, `at ${clock(m.offsetSeconds)} in the track${speed ? `, ${speed}` : ''}`),
    el('div', { class: 'confidence' },
      el('progress', { max: 1, value: m.confidence, 'aria-label': label }),
      el('span', {}, percent(m.confidence))))
}

function segmentItem (s: Segment): HTMLLIElement {
  const speed = speedNote(s.speed)
  return el('li', { 'data-track-id': s.trackId },
    el('span', { class: 'when' }, `${clock(s.startSeconds)}–${clock(s.endSeconds)}`),
    el('strong', {}, s.title), s.artist ? ` — ${s.artist}` : '',
    el('div', { class: 'muted small' }, `from ${clock(s.offsetSeconds)} in the track${speed ? `, ${speed}` : ''}, confidence ${percent(s.confidence)}`))
}
