/**
 * Background maintenance of a served index: every few seconds, if the live part is due for a flush or a tier of
 * segments for a merge, one round runs in a child process (maintenance-worker.ts). One round at a time; on close, a
 * running round is killed: its unlisted output is dropped by the next round.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import type { FingerprintParams } from '../config/fingerprint.js'
import type { LmdbIndex } from './lmdb-index.js'

const CHECK_MS = 5_000

export interface MaintenanceStats {
  running: boolean
  rounds: number
  merges: number
  /** ISO 8601 end of the last round, and its error if it failed. */
  lastAt: string | null
  lastError: string | null
}

export class Maintainer {
  readonly #index: LmdbIndex
  readonly #params: FingerprintParams
  readonly #log: Logger
  #timer: NodeJS.Timeout | undefined
  #child: ChildProcess | undefined
  #round: Promise<void> | undefined
  readonly stats: MaintenanceStats = { running: false, rounds: 0, merges: 0, lastAt: null, lastError: null }

  constructor (index: LmdbIndex, params: FingerprintParams, log: Logger) {
    this.#index = index
    this.#params = params
    this.#log = log
  }

  start (): void {
    this.#timer = setInterval(() => this.check(), CHECK_MS)
    this.#timer.unref()
  }

  /** Start a round if one is due and none runs. */
  check (): void {
    if (this.#round || this.#timer === undefined) return
    let due = false
    try { due = this.#index.needsMaintenance() } catch { return } // a read failure is reported by /health
    if (due) this.#round = this.#run().finally(() => { this.#round = undefined })
  }

  async #run (): Promise<void> {
    this.stats.running = true
    const child = spawn(process.execPath, [fileURLToPath(new URL('./maintenance-worker.js', import.meta.url)), this.#index.dir, JSON.stringify(this.#params)], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.#child = child
    type Result = { ok: true, flushed: number, merges: number, abandoned: number, ms: number } | { ok: false, error: string }
    let output = ''
    let errors = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => { output += s })
    child.stderr.setEncoding('utf8').on('data', (s: string) => { errors = (errors + s).slice(-2000) })
    const result = await new Promise<Result>((resolve) => {
      child.once('error', (err) => resolve({ ok: false, error: err.message }))
      child.once('close', (code, signal) => {
        try {
          resolve(JSON.parse(output) as Result)
        } catch {
          resolve({ ok: false, error: `the maintenance process ended (${signal ?? `code ${code}`}) without a result: ${errors.trim().split('\n').pop() ?? ''}` })
        }
      })
    })
    this.#child = undefined
    this.stats.running = false
    this.stats.rounds++
    this.stats.lastAt = new Date().toISOString()
    if (result.ok) {
      this.stats.merges += result.merges
      this.stats.lastError = null
      this.#log.info({ flushed: result.flushed, merges: result.merges, abandoned: result.abandoned, ms: result.ms }, 'index maintained')
    } else if (this.#timer !== undefined) {
      this.stats.lastError = result.error
      this.#log.error({ error: result.error }, 'index maintenance failed')
    }
  }

  async close (): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#child?.kill('SIGKILL')
    await this.#round
  }
}
