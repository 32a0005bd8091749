import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildCatalog } from '../helpers/catalog.js'
import { clip } from '../helpers/signals.js'
import { startServer, toS16 } from '../helpers/stream-helpers.js'
import { spawnNode } from '../helpers/child-env.js'

// The README's streaming example, taken from the README and run as written by Node in a child process: the package
// names resolve through package.json's `exports` (a file inside the project imports its own package by name).
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const RATE = 44100
const catalog = buildCatalog(path.join(t.testdir(), 'db'), [1, 2, 3], 30, RATE)
t.teardown(() => catalog.index.close())

function readmeExample (): string {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Streaming')))
  if (block === null) throw new Error('no js example under "## Streaming" in README.md')
  return block[1]
}

t.test('the package names of the README resolve', async (t) => {
  const sdk = await import('earshot/client-sdk' as string) as Record<string, unknown>
  t.type(sdk.connect, 'function', 'earshot/client-sdk exports connect')
  const protocol = await import('earshot/protocol' as string) as Record<string, unknown>
  t.ok(Object.keys(protocol).length > 0, 'earshot/protocol exports its codec and types')
  t.ok(fs.existsSync(path.join(root, 'dist/web/sdk/earshot.js')), 'earshot/client-sdk/browser is built')
})

t.test('the README streaming example runs as written and prints the match', async (t) => {
  const running = await startServer(t, 'uws', catalog.index)
  const dir = t.testdir({ 'example.mjs': readmeExample() })
  fs.writeFileSync(path.join(dir, 'clip.pcm'), toS16(clip(catalog.songs.get(2)!, RATE, 6, 8)))
  const child = spawnNode(['example.mjs'], { cwd: dir, env: { ...process.env, EARSHOT_URL: running.url } })
  let out = ''
  let err = ''
  child.stdout!.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr!.on('data', (c: Buffer) => { err += c.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  t.equal(code, 0, `exit 0 ${err}`)
  t.match(out, /^confirmed song 2 /m, `prints the confirmed match: ${out.trim().split('\n').at(-1) ?? ''}`)
})
