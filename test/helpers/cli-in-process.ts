/**
 * `earshot ...args` run in this process: the same command line as the program (runCli), printing to buffers of its
 * own, in a working directory and with EARSHOT_* variables of the test's choosing. A child process costs Node's start
 * and every module's load (about half a second each, a hundred times in the CLI suite); this costs the command.
 *
 * Runs are queued one after another: the working directory and the variables belong to the whole process.
 */
import { Writable } from 'node:stream'
import { runCli } from '../../server/src/cli/run.js'
import { withTerminal } from '../../server/src/cli/terminal-text.js'
import type { Run } from './child-env.js'

let queue: Promise<unknown> = Promise.resolve()

/** A stream that keeps what is written to it. */
function sink (): { stream: Writable, text: () => string } {
  let text = ''
  const stream = new Writable({ decodeStrings: false, write (chunk: string | Buffer, _encoding, done) { text += String(chunk); done() } })
  return { stream, text: () => text }
}

/**
 * Run `earshot ...args` in `cwd` with `env`: EARSHOT_* variables are exactly those of `env` while it runs (the
 * process's own are set aside and put back).
 */
export function earshotInProcess (cwd: string, args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<Run> {
  const run = queue.then(() => runOnce(cwd, args, env))
  queue = run.catch(() => {})
  return run
}

async function runOnce (cwd: string, args: readonly string[], env: Readonly<Record<string, string>>): Promise<Run> {
  const saved = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('EARSHOT_')))
  for (const k of Object.keys(saved)) delete process.env[k]
  Object.assign(process.env, env)
  const home = process.cwd()
  process.chdir(cwd)
  const stdout = sink()
  const stderr = sink()
  try {
    const code = await withTerminal({ stdout: stdout.stream, stderr: stderr.stream }, () => runCli([...args]))
    return { code, stdout: stdout.text(), stderr: stderr.text() }
  } finally {
    process.chdir(home)
    for (const k of Object.keys(env)) delete process.env[k]
    Object.assign(process.env, saved)
  }
}
