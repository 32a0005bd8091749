import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { protocolErrors } from '../../protocol/src/errors.js'

// protocol/README.md's table of error codes is what client authors read: it must list exactly the codes of
// protocol/src/errors.ts, each with the close code the server ends the session with ("—": the session goes on).
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const readme = fs.readFileSync(path.join(root, 'protocol', 'README.md'), 'utf8')

t.test('the protocol README lists every error code once, with its close code, and no other', async (t) => {
  const rows = [...readme.matchAll(/^\| `(EAR_ERR_[A-Z_]+)` \| ([0-9]+|—) \|/gm)].map((m) => [m[1], m[2] === '—' ? 0 : Number(m[2])] as const)
  t.ok(rows.length > 0, `${rows.length} rows in the table`)
  const documented = new Map<string, number>()
  for (const [code, close] of rows) {
    t.notOk(documented.has(code), `${code} is listed once`)
    documented.set(code, close)
  }
  for (const [code, { close }] of Object.entries(protocolErrors)) {
    t.equal(documented.get(code), close, `${code}: close ${close === 0 ? '— (the session goes on)' : close}`)
  }
  t.same([...documented.keys()].filter((code) => !(code in protocolErrors)), [], 'no code in the table that the protocol does not have')
})
