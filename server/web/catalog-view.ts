/**
 * The Catalog panel: search and page through GET /v1/tracks (cursor paging), remove tracks, upload files or a whole
 * folder to POST /v1/tracks with progress, and start index jobs of a folder on the server's disk.
 */
import { api, describe, upload, type UploadProgress } from './api.js'
import { byId, el, length, setAlert } from './dom.js'

interface Track {
  id: number, title: string, artist: string, album: string, durationSeconds: number, source: string,
  isrc?: string, externalId?: string, labels?: Record<string, string>
}
interface TrackPage { tracks: Track[], nextCursor: string | null }
interface TrackAdded { added: boolean, track: Track }
interface IndexJob {
  id: string, state: 'queued' | 'running' | 'done' | 'failed', total: number | null, indexed: number, present: number,
  skippedCount?: number, skipped: Array<{ file: string, reason: string }>, error: string | null
}

/** What a folder upload takes: audio by type or by extension (folders come with every file in them). */
const AUDIO_FILE = /\.(wav|mp3|flac|ogg|oga|opus|m4a|aac|mp4|webm|aif|aiff|wma|mka)$/i
/** How often a running index job is asked for its progress, in ms. */
const JOB_POLL_MS = 500

export class CatalogView {
  readonly #rows = byId<HTMLTableSectionElement>('catalog-rows')
  readonly #status = byId('catalog-status')
  readonly #caption = byId('catalog-caption')
  readonly #page = byId('catalog-page')
  readonly #prev = byId<HTMLButtonElement>('catalog-prev')
  readonly #next = byId<HTMLButtonElement>('catalog-next')
  readonly #size = byId<HTMLSelectElement>('catalog-size')
  readonly #q = byId<HTMLInputElement>('catalog-q')
  /** Cursors of the pages visited, the current one last (0: the first page). */
  #cursors: number[] = [0]
  #nextCursor: string | null = null
  #query = ''
  #loaded = false
  /** Told when the catalog changed (the header's track count). */
  onChange: () => void = () => {}

  constructor () {
    byId('catalog-search').addEventListener('submit', (e) => {
      e.preventDefault()
      this.#query = this.#q.value.trim()
      this.#cursors = [0]
      void this.load()
    })
    this.#prev.addEventListener('click', () => { if (this.#cursors.length > 1) { this.#cursors.pop(); void this.load() } })
    this.#next.addEventListener('click', () => { if (this.#nextCursor !== null) { this.#cursors.push(Number(this.#nextCursor)); void this.load() } })
    this.#size.addEventListener('change', () => { this.#cursors = [0]; void this.load() })
    byId('upload-form').addEventListener('submit', (e) => { e.preventDefault(); void this.#uploadChosen() })
    byId('job-form').addEventListener('submit', (e) => { e.preventDefault(); void this.#startJob() })
  }

  /** Load the table the first time the panel is shown. */
  show (): void { if (!this.#loaded) void this.load() }

  async load (): Promise<void> {
    const cursor = this.#cursors[this.#cursors.length - 1]
    const params = new URLSearchParams({ limit: this.#size.value, cursor: String(cursor) })
    if (this.#query) params.set('q', this.#query)
    let page: TrackPage
    try {
      page = await api<TrackPage>(`/v1/tracks?${params.toString()}`)
    } catch (err) {
      setAlert('catalog-alert', describe(err))
      return
    }
    this.#loaded = true // a failed load is tried again the next time the panel is shown
    this.#status.textContent = ''
    setAlert('catalog-alert', '')
    // A removal can empty the last page: step back to one with tracks.
    if (page.tracks.length === 0 && this.#cursors.length > 1) { this.#cursors.pop(); return await this.load() }
    this.#nextCursor = page.nextCursor
    this.#rows.replaceChildren(...page.tracks.map((t) => this.#row(t)))
    if (page.tracks.length === 0) this.#rows.append(el('tr', {}, el('td', { colspan: 6 }, this.#query ? `No track matches "${this.#query}".` : 'The catalog is empty: add tracks below.')))
    const n = this.#cursors.length
    this.#page.textContent = `Page ${n}`
    this.#caption.textContent = this.#query ? `Tracks matching "${this.#query}", page ${n}` : `Tracks, page ${n}`
    this.#prev.disabled = n === 1
    this.#next.disabled = page.nextCursor === null
  }

  #row (t: Track): HTMLTableRowElement {
    const remove = el('button', { type: 'button', class: 'danger', 'aria-label': `Remove ${t.title}` }, 'Remove')
    remove.addEventListener('click', () => { void this.#remove(t) })
    // ISRC, the catalog's id and labels on one small line under the title: no column of their own to widen the table.
    const codes = [t.isrc && `ISRC ${t.isrc}`, t.externalId && `ID ${t.externalId}`, ...Object.entries(t.labels ?? {}).map(([k, v]) => `${k}: ${v}`)].filter(Boolean).join(' · ')
    return el('tr', { 'data-track-id': t.id },
      el('td', { class: 'num c-id' }, t.id), el('td', { class: 'c-title' }, t.title, codes && el('small', { class: 'track-codes' }, codes)), el('td', { class: 'c-artist' }, t.artist),
      el('td', { class: 'c-album' }, t.album), el('td', { class: 'num c-length' }, length(t.durationSeconds)), el('td', { class: 'c-action' }, remove))
  }

  async #remove (t: Track): Promise<void> {
    if (!confirm(`Remove "${t.title}" from the catalog? Its plays stay in the play log.`)) return
    try {
      await api<void>(`/v1/tracks/${t.id}`, { method: 'DELETE' })
      this.onChange()
      await this.load()
      this.#status.textContent = `Removed "${t.title}".`
    } catch (err) {
      setAlert('catalog-alert', `Could not remove "${t.title}": ${describe(err)}`)
    }
  }

  async #uploadChosen (): Promise<void> {
    const filesInput = byId<HTMLInputElement>('upload-files')
    const folderInput = byId<HTMLInputElement>('upload-folder')
    const status = byId('upload-status')
    const log = byId<HTMLUListElement>('upload-log')
    const bar = byId<HTMLProgressElement>('upload-progress')
    const files = [...(filesInput.files ?? []), ...[...(folderInput.files ?? [])].filter((f) => f.type.startsWith('audio/') || AUDIO_FILE.test(f.name))]
    if (files.length === 0) { status.textContent = 'Choose audio files or a folder first.'; return }
    const title = byId<HTMLInputElement>('upload-title').value.trim()
    const artist = byId<HTMLInputElement>('upload-artist').value.trim()
    const button = byId<HTMLButtonElement>('upload-button')
    button.disabled = true
    log.replaceChildren()
    const totalBytes = files.reduce((n, f) => n + f.size, 0) || 1
    let doneBytes = 0
    const counts = { added: 0, present: 0, failed: 0 }
    bar.value = 0
    for (const [i, file] of files.entries()) {
      const form = new FormData()
      form.append('audio', file, file.name)
      // Title and artist name one track: with several files, each keeps its own tags.
      if (files.length === 1 && title) form.append('title', title)
      if (files.length === 1 && artist) form.append('artist', artist)
      const what = `${i + 1} of ${files.length}: ${file.name}`
      status.textContent = `Uploading ${what}…`
      const onProgress = (p: UploadProgress): void => {
        const sent = p.sent ? file.size : file.size * (p.loaded / Math.max(1, p.total))
        bar.value = Math.min(1, (doneBytes + sent) / totalBytes)
        status.textContent = p.sent ? `Indexing ${what}…` : `Uploading ${what} (${Math.round(100 * p.loaded / Math.max(1, p.total))}%)…`
      }
      try {
        const { body } = await upload<TrackAdded>('/v1/tracks', form, onProgress)
        if (body.added) counts.added++
        else counts.present++
        log.append(el('li', { class: 'ok' }, `${body.added ? 'Added' : 'Already in the catalog'}: ${body.track.title}${body.track.artist ? ` — ${body.track.artist}` : ''} (#${body.track.id})`))
      } catch (err) {
        counts.failed++
        log.append(el('li', { class: 'bad' }, `${file.name}: ${describe(err)}`))
      }
      doneBytes += file.size
      bar.value = Math.min(1, doneBytes / totalBytes)
    }
    status.textContent = `Done: ${counts.added} added, ${counts.present} already in the catalog, ${counts.failed} failed.`
    button.disabled = false
    filesInput.value = ''
    folderInput.value = ''
    this.onChange()
    await this.load()
  }

  async #startJob (): Promise<void> {
    const input = byId<HTMLInputElement>('job-path')
    const status = byId('job-status')
    const bar = byId<HTMLProgressElement>('job-progress')
    const path = input.value.trim()
    if (!path) return
    let job: IndexJob
    try {
      job = await api<IndexJob>('/v1/index-jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path }) })
    } catch (err) {
      setAlert('job-alert', describe(err))
      return
    }
    setAlert('job-alert', '')
    status.textContent = `Indexing ${path}…`
    bar.removeAttribute('value') // indeterminate until the walk has counted the files
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS))
      try {
        job = await api<IndexJob>(`/v1/index-jobs/${job.id}`)
      } catch (err) {
        setAlert('job-alert', `Lost track of the job: ${describe(err)}`)
        return
      }
      const skipped = job.skippedCount ?? job.skipped.length
      const done = job.indexed + job.present + skipped
      if (job.total !== null) bar.value = job.total === 0 ? 1 : Math.min(1, done / job.total)
      const counts = `${job.indexed} indexed, ${job.present} already in the catalog, ${skipped} skipped`
      if (job.state === 'done') {
        bar.value = 1
        status.textContent = `Done: ${counts}.${job.skipped.length > 0 ? ` First skipped: ${job.skipped[0].file} (${job.skipped[0].reason}).` : ''}`
        this.onChange()
        await this.load()
        return
      }
      if (job.state === 'failed') { bar.value = 0; status.textContent = ''; setAlert('job-alert', `The job failed: ${job.error ?? 'no reason given'} (${counts}).`); return }
      status.textContent = job.state === 'queued' ? 'Waiting for the job before it…' : `Indexing: ${done} of ${job.total ?? '?'} files (${counts})…`
    }
  }
}
