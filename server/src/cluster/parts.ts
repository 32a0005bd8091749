/**
 * Everything a cluster node adds to a server, in one module that app.ts loads only when the server joins a cluster:
 * the NATS clients are a tenth of a lone server's start-up time, and a lone server is the default.
 */
export { ClusterLink } from './link.js'
export { ClusterMonitors } from './cluster-monitors.js'
export { PlayReplication } from './play-replication.js'
export { SharedEvents } from './shared-events.js'
export { IndexArtifacts } from './index-artifacts.js'
