/**
 * The Monitors panel: each monitored stream with its state, the song it hears now, its recent plays and a chart of
 * recognised airtime over the last hours, refreshed while the panel is shown; and a form to monitor a new stream.
 */
import { api, describe } from './api.js'
import { DEFAULT_AIRTIME, airtimeChart } from './airtime-chart.js'
import { byId, clock, duration, el, percent, timeOfDay } from './dom.js'
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
/** Plays read for the chart at most (the API's page limit). */
const CHART_PLAYS = 1000

const STATE_TEXT: Record<Monitor['state'], string> = { listening: 'Listening', connecting: 'Connecting', down: 'Down', finished: 'Finished (heard to the end)' }

export class MonitorsView {
  readonly #list = byId('monitor-list')
  readonly #status = byId('monitors-status')
  #timer: ReturnType<typeof setTimeout> | undefined
  #shown = false
  #refreshing = false
  /** Told when a monitor was added (the header's count). */
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
        return card(m, recent.plays, lastHours.plays, now)
      }))
      this.#list.replaceChildren(...cards)
      this.#status.textContent = monitors.length === 0
        ? 'No monitors yet: add a stream below, or run earshot monitor add URL.'
        : `${monitors.length} ${monitors.length === 1 ? 'monitor' : 'monitors'}, updated ${new Date(now).toLocaleTimeString()}.`
    } catch (err) {
      this.#status.textContent = describe(err)
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
      status.textContent = `Monitoring ${m.label || m.url}.`
      url.value = ''
      label.value = ''
      this.onChange()
      await this.refresh()
    } catch (err) {
      status.textContent = describe(err)
    }
  }
}

function card (m: Monitor, recent: readonly Play[], lastHours: readonly Play[], now: number): HTMLElement {
  const name = m.label || m.url
  const headingId = `monitor-${m.id}`
  const state = el('p', {},
    el('span', { class: `state state-${m.state}`, 'data-state': m.state }, STATE_TEXT[m.state]),
    ` since ${timeOfDay(m.since)}`,
    m.state !== 'listening' && m.lastError ? el('span', { class: 'muted' }, ` — ${m.lastError}`) : null)
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
  return el('article', { class: 'monitor', 'aria-labelledby': headingId, 'data-monitor-id': m.id },
    el('h2', { id: headingId }, name),
    m.label ? el('p', { class: 'url muted small' }, m.url) : null,
    state, playing, heard,
    airtimeChart(lastHours, now),
    playsTable(name, recent))
}

function playsTable (name: string, plays: readonly Play[]): HTMLElement {
  if (plays.length === 0) return el('p', { class: 'muted small' }, 'No plays yet.')
  const rows = plays.map((p) => {
    const seconds = (p.endStreamSeconds ?? p.lastStreamSeconds) - p.startStreamSeconds
    const speed = speedNote(p.speed)
    return el('tr', { 'data-play-id': p.id },
      el('td', {}, timeOfDay(p.startedAt)),
      el('td', {}, el('strong', {}, p.title), p.artist ? ` — ${p.artist}` : '', speed ? el('span', { class: 'muted' }, `, ${speed}`) : null),
      el('td', { class: 'num' }, p.open ? `playing (${clock(seconds)})` : clock(seconds)),
      el('td', { class: 'num' }, percent(p.peakConfidence)))
  })
  return el('div', { class: 'table-wrap' }, el('table', { class: 'plays' },
    el('caption', {}, `Recent plays on ${name}`),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Started'), el('th', { scope: 'col' }, 'Song'), el('th', { scope: 'col', class: 'num' }, 'Length'), el('th', { scope: 'col', class: 'num' }, 'Confidence'))),
    el('tbody', {}, ...rows)))
}
