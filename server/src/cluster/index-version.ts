/**
 * Which published catalog version an index folder holds (cluster/index-artifacts.ts), kept in `<db>/index-version`.
 * Its own file, free of the NATS client, because every server reads it for /health and `earshot serve` installs a
 * version, while only a cluster node needs the rest.
 */
import fs from 'node:fs'
import path from 'node:path'
import { earshotError } from '../errors.js'

const VERSION_FILE = 'index-version'

/** The version a node's index folder holds: written when a published index is swapped in; 'local' otherwise. */
export function indexVersionOf (dir: string): string {
  try { return fs.readFileSync(path.join(dir, VERSION_FILE), 'utf8').trim() || 'local' } catch { return 'local' }
}

/**
 * Put a downloaded version in place of the folder's index (the server on it is closed, the index too).
 * @throws EAR_ERR_INDEX_OPEN when the file cannot be moved
 */
export function installIndexVersion (dir: string, file: string, version: string): void {
  try {
    fs.renameSync(file, path.join(dir, 'data.mdb'))
    fs.rmSync(path.join(dir, 'lock.mdb'), { force: true }) // it described the old file
    fs.writeFileSync(path.join(dir, VERSION_FILE), `${version}\n`)
  } catch (err) {
    throw earshotError('EAR_ERR_INDEX_OPEN', `${dir}: the published index could not be put in place: ${(err as Error).message}`)
  }
}
