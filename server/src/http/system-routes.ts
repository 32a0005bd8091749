/**
 * Health, liveness, statistics and the API description.
 */
import fs from 'node:fs'
import { Type, type Static } from '@sinclair/typebox'
import { STREAM_PATH } from '../../../protocol/src/index.js'
import { defaults } from '../config/defaults.js'
import { earshotError } from '../errors.js'
import type { IndexStats } from '../index/types.js'
import { mib, openApiDocument } from './openapi.js'
import { answer, route } from './router.js'
import { dateTime, int, nullable, num, oneOf, str } from './schemas.js'
import type { Services } from './services.js'

const MonitorCounts = Type.Object({
  total: int(), connecting: int(), listening: int(), down: int(), finished: int('Monitors of a finite source (a file) read to its end'),
}, { $id: 'MonitorCounts', description: 'Monitors by state' })

const WebhookStats = nullable(Type.Object({
  delivered: int('Deliveries that got a 2xx answer (since the server started)'),
  retried: int('Attempts that will be retried'),
  failed: int('Deliveries given up on'),
  dropped: int('Deliveries dropped because the queue was full'),
  queueDepth: int('Deliveries waiting, on disk (including those left by an earlier run)'),
  droppingSince: nullable(dateTime('When the full queue began to drop events; null while it accepts them. Replay the dropped events with POST /v1/webhooks/replay')),
}, { $id: 'WebhookStats', description: 'Webhook delivery counters' }), 'Null when no webhook URL is configured')

const IndexStatsSchema = Type.Object({
  tracks: int(), postings: int(),
  distinctHashes: int('Buckets stored: distinct hashes, counted once per segment that holds them'),
  audioSeconds: num('Seconds of audio indexed'),
  bytesOnDisk: int(),
  bytesPerAudioSecond: num(),
  segments: Type.Optional(int('Immutable sorted segments holding the postings')),
  livePostings: Type.Optional(int('Postings of tracks added one at a time since the last flush into a segment')),
  tombstones: Type.Optional(int('Removed tracks whose postings a merge has not dropped yet')),
  bytesInUse: Type.Optional(int('Bytes of the file in use; LMDB reuses the rest, and the file never shrinks by itself')),
}, { $id: 'IndexStats', description: 'The index\'s figures' })

const Health = Type.Object({
  status: oneOf(['ok', 'degraded', 'unhealthy', 'draining'], 'ok; degraded (still serving: monitors down, webhooks dropping, disk nearly full, damaged index pages); unhealthy (503: the index cannot be read); draining (503: a cluster node shutting down, about to hand its work over)'),
  problems: Type.Array(str(), { description: 'Why the status is not ok; empty when ok' }),
  transport: str('uws or ws'),
  sessions: int(),
  uptimeSeconds: int(),
  index: Type.Optional(IndexStatsSchema),
  disk: Type.Optional(Type.Object({ freeBytes: int(), totalBytes: int() }, { description: 'Space on the index\'s disk' })),
  monitors: MonitorCounts,
  webhooks: WebhookStats,
  indexJobs: Type.Object({
    queued: int('Jobs waiting'),
    running: nullable(str(), 'The running job\'s id; null when idle'),
    runningSince: nullable(dateTime('When the running job started; null when idle')),
  }, { description: 'Index jobs waiting and running' }),
  maintenance: nullable(Type.Object({
    running: Type.Boolean({ description: 'A round of flushes and merges runs now' }),
    rounds: int('Rounds since the server started'),
    merges: int('Segment merges since the server started'),
    lastAt: nullable(dateTime('When the last round ended; null before the first')),
    lastError: nullable(str(), 'Why the last round failed; null when it did not'),
  }), 'Background flushes and merges of the index; null for a read-only index'),
  connectionFaults: int('Connections failed by a fault of the server since it started (each is logged with its stack)'),
  engines: Type.Array(Type.Object({
    sessions: int('Sessions (client streams and monitors) the engine runs'),
    restarts: int('Times the engine died and was replaced since the server started'),
  }), { description: 'Stream engines (worker threads, setting workers), one entry each; empty when the sessions run on the main thread' }),
  indexVersion: str('The published index version served (earshot publish, in a cluster); local: an index built or given here'),
  cluster: Type.Optional(Type.Object({
    node: str('This node\'s name'),
    monitorsHere: int('Monitors this node runs'),
    nodes: Type.Array(Type.Object({
      node: str(),
      startedAt: dateTime('When it started'),
      monitors: int('Monitors it runs'),
      index: Type.Object({ version: str('The published index version it serves (earshot publish); local: an index not published to the cluster'), tracks: int(), postings: int() }, { description: 'The catalog it serves' }),
    }), { description: 'The live nodes, this one included' }),
  }, { description: 'Only on a cluster node (setting cluster.natsUrl)' })),
}, { $id: 'Health' })

function monitorSummary (services: Services): { total: number, connecting: number, listening: number, down: number, finished: number } {
  const out = { total: 0, connecting: 0, listening: 0, down: 0, finished: 0 }
  for (const m of services.monitors.list()) { out.total++; out[m.state]++ }
  return out
}

/** Jobs waiting, and the running one's id and start (null when idle). */
function indexJobSummary (services: Services): { queued: number, running: string | null, runningSince: string | null } {
  const running = services.jobs.running
  return { queued: services.jobs.queued, running: running?.id ?? null, runningSince: running ? new Date(running.startedAt).toISOString() : null }
}

/** A read of the index that met a damaged page (LmdbIndex keeps the last one); other indexes have none. */
interface ReadFailures { readFailures?: number, lastReadFailure?: { at: string, message: string } }

/**
 * ok: all is well. degraded (still 200: the server identifies and streams, so a load balancer keeps it): something
 * an operator must see to, each with a reason. unhealthy (503): the index cannot be read, so nothing can be answered.
 */
function health (services: Services) {
  const problems: string[] = []
  const warnings: string[] = []
  let index: IndexStats | undefined
  try {
    index = services.index.stats()
  } catch (err) {
    problems.push(`index unreadable: ${(err as Error).message}`)
  }
  const reads = services.index as ReadFailures
  if (reads.lastReadFailure) warnings.push(`${reads.readFailures ?? 1} index reads met a damaged page, the last at ${reads.lastReadFailure.at}: ${reads.lastReadFailure.message}`)
  let disk: { freeBytes: number, totalBytes: number } | undefined
  const dir = services.index.dir
  if (dir) {
    try {
      const s = fs.statfsSync(dir)
      disk = { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize }
      if (disk.freeBytes < services.settings.minFreeDiskBytes) warnings.push(`disk nearly full: ${disk.freeBytes} bytes free on the index's disk, under the minimum ${services.settings.minFreeDiskBytes}`)
    } catch (err) {
      warnings.push(`cannot read the disk space: ${(err as Error).message}`)
    }
  }
  const full = services.stateWrites.diskFullSince
  if (full) warnings.push(`disk full: the server state (play log, monitors, webhook queue) cannot be written since ${full}; identify and streams go on`)
  const monitors = monitorSummary(services)
  if (monitors.down > 0) warnings.push(`${monitors.down} of ${monitors.total} monitors down (GET /v1/monitors says why)`)
  const webhooks = services.webhooks?.stats ?? null
  if (webhooks?.droppingSince) warnings.push(`the webhook queue is full and drops events since ${webhooks.droppingSince} (${webhooks.dropped} deliveries dropped; POST /v1/webhooks/replay sends them again)`)
  const maintenance = services.maintenance ?? null
  if (maintenance?.lastError) warnings.push(`index maintenance failed at ${maintenance.lastAt}: ${maintenance.lastError}; lookups go on, but the live part and the segments keep growing`)
  if (services.lifecycle.draining) problems.push('draining: shutting down; the load balancer sends new work elsewhere')
  const status: Static<typeof Health>['status'] = services.lifecycle.draining ? 'draining' : problems.length > 0 ? 'unhealthy' : warnings.length > 0 ? 'degraded' : 'ok'
  const body = {
    status,
    problems: [...problems, ...warnings],
    transport: services.stream.transport,
    sessions: services.stream.sessions,
    uptimeSeconds: Math.round((Date.now() - services.startedAt) / 1000),
    index,
    disk,
    monitors,
    webhooks,
    indexJobs: indexJobSummary(services),
    maintenance,
    connectionFaults: services.stream.faults,
    engines: services.stream.engines?.stats() ?? [],
    indexVersion: services.indexVersion,
    cluster: services.cluster && { node: services.cluster.node, monitorsHere: services.cluster.held, nodes: services.cluster.nodes() },
  }
  return status === 'unhealthy' || status === 'draining' ? answer(503, body) : answer(200, body)
}

const text = (description: string, extra: Record<string, unknown> = {}) => ({ description, content: { 'text/plain': str(undefined, extra) } })

export const systemRoutes = [
  route({
    method: 'GET',
    path: '/health',
    access: 'public',
    operationId: 'getHealth',
    tag: 'system',
    summary: 'Health: ok, degraded (with reasons) or unhealthy (503, the index cannot be read)',
    description: `For load balancers and probes. Unhealthy (503) when the index cannot be read. Degraded (200: it still identifies and streams) when a monitor is down, the webhook queue drops events, the index's disk has less than ${mib(defaults.minFreeDiskBytes)} free (setting minFreeDiskBytes), or a read met a damaged index page; \`problems\` says why.`,
    responses: {
      200: { description: 'Healthy', json: Health },
      503: { description: 'Unhealthy: `problems` says why (the body is a Health, not an Error)', json: Health },
    },
    handle: ({ services }) => health(services),
  }),
  route({
    method: 'GET',
    path: '/ping',
    access: 'public',
    operationId: 'ping',
    tag: 'system',
    summary: 'Liveness: answers pong',
    responses: { 200: text('The process answers', { enum: ['pong'] }) },
    handle: () => ({ status: 200, type: 'text/plain', body: 'pong' }),
  }),
  route({
    method: 'GET',
    path: '/metrics',
    access: 'public',
    operationId: 'getMetrics',
    tag: 'system',
    summary: 'Prometheus metrics in the text exposition format',
    responses: { 200: text('Every earshot metric with HELP and TYPE; see grafana/README.md') },
    async handle ({ services }) {
      return { status: 200, type: services.metrics.contentType, body: await services.metrics.text() }
    },
  }),
  route({
    method: 'GET',
    path: '/openapi.json',
    access: 'public',
    operationId: 'getOpenApi',
    tag: 'system',
    summary: 'This API as an OpenAPI 3.1 document',
    responses: { 200: { description: 'This document', json: Type.Object({}, { additionalProperties: true }) } },
    handle: ({ routes }) => answer(200, openApiDocument(routes)),
  }),
  route({
    method: 'GET',
    path: '/v1/stats',
    access: 'client',
    operationId: 'getStats',
    tag: 'system',
    summary: 'Index size, uptime, sessions, monitors',
    responses: {
      200: {
        description: 'Figures of the index and the server',
        json: Type.Object({
          tracks: int(), postings: int(), distinctHashes: int(),
          audioSeconds: int('Seconds of audio indexed'),
          indexBytes: int('Bytes the index occupies on disk'),
          uptimeSeconds: int(),
          sessions: int('Stream sessions open now'),
          monitors: MonitorCounts,
          webhooks: WebhookStats,
          minConfidence: num('The confidence (0..1) from which this server answers and a stream confirms (setting minConfidence): pages show a candidate from it'),
        }, { $id: 'Stats' }),
      },
    },
    handle ({ services }) {
      const s = services.index.stats()
      return answer(200, {
        tracks: s.tracks,
        postings: s.postings,
        distinctHashes: s.distinctHashes,
        audioSeconds: Math.round(s.audioSeconds),
        indexBytes: s.bytesOnDisk,
        uptimeSeconds: Math.round((Date.now() - services.startedAt) / 1000),
        sessions: services.stream.sessions,
        monitors: monitorSummary(services),
        webhooks: services.webhooks?.stats ?? null,
        minConfidence: services.settings.minConfidence,
      })
    },
  }),
  route({
    method: 'GET',
    path: STREAM_PATH,
    access: 'public',
    operationId: 'openStream',
    tag: 'system',
    summary: 'The streaming endpoint: a WebSocket (see protocol/README.md); plain GET answers 426',
    description: 'Upgrade to a WebSocket and follow protocol/README.md: a msgpack hello, PCM audio frames, match messages back. ' +
      'The upgrade itself is open to all; where tokens are configured the session needs a client or admin token, given as ' +
      '`?token=` on the URL or `token` in the hello (a refused session is closed with 1008 EAR_ERR_UNAUTHORIZED). ' +
      `Stream opens are rate limited to ${defaults.access.streamOpensPerMinute} a minute per token and per address (close 1013 EAR_ERR_RATE_LIMITED).`,
    responses: { 101: { description: 'Switching to the WebSocket protocol of protocol/README.md' } },
    errors: { 426: 'EAR_ERR_UPGRADE_REQUIRED: a plain GET without a WebSocket upgrade' },
    handle () { throw earshotError('EAR_ERR_UPGRADE_REQUIRED', STREAM_PATH) },
  }),
]
