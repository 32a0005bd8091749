/**
 * Monitored streams: each one pulls its source (SourcePuller), feeds the audio through the same stream wiring as a
 * client (Stream), and files confirmed matches in the play log (PlayRecorder). Monitors are stored in LMDB and
 * started again when the server starts.
 *
 *   source PCM -> Stream -> matches -> PlayRecorder -> play log, webhooks
 *                                   -> the monitor's current match
 *
 * A source that drops ends its session (the open play closes at the last audio) and a new session starts on
 * reconnect; stream time runs on across sessions, so the play log reads as one timeline per monitor.
 */
import { randomUUID } from 'node:crypto'
import type { Database, RootDatabase } from 'lmdb'
import type { Settings } from '../config/defaults.js'
import { earshotError } from '../errors.js'
import type { Index } from '../index/types.js'
import type { Play, PlayLog } from '../playlog/play-log.js'
import { PlayRecorder, type PlayEvent } from '../playlog/play-recorder.js'
import type { SessionMatch, SessionMatchEnd } from '../stream/session.js'
import { matchMessage } from '../stream/messages.js'
import type { StreamEngines } from '../stream/engines.js'
import { Stream } from '../stream/stream.js'
import type { Metrics } from '../metrics/metrics.js'
import { round } from '../round.js'
import type { MatchState, PcmFormat } from '../../../protocol/src/index.js'
import { SourcePuller, type SourceStatus } from './source-puller.js'
import { validateSourceUrl } from './source-url.js'
import { silentLogger, type Logger } from '../log.js'
import { AddressPolicy } from '../net/address-policy.js'
import { StateWrites } from '../state/state-writes.js'

/** A stored monitor. */
export interface MonitorRecord {
  id: string
  url: string
  label: string
  createdAt: string
  /** When its finite source (a file) was read to the end (ISO 8601): a finished monitor is not started again. */
  finishedAt?: string
}

export interface CurrentMatch {
  state: MatchState
  trackId: number
  title: string
  artist: string
  confidence: number
  /** Position in the track when the latest match came (see Match.offsetSeconds). */
  offsetSeconds: number
  /** Playback speed against the track (see Match.speed). */
  speed: number
}

/** A monitor as the API shows it. */
export interface MonitorInfo extends MonitorRecord {
  state: SourceStatus['state']
  /** When the monitor entered its state (ISO); "down since" when down. */
  since: string
  reconnects: number
  lastError: string | null
  /** Seconds of audio heard since the server started. */
  streamSeconds: number
  /** Seconds of that audio in which no track was confirmed. */
  unmatchedSeconds: number
  current: CurrentMatch | null
  /** In a cluster: the node that runs it; null while none does (between a node's death and the takeover). */
  node?: string | null
}

/** The monitors as the API sees them: one server's (Monitors), or a cluster's (ClusterMonitors). */
export interface MonitorDirectory {
  /** @throws EAR_ERR_BAD_REQUEST, EAR_ERR_ADDRESS_NOT_ALLOWED, EAR_ERR_MONITOR_EXISTS, EAR_ERR_TOO_MANY_MONITORS, EAR_ERR_DISK_FULL, EAR_ERR_CLUSTER */
  add (url: string, label: string): Promise<MonitorInfo>
  /** Oldest first. */
  list (): MonitorInfo[]
  get (id: string): MonitorInfo | undefined
  /** Stop and forget a monitor; its plays stay in the log. */
  remove (id: string): Promise<boolean>
  readonly size: number
}

export interface MonitorHooks {
  /** A play opened or closed (webhooks). */
  onPlay?: (e: PlayEvent, monitor: MonitorRecord) => void
  /** The server's metrics. */
  metrics?: Metrics
  /** Where state changes and reconnects are logged (a child logger of the server's; default silent). */
  log?: Logger
  /** Which addresses sources may be at; default: one made from settings.network. */
  addressPolicy?: AddressPolicy
  /** The handler of failed writes to the server state (a full disk); default one of its own. */
  writes?: StateWrites
  /** Worker threads that run the monitors' sessions; none: they run in this thread. */
  engines?: StreamEngines
  /** Where monitors are kept; default: the server state (LMDB). A cluster keeps them in NATS (ClusterMonitors). */
  store?: MonitorStore
}

/** Where the monitors are kept. */
export interface MonitorStore {
  list (): Iterable<MonitorRecord>
  /** Store a new or changed record. @throws EAR_ERR_DISK_FULL */
  put (record: MonitorRecord): void
  /** @throws EAR_ERR_DISK_FULL */
  remove (id: string): void
}

/** The transport label of monitor sessions in metrics: the server pulls them. */
const MONITOR_TRANSPORT = 'pull'

class Monitor {
  readonly record: MonitorRecord
  readonly #puller: SourcePuller
  readonly #recorder: PlayRecorder
  #session: Stream | undefined
  #base = 0 // stream seconds of the sessions before this one
  #seen = 0 // stream seconds reported to onAudio
  #unmatched = 0
  #reconnects = 0
  #current: CurrentMatch | null = null
  #lastFailureLog = 0
  /** While the last session's close is under way on an engine: what the source said since, done once it is closed. */
  #afterClose: Array<() => void> | undefined
  #closed: Promise<void> = Promise.resolve()

  constructor (record: MonitorRecord, private readonly index: Index, private readonly settings: Settings, plays: PlayLog,
    private readonly hooks: MonitorHooks, addressPolicy: AddressPolicy, private readonly onFinished: (m: Monitor) => void) {
    this.record = record
    this.#recorder = new PlayRecorder(plays, { id: record.id, kind: 'monitor' }, (e) => hooks.onPlay?.(e, record))
    const m = settings.monitors
    this.#puller = new SourcePuller(record.url, {
      format: (f) => this.#open(f),
      pcm: (bytes) => this.#write(bytes),
      end: () => this.#end(),
      state: (s) => this.#onState(s),
    }, { initialBackoffMs: m.initialBackoffMs, maxBackoffMs: m.maxBackoffMs, stallTimeoutMs: m.stallTimeoutMs, ffmpegSampleRate: settings.fingerprint.sampleRate, ffmpegPath: settings.ffmpegPath, addressPolicy })
  }

  /**
   * Start pulling. From another node (a cluster's): stream time starts at `streamSeconds`, and the play it left
   * open may be continued (PlayRecorder.adopt).
   */
  start (streamSeconds = 0, orphan?: Play): void {
    this.#base = streamSeconds
    this.#seen = streamSeconds
    if (orphan !== undefined) this.#recorder.adopt(orphan)
    this.#puller.start()
  }

  async stop (): Promise<void> {
    await this.#puller.stop()
    this.#end()
    await this.#closed
  }

  info (): MonitorInfo {
    const s = this.#puller.status
    const finishedAt = this.record.finishedAt
    return {
      ...this.record,
      state: finishedAt !== undefined ? 'finished' : s.state,
      since: finishedAt ?? s.since,
      reconnects: s.reconnects,
      lastError: s.lastError ?? null,
      streamSeconds: round(this.#streamSeconds, 2),
      unmatchedSeconds: round(this.#unmatched, 2),
      current: this.#current && { ...this.#current },
    }
  }

  get #streamSeconds (): number { return this.#base + (this.#session?.streamSeconds ?? 0) }

  #open (f: PcmFormat): void {
    this.#end()
    if (this.#afterClose) { this.#afterClose.push(() => this.#open(f)); return }
    this.#recorder.streamBase = this.#base
    this.#session = new Stream({
      index: this.index,
      settings: this.settings,
      format: f,
      labels: { transport: MONITOR_TRANSPORT, kind: 'monitor', monitor: { id: this.record.id, label: this.record.label } },
      metrics: this.hooks.metrics,
      listeners: [{ match: (e) => this.#onMatch(e), matchEnd: (e) => this.#onMatchEnd(e), audio: () => this.#onAudio(), fault: (err) => this.#failed(err) }, this.#recorder],
      engines: this.hooks.engines,
    })
  }

  #onState (s: SourceStatus): void {
    const log = this.hooks.log ?? silentLogger
    const at = { monitor: this.record.id, label: this.record.label, state: s.state, reconnects: s.reconnects }
    if (s.state === 'down') log.warn({ ...at, error: s.lastError }, 'monitor down')
    else log.info(at, s.reconnects > this.#reconnects ? 'monitor reconnecting' : `monitor ${s.state}`)
    if (s.state === 'finished') {
      this.record.finishedAt = s.since
      this.onFinished(this)
    }
    const metrics = this.hooks.metrics
    if (!metrics) {
      this.#reconnects = s.reconnects
      return
    }
    const labels = { monitor: this.record.id, label: this.record.label }
    metrics.monitorUp.labels(labels).set(s.state === 'listening' ? 1 : 0)
    metrics.monitorReconnects.labels(labels).inc(0) // the series exists from the start, so rate() sees its first step
    if (s.reconnects > this.#reconnects) metrics.monitorReconnects.labels(labels).inc(s.reconnects - this.#reconnects)
    this.#reconnects = s.reconnects
  }

  /** Forget this monitor's series (it was removed). */
  dropMetrics (): void {
    const metrics = this.hooks.metrics
    if (!metrics) return
    const labels = { monitor: this.record.id, label: this.record.label }
    for (const m of [metrics.monitorUp, metrics.monitorReconnects, metrics.monitorAudioSeconds, metrics.monitorUnknownSeconds]) m.remove(labels)
    metrics.matchesConfirmed.remove({ monitor: this.record.id })
    metrics.matchEnds.remove({ monitor: this.record.id })
  }

  #write (bytes: Uint8Array): void {
    if (this.#afterClose) { const copy = bytes.slice(); this.#afterClose.push(() => this.#write(copy)); return }
    const session = this.#session
    if (!session || session.check(bytes)) return // a NaN-bearing or misaligned chunk is skipped, never fatal
    // A damaged index page (EAR_ERR_INDEX_READ, counted by the index for /health) loses this chunk, not the process.
    try { session.write(bytes) } catch (err) { this.#failed(err) }
  }

  #onAudio (): void {
    const now = this.#streamSeconds
    if (this.#current?.state !== 'confirmed') this.#unmatched += now - this.#seen
    this.#seen = now
  }

  /** Logged once a second at most: a damaged index fails every chunk. */
  #failed (err: unknown): void {
    const now = Date.now()
    if (now - this.#lastFailureLog < 1000) return
    this.#lastFailureLog = now
    const log = this.hooks.log ?? silentLogger
    log.error({ err, monitor: this.record.id }, 'a chunk of the station could not be matched')
  }

  #end (): void {
    const session = this.#session
    if (!session) return
    this.#session = undefined
    try { session.flush() } catch (err) { this.#failed(err) } // the session ends here either way
    this.#base += session.streamSeconds
    this.#seen = this.#base
    // A session on an engine closes once its last results are in: the next one waits, so that plays stay in order.
    const waiting: Array<() => void> = []
    this.#afterClose = waiting
    this.#closed = new Promise((resolve) => {
      session.close('normal', () => { // closes the open play too
        this.#afterClose = undefined
        this.#current = null
        resolve()
        for (const f of waiting) f()
      })
    })
  }

  #onMatch (e: SessionMatch): void {
    const m = matchMessage(e) // shown as a client is sent it
    this.#current = { state: m.state, trackId: m.id, title: m.title, artist: m.artist, confidence: m.confidence, offsetSeconds: m.offsetSeconds, speed: m.speed }
  }

  #onMatchEnd (e: SessionMatchEnd): void {
    if (this.#current?.trackId === e.trackId) this.#current = null
  }
}

/** The server state's monitors database. */
class LmdbMonitorStore implements MonitorStore {
  readonly #db: Database<MonitorRecord, string>
  constructor (root: RootDatabase, private readonly writes: StateWrites) {
    this.#db = root.openDB<MonitorRecord, string>('monitors', { encoding: 'msgpack' })
  }

  * list (): Iterable<MonitorRecord> { for (const { value } of this.#db.getRange()) yield value }
  put (record: MonitorRecord): void { this.writes.sync('a monitor', () => this.#db.putSync(record.id, record)) }
  remove (id: string): void { this.writes.sync('the removal of a monitor', () => this.#db.removeSync(id)) }
}

/**
 * Check a new monitor's URL and the room for it against `existing` (every monitor there is).
 * @throws EAR_ERR_BAD_REQUEST, EAR_ERR_ADDRESS_NOT_ALLOWED, EAR_ERR_MONITOR_EXISTS, EAR_ERR_TOO_MANY_MONITORS
 */
export async function checkNewMonitor (url: string, existing: Iterable<MonitorRecord>, settings: Settings, policy: AddressPolicy): Promise<MonitorRecord[]> {
  const problem = validateSourceUrl(url)
  if (problem) throw earshotError('EAR_ERR_BAD_REQUEST', `url: ${problem}`)
  await policy.checkUrl(url) // and again on every connection: DNS may answer otherwise by then
  const all = [...existing]
  const same = all.find((m) => m.url === url)
  if (same) throw earshotError('EAR_ERR_MONITOR_EXISTS', url, same.id)
  if (all.length >= settings.monitors.maxMonitors) throw earshotError('EAR_ERR_TOO_MANY_MONITORS', settings.monitors.maxMonitors)
  return all
}

export function newMonitorRecord (url: string, label: string): MonitorRecord {
  return { id: randomUUID(), url, label, createdAt: new Date().toISOString() }
}

export class Monitors implements MonitorDirectory {
  readonly #store: MonitorStore
  readonly #running = new Map<string, Monitor>()
  readonly #policy: AddressPolicy
  #closed = false

  constructor (root: RootDatabase, private readonly index: Index, private readonly settings: Settings,
    private readonly plays: PlayLog, private readonly hooks: MonitorHooks = {}) {
    this.#policy = hooks.addressPolicy ?? new AddressPolicy(settings.network.allowedAddresses)
    this.#store = hooks.store ?? new LmdbMonitorStore(root, hooks.writes ?? new StateWrites())
  }

  get addressPolicy (): AddressPolicy { return this.#policy }

  /** Start every stored monitor (server start). */
  resume (): void {
    for (const record of this.#store.list()) this.#launch(record)
  }

  /**
   * Store a monitor and start it.
   * @throws EAR_ERR_BAD_REQUEST, EAR_ERR_ADDRESS_NOT_ALLOWED, EAR_ERR_MONITOR_EXISTS, EAR_ERR_TOO_MANY_MONITORS, EAR_ERR_DISK_FULL
   */
  async add (url: string, label: string): Promise<MonitorInfo> {
    await checkNewMonitor(url, [...this.#running.values()].map((m) => m.record), this.settings, this.#policy)
    const record = newMonitorRecord(url, label)
    this.#store.put(record)
    return this.#launch(record).info()
  }

  /** Run a monitor kept elsewhere (a cluster's), going on from where another node left it (see Monitor.start). */
  run (record: MonitorRecord, streamSeconds = 0, orphan?: Play): void {
    if (!this.#running.has(record.id)) this.#launch(record, streamSeconds, orphan)
  }

  /** Stop a monitor run with `run` (another node has it now, or it was removed); its series go. */
  async halt (id: string): Promise<void> {
    const m = this.#running.get(id)
    if (!m) return
    this.#running.delete(id)
    await m.stop()
    m.dropMetrics()
  }

  /** The ids of the monitors running here. */
  ids (): string[] { return [...this.#running.keys()] }

  list (): MonitorInfo[] {
    return [...this.#running.values()].map((m) => m.info()).sort((a, b) => a.createdAt.localeCompare(b.createdAt))
  }

  get (id: string): MonitorInfo | undefined { return this.#running.get(id)?.info() }

  get size (): number { return this.#running.size }

  /** Stop and forget a monitor; its plays stay in the log. @throws EAR_ERR_DISK_FULL */
  async remove (id: string): Promise<boolean> {
    const m = this.#running.get(id)
    if (!m) return false
    this.#store.remove(id)
    this.#running.delete(id)
    await m.stop()
    m.dropMetrics()
    return true
  }

  async close (): Promise<void> {
    this.#closed = true
    const all = [...this.#running.values()]
    this.#running.clear()
    await Promise.all(all.map((m) => m.stop()))
  }

  #launch (record: MonitorRecord, streamSeconds = 0, orphan?: Play): Monitor {
    const m = new Monitor(record, this.index, this.settings, this.plays, this.hooks, this.#policy, (done) => this.#finished(done))
    this.#running.set(record.id, m)
    if (!this.#closed && record.finishedAt === undefined) m.start(streamSeconds, orphan)
    return m
  }

  /** A finite source was read to its end: keep that, so a restart does not play the file again. */
  #finished (m: Monitor): void {
    if (this.#running.get(m.record.id) !== m) return
    try {
      this.#store.put(m.record)
    } catch {
      // Reported by #writes; in a source callback. Only a restart before space is back would hear the file again.
    }
  }
}

