/**
 * Child process of the Maintainer: opens the index the server has open (already checked by it) and runs one round of
 * maintenance, so flushes and merges never hold up the server's event loop. A process rather than a worker thread:
 * LMDB's readers and writers across processes are what the index is built and tested for. Prints one JSON line.
 */
import type { FingerprintParams } from '../config/fingerprint.js'
import { describeError } from '../errors.js'
import { LmdbIndex } from './lmdb-index.js'

const [dir, paramsJson] = process.argv.slice(2)
let result: object
try {
  const index = LmdbIndex.open(dir, JSON.parse(paramsJson) as FingerprintParams, { checked: true })
  try {
    const started = performance.now()
    const done = index.maintain()
    result = { ok: true, ...done, ms: Math.round(performance.now() - started) }
  } finally {
    await index.close()
  }
} catch (err) {
  result = { ok: false, error: describeError(err) }
}
process.stdout.write(`${JSON.stringify(result)}\n`)
