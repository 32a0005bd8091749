/**
 * The settings of issue 10's access findings as an operator states them: in the --config file and in EARSHOT_*
 * variables, with bad values stopping the server with EAR_ERR_CONFIG naming them.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { defaults } from '../../server/src/config/defaults.js'
import { loadSettings, settingAt, settingFromText, SETTINGS } from '../../server/src/config/load.js'

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
    ['type', { access: { loopbackIsAdmin: 'false' } }, {}, /access\.loopbackIsAdmin must be true or false, got "false"/],
    ['integer', { stream: { maxSessions: 2.5 } }, {}, /stream\.maxSessions must be an integer from 1 to 1000000, got 2\.5/],
    ['range', { webhooks: { maxAttempts: 0 } }, {}, /webhooks\.maxAttempts must be an integer from 1 to 1000, got 0/],
    ['fraction', { minConfidence: 1.5 }, {}, /minConfidence must be a number from 0 to 1/],
    ['top-level', { fingerprint: { fftSize: 1024 } }, {}, /unknown setting fingerprint/],
    ['not an object', { stream: 5 }, {}, /"stream" must be an object/],
    ['variable', {}, { EARSHOT_STREAM_MAX_SESSIONS: 'many' }, /EARSHOT_STREAM_MAX_SESSIONS \(stream\.maxSessions\) must be an integer from 1 to 1000000, got "many"/],
    ['empty number', {}, { EARSHOT_MATCHER_CONFIRM_TICKS: ' ' }, /EARSHOT_MATCHER_CONFIRM_TICKS/],
    ['backoffs', { monitors: { initialBackoffMs: 90_000, maxBackoffMs: 60_000 } }, {}, /monitors\.initialBackoffMs is more than monitors\.maxBackoffMs/],
    ['thresholds', { matcher: { tentativeConfidence: 0.7 } }, {}, /matcher\.tentativeConfidence is more than minConfidence/],
    ['section', { network: { allowed: [] } }, {}, /unknown setting network.allowed/],
    ['empty path', { ffmpegPath: '' }, {}, /ffmpegPath must be a non-empty string, got ""/],
  ]
  for (const [what, value, env, message] of bad) {
    t.throws(() => loadSettings(defaults, file(`${what}.json`, value), env), { code: 'EAR_ERR_CONFIG', message }, what)
  }
})

t.test('every setting can be set from the file and from its variable; the result is frozen', async (t) => {
  const config = file('all.json', { minConfidence: 0.6, maxBucket: 2048, postingsPerLookup: 512, stream: { maxSessions: 7 }, matcher: { confirmTicks: 3, windowTicks: 20 } })
  const s = loadSettings(defaults, config, { EARSHOT_MATCHER_END_SILENT_TICKS: '8', EARSHOT_STREAM_MAX_SESSIONS: '9', EARSHOT_HTTP_MAX_JSON_BYTES: '4096', EARSHOT_WEBHOOK_URLS: '' })
  t.equal(s.minConfidence, 0.6)
  t.equal(s.maxBucket, 2048)
  t.equal(s.postingsPerLookup, 512)
  t.equal(s.stream.maxSessions, 9, 'the variable wins over the file')
  t.equal(s.stream.maxFrameBytes, defaults.stream.maxFrameBytes, 'what neither gives keeps its default')
  t.same(s.matcher, { ...defaults.matcher, confirmTicks: 3, windowTicks: 20, endSilentTicks: 8 })
  t.equal(s.http.maxJsonBytes, 4096)
  t.same(s.webhooks.urls, [], 'an empty variable is not set')
  t.ok(Object.isFrozen(s) && Object.isFrozen(s.stream) && Object.isFrozen(s.access.adminTokens), 'frozen all the way down')
  t.throws(() => { (s.stream as { maxSessions: number }).maxSessions = 1 }, TypeError, 'a change throws')
  t.equal(loadSettings(defaults, undefined, {}).postingsPerLookup, Infinity, 'postingsPerLookup is off unless set')

  // Every setting has a variable of its own, and every one is read.
  const names = SETTINGS.map((x) => x.env)
  t.equal(new Set(names).size, names.length, 'no two settings share a variable')
  t.ok(SETTINGS.length >= 45, `${SETTINGS.length} settings`)
  for (const spec of SETTINGS) {
    const text = spec.schema.type === 'array' ? 'example.org' : spec.schema.type === 'boolean' ? 'false' : spec.schema.type === 'string' ? 'a-webhook-secret-0123456789' : String(spec.schema.maximum)
    const env: Record<string, string> = { [spec.env]: text }
    if (spec.path === 'webhooks.urls') { env[spec.env] = 'https://hooks.example.org/x'; env.EARSHOT_WEBHOOK_SECRET = 'a-webhook-secret-0123456789' }
    if (spec.path.endsWith('Tokens')) env[spec.env] = 'a-token-of-enough-length-0123'
    if (spec.path === 'access.allowedOrigins') env[spec.env] = 'https://studio.example.org'
    if (spec.path === 'matcher.tentativeConfidence' || spec.path.endsWith('initialBackoffMs')) env[spec.env] = String(spec.schema.minimum)
    const got = spec.path.split('.').reduce<unknown>((at, k) => (at as Record<string, unknown>)[k], loadSettings(defaults, undefined, env))
    t.same(got, settingFromText(spec, env[spec.env], spec.env), `${spec.env} sets ${spec.path}`)
  }
})

t.test('the settings derive from the schema: types, defaults, ranges', async (t) => {
  for (const spec of SETTINGS) {
    const value = spec.path.split('.').reduce<unknown>((at, k) => (at as Record<string, unknown>)[k], defaults)
    if (spec.path === 'postingsPerLookup') { t.equal(value, Infinity, 'postingsPerLookup: off'); continue }
    t.same(value, spec.schema.default, `${spec.path}: its default`)
    t.ok(typeof spec.schema.description === 'string' && spec.schema.description.length > 10, `${spec.path}: described`)
    if (spec.schema.type === 'integer' || spec.schema.type === 'number') {
      t.ok(spec.schema.minimum <= (value as number) && (value as number) <= spec.schema.maximum, `${spec.path}: default within its range`)
    }
  }
  t.equal(settingAt('stream.maxSessions').env, 'EARSHOT_STREAM_MAX_SESSIONS')
  t.equal(settingAt('access.adminTokens').env, 'EARSHOT_ADMIN_TOKENS', 'established names kept')
  t.throws(() => settingFromText(settingAt('stream.idleTimeoutMs'), '50', '--idle-timeout', 'EAR_ERR_USAGE'), { code: 'EAR_ERR_USAGE', message: /--idle-timeout must be an integer from 100 to 86400000, got "50"/ })
})
