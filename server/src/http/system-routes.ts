/**
 * Health, liveness, statistics and the API description.
 */
import fs from 'node:fs'
import { earshotError } from '../errors.js'
import { openApiDocument } from './openapi.js'
import { json, type HttpReply } from './request.js'
import type { Route } from './router.js'
import type { Services } from './services.js'

export const STREAM_PATH = '/v1/stream'

function monitorSummary (services: Services): Record<string, number> {
  const out: Record<string, number> = { total: 0, connecting: 0, listening: 0, down: 0 }
  for (const m of services.monitors.list()) { out.total++; out[m.state]++ }
  return out
}

function health (services: Services): HttpReply {
  const problems: string[] = []
  let index: unknown
  try {
    index = services.index.stats()
  } catch (err) {
    problems.push(`index unreadable: ${(err as Error).message}`)
  }
  let disk: { freeBytes: number, totalBytes: number } | undefined
  const dir = (services.index as { dir?: string }).dir
  if (dir) {
    try {
      const s = fs.statfsSync(dir)
      disk = { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize }
      if (disk.freeBytes < services.settings.minFreeDiskBytes) problems.push(`${disk.freeBytes} bytes free on the index's disk, under the minimum ${services.settings.minFreeDiskBytes}`)
    } catch (err) {
      problems.push(`cannot read the disk space: ${(err as Error).message}`)
    }
  }
  const body = {
    status: problems.length === 0 ? 'ok' : 'unhealthy',
    problems,
    transport: services.stream.transport,
    sessions: services.stream.sessions,
    uptimeSeconds: Math.round((Date.now() - services.startedAt) / 1000),
    index,
    disk,
    monitors: monitorSummary(services),
    webhooks: services.webhooks?.stats ?? null,
  }
  return json(problems.length === 0 ? 200 : 503, body)
}

export const systemRoutes: Route[] = [
  {
    method: 'GET',
    path: '/health',
    access: 'public',
    summary: 'Health: index readable, free disk space, monitors; 503 when unhealthy',
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
