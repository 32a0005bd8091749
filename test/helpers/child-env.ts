import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
/**
 * The environment for child processes under test: the parent's, without what tap adds to it. tap sets NODE_OPTIONS
 * to load its process-tracking hooks into every child, which the children under test neither need nor should have
 * (they run as a user would run them), and which makes each start several times slower.
 *
 * A server started here runs one stream engine (EARSHOT_WORKERS=1) unless `extra` says otherwise: its sessions take
 * the engine path as in production, at half the start-up cost of one engine per core (tests start dozens of servers).
 */
export function childEnv (extra: Record<string, string> = {}, remove: readonly string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_OPTIONS' || k.startsWith('TAP') || k.startsWith('_TAPJS_')) continue
    if (remove.includes(k)) continue
    env[k] = v
  }
  return { EARSHOT_WORKERS: '1', ...env, ...extra }
}

/**
 * Spawn `node ...args` without tap's hooks. Stripping NODE_OPTIONS from `env` is not enough: tap's process tracking
 * patches every spawn to put its hooks back (a separate hooks thread per process, about 0.7 s of CPU at each start, in
 * every server a test starts). A shell in between drops them and then becomes node (`exec`), so the pid, signals and
 * exit status are node's own.
 */
export function spawnNode (args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawn('/bin/sh', ['-c', 'unset NODE_OPTIONS; exec "$@"', 'sh', process.execPath, ...args], { env: childEnv(), ...options })
}

/** The CLI entry point, compiled. */
export const EARSHOT_MAIN = fileURLToPath(new URL('../../server/src/cli/main.js', import.meta.url))

export interface Run { code: number | null, stdout: string, stderr: string }

/** Run `earshot ...args` in `cwd` as a user would, collecting its output. */
export function runEarshot (cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = childEnv()): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawnNode([EARSHOT_MAIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (s: string) => { stdout += s })
    child.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

export interface Served {
  child: ChildProcess
  /** The port from the listening line. */
  port: number
  /** Everything the server wrote to stderr so far. */
  stderr (): string
  /** Resolves with the exit code (or the signal's name) when the server exits. */
  exited: Promise<number | string>
}

/**
 * Run `earshot serve ...args` in `cwd` and wait (at most `ms`) for its listening line; rejects with its stderr if it
 * exits first. Killed with SIGKILL in t's teardown if it still runs.
 */
export async function startServe (t: Test, cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = childEnv(),
  ms = 15_000): Promise<Served> {
  const child = spawnNode([EARSHOT_MAIN, 'serve', ...args], { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stderr = ''
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')))
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`earshot serve did not listen within ${ms} ms: ${stderr}`)), ms)
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      stderr += s
      const m = /^earshot listening on wss?:\/\/[^:]+:(\d+)\//m.exec(stderr)
      if (m) { clearTimeout(timer); resolve(Number(m[1])) }
    })
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`earshot serve exited (${code}) before listening: ${stderr}`)) })
  })
  return { child, port, stderr: () => stderr, exited }
}

/** Keep a child's output (stdout and stderr, in the order they come), and kill it with -9 in t's teardown if it runs. */
export function keepOutput (t: Test, child: ChildProcess): () => string {
  let log = ''
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { log += s })
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { log += s })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  return () => log
}
