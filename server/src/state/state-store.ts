/**
 * The server's own state beside the index: monitors, the play log and the webhook queue, in one LMDB environment
 * in `<index folder>/server`. Kept apart from the index so that `earshot export`/`import` move music only, and so
 * that rebuilding an index never touches a station's play history.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { RootDatabase } from 'lmdb'
import { openChecked } from '../index/lmdb-check.js'
import { wrapError } from '../errors.js'
import { DataLock } from './data-lock.js'

/** Address space reserved for the map; the file grows as needed. 8 GiB: decades of plays for hundreds of streams. */
const MAP_SIZE = 8 * 1024 ** 3

/** The state has no export: a damaged state store is moved aside, and the server starts a new one. */
const STATE_HINT = 'the file is left as it is; stop the server, move the server folder aside (monitors, play log and webhook queue start empty) and start it again'

/** The state folder of an index folder. */
export function stateDirOf (indexDir: string): string {
  return path.join(indexDir, 'server')
}

/**
 * Open (or create) the state store in `dir`; its file is checked first as the index's is (index/lmdb-check.ts).
 * @throws EAR_ERR_INDEX_OPEN
 */
export function openStateStore (dir: string): RootDatabase {
  try {
    // No event-turn batching: with it, a failed commit also rejects a promise of lmdb-js's own that no caller can
    // handle, and the process dies of an unhandled rejection on a full disk (see state-writes.ts).
    return openChecked({ path: dir, maxDbs: 16, mapSize: MAP_SIZE, eventTurnBatching: false }, { create: true, hint: STATE_HINT })
  } catch (err) {
    throw wrapError('EAR_ERR_INDEX_OPEN', err, dir)
  }
}

/**
 * The state of one server: take the folder's lock (EAR_ERR_DATA_LOCKED while another server holds it), then open
 * the store. The caller releases the lock after closing the store.
 */
export function openServerState (dir: string): { root: RootDatabase, lock: DataLock } {
  try {
    fs.mkdirSync(dir, { recursive: true })
  } catch (err) {
    throw wrapError('EAR_ERR_INDEX_OPEN', err, dir)
  }
  const lock = DataLock.acquire(dir)
  try {
    return { root: openStateStore(dir), lock }
  } catch (err) {
    lock.release()
    throw err
  }
}
