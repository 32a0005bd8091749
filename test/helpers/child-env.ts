import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
/**
 * The environment for child processes under test: the parent's, without what tap adds to it. tap sets NODE_OPTIONS
 * to load its process-tracking hooks into every child, which the children under test neither need nor should have
 * (they run as a user would run them), and which makes each start several times slower.
 */
export function childEnv (extra: Record<string, string> = {}, remove: readonly string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_OPTIONS' || k.startsWith('TAP') || k.startsWith('_TAPJS_')) continue
    if (remove.includes(k)) continue
    env[k] = v
  }
  return { ...env, ...extra }
}

/** The CLI entry point, compiled. */
export const EARSHOT_MAIN = fileURLToPath(new URL('../../server/src/cli/main.js', import.meta.url))

export interface Run { code: number | null, stdout: string, stderr: string }

/** Run `earshot ...args` in `cwd` as a user would, collecting its output. */
export function runEarshot (cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = childEnv()): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [EARSHOT_MAIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}
