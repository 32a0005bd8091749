/**
 * Every metric earshot exports, in one prom-client registry per server, with name, help and unit. Names follow the
 * Prometheus conventions: `earshot_` prefix, `_total` for counters, base units (`_seconds`, `_bytes`) in the name.
 *
 * Label sets are bounded: transport, kind, state, close reason, protocol error code, HTTP route template and status,
 * and per monitor (bounded by configuration). Never a label per session or per track.
 *
 * Hot paths touch metrics through children bound once (pino's habit: do the work at setup); gauges that mirror
 * state elsewhere (index size, webhook queue) are read only when Prometheus scrapes.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

/** Where a session's audio comes from. */
export type SessionKind = 'client' | 'monitor'

/** Latency buckets from 1 ms to 10 s, in seconds. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** Seconds of audio before a match is confirmed: 0.5 s to 30 s. */
const CONFIRM_BUCKETS = [0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 15, 20, 30]
/** Per-tick lookup time: 10 µs to 100 ms. */
const LOOKUP_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1]

export class Metrics {
  readonly registry = new Registry()

  // Sessions
  readonly sessionsActive = this.#gauge('earshot_sessions_active', 'Stream sessions open now', ['transport', 'kind'])
  readonly sessionsOpened = this.#counter('earshot_sessions_opened_total', 'Stream sessions opened', ['transport', 'kind'])
  readonly sessionsClosed = this.#counter('earshot_sessions_closed_total', 'Stream sessions closed, by the reason (an EAR_ERR code, or normal)', ['transport', 'kind', 'reason'])
  readonly audioSeconds = this.#counter('earshot_audio_seconds_total', 'Seconds of audio processed', ['kind'])
  readonly bytesReceived = this.#counter('earshot_received_bytes_total', 'Audio bytes received from clients and monitored sources', ['kind'])

  // Engine
  readonly hashes = this.#counter('earshot_hashes_total', 'Landmark hashes computed from stream audio', [])
  readonly lookups = this.#counter('earshot_index_lookups_total', 'Hash lookups in the index', [])
  readonly postingsRead = this.#counter('earshot_index_postings_read_total', 'Postings read from the index by lookups', [])
  readonly lookupSeconds = new Histogram({
    name: 'earshot_lookup_duration_seconds',
    help: 'Time to look up and vote on one batch of hashes (a stream tick of about 0.5 s, or one identify request)',
    buckets: LOOKUP_BUCKETS,
    registers: [this.registry],
  })

  // Matches
  readonly matchUpdates = this.#counter('earshot_match_updates_total', 'match messages sent, by state', ['state'])
  readonly matchesConfirmed = this.#counter('earshot_matches_confirmed_total', 'Matches confirmed; monitor="" for client streams', ['monitor'])
  readonly matchEnds = this.#counter('earshot_match_ends_total', 'Matches ended; monitor="" for client streams', ['monitor'])
  readonly timeToConfirmed = new Histogram({
    name: 'earshot_time_to_confirmed_seconds',
    help: 'Seconds of audio from the start of a match segment to its confirmation',
    buckets: CONFIRM_BUCKETS,
    registers: [this.registry],
  })
  readonly pushLatency = new Histogram({
    name: 'earshot_push_latency_seconds',
    help: 'Time from receiving the audio that decided a match update to sending the update',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  })
  readonly identifies = this.#counter('earshot_identify_requests_total', 'One-shot identify requests, by outcome (match or none)', ['outcome'])

  // Monitors
  readonly monitorUp = this.#gauge('earshot_monitor_up', '1 when the monitor is listening to its source, else 0', ['monitor', 'label'])
  readonly monitorReconnects = this.#counter('earshot_monitor_reconnects_total', 'Times a monitor reconnected to its source after losing it', ['monitor', 'label'])
  readonly monitorAudioSeconds = this.#counter('earshot_monitor_audio_seconds_total', 'Seconds of audio heard by a monitor', ['monitor', 'label'])
  readonly monitorUnknownSeconds = this.#counter('earshot_monitor_unknown_seconds_total', 'Seconds of a monitor\'s audio with no confirmed match', ['monitor', 'label'])

  // Webhooks
  readonly webhooksDelivered = this.#counter('earshot_webhook_deliveries_total', 'Webhook deliveries accepted by a receiver', [])
  readonly webhooksRetried = this.#counter('earshot_webhook_retries_total', 'Webhook attempts that failed and will be retried', [])
  readonly webhooksFailed = this.#counter('earshot_webhook_failures_total', 'Webhook deliveries given up on', [])
  readonly webhooksDropped = this.#counter('earshot_webhook_drops_total', 'Webhook deliveries dropped because the queue was full (replay them from the play log)', [])

  // Server state
  readonly stateWriteFailures = this.#counter('earshot_state_write_failures_total', 'Writes to the server state (play log, monitors, webhook queue) that failed, by reason (disk_full or error)', ['reason'])

  // HTTP and errors
  readonly httpRequests = this.#counter('earshot_http_requests_total', 'HTTP API requests, by route template, method and status', ['route', 'method', 'status'])
  readonly httpDuration = new Histogram({
    name: 'earshot_http_request_duration_seconds',
    help: 'HTTP API request duration, by route template',
    labelNames: ['route'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  })
  readonly protocolErrors = this.#counter('earshot_protocol_errors_total', 'Protocol errors sent to stream clients, by code', ['code'])

  // Index jobs
  readonly indexJobs = this.#counter('earshot_index_jobs_total', 'Index jobs finished, by state (done, failed or cancelled)', ['state'])
  readonly lastIndexJob = this.#gauge('earshot_index_job_last_finished_timestamp_seconds', 'When the last index job finished, in seconds since 1970', [])
  readonly identifyJobs = this.#counter('earshot_identify_jobs_total', 'Identify jobs (long recordings) finished, by state (done, failed or cancelled)', ['state'])
  readonly lastIndexJobTracks = this.#gauge('earshot_index_job_last_indexed_tracks', 'Tracks added by the last index job', [])

  constructor () {
    collectDefaultMetrics({ register: this.registry, prefix: 'earshot_' })
  }

  /**
   * Gauges read at scrape time from another part of the server.
   * @param read called on every scrape; returns the value
   */
  gaugeFrom (name: string, help: string, read: () => number): void {
    // The gauge registers itself; nothing keeps the object.
    new Gauge({ name, help, registers: [this.registry], collect () { this.set(read()) } })
  }

  /** The text exposition of every metric. */
  async text (): Promise<string> { return this.registry.metrics() }

  get contentType (): string { return this.registry.contentType }

  #counter<L extends string> (name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter<L>({ name, help, labelNames, registers: [this.registry] })
  }

  #gauge<L extends string> (name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    return new Gauge<L>({ name, help, labelNames, registers: [this.registry] })
  }
}
