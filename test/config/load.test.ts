/**
 * The settings of issue 10's access findings as an operator states them: in the --config file and in EARSHOT_*
 * variables, with bad values stopping the server with EAR_ERR_CONFIG naming them.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { defaults } from '../../server/src/config/defaults.js'
import { loadSettings } from '../../server/src/config/load.js'

const file = (name: string, value: unknown): string => {
  const p = path.join(t.testdir(), name)
  fs.writeFileSync(p, JSON.stringify(value))
  return p
}

t.test('public names, origins, loopbackIsAdmin, play-log tokens and allowed addresses', async (t) => {
  const config = file('earshot.json', {
    access: { publicNames: ['earshot.example.org'], allowedOrigins: ['https://studio.example.org'], loopbackIsAdmin: false, playsPerMinute: 10 },
    network: { allowedAddresses: ['192.168.1.0/24'] },
  })
  const s = loadSettings(defaults, config, {})
  t.same(s.access.publicNames, ['earshot.example.org'])
  t.same(s.access.allowedOrigins, ['https://studio.example.org'])
  t.equal(s.access.loopbackIsAdmin, false)
  t.equal(s.access.playsPerMinute, 10)
  t.same(s.network.allowedAddresses, ['192.168.1.0/24'])
  t.equal(loadSettings(defaults, undefined, {}).access.loopbackIsAdmin, true, 'loopback is admin by default (no token configured)')

  const env = loadSettings(defaults, config, {
    EARSHOT_PUBLIC_NAMES: 'a.example, b.example', EARSHOT_LOOPBACK_IS_ADMIN: 'true',
    EARSHOT_PLAY_LOG_TOKENS: 'recorder-token-0123456789', EARSHOT_ALLOWED_ADDRESSES: '10.0.0.0/8,radio.lan',
  })
  t.same(env.access.publicNames, ['a.example', 'b.example'], 'the variables win over the file')
  t.equal(env.access.loopbackIsAdmin, true)
  t.same(env.access.playLogTokens, ['recorder-token-0123456789'])
  t.same(env.network.allowedAddresses, ['10.0.0.0/8', 'radio.lan'])
})

t.test('bad values stop the server, naming them', async (t) => {
  const bad: Array<[string, unknown, Record<string, string>, RegExp]> = [
    ['origin', { access: { allowedOrigins: ['https://studio.example.org/'] } }, {}, /allowedOrigins/],
    ['name', { access: { publicNames: ['https://earshot.example.org'] } }, {}, /publicNames/],
    ['flag', {}, { EARSHOT_LOOPBACK_IS_ADMIN: 'no' }, /EARSHOT_LOOPBACK_IS_ADMIN/],
    ['short token', {}, { EARSHOT_PLAY_LOG_TOKENS: 'short' }, /play log token/],
    ['type', { access: { loopbackIsAdmin: 'false' } }, {}, /loopbackIsAdmin must be a boolean/],
    ['section', { network: { allowed: [] } }, {}, /unknown setting network.allowed/],
  ]
  for (const [what, value, env, message] of bad) {
    t.throws(() => loadSettings(defaults, file(`${what}.json`, value), env), { code: 'EAR_ERR_CONFIG', message }, what)
  }
})
