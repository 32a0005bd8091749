/**
 * The server's own state beside the index: monitors, the play log and the webhook queue, in one LMDB environment
 * in `<index folder>/server`. Kept apart from the index so that `earshot export`/`import` move music only, and so
 * that rebuilding an index never touches a station's play history.
 */
import fs from 'node:fs'
import path from 'node:path'
import { open, type RootDatabase } from 'lmdb'
import { wrapError } from '../errors.js'

/** Address space reserved for the map; the file grows as needed. 8 GiB: decades of plays for hundreds of streams. */
const MAP_SIZE = 8 * 1024 ** 3

/** The state folder of an index folder. */
export function stateDirOf (indexDir: string): string {
  return path.join(indexDir, 'server')
}

export function openStateStore (dir: string): RootDatabase {
  try {
    fs.mkdirSync(dir, { recursive: true })
    // No event-turn batching: with it, a failed commit also rejects a promise of lmdb-js's own that no caller can
    // handle, and the process dies of an unhandled rejection on a full disk (see state-writes.ts).
    return open({ path: dir, maxDbs: 16, mapSize: MAP_SIZE, eventTurnBatching: false })
  } catch (err) {
    throw wrapError('EAR_ERR_INDEX_OPEN', err, dir)
  }
}
