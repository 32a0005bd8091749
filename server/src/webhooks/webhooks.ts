/**
 * Webhook delivery: consumes match events (`match.confirmed`, `match.ended`) and produces signed JSON POSTs to every
 * configured URL, retried with exponential backoff, surviving a process restart.
 *
 * Each event becomes one delivery per URL, persisted in the caller's LMDB environment before `enqueue` returns:
 *
 *   webhook-queue   [url, seq] -> QueuedDelivery (msgpack)   waiting deliveries; seq is per event, so a URL's
 *                                                            range lists its deliveries in the order enqueued
 *   webhook-failed  [failedAtMs, deliveryId] -> FailedDelivery  the last `keepFailed` given up on, for diagnosis
 *
 * Example: events 7 and 8 for URLs A and B are the keys [A,7] [A,8] [B,7] [B,8]. Every URL has a lane that posts
 * only its first key, one request at a time, so A's order holds, and a B that is down (retrying [B,7]) holds back
 * neither A nor anything else. A delivery leaves the queue when it is delivered or failed; `attempts` is stored,
 * so a restart does not grant a delivery new attempts. The delivery id travels in `x-earshot-delivery` and is the
 * same on every attempt: a receiver that saw a delivery whose acknowledgement was lost (a timeout, a crash before
 * the removal committed, a close mid-request) gets it again and de-duplicates by that id (at-least-once).
 *
 * Ids are derived, not drawn: an event enqueued with an id (a play's event has one, play-events.ts) gets the delivery
 * id UUIDv5(url, event id) for each URL, so an event replayed from the play log carries the same event id and the
 * same delivery ids as the first time, and a receiver that got it before drops it.
 *
 * A full queue drops new events (all URLs or none): counted (`stats.dropped`, `onDrop`), logged when dropping starts
 * and when it stops (with the time range to replay), and recoverable, since the play log keeps every play.
 *
 * One dispatcher per environment: two processes draining the same queue would post everything twice.
 */
import { randomUUID } from 'node:crypto'
import type { AddressPolicy } from '../net/address-policy.js'
import type { Database, RootDatabase } from 'lmdb'
import { v5 as uuidV5 } from 'uuid'
import { earshotError } from '../errors.js'
import { EQUAL_JITTER, backoffDelayMs } from '../../../protocol/src/index.js'
import { defaults, type WebhookConfig } from '../config/defaults.js'
import { SIGNATURE_HEADER, signBody } from './signature.js'
import { silentLogger, type Logger } from '../log.js'
import { StateWrites } from '../state/state-writes.js'

export { SIGNATURE_HEADER, signBody, verifySignature } from './signature.js'

/** The settings of delivery: one definition, with the defaults, in config/defaults.ts. */
export type WebhookSettings = WebhookConfig

export const defaultWebhookSettings: Readonly<Omit<WebhookSettings, 'urls' | 'secret'>> = (() => {
  const { urls: _urls, secret: _secret, ...rest } = defaults.webhooks
  return Object.freeze(rest)
})()

/** Failed deliveries kept in `webhook-failed` by default, newest kept. */
export const DEFAULT_KEEP_FAILED = 100

export type WebhookEventType = 'match.confirmed' | 'match.ended'
const EVENT_TYPES: ReadonlySet<string> = new Set<WebhookEventType>(['match.confirmed', 'match.ended'])

export interface WebhookEvent {
  type: WebhookEventType
  data: unknown
  /** The event's id, a UUID, the same whenever this event is sent (replays too); default a new random one. */
  id?: string
  /** When it happened (ms since 1970; default now): the range to replay after drops is given in these times. */
  at?: number
}

/**
 * `delivered`, `retried`, `failed` and `dropped` count deliveries (an event for N URLs is N) in this process;
 * `queueDepth` is the number persisted, waiting, including those left by an earlier process. `droppingSince` is
 * when the queue began to drop events (ISO 8601), null while it accepts them: what /health reads.
 */
export interface WebhookStats { delivered: number, retried: number, failed: number, dropped: number, queueDepth: number, droppingSince: string | null }

export interface DeliveryReport {
  url: string
  /** The HTTP status, or 'error' for a network error or timeout. */
  status: number | 'error'
  /** 1 for the first attempt. */
  attempt: number
  outcome: 'delivered' | 'retry' | 'failed'
}

export interface WebhookDispatcherOptions {
  /** Called after every attempt (not one cut short by `close`). An exception it throws is ignored. */
  onDelivery?: (e: DeliveryReport) => void
  /** Failed deliveries kept for diagnosis, newest kept. Default DEFAULT_KEEP_FAILED (100). */
  keepFailed?: number
  /** Called with the number of deliveries dropped each time the full queue drops an event. */
  onDrop?: (deliveries: number) => void
  /** Where drops and failures are logged (a child logger of the server's; default silent). */
  log?: Logger
  /** Checks the address of every connection (a refused one fails like a network error); none: any address. */
  addressPolicy?: AddressPolicy
  /** The handler of failed writes to the queue (a full disk); default one of its own. */
  writes?: StateWrites
}

/** A delivery given up on, as kept in `webhook-failed`. */
export interface FailedDelivery {
  id: string
  url: string
  eventId: string
  type: WebhookEventType
  attempts: number
  /** The last answer: an HTTP status, 'error', or null when never attempted. */
  status: number | 'error' | null
  reason: string
  failedAt: string
  /** The body that was sent, byte for byte. */
  body: string
}

/** A waiting delivery, as persisted. */
interface QueuedDelivery {
  id: string
  eventId: string
  type: WebhookEventType
  /** Serialised once at enqueue, so every attempt sends (and signs) the same bytes. */
  body: string
  /** Attempts made so far. */
  attempts: number
}

type QueueKey = [url: string, seq: number]
/** A run of drops: when it began, the events dropped, the first and last event times (ms) among them. */
interface DropRun { since: Date, events: number, from: number, to: number }
type FailedKey = [failedAtMs: number, id: string]

/** One per URL: at most one request in flight, or one timer waiting to retry. */
interface Lane {
  readonly url: string
  running: Promise<void> | undefined
  timer: NodeJS.Timeout | undefined
  controller: AbortController | undefined
}

/** Upper bound of a key's seq, for a URL's range. */
const SEQ_END = Number.MAX_SAFE_INTEGER
const MS_PER_SECOND = 1000

/** A Retry-After header (seconds, or an HTTP date) in ms from `nowMs`; undefined when absent or unreadable. */
export function parseRetryAfter (value: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  if (value == null) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * MS_PER_SECOND
  // HTTP dates start with the day's name; Date.parse alone would also take '-5' or '2026' for dates.
  const at = /^[A-Za-z]/.test(text) ? Date.parse(text) : NaN
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs)
}

function isRetryable (status: number | 'error'): boolean {
  return status === 'error' || status >= 500 || status === 408 || status === 429
}

/** Short words for a network error: the system code when there is one (ECONNREFUSED), else the error's name. */
function describeNetworkError (err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause
  if (typeof cause?.code === 'string') return cause.code
  return err instanceof Error ? err.name : 'error'
}

function checkSettings (s: WebhookSettings, keepFailed: number): void {
  // The config layer validates user input first; this check keeps a bad value from looping or stalling deliveries.
  const problems: string[] = []
  for (const url of s.urls) {
    let protocol = ''
    try { protocol = new URL(url).protocol } catch {}
    if (protocol !== 'http:' && protocol !== 'https:') problems.push(`url ${JSON.stringify(url)} is not http(s)`)
  }
  if (s.urls.length > 0 && (typeof s.secret !== 'string' || s.secret === '')) problems.push('a secret is required')
  const atLeast = (name: string, v: number, min: number, integer: boolean): void => {
    if (Number.isFinite(v) && v >= min && (!integer || Number.isInteger(v))) return
    problems.push(`${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}`)
  }
  atLeast('maxQueue', s.maxQueue, 1, true)
  atLeast('maxAttempts', s.maxAttempts, 1, true)
  atLeast('keepFailed', keepFailed, 1, true)
  atLeast('initialBackoffMs', s.initialBackoffMs, 0, false)
  atLeast('maxBackoffMs', s.maxBackoffMs, 0, false)
  atLeast('timeoutMs', s.timeoutMs, 1, false) // 0 would abort every request before it is sent
  if (problems.length > 0) throw earshotError('EAR_ERR_CONFIG', `webhooks: ${problems.join('; ')}`)
}

export class WebhookDispatcher {
  readonly #root: RootDatabase
  readonly #queue: Database<QueuedDelivery, QueueKey>
  readonly #failedDb: Database<FailedDelivery, FailedKey>
  readonly #settings: Readonly<WebhookSettings>
  readonly #onDelivery: ((e: DeliveryReport) => void) | undefined
  readonly #onDrop: ((deliveries: number) => void) | undefined
  readonly #log: Logger
  readonly #writes: StateWrites
  readonly #keepFailed: number
  readonly #policy: AddressPolicy | undefined
  readonly #lanes: Lane[]
  #nextSeq = 0
  #depth = 0
  #delivered = 0
  #retried = 0
  #failed = 0
  #dropped = 0
  /** The current run of drops; undefined while events are accepted. */
  #dropping: DropRun | undefined
  #started = false
  #closed = false

  /**
   * Open the queue in `root` (the databases `webhook-queue` and `webhook-failed`). Nothing is sent before `start`.
   * @throws EAR_ERR_CONFIG when the settings are invalid (the config layer should have refused them already)
   */
  constructor (root: RootDatabase, settings: WebhookSettings, options: WebhookDispatcherOptions = {}) {
    const keepFailed = options.keepFailed ?? DEFAULT_KEEP_FAILED
    checkSettings(settings, keepFailed)
    const urls = Object.freeze([...new Set(settings.urls)])
    this.#settings = Object.freeze({ ...settings, urls })
    this.#onDelivery = options.onDelivery
    this.#onDrop = options.onDrop
    this.#log = options.log ?? silentLogger
    this.#writes = options.writes ?? new StateWrites()
    this.#keepFailed = keepFailed
    this.#policy = options.addressPolicy
    this.#root = root
    this.#queue = root.openDB<QueuedDelivery, QueueKey>('webhook-queue', { encoding: 'msgpack' })
    this.#failedDb = root.openDB<FailedDelivery, FailedKey>('webhook-failed', { encoding: 'msgpack' })
    this.#lanes = urls.map((url) => ({ url, running: undefined, timer: undefined, controller: undefined }))
    // One pass over the keys (at most maxQueue of them) gives the depth and where seq resumes.
    for (const key of this.#queue.getKeys()) {
      this.#depth++
      if (key[1] >= this.#nextSeq) this.#nextSeq = key[1] + 1
    }
  }

  /**
   * Queue an event for every URL. The deliveries are on disk when this returns (one synchronous transaction).
   * Returns false, and counts the deliveries as dropped, when they would take the queue past `maxQueue` or cannot
   * be stored (a full disk): an event goes to all URLs or to none.
   */
  enqueue (event: WebhookEvent): boolean {
    if (!EVENT_TYPES.has(event.type)) throw earshotError('EAR_ERR_INTERNAL', `unknown webhook event type ${String(event.type)}`)
    const urls = this.#settings.urls
    if (urls.length === 0) return true
    const eventId = event.id ?? randomUUID()
    if (this.#depth + urls.length > this.#settings.maxQueue) {
      this.#drop(event, eventId, 'queue full')
      return false
    }
    const body = JSON.stringify({ id: eventId, type: event.type, createdAt: new Date().toISOString(), data: event.data ?? null })
    const seq = this.#nextSeq++
    try {
      this.#writes.sync('a webhook event', () => this.#queue.transactionSync(() => {
        for (const url of urls) this.#queue.putSync([url, seq], { id: uuidV5(url, eventId), eventId, type: event.type, body, attempts: 0 })
      }))
    } catch {
      this.#drop(event, eventId, 'disk full') // reported by #writes
      return false
    }
    this.#depth += urls.length
    if (this.#dropping !== undefined) this.#stopDropping()
    for (const lane of this.#lanes) this.#pump(lane)
    return true
  }

  /**
   * Begin delivering, oldest first, including deliveries persisted by an earlier process. Deliveries persisted for
   * a URL that is no longer configured are failed (reason 'url no longer configured'), not sent: the URL was
   * removed on purpose, perhaps because it should no longer receive data.
   */
  start (): void {
    if (this.#started || this.#closed) return
    this.#started = true
    this.#failUnconfigured()
    for (const lane of this.#lanes) this.#pump(lane)
  }

  get stats (): WebhookStats {
    const droppingSince = this.#dropping?.since.toISOString() ?? null
    return { delivered: this.#delivered, retried: this.#retried, failed: this.#failed, dropped: this.#dropped, queueDepth: this.#depth, droppingSince }
  }

  /** How many more events the queue takes now (each is one delivery per URL). */
  get room (): number {
    const urls = this.#settings.urls.length
    return urls === 0 ? Infinity : Math.max(0, Math.floor((this.#settings.maxQueue - this.#depth) / urls))
  }

  /** The failed deliveries kept in `webhook-failed`, newest first. */
  recentFailures (): FailedDelivery[] {
    return [...this.#failedDb.getRange({ reverse: true, limit: this.#keepFailed })].map((e) => e.value)
  }

  /**
   * Stop: cancel retry timers, abort requests in flight and wait for their lanes to settle. An aborted attempt
   * does not count; everything undelivered stays persisted for the next dispatcher. Does not close `root`.
   */
  async close (): Promise<void> {
    this.#closed = true
    for (const lane of this.#lanes) {
      clearTimeout(lane.timer)
      lane.timer = undefined
      lane.controller?.abort()
    }
    await Promise.all(this.#lanes.map((lane) => lane.running))
  }

  /** Post the lane's first delivery unless it is busy, waiting or empty; go on to the next when one settles. */
  #pump (lane: Lane): void {
    if (!this.#started || this.#closed || lane.running !== undefined || lane.timer !== undefined) return
    // Looked up here, synchronously, not inside the attempt: an enqueue in the same turn must find the lane busy
    // only when it really is, or its wake-up would be lost.
    const head = this.#first(lane.url)
    if (head === undefined) return
    lane.running = this.#deliver(lane, head.key, head.value).then(() => {
      lane.running = undefined
      this.#pump(lane)
    }, () => {
      // Only LMDB writes reject here (fetch errors are outcomes). Try again later rather than spin or stop for good.
      lane.running = undefined
      this.#retryLater(lane, this.#settings.maxBackoffMs)
    })
  }

  #retryLater (lane: Lane, delayMs: number): void {
    if (this.#closed) return
    lane.timer = setTimeout(() => {
      lane.timer = undefined
      this.#pump(lane)
    }, delayMs)
    lane.timer.unref() // a pending retry must not keep the process alive
  }

  /** One attempt at the lane's first delivery; settles once its outcome is committed (or a retry is scheduled). */
  async #deliver (lane: Lane, key: QueueKey, value: QueuedDelivery): Promise<void> {
    const attempt = value.attempts + 1
    const controller = new AbortController()
    lane.controller = controller
    let status: number | 'error'
    let retryAfter: string | null = null
    let networkError = ''
    try {
      // undici's own fetch (node's may be another undici than the policy's dispatcher), loaded with the dispatcher.
      const { fetch } = await import('undici')
      const res = await fetch(lane.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-earshot-event': value.type,
          'x-earshot-delivery': value.id,
          [SIGNATURE_HEADER]: signBody(this.#settings.secret, value.body),
        },
        body: value.body,
        // Following a 301/302 would turn the POST into a GET elsewhere; a receiver that redirects is misconfigured.
        redirect: 'manual',
        dispatcher: await this.#policy?.dispatcher(),
        signal: AbortSignal.any([controller.signal, AbortSignal.timeout(this.#settings.timeoutMs)]),
      })
      status = res.status
      retryAfter = res.headers.get('retry-after')
      // The answer's body is not used; cancelling it frees the connection.
      await res.body?.cancel().catch(() => {})
    } catch (err) {
      status = 'error'
      networkError = describeNetworkError(err)
    } finally {
      lane.controller = undefined
    }
    if (controller.signal.aborted) return // closing: the delivery stays queued and the attempt does not count

    if (typeof status === 'number' && status >= 200 && status < 300) {
      await this.#writes.awaited('a webhook delivery', this.#queue.remove(key))
      this.#depth--
      this.#delivered++
      this.#report({ url: lane.url, status, attempt, outcome: 'delivered' })
      return
    }
    const last = status === 'error' ? networkError : `HTTP ${status}`
    if (isRetryable(status) && attempt < this.#settings.maxAttempts) {
      await this.#writes.awaited('a webhook retry', this.#queue.put(key, { ...value, attempts: attempt }))
      this.#retried++
      this.#report({ url: lane.url, status, attempt, outcome: 'retry' })
      const asked = parseRetryAfter(retryAfter)
      const { initialBackoffMs, maxBackoffMs } = this.#settings
      this.#retryLater(lane, asked !== undefined ? Math.min(asked, maxBackoffMs) : backoffDelayMs(attempt, initialBackoffMs, maxBackoffMs, EQUAL_JITTER))
      return
    }
    const reason = isRetryable(status) ? `gave up after ${attempt} attempts (last: ${last})` : `refused (${last})`
    await this.#writes.awaited('a failed webhook delivery', this.#root.transaction(() => this.#moveToFailed(lane.url, key, value, attempt, status, reason)))
    this.#log.warn({ url: lane.url, eventId: value.eventId, delivery: value.id, type: value.type, attempts: attempt, reason }, 'webhook delivery failed')
    this.#depth--
    this.#failed++
    this.#report({ url: lane.url, status, attempt, outcome: 'failed' })
  }

  #first (url: string): { key: QueueKey, value: QueuedDelivery } | undefined {
    for (const entry of this.#queue.getRange({ start: [url, 0], end: [url, SEQ_END], limit: 1 })) return entry
    return undefined
  }

  /**
   * Inside a write transaction: take the delivery off the queue and keep it in `webhook-failed`, trimmed to the
   * newest `keepFailed`. The caller counts it once committed.
   */
  #moveToFailed (
    url: string, key: QueueKey, value: QueuedDelivery, attempts: number, status: FailedDelivery['status'], reason: string,
  ): void {
    const now = Date.now()
    const { id, eventId, type, body } = value
    this.#queue.removeSync(key)
    this.#failedDb.putSync([now, id], { id, url, eventId, type, attempts, status, reason, failedAt: new Date(now).toISOString(), body })
    const excess = this.#failedDb.getCount() - this.#keepFailed
    if (excess > 0) for (const old of [...this.#failedDb.getKeys({ limit: excess })]) this.#failedDb.removeSync(old)
  }

  #failUnconfigured (): void {
    const configured = new Set(this.#settings.urls)
    const stale: Array<{ key: QueueKey, value: QueuedDelivery }> = []
    for (const entry of this.#queue.getRange()) if (!configured.has(entry.key[0])) stale.push(entry)
    if (stale.length === 0) return
    try {
      this.#writes.sync('failed webhook deliveries', () => this.#root.transactionSync(() => {
        for (const { key, value } of stale) this.#moveToFailed(key[0], key, value, value.attempts, null, 'url no longer configured')
      }))
    } catch {
      return // reported by #writes; they stay queued, unsent (no lane posts them), until a start with space
    }
    this.#depth -= stale.length
    this.#failed += stale.length
  }

  #drop ({ type, at = Date.now() }: WebhookEvent, eventId: string, why: 'queue full' | 'disk full'): void {
    const deliveries = this.#settings.urls.length
    this.#dropped += deliveries
    if (this.#dropping === undefined) {
      this.#dropping = { since: new Date(), events: 0, from: at, to: at }
      this.#log.warn({ maxQueue: this.#settings.maxQueue, eventId, type }, `webhook ${why}: dropping new events until it clears (the play log keeps them; replay with POST /v1/webhooks/replay)`)
    } else {
      this.#log.debug({ eventId, type }, 'webhook event dropped')
    }
    const run = this.#dropping
    run.events++
    run.from = Math.min(run.from, at)
    run.to = Math.max(run.to, at)
    try {
      this.#onDrop?.(deliveries)
    } catch {
      // An observer's bug must not break enqueue.
    }
  }

  /** The queue took an event again: say which range to replay (`to` is exclusive, so one ms past the last). */
  #stopDropping (): void {
    const { events, from, to } = this.#dropping as DropRun
    this.#dropping = undefined
    this.#log.warn({ dropped: events, from: new Date(from).toISOString(), to: new Date(to + 1).toISOString() },
      'webhook queue accepts events again; replay this range (POST /v1/webhooks/replay) to send the dropped events')
  }

  #report (e: DeliveryReport): void {
    if (this.#onDelivery === undefined) return
    try {
      this.#onDelivery(e)
    } catch {
      // An observer's bug must not stall or repeat deliveries.
    }
  }
}
