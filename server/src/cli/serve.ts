/**
 * `earshot serve`: build the server on the index, listen, and close cleanly on SIGINT/SIGTERM.
 */
import type { Settings } from '../config/defaults.js'
import type { LmdbIndex } from '../index/lmdb-index.js'
import { build } from '../app.js'
import type { TransportName } from '../transport/types.js'
import { createLogger } from '../log.js'
import type { LevelWithSilent } from 'pino'

export interface ServeOptions { port: number, host: string, transport: TransportName, settings: Settings, logLevel?: LevelWithSilent }

export async function serve (db: LmdbIndex, options: ServeOptions): Promise<void> {
  const logger = createLogger({ level: options.logLevel })
  const server = await build({
    index: db,
    settings: options.settings,
    transport: options.transport,
    logger,
  })
  const port = await server.listen(options.host, options.port)
  process.stderr.write(`earshot listening on ws://${options.host}:${port}/v1/stream and http://${options.host}:${port}/ ` +
    `(${server.transport}, index ${db.dir}, ${db.stats().tracks} tracks); open http://${options.host}:${port}/ in a browser\n`)
  logger.info({ host: options.host, port, transport: server.transport, index: db.dir }, 'listening')
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'shutting down')
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      void server.close().then(() => db.close()).then(resolve)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
