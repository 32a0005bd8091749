/**
 * `earshot serve`: build the server on the index, listen, and close cleanly on SIGINT/SIGTERM, within a deadline.
 *
 * Closing cancels index jobs, ends streams and monitors and flushes the play log. Whatever still runs when the
 * deadline passes (a worker stuck in a system call, a peer that never finishes its close handshake) does not keep the
 * process alive: it exits anyway, with a log line. A second signal exits at once.
 */
import type { Settings } from '../config/defaults.js'
import { LmdbIndex } from '../index/lmdb-index.js'
import { build, type EarshotServer } from '../app.js'
import { installIndexVersion } from '../cluster/index-version.js'
import type { TransportName } from '../transport/types.js'
import { createLogger } from '../log.js'
import { count } from './format.js'
import { STREAM_PATH } from '../../../protocol/src/index.js'
import type { LevelWithSilent } from 'pino'

/**
 * After a signal the server has this long to close before the process exits anyway, in ms: under the 10 s that
 * `docker stop` and Kubernetes wait before SIGKILL, so the exit is ours and logged. Tearing the process down after
 * process.exit took up to 1.2 s on a loaded machine: 3 s are left for it.
 */
const SHUTDOWN_DEADLINE_MS = 7_000

export interface ServeOptions { port: number, host: string, transport: TransportName, settings: Settings, logLevel?: LevelWithSilent }

export async function serve (first: LmdbIndex, options: ServeOptions): Promise<void> {
  const logger = createLogger({ level: options.logLevel })
  let db = first
  let server: EarshotServer
  let port = options.port
  let stopping = false
  /** A cluster node loads a newly published index by building its server again on it, on the same port. */
  const start = async (): Promise<void> => {
    server = await build({
      index: db,
      settings: options.settings,
      transport: options.transport,
      logger,
      onNewIndex: (file, version) => { if (!stopping) void swap(file, version) },
    })
    port = await server.listen(options.host, port)
  }
  const swap = async (file: string, version: string): Promise<void> => {
    const started = performance.now()
    logger.info({ version }, 'loading the published index')
    try {
      await server.close()
      await db.close()
      installIndexVersion(db.dir, file, version)
      db = LmdbIndex.open(db.dir, options.settings.fingerprint)
      await start()
      logger.info({ version, tracks: db.stats().tracks, ms: Math.round(performance.now() - started) }, 'serving the published index')
    } catch (err) {
      logger.fatal({ err, version }, 'the published index could not be loaded; exiting')
      process.exit(1)
    }
  }
  await start()
  const [ws, web] = server!.secure ? ['wss', 'https'] : ['ws', 'http']
  const at = `${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`
  process.stderr.write(`earshot listening on ${ws}://${at}${STREAM_PATH} and ${web}://${at}/ ` +
    `(${server!.transport}, index ${db.dir}, ${count(db.stats().tracks, 'track')}); open ${web}://${at}/ in a browser\n`)
  logger.info({ host: options.host, port, transport: server!.transport, tls: server!.secure, index: db.dir }, 'listening')
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting without waiting for the shutdown')
        process.exit(1)
      }
      stopping = true
      logger.info({ signal, deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutting down')
      const started = performance.now()
      // Unref'd: it fires only while something else still keeps the process alive.
      setTimeout(() => {
        logger.error({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutdown deadline passed with work still running; exiting anyway')
        process.exit(1)
      }, SHUTDOWN_DEADLINE_MS).unref()
      void server.close().then(() => db.close()).then(() => {
        logger.info({ ms: Math.round(performance.now() - started) }, 'closed')
        // Everything is written. What may still hold the process is idle keep-alive HTTP connections (a proxy's, a
        // Prometheus scraper's) that uWS keeps after its listener closed, and closes only when their peers do.
        process.exit(process.exitCode ?? 0)
      }, (err: unknown) => {
        logger.error({ err }, 'error while shutting down')
        process.exitCode = 1
        resolve()
      })
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
