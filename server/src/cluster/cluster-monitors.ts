/**
 * A cluster's monitors: kept in NATS, each run by exactly one live node, taken over when that node dies.
 *
 * Every node watches the monitors bucket and the leases bucket (ClusterLink), and every quarter of `leaseMs`:
 *
 *   1. says it is alive (the nodes bucket; an entry expires after leaseMs);
 *   2. renews the leases of the monitors it runs: a compare-and-set on the revision it holds, carrying the monitor's
 *      state and stream position for the other nodes to show and to resume from. A lease another node took, or one
 *      that expired, stops the monitor here. A node that could not renew for half a lease stops all its monitors
 *      before their leases can expire, so a partitioned node never runs a monitor that another node has taken;
 *   3. claims monitors nobody holds (creating the lease fails if another node was quicker), up to its fair share,
 *      ceil(monitors / live nodes), and lets go of monitors beyond it, so a node that joins gets its part.
 *
 * A node killed with -9 stops renewing: its leases expire after leaseMs and the next round of another node claims
 * them: a monitor is back within leaseMs + leaseMs / 4 + the source's connection time (10 s + 2.5 s + about 1 s by
 * default). It resumes at the stream position of the last renewal plus the wall time since, and continues the play
 * the dead node had open when the same song is confirmed at the position it had reached (PlayRecorder.adopt).
 * A node that shuts down hands its monitors over at once: it deletes their leases.
 */
import type { KvEntry } from '@nats-io/kv'
import type { Settings } from '../config/defaults.js'
import { earshotError } from '../errors.js'
import type { Logger } from '../log.js'
import { checkNewMonitor, newMonitorRecord, type MonitorDirectory, type MonitorInfo, type MonitorRecord, type MonitorStore, type Monitors } from '../monitor/monitors.js'
import type { PlayLog } from '../playlog/play-log.js'
import { decodeJson, encodeJson, type ClusterLink } from './link.js'

/** What the holder of a monitor says of it, renewed with the lease. */
interface Lease {
  node: string
  /** Wall clock of the renewal, ms since epoch. */
  at: number
  streamSeconds: number
  info: Pick<MonitorInfo, 'state' | 'since' | 'reconnects' | 'lastError' | 'streamSeconds' | 'unmatchedSeconds' | 'current'>
}

/** A live node, as it says every round. */
export interface NodeBeat {
  node: string
  startedAt: string
  /** Monitors it runs. */
  monitors: number
  /** The catalog it serves: its published version ('local': not one published to the cluster), and its size. */
  index: { version: string, tracks: number, postings: number }
}

export class ClusterMonitors implements MonitorDirectory {
  readonly #link: ClusterLink
  readonly #local: Monitors
  readonly #settings: Settings
  readonly #plays: PlayLog
  readonly #log: Logger
  readonly #beat: () => Omit<NodeBeat, 'node' | 'monitors'>
  readonly #records = new Map<string, MonitorRecord>()
  /**
   * Every lease there is, as last seen, with its revision and when it was seen here. A lease that expires goes
   * without a word from the bucket (JetStream drops it; no watcher hears of it): one not renewed for leaseMs is taken
   * as gone, and creating it again is what decides.
   */
  readonly #leases = new Map<string, { lease: Lease, revision: number, seenAt: number }>()
  /** The last lease each monitor had, kept after it expired: where a takeover resumes. */
  readonly #lastLease = new Map<string, Lease>()
  /** The nodes' beats, with when each was seen here (like leases, an entry that expires goes unannounced). */
  readonly #nodes = new Map<string, { beat: NodeBeat, seenAt: number }>()
  /**
   * Monitors this node runs, with the revision of its lease and when the request that set that revision was sent
   * (the lease expires leaseMs after NATS stored it, which is later).
   */
  readonly #held = new Map<string, { revision: number, renewedAt: number }>()
  #timer: NodeJS.Timeout | undefined
  #fence: NodeJS.Timeout | undefined
  #round: Promise<void> = Promise.resolve()
  readonly #watchers: Array<{ stop: () => void }> = []
  #closed = false

  constructor (link: ClusterLink, local: Monitors, settings: Settings, plays: PlayLog, log: Logger, beat: () => Omit<NodeBeat, 'node' | 'monitors'>) {
    this.#link = link
    this.#local = local
    this.#settings = settings
    this.#plays = plays
    this.#log = log
    this.#beat = beat
  }

  /** The store the local Monitors is given: a finished monitor is kept finished in the bucket. */
  static store (link: ClusterLink, log: Logger): MonitorStore {
    return {
      list: () => [],
      put (record) { link.monitors.put(record.id, encodeJson(record)).catch((err: unknown) => log.warn({ err, monitor: record.id }, 'cluster: a finished monitor could not be stored')) },
      remove () {},
    }
  }

  /** Read the buckets (what is there now), then take part in the rounds. */
  async start (): Promise<void> {
    await Promise.all([
      this.#watch(this.#link.monitors, '>', (e) => {
        if (e.operation === 'PUT') this.#records.set(e.key, decodeJson<MonitorRecord>(e.value))
        else this.#records.delete(e.key)
      }),
      this.#watch(this.#link.leases, '>', (e) => {
        if (e.operation === 'PUT') {
          const lease = decodeJson<Lease>(e.value)
          this.#leases.set(e.key, { lease, revision: e.revision, seenAt: Date.now() })
          this.#lastLease.set(e.key, lease)
        } else {
          this.#leases.delete(e.key)
        }
      }),
      this.#watch(this.#link.nodes, 'node.>', (e) => {
        if (e.operation === 'PUT') this.#nodes.set(e.key, { beat: decodeJson<NodeBeat>(e.value), seenAt: Date.now() })
        else this.#nodes.delete(e.key)
      }),
    ])
    const every = Math.max(250, Math.floor(this.#settings.cluster.leaseMs / 4))
    this.#timer = setInterval(() => this.#schedule(), every)
    this.#timer.unref()
    // Apart from the rounds, which wait on NATS: a node cut off must stop in time even while its requests hang.
    this.#fence = setInterval(() => this.#fenceOff(), Math.max(100, Math.floor(this.#settings.cluster.leaseMs / 8)))
    this.#fence.unref()
    this.#schedule()
  }

  /** Follow a bucket: its current entries first (resolves once they are in), then every change. */
  async #watch (kv: ClusterLink['monitors'], key: string, apply: (e: KvEntry) => void): Promise<void> {
    const watcher = await kv.watch({ key })
    this.#watchers.push(watcher)
    let ready: () => void = () => {}
    const caughtUp = new Promise<void>((resolve) => { ready = resolve })
    const status = await kv.status()
    if (status.values === 0) ready()
    // The bucket's count includes keys this watch filters out (turn.*): never wait on them for long.
    const fallback = setTimeout(ready, WATCH_READY_MS)
    void caughtUp.then(() => clearTimeout(fallback))
    void (async () => {
      for await (const e of watcher) {
        try { apply(e) } catch (err) { this.#log.error({ err, key: e.key }, 'cluster: an entry could not be read') }
        if (e.delta === 0) ready()
      }
    })()
    await caughtUp
  }

  #schedule (): void {
    this.#round = this.#round.then(() => this.#tick()).catch((err: unknown) => this.#log.error({ err }, 'cluster: a round failed'))
  }

  /** The live nodes (this one included), by name. */
  nodes (): NodeBeat[] {
    const since = Date.now() - this.#settings.cluster.leaseMs
    return [...this.#nodes.values()].filter((n) => n.seenAt >= since).map((n) => n.beat).sort((a, b) => a.node.localeCompare(b.node))
  }

  /** This node's name. */
  get node (): string { return this.#link.node }

  async #tick (): Promise<void> {
    if (this.#closed) return
    const link = this.#link
    try {
      await link.nodes.put(`node.${link.node}`, encodeJson({ node: link.node, monitors: this.#held.size, ...this.#beat() } satisfies NodeBeat))
    } catch (err) {
      this.#log.warn({ err }, 'cluster: NATS does not answer')
    }
    await this.#renew()
    await this.#claim()
  }

  /**
   * Stop, here, every monitor whose lease was not renewed for half a lease: cut off from NATS, this node cannot know
   * whether another has taken it once the lease expires, and must not be found running it then.
   */
  #fenceOff (): void {
    const limit = Date.now() - this.#settings.cluster.leaseMs / 2
    const lapsing = [...this.#held].filter(([, h]) => h.renewedAt < limit).map(([id]) => id)
    if (lapsing.length === 0) return
    this.#log.warn({ monitors: lapsing.length }, 'cluster: leases not renewed for half their time; stopping their monitors here')
    for (const id of lapsing) {
      this.#held.delete(id)
      void this.#local.halt(id)
    }
  }

  async #renew (): Promise<void> {
    for (const [id, held] of [...this.#held]) {
      if (!this.#records.has(id)) { await this.#letGo(id, true); continue } // removed
      const sentAt = Date.now()
      try {
        const revision = await this.#link.leases.update(id, encodeJson(this.#leaseOf(id)), held.revision)
        if (this.#held.get(id) === held) this.#held.set(id, { revision, renewedAt: sentAt })
      } catch (err) {
        if (isConflict(err) && this.#held.get(id) === held) { // expired, and perhaps taken: not ours any more
          this.#log.warn({ monitor: id }, 'cluster: lost the lease of a monitor; stopping it here')
          await this.#letGo(id, false)
        } // otherwise NATS does not answer: tried again next round, and #fenceOff stops it in time
      }
    }
  }

  async #claim (): Promise<void> {
    const live = Math.max(1, this.nodes().length)
    const share = Math.ceil(this.#records.size / live)
    // Beyond the fair share (a node joined): let go of the newest claims, which another node picks up next round.
    for (const id of [...this.#held.keys()].slice(share)) await this.#letGo(id, true)
    const free = [...this.#records.values()]
      .filter((r) => r.finishedAt === undefined && this.#holder(r.id) === null && !this.#held.has(r.id))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    for (const record of free) {
      if (this.#held.size >= share || this.#closed) break
      const last = this.#lastLease.get(record.id)
      const sentAt = Date.now()
      let revision: number
      try {
        revision = await this.#link.leases.create(record.id, encodeJson(this.#leaseOf(record.id, last)))
      } catch {
        continue // another node was quicker
      }
      if (Date.now() - sentAt > this.#settings.cluster.leaseMs / 2) continue // too late to be sure of it: it lapses
      this.#held.set(record.id, { revision, renewedAt: sentAt })
      const streamSeconds = last ? last.streamSeconds + Math.max(0, Date.now() - last.at) / 1000 : 0
      const orphan = this.#plays.openPlays().find((p) => p.kind === 'monitor' && p.stream === record.id)
      this.#log.info({ monitor: record.id, label: record.label, from: last?.node, streamSeconds, orphan: orphan?.id }, last ? 'cluster: took over a monitor' : 'cluster: runs a monitor')
      this.#local.run(record, streamSeconds, orphan)
    }
  }

  /** The node that holds a monitor's lease, null when none does (or its lease was not renewed in time). */
  #holder (id: string): string | null {
    const held = this.#leases.get(id)
    return held !== undefined && Date.now() - held.seenAt <= this.#settings.cluster.leaseMs ? held.lease.node : null
  }

  #leaseOf (id: string, previous?: Lease): Lease {
    const info = this.#local.get(id)
    const streamSeconds = info?.streamSeconds ?? (previous ? previous.streamSeconds + Math.max(0, Date.now() - previous.at) / 1000 : 0)
    return {
      node: this.#link.node,
      at: Date.now(),
      streamSeconds,
      info: info
        ? { state: info.state, since: info.since, reconnects: info.reconnects, lastError: info.lastError, streamSeconds: info.streamSeconds, unmatchedSeconds: info.unmatchedSeconds, current: info.current }
        : { state: 'connecting', since: new Date().toISOString(), reconnects: 0, lastError: null, streamSeconds, unmatchedSeconds: 0, current: null },
    }
  }

  /** Stop running a monitor here; `release` deletes its lease too, so another node may take it at once. */
  async #letGo (id: string, release: boolean): Promise<void> {
    const revision = this.#held.get(id)?.revision
    this.#held.delete(id)
    await this.#local.halt(id)
    if (release && revision !== undefined) {
      try { await this.#link.leases.delete(id, { previousSeq: revision }) } catch {} // it lapses by itself otherwise
    }
  }

  /**
   * Register a monitor for the cluster; a node runs it within a round.
   * @throws as Monitors.add, and EAR_ERR_CLUSTER when NATS does not store it
   */
  async add (url: string, label: string): Promise<MonitorInfo> {
    await checkNewMonitor(url, this.#records.values(), this.#settings, this.#local.addressPolicy)
    const record = newMonitorRecord(url, label)
    try {
      await this.#link.monitors.create(record.id, encodeJson(record))
    } catch (err) {
      throw earshotError('EAR_ERR_CLUSTER', `the monitor could not be stored: ${(err as Error).message}`)
    }
    this.#records.set(record.id, record)
    this.#schedule()
    return this.#infoOf(record)
  }

  list (): MonitorInfo[] {
    return [...this.#records.values()].map((r) => this.#infoOf(r)).sort((a, b) => a.createdAt.localeCompare(b.createdAt))
  }

  get (id: string): MonitorInfo | undefined {
    const record = this.#records.get(id)
    return record && this.#infoOf(record)
  }

  get size (): number { return this.#records.size }

  /** Monitors this node runs. */
  get held (): number { return this.#held.size }

  /** @throws EAR_ERR_CLUSTER when NATS does not take the removal */
  async remove (id: string): Promise<boolean> {
    if (!this.#records.has(id)) return false
    try {
      await this.#link.monitors.delete(id)
    } catch (err) {
      throw earshotError('EAR_ERR_CLUSTER', `the removal could not be stored: ${(err as Error).message}`)
    }
    this.#records.delete(id)
    if (this.#held.has(id)) await this.#letGo(id, true)
    else await this.#local.halt(id)
    return true
  }

  #infoOf (record: MonitorRecord): MonitorInfo {
    const here = this.#held.has(record.id) ? this.#local.get(record.id) : undefined
    if (here) return { ...here, ...record, node: this.#link.node }
    const node = this.#holder(record.id)
    const lease = node !== null ? this.#leases.get(record.id)?.lease : undefined
    const info = lease?.info ?? { state: 'connecting' as const, since: record.createdAt, reconnects: 0, lastError: null, streamSeconds: this.#lastLease.get(record.id)?.streamSeconds ?? 0, unmatchedSeconds: 0, current: null }
    return { ...record, ...info, state: record.finishedAt !== undefined ? 'finished' : info.state, node }
  }

  /** Stop every monitor of this node and hand them over (their leases go); the node leaves the cluster. */
  async close (): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    clearInterval(this.#fence)
    await this.#round
    await Promise.all([...this.#held.keys()].map((id) => this.#letGo(id, true)))
    try { await this.#link.nodes.delete(`node.${this.#link.node}`) } catch {}
    for (const w of this.#watchers) w.stop()
  }
}

/** At most this long is waited for a bucket's current entries at start, in ms. */
const WATCH_READY_MS = 5000

/** A compare-and-set that failed because the entry is not at the revision given (or no longer there). */
function isConflict (err: unknown): boolean {
  const text = String((err as Error)?.message ?? err)
  return /wrong last sequence|key not found|no message found/i.test(text)
}
