/**
 * A node's link to its cluster: one NATS connection and the JetStream state the nodes share. NATS JetStream is the
 * cluster's only shared store; the nodes never talk to each other. Every name starts with cluster.name:
 *
 *   <name>_monitors  KV   monitor id -> MonitorRecord (JSON): every monitor of the cluster
 *   <name>_leases    KV   monitor id -> Lease (JSON), entries expire after leaseMs: which node runs the monitor now.
 *                         A node creates the entry to take a monitor (create fails when it exists) and renews it
 *                         with a compare-and-set on its revision; a node that stops renewing loses it
 *   <name>_nodes     KV   node.<node> -> NodeBeat (JSON), expiring after leaseMs: the live nodes, and what each
 *                         serves; turn.index-swap -> the node loading a new index now (index-artifacts.ts)
 *   <name>_plays     KV   play id -> Play (JSON): the latest state of every play, which every node copies into its
 *                         own play log; play ids are made from the stream and start time, so a row is one key
 *   <name>_EVENTS    stream of play events for webhooks (subjects `<name>.events.<type>`), deduplicated by play id
 *                    and type; a work queue that one durable consumer reads, pulled by every node, so each event
 *                    enters exactly one node's webhook queue
 *
 * Buckets and the stream are created by whichever node starts first, with the same settings by every node.
 */
import { hostname } from 'node:os'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { AckPolicy, DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import { Kvm, type KV } from '@nats-io/kv'
import type { ClusterSettings } from '../config/defaults.js'
import { earshotError } from '../errors.js'
import type { Logger } from '../log.js'

/** Window in which a repeated publication of one event is dropped by JetStream, in ms. */
const EVENT_DEDUP_MS = 10 * 60_000
/** An event pulled by a node that then died is given to another node after this, in ms. */
const EVENT_ACK_WAIT_MS = 30_000
/** Plays kept in the shared bucket, and events not yet delivered, at most this long, in ms. */
const SHARED_MAX_AGE_MS = 90 * 24 * 3600_000

const ms = (n: number): number => n * 1_000_000 // JetStream durations are in nanoseconds

export class ClusterLink {
  /** This node's name in the cluster. */
  readonly node: string
  readonly eventsStream: string
  readonly eventsSubject: string

  private constructor (
    readonly settings: ClusterSettings,
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    readonly monitors: KV,
    readonly leases: KV,
    readonly nodes: KV,
    readonly plays: KV,
  ) {
    this.node = settings.node || `${hostname().replace(/[^A-Za-z0-9_.=-]/g, '-')}-${process.pid}`
    this.eventsStream = `${settings.name}_EVENTS`
    this.eventsSubject = `${settings.name}.events`
  }

  /**
   * Connect and make sure the shared state exists.
   * @throws EAR_ERR_CLUSTER when NATS cannot be reached or has no JetStream
   */
  static async open (settings: ClusterSettings, log: Logger): Promise<ClusterLink> {
    let nc: NatsConnection
    try {
      nc = await connect({
        servers: settings.natsUrl.split(',').map((s) => s.trim()).filter(Boolean),
        name: `earshot ${settings.node || hostname()}`,
        maxReconnectAttempts: -1, // a node outlives NATS restarts; its leases lapse meanwhile (see ClusterMonitors)
        reconnectTimeWait: 1000,
      })
    } catch (err) {
      throw earshotError('EAR_ERR_CLUSTER', `cannot connect to NATS at ${settings.natsUrl}: ${(err as Error).message}`)
    }
    try {
      const jsm = await jetstreamManager(nc)
      // Requests time out within a quarter lease, so that a round of a node cut off ends before its leases could.
      const js = jetstream(nc, { timeout: Math.min(5000, Math.floor(settings.leaseMs / 4)) })
      const kvm = new Kvm(js)
      const prefix = settings.name
      const monitors = await kvm.create(`${prefix}_monitors`, { history: 1 })
      const leases = await kvm.create(`${prefix}_leases`, { history: 1, ttl: settings.leaseMs })
      const nodes = await kvm.create(`${prefix}_nodes`, { history: 1, ttl: settings.leaseMs })
      const plays = await kvm.create(`${prefix}_plays`, { history: 1, ttl: SHARED_MAX_AGE_MS })
      const link = new ClusterLink(settings, nc, js, jsm, monitors, leases, nodes, plays)
      await link.#ensureEvents()
      void (async () => {
        for await (const s of nc.status()) {
          if (s.type === 'disconnect' || s.type === 'reconnect') log.warn({ nats: s.type, server: s.server }, `cluster: NATS ${s.type}`)
        }
      })()
      return link
    } catch (err) {
      await nc.close().catch(() => {})
      if (err instanceof Error && 'code' in err && err.code === 'EAR_ERR_CLUSTER') throw err
      throw earshotError('EAR_ERR_CLUSTER', `NATS at ${settings.natsUrl} has no usable JetStream (start nats-server with -js): ${(err as Error).message}`)
    }
  }

  async #ensureEvents (): Promise<void> {
    const config = {
      name: this.eventsStream,
      subjects: [`${this.eventsSubject}.>`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      duplicate_window: ms(EVENT_DEDUP_MS),
      max_age: ms(SHARED_MAX_AGE_MS),
    }
    try { await this.jsm.streams.info(this.eventsStream) } catch { await this.jsm.streams.add(config) }
    try {
      await this.jsm.consumers.info(this.eventsStream, 'webhooks')
    } catch {
      await this.jsm.consumers.add(this.eventsStream, { durable_name: 'webhooks', ack_policy: AckPolicy.Explicit, ack_wait: ms(EVENT_ACK_WAIT_MS), max_ack_pending: 1000 })
    }
  }

  async close (): Promise<void> {
    await this.nc.drain().catch(() => this.nc.close())
  }
}

export const encodeJson = (value: unknown): string => JSON.stringify(value)
export const decodeJson = <T>(bytes: Uint8Array): T => JSON.parse(new TextDecoder().decode(bytes)) as T
