/**
 * The one handler of failed writes to the server's state (play log, monitors, webhook queue): every write of those
 * goes through it, synchronous or not, so no failure escapes into a stream callback or becomes an unhandled
 * rejection, and a full disk is one clear state: counted, logged once when it starts and once when it ends, flagged
 * (`diskFull`, what /health reads) and answered over HTTP as EAR_ERR_DISK_FULL (507).
 *
 * lmdb-js reports a failed asynchronous commit oddly: each write's promise rejects with 'Commit failed (see
 * commitError for details)', and the real error (ENOSPC, MDB_MAP_FULL…) rejects a second promise, `commitError`,
 * that nobody handles unless told to (lmdb-js issue #368); with event-turn batching it also rejects an internal
 * promise no caller can reach, so the state store opens with `eventTurnBatching: false` (state-store.ts). Here both
 * promises are handled and the real error is what is reported.
 *
 * Recovery needs nothing: the flag clears at the first write that succeeds once space is back.
 */
import { EarshotError, wrapError } from '../errors.js'
import { silentLogger, type Logger } from '../log.js'

/** ENOSPC's errno, which lmdb-js puts in `code` as a number. */
const ENOSPC = 28
/** LMDB's "environment mapsize limit reached": the map is full, the same to a user as a full disk. */
const MDB_MAP_FULL = -30792

export type WriteFailure = 'disk_full' | 'error'

export interface StateWritesOptions {
  /** Where failures and recovery are logged (a child logger of the server's; default silent). */
  log?: Logger
  /** Told of every failed write (a metric). */
  onFailure?: (reason: WriteFailure) => void
}

/** Whether a write failed for want of space. */
export function isOutOfSpace (err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code
  return code === ENOSPC || code === 'ENOSPC' || code === MDB_MAP_FULL || /No space left|MDB_MAP_FULL/.test(String((err as Error | undefined)?.message))
}

/** The error behind an lmdb-js async write's rejection (its `commitError`, handled here), or the rejection itself. */
async function realError (err: unknown): Promise<unknown> {
  const inner = (err as { commitError?: unknown } | undefined)?.commitError
  if (typeof (inner as PromiseLike<unknown> | undefined)?.then !== 'function') return err
  try {
    await inner
    return err
  } catch (cause) {
    return cause
  }
}

export class StateWrites {
  readonly #log: Logger
  readonly #onFailure: ((reason: WriteFailure) => void) | undefined
  #diskFullSince: Date | undefined

  constructor (options: StateWritesOptions = {}) {
    this.#log = options.log ?? silentLogger
    this.#onFailure = options.onFailure
  }

  /** True from a write that failed for want of space until a write succeeds. */
  get diskFull (): boolean { return this.#diskFullSince !== undefined }

  /** When the disk was found full (ISO 8601), or null. */
  get diskFullSince (): string | null { return this.#diskFullSince?.toISOString() ?? null }

  /**
   * Run a synchronous write (`what` says what it stores, for the message).
   * @throws EAR_ERR_DISK_FULL when space ran out; the error thrown, or EAR_ERR_INTERNAL wrapping it, otherwise
   */
  sync<T> (what: string, write: () => T): T {
    let result: T
    try {
      result = write()
    } catch (err) {
      throw this.failed(err, what)
    }
    this.#succeeded()
    return result
  }

  /** An asynchronous write nobody waits for: a failure is reported here, never left unhandled. */
  background (what: string, write: Promise<unknown>): void {
    write.then(() => this.#succeeded(), async (err: unknown) => { this.failed(await realError(err), what) })
  }

  /** An asynchronous write that is waited for: rejects with the catalogued error (reported here) on failure. */
  async awaited<T> (what: string, write: Promise<T>): Promise<T> {
    let result: T
    try {
      result = await write
    } catch (err) {
      throw this.failed(await realError(err), what)
    }
    this.#succeeded()
    return result
  }

  /** Report a failed write: count, flag, log. Returns the catalogued error to throw or answer with. */
  failed (err: unknown, what: string): EarshotError {
    const full = isOutOfSpace(err)
    try {
      this.#onFailure?.(full ? 'disk_full' : 'error')
    } catch {
      // An observer's bug must not turn a failed write into a crash.
    }
    if (!full) {
      this.#log.error({ err, what }, 'a write to the server state failed')
      return err instanceof EarshotError ? err : wrapError('EAR_ERR_INTERNAL', err, `storing ${what}`)
    }
    if (this.#diskFullSince === undefined) {
      this.#diskFullSince = new Date()
      this.#log.error({ err: (err as Error).message, what }, 'disk full: the server state cannot be written; identify and streams go on, plays are not filed until space is freed')
    }
    return new EarshotError('EAR_ERR_DISK_FULL', [what], { cause: err })
  }

  #succeeded (): void {
    if (this.#diskFullSince === undefined) return
    this.#log.warn({ since: this.#diskFullSince.toISOString() }, 'disk space is back: the server state is written again')
    this.#diskFullSince = undefined
  }
}
