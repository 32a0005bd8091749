/**
 * Everything the HTTP routes work on, built once by app.ts. Routes see these interfaces only.
 */
import type { Settings } from '../config/defaults.js'
import type { MaintenanceStats } from '../index/maintainer.js'
import type { Index } from '../index/types.js'
import type { IdentifyResult } from '../match/identify.js'
import type { IndexJobs } from '../catalog/index-jobs.js'
import type { IdentifyJobs } from '../recordings/identify-jobs.js'
import type { TrackUploads } from '../catalog/uploads.js'
import type { MonitorDirectory } from '../monitor/monitors.js'
import type { ClusterMonitors } from '../cluster/cluster-monitors.js'
import type { Metrics } from '../metrics/metrics.js'
import type { PlayLog } from '../playlog/play-log.js'
import type { StreamContext } from '../stream/connection.js'
import type { WebhookDispatcher } from '../webhooks/webhooks.js'
import type { StateWrites } from '../state/state-writes.js'
import type { Access } from './access.js'
import type { HttpRequest } from './request.js'
import type { Logger } from '../log.js'

export interface Services {
  readonly index: Index
  /** Background flushes and merges of an index on disk (undefined for a read-only index). */
  readonly maintenance?: MaintenanceStats
  readonly settings: Settings
  readonly stream: StreamContext
  readonly access: Access
  /** Identify mono samples, on a stream engine when there are. */
  identify (samples: Float32Array, sampleRate: number): Promise<IdentifyResult>
  readonly uploads: TrackUploads
  readonly jobs: IndexJobs
  /** Long recordings, their segments found in the background. */
  readonly identifyJobs: IdentifyJobs
  readonly monitors: MonitorDirectory
  /** This node's view of its cluster; absent on a lone server. */
  readonly cluster?: ClusterMonitors
  readonly plays: PlayLog
  /** Undefined when no webhook URL is configured. */
  readonly webhooks: WebhookDispatcher | undefined
  /** Failed writes of the server state; `diskFull` while a full disk stops them. */
  readonly stateWrites: StateWrites
  /** ms since the epoch. */
  readonly startedAt: number
  /** The published index version served (a cluster's; see cluster/index-artifacts.ts), or 'local'. */
  readonly indexVersion: string
  /** Set when a cluster node begins to shut down: /health answers 503 so that the load balancer sends no new work. */
  readonly lifecycle: { draining: boolean }
  readonly metrics: Metrics
  /** The server's log; components bind a child once. */
  readonly log: Logger
  /** Told of every error a route answered with (for the log and metrics). */
  onHttpError?: (err: unknown, req: HttpRequest) => void
}
