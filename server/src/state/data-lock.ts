/**
 * One server per data folder: a pid file in the server's state folder, as PostgreSQL's `postmaster.pid`. It holds
 * the server's pid, its start time and (once listening) its port, one per line:
 *
 *   12345
 *   2026-11-30T11:00:00.000Z
 *   8080
 *
 * A file left by a process that no longer runs is taken over; one of a live process is refused with
 * EAR_ERR_DATA_LOCKED naming it. The CLI's `index`, `export` and the like do not take it: LMDB is multi-process, and
 * they may run beside a server. The file is written whole to a temporary name and linked into place, so a reader
 * never sees half of it.
 */
import fs from 'node:fs'
import path from 'node:path'
import { earshotError, wrapError } from '../errors.js'
import { isProcessAlive } from '../processes.js'

export const LOCK_FILE = 'earshot.pid'

/** Lock files held by servers of this process: a pid file naming this process may be a stale one (a container
 * restarted with the same pid), unless it is listed here. */
const held = new Set<string>()

export interface LockHolder { pid: number, startedAt: string, port: string }

function read (file: string): LockHolder | undefined {
  let text: string
  try { text = fs.readFileSync(file, 'utf8') } catch { return undefined }
  const [pid, startedAt = '', port = ''] = text.split('\n')
  return { pid: Number(pid), startedAt, port }
}

export class DataLock {
  readonly file: string
  /** The dead server whose pid file this one took over, if any (to log). */
  tookOver: LockHolder | undefined
  readonly #startedAt = new Date().toISOString()
  #released = false

  private constructor (file: string) {
    this.file = file
  }

  /**
   * Take the lock of the state folder `dir` (which must exist), or throw EAR_ERR_DATA_LOCKED when a live server
   * holds it.
   */
  static acquire (dir: string): DataLock {
    const lock = new DataLock(path.join(dir, LOCK_FILE))
    // A few rounds: each either creates the file, or finds a live holder, or removes a stale file and tries again.
    for (let round = 0; round < 5; round++) {
      if (lock.#create()) { held.add(lock.file); return lock }
      const holder = read(lock.file)
      if (!holder) continue // removed meanwhile
      const stale = !Number.isInteger(holder.pid) || holder.pid <= 0 ||
        (holder.pid === process.pid ? !held.has(lock.file) : !isProcessAlive(holder.pid))
      if (!stale) {
        throw earshotError('EAR_ERR_DATA_LOCKED', dir, holder.pid, holder.port || 'not yet listening', holder.startedAt || 'unknown')
      }
      // Remove it only if it is still the file judged stale: another server may have taken it over meanwhile.
      const again = read(lock.file)
      if (again && again.pid === holder.pid && again.startedAt === holder.startedAt) {
        try { fs.unlinkSync(lock.file) } catch {}
        lock.tookOver = holder
      }
    }
    throw earshotError('EAR_ERR_DATA_LOCKED', dir, 'unknown', 'unknown', 'unknown (its pid file keeps changing)')
  }

  /** Write the port into the file once the server listens. */
  setPort (port: number): void {
    if (this.#released) return
    const tmp = this.#temp(`${port}`)
    fs.renameSync(tmp, this.file)
  }

  /** Remove the file, if it is still this server's. */
  release (): void {
    if (this.#released) return
    this.#released = true
    held.delete(this.file)
    const holder = read(this.file)
    if (holder?.pid === process.pid && holder.startedAt === this.#startedAt) {
      try { fs.unlinkSync(this.file) } catch {}
    }
  }

  /** Create the file with its whole contents; false when it exists. */
  #create (): boolean {
    const tmp = this.#temp('')
    try {
      fs.linkSync(tmp, this.file)
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw wrapError('EAR_ERR_FILE_UNREADABLE', err, this.file)
    } finally {
      try { fs.unlinkSync(tmp) } catch {}
    }
  }

  /** The contents in a temporary file beside the lock file; returns its name. */
  #temp (port: string): string {
    const tmp = `${this.file}.${process.pid}.tmp`
    fs.writeFileSync(tmp, `${process.pid}\n${this.#startedAt}\n${port}\n`, { mode: 0o644 })
    return tmp
  }
}
