/**
 * The server process for now: HTTP health on the index. The streaming transports arrive with the protocol.
 */
import http from 'node:http'
import type { LmdbIndex } from '../index/lmdb-index.js'

export interface ServeOptions { port: number, host: string }

export function serve (db: LmdbIndex, options: ServeOptions): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url === '/health' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ status: 'ok', index: db.stats() }))
      return
    }
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { code: 'EAR_ERR_NOT_FOUND', message: 'no such route' } }))
  })
  const stop = (): void => { server.close(); void db.close() }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      const a = server.address()
      process.stderr.write(`earshot listening on http://${options.host}:${typeof a === 'object' && a ? a.port : options.port} (index ${db.dir})\n`)
      resolve(server)
    })
  })
}
