/**
 * `earshot serve` in a child process, as a user runs it: started on a free port, up once /ping answers, killed in the
 * test's teardown if still running. Its peak resident memory is read from /proc (Linux), so a figure is the real
 * process's, not the test runner's.
 */
import fs from 'node:fs'
import { type ChildProcess } from 'node:child_process'
import type { Test } from 'tap'
import type { TransportName } from '../../server/src/transport/types.js'
import { childEnv, EARSHOT_MAIN, spawnNode } from './child-env.js'
import { freePort, pollUntil } from './stream-helpers.js'

export interface ServeChild {
  child: ChildProcess
  /** http://127.0.0.1:PORT */
  http: string
  /** Everything written to stderr so far (the log). */
  stderr (): string
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>
}

/** Start `earshot serve --db DB --transport T` with extra flags; resolves once it answers /ping. */
export async function startServeChild (t: Test, db: string, transport: TransportName, extra: readonly string[] = [], env: Record<string, string> = {}): Promise<ServeChild> {
  const port = await freePort()
  const child = spawnNode([EARSHOT_MAIN, 'serve', '--db', db, '--port', String(port), '--transport', transport, ...extra], {
    env: childEnv({ EARSHOT_LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let err = ''
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { err += s })
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const http = `http://127.0.0.1:${port}`
  await pollUntil(() => fetch(`${http}/ping`).then((r) => r.ok, () => false), (up) => up || child.exitCode !== null, 20_000, 'earshot serve to answer /ping', 100)
  if (child.exitCode !== null) throw new Error(`earshot serve exited with ${child.exitCode}: ${err}`)
  return { child, http, stderr: () => err, exited }
}

/** Peak resident set size of a process so far, in bytes (VmHWM); undefined where /proc has no such field. */
export function peakRssBytes (pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}
