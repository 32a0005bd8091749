/**
 * The Monitors panel: each monitored stream with its state, the song it hears now, its recent plays and a chart of
 * recognised airtime over the last hours, refreshed while the panel is shown; its plays of a date range as a CSV
 * download; a button to remove it; and a form to monitor a new stream. A station's failures are told in words.
 */
import { api, authHeaders, describe } from './api.js'
import { DEFAULT_AIRTIME, airtimeChart } from './airtime-chart.js'
import { byId, clock, dateTime, duration, el, length, percent, saveFile, setAlert } from './dom.js'
import { speedNote } from '../../protocol/src/speed.js'
import type { MatchState } from '../../protocol/src/messages.js'

interface CurrentMatch { state: MatchState, trackId: number, title: string, artist: string, confidence: number, offsetSeconds: number, speed: number }
interface Monitor {
  id: string, url: string, label: string, state: 'connecting' | 'listening' | 'down' | 'finished', since: string, reconnects: number,
  lastError: string | null, streamSeconds: number, unmatchedSeconds: number, current: CurrentMatch | null
}
interface Play {
  id: string, title: string, artist: string, startedAt: string, endedAt: string | null, lastSeenAt: string,
  startStreamSeconds: number, endStreamSeconds: number | null, lastStreamSeconds: number, peakConfidence: number, open: boolean,
  speed: number
}

/** How often the panel asks for fresh state while shown, in ms. */
const REFRESH_MS = 3000
/** Plays listed per monitor. */
const RECENT_PLAYS = 8
/** Plays read for the chart at most, and per page of a CSV download (the API's page limit). */
const CHART_PLAYS = 1000
/** Pages a CSV download follows at most (a million plays): a bound, should a server keep answering "next". */
const MAX_CSV_PAGES = 1000

const STATE_TEXT: Record<Monitor['state'], string> = { listening: 'Listening', connecting: 'Connecting', down: 'Down', finished: 'Finished (heard to the end)' }

/** A monitor's card: made once, its live part (state, now playing, chart, plays) replaced at each refresh, so that the
 *  date fields and buttons keep their values and the focus. */
interface Card { article: HTMLElement, live: HTMLElement, heading: HTMLElement, url: HTMLElement }

export class MonitorsView {
  readonly #list = byId('monitor-list')
  readonly #status = byId('monitors-status')
  readonly #cards = new Map<string, Card>()
  #timer: ReturnType<typeof setTimeout> | undefined
  #shown = false
  #refreshing = false
  /** Told when a monitor was added or removed (the header's count). */
  onChange: () => void = () => {}

  constructor () {
    byId('monitor-form').addEventListener('submit', (e) => { e.preventDefault(); void this.#add() })
    document.addEventListener('visibilitychange', () => { if (this.#shown && !document.hidden) void this.refresh() })
  }

  show (): void {
    this.#shown = true
    void this.refresh()
  }

  hide (): void {
    this.#shown = false
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  async refresh (): Promise<void> {
    if (this.#refreshing) return
    this.#refreshing = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    try {
      const { monitors } = await api<{ monitors: Monitor[] }>('/v1/monitors')
      const now = Date.now()
      const from = new Date(now - DEFAULT_AIRTIME.hours * 3_600_000).toISOString()
      const cards = await Promise.all(monitors.map(async (m) => {
        const q = (extra: string): string => `/v1/plays?monitor=${encodeURIComponent(m.id)}&${extra}`
        const [recent, lastHours] = await Promise.all([
          api<{ plays: Play[] }>(q(`limit=${RECENT_PLAYS}`)),
          api<{ plays: Play[] }>(q(`from=${encodeURIComponent(from)}&limit=${CHART_PLAYS}`)),
        ])
        return this.#card(m, recent.plays, lastHours.plays, now)
      }))
      for (const id of this.#cards.keys()) if (!monitors.some((m) => m.id === id)) this.#cards.delete(id)
      // Moving a card would take the focus from it: the list is only rebuilt when monitors came or went.
      const shown = [...this.#list.children]
      if (shown.length !== cards.length || cards.some((c, i) => shown[i] !== c)) this.#list.replaceChildren(...cards)
      setAlert('monitors-alert', '')
      this.#status.textContent = monitors.length === 0
        ? 'No monitors yet: add a stream below, or run earshot monitor add URL.'
        : `${monitors.length} ${monitors.length === 1 ? 'monitor' : 'monitors'}, updated ${new Date(now).toLocaleTimeString()}.`
    } catch (err) {
      setAlert('monitors-alert', describe(err))
    } finally {
      this.#refreshing = false
      if (this.#shown && !document.hidden) this.#timer = setTimeout(() => { void this.refresh() }, REFRESH_MS)
    }
  }

  async #add (): Promise<void> {
    const url = byId<HTMLInputElement>('monitor-url')
    const label = byId<HTMLInputElement>('monitor-label')
    const status = byId('monitor-form-status')
    try {
      const m = await api<Monitor>('/v1/monitors', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: url.value.trim(), label: label.value.trim() }),
      })
      setAlert('monitor-form-alert', '')
      status.textContent = `Monitoring ${m.label || m.url}.`
      url.value = ''
      label.value = ''
      this.onChange()
      await this.refresh()
    } catch (err) {
      status.textContent = ''
      setAlert('monitor-form-alert', describe(err))
    }
  }

  #card (m: Monitor, recent: readonly Play[], lastHours: readonly Play[], now: number): HTMLElement {
    let c = this.#cards.get(m.id)
    if (!c) {
      c = newCard(m, () => { void this.#remove(m) }, (from, to) => this.#download(m, from, to))
      this.#cards.set(m.id, c)
    }
    const name = m.label || m.url
    c.heading.textContent = name
    c.url.textContent = m.label ? m.url : ''
    c.url.hidden = !m.label
    c.live.replaceChildren(...live(m, recent, lastHours, now))
    return c.article
  }

  async #remove (m: Monitor): Promise<void> {
    const name = m.label || m.url
    if (!confirm(`Stop monitoring ${name} and remove it? Its plays stay in the play log.`)) return
    try {
      await api<void>(`/v1/monitors/${encodeURIComponent(m.id)}`, { method: 'DELETE' })
      setAlert('monitors-alert', '')
      this.onChange()
      await this.refresh()
      this.#status.textContent = `Removed ${name}. ${this.#status.textContent ?? ''}`
    } catch (err) {
      setAlert('monitors-alert', `Could not remove ${name}: ${describe(err)}`)
    }
  }

  /**
   * Download the plays of a monitor that started from the local midnight of `from` to the end of the day `to` (both
   * YYYY-MM-DD, both optional) as one CSV file: the API's CSV pages are followed through their Link header and joined
   * under one header line. Resolves with a sentence for the card's status line.
   */
  async #download (m: Monitor, from: string, to: string): Promise<string> {
    const params = new URLSearchParams({ monitor: m.id, format: 'csv', limit: String(CHART_PLAYS) })
    if (from) params.set('from', new Date(`${from}T00:00:00`).toISOString())
    if (to) {
      const end = new Date(`${to}T00:00:00`)
      end.setDate(end.getDate() + 1)
      params.set('to', end.toISOString())
    }
    if (from && to && from > to) throw new Error('The first day comes after the last one')
    let next: string | null = `/v1/plays?${params.toString()}`
    const parts: string[] = []
    let rows = 0
    for (let page = 0; next !== null && page < MAX_CSV_PAGES; page++) {
      let res: Response
      try {
        res = await fetch(next, { headers: { ...authHeaders(), accept: 'text/csv' } })
      } catch (err) {
        throw new Error(`Cannot reach the server (${(err as Error).message})`)
      }
      if (!res.ok) {
        const body = await res.json().catch(() => null) as { error?: { message?: string } } | null
        throw new Error(body?.error?.message ?? `The server answered ${res.status}`)
      }
      const text = await res.text()
      // Every page starts with the header line: the first page's is kept.
      const body = page === 0 ? text : text.slice(text.indexOf('\r\n') + 2)
      rows += body.split('\r\n').filter((l) => l !== '').length - (page === 0 ? 1 : 0)
      parts.push(body)
      next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1] ?? null
    }
    const name = `plays-${(m.label || m.id).replace(/[^\p{L}\p{N}._-]+/gu, '-')}${from ? `-from-${from}` : ''}${to ? `-to-${to}` : ''}.csv`
    saveFile(name, new Blob(parts, { type: 'text/csv' }))
    return `${name}: ${rows} ${rows === 1 ? 'play' : 'plays'}.`
  }
}

/** A new card: heading and URL, the live part (filled by the caller), and the actions: CSV of a date range, remove. */
function newCard (m: Monitor, remove: () => void, download: (from: string, to: string) => Promise<string>): Card {
  const headingId = `monitor-${m.id}`
  const heading = el('h2', { id: headingId })
  const url = el('p', { class: 'url muted small' })
  const live = el('div', { class: 'live' })
  const today = isoDay(new Date())
  const fromId = `plays-from-${m.id}`
  const toId = `plays-to-${m.id}`
  const from = el('input', { id: fromId, type: 'date', value: isoDay(new Date(Date.now() - 6 * 86_400_000)), max: today })
  const to = el('input', { id: toId, type: 'date', value: today, max: today })
  const status = el('p', { class: 'status small', role: 'status' })
  const alert = el('div', { class: 'alert', role: 'alert', hidden: true }, el('p'))
  const get = el('button', { type: 'submit', class: 'secondary' }, 'Download plays (CSV)')
  const form = el('form', { class: 'monitor-actions', 'aria-label': `Plays of ${m.label || m.url} as CSV` },
    el('div', {}, el('label', { for: fromId }, 'Plays from'), from),
    el('div', {}, el('label', { for: toId }, 'to (inclusive)'), to),
    get)
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    get.disabled = true
    alert.hidden = true
    status.textContent = 'Preparing the CSV…'
    download(from.value, to.value)
      .then((done) => { status.textContent = `Downloaded ${done}` })
      .catch((err: unknown) => {
        status.textContent = ''
        const p = alert.querySelector('p')
        if (p) p.textContent = `The CSV could not be made: ${describe(err)}`
        alert.hidden = false
      })
      .finally(() => { get.disabled = false })
  })
  const removeButton = el('button', { type: 'button', class: 'danger', 'aria-label': `Remove monitor ${m.label || m.url}` }, 'Remove')
  removeButton.addEventListener('click', remove)
  const article = el('article', { class: 'monitor', 'aria-labelledby': headingId, 'data-monitor-id': m.id },
    heading, url, live, form, status, alert, el('div', { class: 'monitor-actions' }, removeButton))
  return { article, live, heading, url }
}

/** A local date as YYYY-MM-DD, the value of a date input. */
function isoDay (d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
}

/** The parts of a card that change: state, the song now, the airtime heard, the chart and the recent plays. */
function live (m: Monitor, recent: readonly Play[], lastHours: readonly Play[], now: number): HTMLElement[] {
  const name = m.label || m.url
  const state = el('p', {},
    el('span', { class: `state state-${m.state}`, 'data-state': m.state }, STATE_TEXT[m.state]),
    ` since ${dateTime(m.since)}`)
  const problem = m.state !== 'listening' && m.lastError
    ? el('div', { class: 'alert problem', title: m.lastError }, el('p', {}, sourceProblem(m.lastError)))
    : null
  const c = m.current
  const speed = c ? speedNote(c.speed) : ''
  const playing = c
    ? el('p', { class: 'now', 'data-track-id': c.trackId },
      'Now: ', el('strong', {}, c.title), c.artist ? ` — ${c.artist}` : '',
      el('span', { class: 'muted' }, ` (${c.state === 'confirmed' ? 'recognised' : 'not sure yet'}, ${percent(c.confidence)}, at ${clock(c.offsetSeconds)}${speed ? `, ${speed}` : ''})`))
    : el('p', { class: 'now' }, el('span', { class: 'muted' }, 'Now: no song recognised'))
  const heard = m.streamSeconds > 0
    ? el('p', { class: 'muted small' }, `Heard ${duration(m.streamSeconds)} since the server started; a song was recognised in ${percent(1 - m.unmatchedSeconds / m.streamSeconds)} of it.`)
    : null
  return [state, problem, playing, heard, airtimeChart(lastHours, now), playsTable(name, recent)].filter((e): e is HTMLElement => e !== null)
}

/**
 * A station's last failure (`EAR_ERR_SOURCE: Cannot read the audio source URL: cannot connect: connect ECONNREFUSED
 * 10.0.0.5:8000`) in words for people, with what to check. The technical line stays in the element's title.
 */
export function sourceProblem (error: string): string {
  const http = /\bHTTP (\d{3})\b/.exec(error)
  const status = http ? Number(http[1]) : 0
  if (/ECONNREFUSED/.test(error)) return 'The station refused the connection: nothing answers at that address and port. Check the URL, or whether the station is on the air.'
  if (/ENOTFOUND|EAI_AGAIN|EAI_NONAME/.test(error)) return 'The station\'s host name was not found (DNS). Check the spelling of the URL.'
  if (/ETIMEDOUT|no response within|timed? ?out/i.test(error)) return 'The station did not answer in time. It may be down or unreachable from this server.'
  if (/EAR_ERR_ADDRESS_NOT_ALLOWED|not allowed/i.test(error)) return 'This server may not connect to that address (a private or local network). An administrator can allow it in the server\'s settings (network.allowedAddresses).'
  if (status === 401 || status === 403) return `The station refused access (HTTP ${status}): the stream needs a login or is not open to this server.`
  if (status === 404 || status === 410) return `The station has no stream at that address (HTTP ${status}). Check the URL's path.`
  if (status >= 400 && status < 500) return `The station refused the request (HTTP ${status}). Check the URL.`
  if (status >= 500) return `The station's server failed (HTTP ${status}). It is probably down for a while; earshot keeps trying.`
  if (/no audio for/.test(error)) return 'The station stopped sending audio. earshot keeps trying.'
  if (/Invalid data|not audio|no WAV data|Unsupported|could not find codec|ffmpeg exited|content.type|unsupported/i.test(error)) return 'What the station sends is not audio earshot can read. Check that the URL is the stream itself, not its web page or playlist page.'
  if (/ECONNRESET|connection lost|closed the connection|stream ended|socket hang up|EPIPE/.test(error)) return 'The station closed the connection. earshot keeps trying.'
  if (/CERT|certificate|SSL|TLS/i.test(error)) return 'The station\'s secure connection failed (its certificate was not accepted).'
  if (/redirect/i.test(error)) return 'The station redirects somewhere earshot cannot follow. Check the URL.'
  // Anything else: the reason without the code and the URL, which the card shows already.
  const reason = error.replace(/^EAR_ERR_SOURCE: Cannot read the audio source \S+: /, '').replace(/^EAR_ERR_\w+: /, '')
  return `The station cannot be read: ${reason}${/[.!?]$/.test(reason) ? '' : '.'}`
}

function playsTable (name: string, plays: readonly Play[]): HTMLElement {
  if (plays.length === 0) return el('p', { class: 'muted small' }, 'No plays yet.')
  const rows = plays.map((p) => {
    const seconds = (p.endStreamSeconds ?? p.lastStreamSeconds) - p.startStreamSeconds
    const speed = speedNote(p.speed)
    return el('tr', { 'data-play-id': p.id },
      el('td', { class: 'c-started' }, dateTime(p.startedAt)),
      el('td', { class: 'c-title' }, el('strong', {}, p.title), p.artist ? ` — ${p.artist}` : '', speed ? el('span', { class: 'muted' }, `, ${speed}`) : null),
      el('td', { class: 'num c-length' }, p.open ? `playing (${length(seconds)})` : length(seconds)),
      el('td', { class: 'num c-confidence' }, percent(p.peakConfidence)))
  })
  return el('div', { class: 'table-wrap' }, el('table', { class: 'plays card-rows' },
    el('caption', {}, `Recent plays on ${name}`),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Started'), el('th', { scope: 'col' }, 'Song'), el('th', { scope: 'col', class: 'num' }, 'Length'), el('th', { scope: 'col', class: 'num' }, 'Confidence'))),
    el('tbody', {}, ...rows)))
}
