/**
 * Health, liveness, statistics and the API description.
 */
import fs from 'node:fs'
import { STREAM_PATH } from '../../../protocol/src/index.js'
import { earshotError } from '../errors.js'
import { openApiDocument } from './openapi.js'
import { json, type HttpReply } from './request.js'
import type { Route } from './router.js'
import type { Services } from './services.js'

function monitorSummary (services: Services): Record<string, number> {
  const out: Record<string, number> = { total: 0, connecting: 0, listening: 0, down: 0, finished: 0 }
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
function health (services: Services): HttpReply {
  const problems: string[] = []
  const warnings: string[] = []
  let index: unknown
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
  const status = problems.length > 0 ? 'unhealthy' : warnings.length > 0 ? 'degraded' : 'ok'
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
    /** Connections failed by a fault of the server since it started (each logged with its stack). */
    connectionFaults: services.stream.faults,
  }
  return json(status === 'unhealthy' ? 503 : 200, body)
}

export const systemRoutes: Route[] = [
  {
    method: 'GET',
    path: '/health',
    access: 'public',
    summary: 'Health: ok, degraded (with reasons) or unhealthy (503, the index cannot be read)',
    handle: ({ services }) => health(services),
  },
  {
    method: 'GET',
    path: '/ping',
    access: 'public',
    summary: 'Liveness: answers pong',
    handle: () => ({ status: 200, type: 'text/plain', body: 'pong' }),
  },
  {
    method: 'GET',
    path: '/metrics',
    access: 'public',
    summary: 'Prometheus metrics in the text exposition format',
    async handle ({ services }) {
      return { status: 200, type: services.metrics.contentType, body: await services.metrics.text() }
    },
  },
  {
    method: 'GET',
    path: '/openapi.json',
    access: 'public',
    summary: 'This API as an OpenAPI 3 document',
    handle: () => json(200, openApiDocument),
  },
  {
    method: 'GET',
    path: '/v1/stats',
    access: 'client',
    summary: 'Index size, uptime, sessions, monitors',
    handle ({ services }) {
      const s = services.index.stats()
      return json(200, {
        tracks: s.tracks,
        postings: s.postings,
        distinctHashes: s.distinctHashes,
        audioSeconds: Math.round(s.audioSeconds),
        indexBytes: s.bytesOnDisk,
        uptimeSeconds: Math.round((Date.now() - services.startedAt) / 1000),
        sessions: services.stream.sessions,
        monitors: monitorSummary(services),
        webhooks: services.webhooks?.stats ?? null,
      })
    },
  },
  {
    method: 'GET',
    path: STREAM_PATH,
    access: 'public',
    summary: 'The streaming endpoint: a WebSocket (see protocol/README.md); plain GET answers 426',
    handle () { throw earshotError('EAR_ERR_UPGRADE_REQUIRED', STREAM_PATH) },
  },
]
