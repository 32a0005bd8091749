/**
 * build(options): connects the index, the stream sessions, monitors, the play log, webhooks and the HTTP API into a
 * server with one transport. main.ts (the CLI's serve) reads flags and signals; tests call build() directly.
 *
 *   transport ── WebSocket ──> StreamConnection ──> StreamSession ──> (opt-in) PlayRecorder ──> PlayLog, webhooks
 *             └─ HTTP ───────> Router ──> routes ──> index, uploads, jobs, Monitors ──> StreamSession ──> PlayRecorder
 */
import { CloseCode } from '../../protocol/src/index.js'
import { Identifier, type IdentifyResult } from './match/identify.js'
import { IndexJobs } from './catalog/index-jobs.js'
import { IdentifyJobs } from './recordings/identify-jobs.js'
import { TrackUploads } from './catalog/uploads.js'
import type { Settings } from './config/defaults.js'
import { Access } from './http/access.js'
import { router } from './http/routes.js'
import type { Services } from './http/services.js'
import type { Index } from './index/types.js'
import { LmdbIndex } from './index/lmdb-index.js'
import { Maintainer } from './index/maintainer.js'
import { Monitors } from './monitor/monitors.js'
import { Metrics } from './metrics/metrics.js'
import { StreamEngines } from './stream/engines.js'
import { PlayLog, type Play } from './playlog/play-log.js'
import { StateWrites } from './state/state-writes.js'
import { PlayRecorder, type PlayEvent } from './playlog/play-recorder.js'
import { openServerState, stateDirOf } from './state/state-store.js'
import type { StreamContext } from './stream/connection.js'
import { createWsTransport } from './transport/ws.js'
import { createUwsTransport, loadUws } from './transport/uws.js'
import type { HttpHandler, Transport, TransportName } from './transport/types.js'
import { loadTls } from './transport/tls.js'
import { WebhookDispatcher } from './webhooks/webhooks.js'
import { playEvent } from './webhooks/play-events.js'
import { silentLogger, type Logger } from './log.js'
import { EarshotError, describeError, errorMessage } from './errors.js'
import { AddressPolicy } from './net/address-policy.js'
import type { ClusterLink, ClusterMonitors, IndexArtifacts, PlayReplication, SharedEvents } from './cluster/parts.js'
import { indexVersionOf } from './cluster/index-version.js'

export interface BuildOptions {
  index: Index
  settings: Settings
  transport?: TransportName
  /** Folder of the server's state (monitors, play log, webhook queue); default `<index folder>/server`. */
  stateDir?: string
  /** The server's log (default: silent). */
  logger?: Logger
  /**
   * A cluster node: called when a new published index is downloaded and it is this node's turn to load it
   * (cluster/index-artifacts.ts). Without it the node keeps the index it was given.
   */
  onNewIndex?: (file: string, version: string) => void
}

export interface EarshotServer {
  readonly transport: TransportName
  /** Serving https and wss (settings tls.*), not http and ws. */
  readonly secure: boolean
  readonly context: StreamContext
  readonly services: Services
  /** Listen, then start the stored monitors. */
  listen (host: string, port: number): Promise<number>
  close (): Promise<void>
}

/** Distinct refusals logged per server at most; a flood of new ones (every Origin an attacker invents) stays bounded. */
const MAX_LOGGED_REFUSALS = 1000

/** `fn` for the first call with each key (up to MAX_LOGGED_REFUSALS keys): refusals are logged once, not per request. */
function onceEach<A extends unknown[]> (fn: (key: string, ...args: A) => void): (key: string, ...args: A) => void {
  const seen = new Set<string>()
  return (key, ...args) => {
    if (seen.has(key) || seen.size >= MAX_LOGGED_REFUSALS) return
    seen.add(key)
    fn(key, ...args)
  }
}

/** What makes one refusal another: its code, Host and Origin (cut short: they are the client's). */
function refusalKey (err: EarshotError, header: (name: string) => string | undefined): string {
  return `${err.code} ${(header('host') ?? '').slice(0, 100)} ${(header('origin') ?? '').slice(0, 100)}`
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/** Index totals read for one scrape serve the other gauges of the same scrape, for this long in ms. */
const STATS_REUSE_MS = 1000

/** How often connections are checked against their hello and idle timeouts, in ms. */
const SWEEP_MS = 1000

/**
 * In a cluster, an open play nobody has touched for this long is closed where it was last heard by whichever node
 * sees it first (its node died; a monitor's is left to the node that took the monitor over), in ms.
 */
const STALE_PLAY_MS = 60_000

/** A cluster node that shuts down answers /health with 503 this long before it ends its streams (deploy/haproxy.cfg checks every second), in ms. */
const DRAIN_MS = 1500

export async function build (options: BuildOptions): Promise<EarshotServer> {
  const { index, settings } = options
  const log = options.logger ?? silentLogger
  // Before anything opens: a certificate or key that cannot be served is EAR_ERR_TLS.
  const tls = loadTls(settings.tls)
  let name: TransportName = options.transport ?? 'uws'
  let uws = name === 'uws' ? await loadUws() : undefined
  if (name === 'uws' && !uws) {
    log.warn('uWebSockets.js did not load on this platform; serving with ws')
    name = 'ws'
  }
  // A build of uWebSockets.js without TLS (its package's JavaScript fallback has no SSLApp).
  if (tls && uws && typeof uws.SSLApp !== 'function') {
    log.warn('this uWebSockets.js cannot serve TLS; serving with ws')
    uws = undefined
    name = 'ws'
  }

  // A bad allowance is EAR_ERR_CONFIG, a webhook URL to a refused address EAR_ERR_ADDRESS_NOT_ALLOWED.
  const addressPolicy = new AddressPolicy(settings.network.allowedAddresses)
  for (const url of settings.webhooks.urls) await addressPolicy.checkUrl(url)
  const metrics = new Metrics()
  // One server per state folder: a second would recover (close) the first one's live plays and share its queue.
  const { root, lock } = openServerState(options.stateDir ?? stateDirOf(index.dir ?? settings.db))
  // A cluster node: monitors, plays and webhook events are shared through NATS (cluster/link.ts).
  const cluster = settings.cluster.natsUrl !== '' ? await import('./cluster/parts.js') : undefined
  let link: ClusterLink | undefined
  if (cluster) {
    try { link = await cluster.ClusterLink.open(settings.cluster, log.child({ component: 'cluster' })) } catch (err) { await root.close(); lock.release(); throw err }
  }
  const replication: PlayReplication | undefined = link && cluster && new cluster.PlayReplication(link, root, log.child({ component: 'cluster' }))
  const events: SharedEvents | undefined = link && cluster && new cluster.SharedEvents(link, log.child({ component: 'cluster' }))
  // The one handler of failed state writes: a full disk is counted, logged, flagged, and answered 507.
  const stateWrites = new StateWrites({
    log: log.child({ component: 'state' }),
    onFailure: (reason) => metrics.stateWriteFailures.labels({ reason }).inc(),
  })
  let plays: PlayLog
  try {
    plays = new PlayLog(root, replication ? { ids: 'shared', onWrite: replication.onWrite } : {}, stateWrites)
  } catch (err) { await link?.close(); await root.close(); lock.release(); throw err }
  if (lock.tookOver) log.warn({ component: 'state', file: lock.file, stale: lock.tookOver }, 'took over the pid file of a server that no longer runs')
  const webhooks = settings.webhooks.urls.length > 0
    ? new WebhookDispatcher(root, settings.webhooks, {
      addressPolicy,
      onDelivery (e) {
        if (e.outcome === 'delivered') metrics.webhooksDelivered.inc()
        else if (e.outcome === 'retry') metrics.webhooksRetried.inc()
        else metrics.webhooksFailed.inc()
      },
      onDrop: (deliveries) => metrics.webhooksDropped.inc(deliveries),
      log: log.child({ component: 'webhooks' }),
      writes: stateWrites,
    })
    : undefined
  const playLog = log.child({ component: 'playlog' })
  const publish = (e: PlayEvent): void => {
    const { id, stream, trackId } = e.play
    playLog.info({ play: id, stream, trackId }, e.type === 'match.confirmed' ? 'play opened' : 'play filed')
    if (events) { if (settings.webhooks.urls.length > 0) events.publish(playEvent(e)) } else webhooks?.enqueue(playEvent(e))
  }
  // Plays left open by a crash end at the last audio seen; their match.ended was never sent: send it now. (In a
  // cluster, open plays may be another node's, still playing: stale ones are closed as they go stale, below.)
  let recovered: Play[] = []
  try {
    if (!link) recovered = plays.recover()
  } catch {
    // Reported by stateWrites (a full disk): they stay open and are closed at the next start with space.
  }
  if (recovered.length > 0) playLog.warn({ plays: recovered.length }, 'plays left open by the last run closed at their last audio')
  for (const play of recovered) publish({ type: 'match.ended', play })
  webhooks?.start()

  const startedAt = Date.now()
  /** The published version this index is (cluster/index-artifacts.ts), 'local' when it was built or given here. */
  const indexVersion = index.dir !== undefined ? indexVersionOf(index.dir) : 'local'
  // Engines need an index on disk, which each opens read-only; an in-memory index is matched on this thread.
  const engines = settings.workers > 0 && index instanceof LmdbIndex
    ? new StreamEngines(index.dir, settings, settings.workers, log.child({ component: 'engines' }), (err) => {
      if (err instanceof EarshotError && err.code === 'EAR_ERR_INDEX_READ') index.noteReadFailure(describeError(err))
    })
    : undefined
  await engines?.ready()
  const access = new Access(settings.access)
  const accessLog = log.child({ component: 'access' })
  const warnOnce = onceEach((key: string, err: Error) => accessLog.warn({ refused: key }, err.message))
  const ctx: StreamContext = {
    index,
    settings,
    transport: name,
    sessions: 0,
    connections: new Set(),
    addresses: new Map(),
    faults: 0,
    metrics,
    log: log.child({ component: 'stream' }),
    engines,
    admit (address, header) {
      const peer = access.admit(address, header)
      if (peer instanceof EarshotError) warnOnce(refusalKey(peer, header), peer)
      return peer
    },
    gate (hello, token, peer) {
      const denied = access.check('client', token, peer)
      if (denied) return { code: 'EAR_ERR_UNAUTHORIZED', message: denied.message }
      if (hello.playLog && !access.mayLogPlays(token, peer)) return { code: 'EAR_ERR_PLAY_LOG_FORBIDDEN', message: errorMessage('EAR_ERR_PLAY_LOG_FORBIDDEN') }
      const wait = access.limit('stream', token, peer.address)
      return wait > 0 ? { code: 'EAR_ERR_RATE_LIMITED', message: errorMessage('EAR_ERR_RATE_LIMITED', wait) } : undefined
    },
    observe (hello, sessionId, token, peer, notify) {
      if (!hello.playLog || hello.streamId === undefined) return undefined
      let told = false
      const admit = (): boolean => {
        const wait = access.limit('play', token, peer.address)
        if (wait === 0) return true
        if (!told) { // once per session: the log and the client hear of it, not of every skipped match
          told = true
          accessLog.warn({ stream: hello.streamId, sessionId, address: peer.address }, 'a client stream opens plays faster than access.playsPerMinute; skipping them')
          notify('EAR_ERR_PLAY_LOG_LIMITED', `retry in ${wait} s`)
        }
        return false
      }
      return new PlayRecorder(plays, { id: hello.streamId, kind: 'client' }, publish, { admit })
    },
  }
  const localMonitors = new Monitors(root, index, settings, plays, {
    onPlay: publish, metrics, addressPolicy, log: log.child({ component: 'monitors' }), writes: stateWrites, engines,
    store: link && cluster?.ClusterMonitors.store(link, log.child({ component: 'cluster' })),
  })
  const clusterMonitors: ClusterMonitors | undefined = link && cluster && new cluster.ClusterMonitors(link, localMonitors, settings, plays, log.child({ component: 'cluster' }), () => {
    const t = index.stats()
    return { startedAt: new Date(startedAt).toISOString(), index: { version: indexVersion, tracks: t.tracks, postings: t.postings } }
  })
  const monitors = clusterMonitors ?? localMonitors
  const artifacts: IndexArtifacts | undefined = link && cluster && options.onNewIndex && index.dir !== undefined
    ? new cluster.IndexArtifacts(link, index.dir, settings.fingerprint, log.child({ component: 'cluster' }), options.onNewIndex)
    : undefined
  const jobs = new IndexJobs(index, settings, log.child({ component: 'index-jobs' }))
  // Flushes and merges of an index on disk, in a worker thread.
  const maintainer = index instanceof LmdbIndex && !index.readOnly ? new Maintainer(index, settings.fingerprint, log.child({ component: 'maintenance' })) : undefined
  const identifyJobs = new IdentifyJobs(index, settings, log.child({ component: 'identify-jobs' }))
  identifyJobs.onFinished = (job) => metrics.identifyJobs.labels({ state: job.state }).inc()
  jobs.onFinished = (job) => {
    metrics.indexJobs.labels({ state: job.state }).inc()
    metrics.lastIndexJob.set(Date.parse(job.finishedAt ?? '') / 1000)
    metrics.lastIndexJobTracks.set(job.indexed)
  }
  // Read at scrape time: the index's own totals (cheap: a meta read and a stat), the webhook queue, monitor counts.
  // The four index gauges of one scrape share one read of the index's totals.
  let statsRead: { at: number, stats: ReturnType<Index['stats']> | undefined } = { at: -Infinity, stats: undefined }
  const indexStat = (key: 'tracks' | 'postings' | 'bytesOnDisk' | 'audioSeconds') => (): number => {
    const now = Date.now()
    if (now - statsRead.at > STATS_REUSE_MS) {
      let stats
      try { stats = index.stats() } catch {}
      statsRead = { at: now, stats }
    }
    return statsRead.stats?.[key] ?? Number.NaN
  }
  metrics.gaugeFrom('earshot_index_tracks', 'Tracks in the index', indexStat('tracks'))
  metrics.gaugeFrom('earshot_index_postings', 'Postings in the index', indexStat('postings'))
  metrics.gaugeFrom('earshot_index_size_bytes', 'Bytes the index occupies on disk', indexStat('bytesOnDisk'))
  metrics.gaugeFrom('earshot_index_audio_seconds', 'Seconds of audio indexed', indexStat('audioSeconds'))
  metrics.gaugeFrom('earshot_webhook_queue_depth', 'Webhook deliveries waiting, persisted', () => webhooks?.stats.queueDepth ?? 0)
  metrics.gaugeFrom('earshot_monitors', 'Monitors configured', () => monitors.size)
  metrics.gaugeFrom('earshot_index_jobs_queued', 'Index jobs waiting behind the running one', () => jobs.queued)
  metrics.gaugeFrom('earshot_identify_jobs_queued', 'Identify jobs (long recordings) waiting behind the running one', () => identifyJobs.queued)
  metrics.gaugeFrom('earshot_state_disk_full', '1 while the server state cannot be written for want of space, else 0', () => stateWrites.diskFull ? 1 : 0)
  metrics.gaugeFrom('earshot_uptime_seconds', 'Seconds since the server started', () => (Date.now() - startedAt) / 1000)
  const counted = (result: IdentifyResult, lookupSeconds: number): IdentifyResult => {
    metrics.identifies.labels({ outcome: result.matches.length > 0 ? 'match' : 'none' }).inc()
    metrics.lookupSeconds.observe(lookupSeconds)
    return result
  }
  const identifier = new Identifier(index, settings)
  identifier.onResult = counted
  const services: Services = {
    index,
    maintenance: maintainer?.stats,
    settings,
    stream: ctx,
    access,
    // On an engine, a clip's lookups (tens of ms) do not hold up the sockets of every stream.
    identify: engines
      ? async (samples, rate) => { const r = await engines.identify(samples, rate); return counted(r.result, r.lookupSeconds) }
      : async (samples, rate) => identifier.identify(samples, rate),
    uploads: new TrackUploads(index, settings),
    jobs,
    identifyJobs,
    monitors,
    cluster: clusterMonitors,
    plays,
    webhooks,
    stateWrites,
    startedAt,
    indexVersion,
    lifecycle: { draining: false },
    metrics,
    log,
    onHttpError (err, req) {
      if (!(err instanceof Error) || !('code' in err)) log.error({ err, method: req.method, path: req.path }, 'internal error in the HTTP API')
      else if (err instanceof EarshotError && (err.code === 'EAR_ERR_HOST_NOT_ALLOWED' || err.code === 'EAR_ERR_CROSS_ORIGIN')) {
        warnOnce(refusalKey(err, req.header), err)
      }
    },
  }
  const api: HttpHandler = {
    bodyLimit: (method, path) => router.bodyLimit(settings, method, path),
    bodyTimeoutMs: settings.http.bodyTimeoutMs,
    async handle (req) {
      const started = performance.now()
      const reply = await router.handle(services, req)
      // Route templates, never raw paths: an id in a label would make one series per track or monitor.
      const route = router.templateOf(req.method, req.path) ?? 'unmatched'
      const method = KNOWN_METHODS.has(req.method) ? req.method : 'OTHER' // a client picks the method: bound it
      metrics.httpRequests.labels({ route, method, status: String(reply.status) }).inc()
      metrics.httpDuration.labels({ route }).observe((performance.now() - started) / 1000)
      return reply
    },
  }
  const transport: Transport = uws ? createUwsTransport(uws, ctx, api, tls) : createWsTransport(ctx, api, tls)

  let sweep: NodeJS.Timeout | undefined
  let staleSweep: NodeJS.Timeout | undefined
  let closed = false
  const server: EarshotServer = {
    transport: name,
    secure: tls !== undefined,
    context: ctx,
    services,
    async listen (host, port) {
      let bound: number
      try {
        bound = await transport.listen(host, port)
      } catch (err) {
        await server.close() // a server that cannot listen leaves nothing behind: no pid file, no open store
        throw err
      }
      lock.setPort(bound)
      sweep = setInterval(() => {
        const now = Date.now()
        for (const c of ctx.connections) c.sweep(now)
      }, Math.min(SWEEP_MS, settings.stream.helloTimeoutMs / 2))
      sweep.unref()
      if (clusterMonitors && replication && events) {
        await replication.start(plays)
        await events.start(webhooks)
        await clusterMonitors.start()
        await artifacts?.start()
        staleSweep = setInterval(() => {
          try {
            const leased = new Set(clusterMonitors.list().filter((m) => m.node != null).map((m) => m.id))
            for (const play of plays.closeStale(Date.now() - STALE_PLAY_MS, (p) => p.kind === 'monitor' && leased.has(p.stream))) {
              publish({ type: 'match.ended', play })
            }
          } catch {} // a full disk: reported by stateWrites; tried again next time
        }, STALE_PLAY_MS / 4)
        staleSweep.unref()
      } else {
        localMonitors.resume()
      }
      maintainer?.start()
      return bound
    },
    async close () {
      if (closed) return
      closed = true
      if (link) {
        // Out of the load balancer's rotation before the streams end, so that their clients reconnect elsewhere.
        services.lifecycle.draining = true
        await new Promise((resolve) => setTimeout(resolve, DRAIN_MS))
      }
      clearInterval(sweep)
      clearInterval(staleSweep)
      artifacts?.close()
      for (const c of ctx.connections) c.fail('EAR_ERR_SHUTTING_DOWN')
      await Promise.all([jobs.close(), identifyJobs.close()]) // first: a peer slow to close must not keep a job's workers running
      await maintainer?.close()
      await transport.close(CloseCode.GOING_AWAY, 'EAR_ERR_SHUTTING_DOWN')
      await clusterMonitors?.close() // hands this node's monitors over to the others
      await localMonitors.close()
      await engines?.close() // after every session closed: their last results are filed
      await services.uploads.close()
      await replication?.close()
      await events?.close()
      await link?.close()
      await webhooks?.close()
      await plays.flushed()
      await root.close()
      lock.release()
    },
  }
  return server
}
