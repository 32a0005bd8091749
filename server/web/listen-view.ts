/**
 * The Listen panel: one button streams the microphone through the browser SDK; the panel shows the level, the
 * current candidate with a confidence bar that fills as it converges, then the confirmed song and its position in
 * the track, and says so plainly when nothing matches, the catalog is empty, the microphone is refused or the connection
 * drops.
 */
import { listen, ListenError, ListenErrorCode, type Listener, type Match } from '../../client-sdk/src/browser/index.js'
import { streamToken, streamUrl } from './api.js'
import { byId, clock, percent } from './dom.js'
import { speedNote } from '../../protocol/src/speed.js'
import { round } from '../src/round.js'

/** Listening without a confirmed song stops after this long, with a "no match" message, in ms. */
const NO_MATCH_AFTER_MS = 12_000
/**
 * A tentative candidate is shown from this confidence on: the server's own answer threshold, settings.minConfidence
 * (default 0.5; server/src/config/schema.ts), at which /v1/identify answers and a stream confirms once the candidate
 * holds for matcher.confirmTicks ticks. The server reports a stream's leader as tentative from a much lower
 * confidence (matcher.tentativeConfidence, 0.2), and below minConfidence that leader is often a wrong song when the
 * music is not in the catalog: the page said "Sounds like… 20 %" naming unrelated tracks. From minConfidence on, a
 * candidate is one the server would itself give as an answer; it only awaits the ticks that confirm it. The page reads
 * the server's value from /v1/stats (ListenView.minConfidence); this default holds until it has.
 */
export const CANDIDATE_MIN_CONFIDENCE = 0.5
/** How often the position in the track moves on screen, in ms. */
const POSITION_TICK_MS = 250
/** The level meter shows this range of dBFS: -60 dB at empty, 0 dB full. */
const METER_FLOOR_DB = -60

type State = 'idle' | 'starting' | 'listening' | 'stopping'

export class ListenView {
  /** The server's minConfidence (from /v1/stats): a tentative candidate is shown from it. */
  minConfidence = CANDIDATE_MIN_CONFIDENCE
  readonly #button = byId<HTMLButtonElement>('listen-button')
  readonly #status = byId('listen-status')
  readonly #meter = byId<HTMLMeterElement>('level-meter')
  readonly #candidate = byId('candidate')
  readonly #result = byId('result')
  readonly #alert = byId('listen-alert')
  readonly #alertText = byId('listen-alert-text')
  readonly #retry = byId<HTMLButtonElement>('listen-retry')
  #state: State = 'idle'
  #listener: Listener | undefined
  #noMatchTimer: ReturnType<typeof setTimeout> | undefined
  #tick: ReturnType<typeof setInterval> | undefined
  /** The confirmed match on screen, and when its position was last reported (performance.now(), ms). */
  #shown: { match: Match, at: number, ended: boolean } | undefined
  /** The server's last error message of this session, told when the connection then drops. */
  #lastServerError: string | undefined
  /** How many tracks the catalog holds (GET /v1/stats, also showing it), undefined when that cannot be read. */
  trackCount: () => Promise<number | undefined> = async () => undefined

  constructor () {
    this.#button.addEventListener('click', () => { if (this.#state === 'idle') void this.start(); else if (this.#state === 'listening') void this.stop('Stopped.') })
    this.#retry.addEventListener('click', () => { void this.start() })
  }

  async start (): Promise<void> {
    if (this.#state !== 'idle') return
    this.#setState('starting')
    this.#hideAlert()
    this.#candidate.hidden = true
    this.#result.hidden = true
    this.#shown = undefined
    // An empty catalog recognises nothing: say so now rather than after NO_MATCH_AFTER_MS of listening.
    if (await this.trackCount() === 0) {
      this.#setState('idle')
      this.#setStatus('Not listening: the catalog is empty.')
      byId('catalog-empty').hidden = false
      return
    }
    this.#setStatus('Asking for the microphone…')
    let listener: Listener
    try {
      listener = await listen({ url: streamUrl(), token: streamToken() })
    } catch (err) {
      this.#setState('idle')
      this.#setStatus('Not listening.')
      this.#showAlert(startFailure(err))
      return
    }
    this.#listener = listener
    this.#setState('listening')
    this.#setStatus(`Listening… (${round(listener.sampleRate / 1000, 1)} kHz)`)
    listener.on('level', (l) => {
      const db = 20 * Math.log10(Math.max(l.rms, 1e-6))
      this.#meter.value = Math.max(0, Math.min(1, (db - METER_FLOOR_DB) / -METER_FLOOR_DB))
      this.#meter.textContent = `${Math.round(db)} dBFS`
    })
    listener.on('match', (m) => this.#onMatch(m))
    listener.on('match-end', (e) => {
      if (this.#shown?.match.id === e.id) {
        this.#shown.ended = true
        byId('result-state').textContent = 'Recognised (the song has ended)'
        this.#setStatus('That song ended; listening for the next one…')
      }
      if (this.#candidate.dataset.trackId === String(e.id)) this.#candidate.hidden = true
    })
    listener.on('error', (e) => {
      if (e instanceof ListenError) this.#showAlert(`${e.message}.`)
      else if (e.code === 'EAR_ERR_SHUTTING_DOWN') this.#lastServerError = 'The server is shutting down.'
      else this.#lastServerError = `${e.message} (${e.code}).`
    })
    listener.on('close', (c) => {
      this.#listener = undefined
      this.#clearTimers()
      this.#meter.value = 0
      if (this.#state === 'stopping') return
      this.#setState('idle')
      if (c.lost) {
        this.#setStatus('Not listening.')
        this.#showAlert(`The connection to the server was lost. ${this.#lastServerError ?? ''}`.trim())
      }
      this.#lastServerError = undefined
    })
    this.#armNoMatch()
    this.#tick = setInterval(() => this.#renderPosition(), POSITION_TICK_MS)
  }

  /** Stop listening and say `why` in the status line. */
  async stop (why: string): Promise<void> {
    const listener = this.#listener
    if (this.#state !== 'listening' || !listener) return
    this.#setState('stopping')
    this.#clearTimers()
    await listener.stop()
    this.#listener = undefined
    this.#meter.value = 0
    this.#setState('idle')
    this.#setStatus(why)
  }

  #onMatch (m: Match): void {
    if (m.state === 'tentative') {
      // A candidate is shown only while nothing is confirmed, or when another song starts to lead; and only once it
      // is likely right (CANDIDATE_MIN_CONFIDENCE). A weaker one hides the card: the leader changed or faded.
      if (this.#shown && !this.#shown.ended && this.#shown.match.id === m.id) return
      if (m.confidence < this.minConfidence) {
        this.#candidate.hidden = true
        return
      }
      this.#candidate.hidden = false
      this.#candidate.dataset.trackId = String(m.id)
      byId('candidate-title').textContent = m.title
      byId('candidate-artist').textContent = m.artist
      byId<HTMLProgressElement>('candidate-confidence').value = m.confidence
      byId('candidate-percent').textContent = percent(m.confidence)
      this.#setStatus('Listening… a song is taking shape.')
      return
    }
    this.#clearNoMatch()
    this.#candidate.hidden = true
    this.#shown = { match: m, at: performance.now(), ended: false }
    this.#result.hidden = false
    this.#result.dataset.trackId = String(m.id)
    byId('result-state').textContent = 'Recognised'
    byId('result-title').textContent = m.title
    byId('result-artist').textContent = m.artist
    byId('result-album').textContent = m.album
    byId<HTMLProgressElement>('result-confidence').value = m.confidence
    byId('result-percent').textContent = percent(m.confidence)
    const speed = speedNote(m.speed)
    byId('result-speed').textContent = speed ? `, ${speed}` : ''
    this.#renderPosition()
    this.#setStatus(`Recognised: ${m.title}${m.artist ? ` by ${m.artist}` : ''}. Still listening.`)
  }

  #renderPosition (): void {
    const s = this.#shown
    if (!s) return
    const elapsed = s.ended ? 0 : (performance.now() - s.at) / 1000
    // The track moves on `speed` seconds per second of stream (radio plays songs fast).
    byId('result-position').textContent = clock(s.match.offsetSeconds + s.match.speed * elapsed)
  }

  #armNoMatch (): void {
    this.#clearNoMatch()
    this.#noMatchTimer = setTimeout(() => {
      void this.stop('Not listening.').then(async () => {
        this.#candidate.hidden = true
        if (await this.trackCount() === 0) { byId('catalog-empty').hidden = false; return }
        this.#showAlert('No match. This song is not in the catalog, or the music was too quiet or too noisy. Move closer to it and try again.', true)
      })
    }, NO_MATCH_AFTER_MS)
  }

  #clearNoMatch (): void {
    if (this.#noMatchTimer !== undefined) clearTimeout(this.#noMatchTimer)
    this.#noMatchTimer = undefined
  }

  #clearTimers (): void {
    this.#clearNoMatch()
    if (this.#tick !== undefined) clearInterval(this.#tick)
    this.#tick = undefined
  }

  #setState (state: State): void {
    this.#state = state
    const on = state === 'listening' || state === 'stopping'
    this.#button.setAttribute('aria-pressed', String(on))
    this.#button.textContent = on ? 'Stop' : 'Listen'
    this.#button.disabled = state === 'starting' || state === 'stopping'
    document.body.dataset.listen = state
  }

  #setStatus (text: string): void { this.#status.textContent = text }

  #showAlert (text: string, notice = false): void {
    this.#alertText.textContent = text
    this.#alert.classList.toggle('notice', notice)
    this.#alert.hidden = false
  }

  #hideAlert (): void { this.#alert.hidden = true }
}

/** Why listening could not start, as a sentence with what to do. */
function startFailure (err: unknown): string {
  if (!(err instanceof ListenError)) return `Listening could not start: ${(err as Error).message}.`
  switch (err.code) {
    case ListenErrorCode.MIC_DENIED:
      return 'Microphone access was denied. Allow the microphone for this site (in the address bar or the browser\'s site settings), then try again.'
    case ListenErrorCode.MIC_UNAVAILABLE:
      return `${err.message}. Check the microphone, then try again.`
    case ListenErrorCode.CONNECT:
      return 'Cannot reach the earshot server. Check that it is running, then try again.'
    case 'EAR_ERR_UNAUTHORIZED':
      return 'This server needs a token: enter one under "Access token" at the bottom of the page, then try again.'
    default:
      return `The server refused the stream: ${err.message} (${err.code}).`
  }
}
