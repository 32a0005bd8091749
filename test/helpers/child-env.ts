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
