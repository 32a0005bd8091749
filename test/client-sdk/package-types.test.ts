import t from 'tap'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
// Imported by the documented names: this file compiles only if the packages' declarations resolve (strict mode
// refuses a module without types), and runs only if their code does.
import { connect, EarshotClient, type ConnectOptions } from 'earshot/client-sdk'
import { EarshotError, errorCatalogue, PROTOCOL_VERSION, type Match } from 'earshot/protocol'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const pkg = createRequire(import.meta.url)('../../../package.json') as { exports: Record<string, string | { types: string, default: string }> }

t.test('the packages load by their names, with their types', async (t) => {
  const options: ConnectOptions = { sampleRate: 16000 }
  t.equal(typeof connect, 'function')
  t.equal(typeof EarshotClient, 'function')
  t.equal(PROTOCOL_VERSION, 1)
  t.ok('EAR_ERR_CONNECT' in errorCatalogue)
  const m: Pick<Match, 'type'> = { type: 'match' }
  t.same([options.sampleRate, m.type], [16000, 'match'])
  t.notOk(new Error('x') instanceof EarshotError)
})

t.test('every export names its code and its declarations, and both exist', async (t) => {
  for (const [name, target] of Object.entries(pkg.exports)) {
    if (name === './package.json') continue
    t.equal(typeof target, 'object', `${name}: types and code`)
    const { types, default: code } = target as { types: string, default: string }
    t.ok(fs.existsSync(root + types), `${name}: ${types}`)
    t.ok(fs.existsSync(root + code), `${name}: ${code}`)
  }
  const browser = fs.readFileSync(root + (pkg.exports['./client-sdk/browser'] as { types: string }).types, 'utf8')
  t.match(browser, /listen/, 'the browser SDK declares listen')
  t.match(browser, /ListenError/)
})
