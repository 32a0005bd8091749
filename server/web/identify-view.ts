/**
 * The Identify panel: a file dropped on the zone or picked with the button goes to POST /v1/identify; the matches
 * come back best first, each with its confidence.
 */
import { api, describe } from './api.js'
import { byId, clock, el, percent, setAlert } from './dom.js'
import { speedNote } from '../../protocol/src/speed.js'

interface IdentifyMatch { id: number, title: string, artist: string, album: string, confidence: number, offsetSeconds: number, speed: number }
interface IdentifyResult { matches: IdentifyMatch[], queryDurationMs: number, processingTimeMs: number }

export class IdentifyView {
  readonly #zone = byId('drop-zone')
  readonly #input = byId<HTMLInputElement>('identify-file')
  readonly #status = byId('identify-status')
  readonly #results = byId<HTMLOListElement>('identify-results')
  #busy = false

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
  }

  async identify (file: File): Promise<void> {
    if (this.#busy) return
    this.#busy = true
    this.#results.replaceChildren()
    setAlert('identify-alert', '')
    this.#status.textContent = `Identifying ${file.name}…`
    const form = new FormData()
    form.append('audio', file, file.name)
    try {
      const r = await api<IdentifyResult>('/v1/identify', { method: 'POST', body: form })
      if (r.matches.length === 0) {
        this.#status.textContent = `No match for ${file.name}: nothing in the catalog sounds like it.`
        return
      }
      this.#status.textContent = `${file.name}: ${r.matches.length === 1 ? 'one match' : `${r.matches.length} matches`}, best first (${(r.queryDurationMs / 1000).toFixed(1)} s examined).`
      for (const m of r.matches) this.#results.append(matchItem(m))
    } catch (err) {
      this.#status.textContent = ''
      setAlert('identify-alert', `${file.name}: ${describe(err)}`)
    } finally {
      this.#busy = false
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
