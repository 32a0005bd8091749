/**
 * `earshot serve --tls-cert --tls-key` on both transports, as a user runs it: a real server child on a self-signed
 * certificate made by openssl, then /health and an identify over https, a stream over wss through the SDK (its `ca`),
 * and the CLI's `identify --server https://` and `stream --server https://` trusting the certificate through
 * NODE_EXTRA_CA_CERTS. Certificates and keys that cannot be served stop the server with EAR_ERR_TLS, on one line,
 * before anything listens (transport/tls.ts).
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { buildCatalog } from '../helpers/catalog.js'
import { childEnv, runEarshot, startServe, type Served } from '../helpers/child-env.js'
import { addNoise, clip, writeWav } from '../helpers/signals.js'
import { freePort, httpGet, streamThroughSdk, TRANSPORTS } from '../helpers/stream-helpers.js'
import { request, makeCertificate, noOpenssl, type Certificate } from '../helpers/tls.js'
import { loadTls } from '../../server/src/transport/tls.js'
import { defaults } from '../../server/src/config/defaults.js'

const RATE = 44100
const SEEDS = [11, 12, 13]
/** The clip: 10 s of the second song from 8 s, in noise. */
const CLIP_START = 8

t.test('TLS', { skip: noOpenssl }, async (t) => {
  const dir = t.testdir()
  const good = makeCertificate(dir, 'server')
  const other = makeCertificate(dir, 'other')
  const encrypted = makeCertificate(dir, 'encrypted', 'a-passphrase-for-the-test')
  const catalog = buildCatalog(path.join(dir, 'db'), SEEDS, 30, RATE)
  const clipPcm = addNoise(clip(catalog.songs.get(2)!, RATE, CLIP_START, 10), 10, 5)
  catalog.index.close()
  writeWav(path.join(dir, 'clip.wav'), clipPcm, RATE)
  const wav = fs.readFileSync(path.join(dir, 'clip.wav'))
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => childEnv(extra, ['EARSHOT_DB', 'EARSHOT_DEBUG', 'EARSHOT_TLS_CERT', 'EARSHOT_TLS_KEY', 'EARSHOT_TLS_PASSPHRASE', 'NODE_EXTRA_CA_CERTS'])
  /** A server on the catalog, killed at the end of `t`: one at a time holds the data folder. */
  const serve = async (t: Test, transport: string, c: Certificate, extra: Record<string, string> = {}): Promise<Served> => {
    const s = await startServe(t, dir, ['--db', 'db', '--port', '0', '--transport', transport, '--tls-cert', c.cert, '--tls-key', c.key], env(extra))
    // Gone before the next one starts: a process not yet reaped still holds the data folder's lock.
    t.teardown(async () => { s.child.kill('SIGKILL'); await s.exited })
    return s
  }

  for (const transport of TRANSPORTS) {
    t.test(`${transport}: https and wss`, async (t) => {
      const s = await serve(t, transport, good)
      const base = `https://127.0.0.1:${s.port}`
      t.match(s.stderr(), new RegExp(`^earshot listening on wss://127\\.0\\.0\\.1:${s.port}/v1/stream and ${base}/ \\(${transport}, .*open ${base}/ in a browser$`, 'm'), 'the listening line gives wss:// and https://')

      const health = await request(`${base}/health`, { ca: good.pem })
      t.equal(health.status, 200, '/health over https')
      t.match(JSON.parse(health.body), { transport, index: { tracks: SEEDS.length } })
      await t.rejects(request(`${base}/health`, { ca: other.pem }), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'a client that does not trust the certificate is refused by its TLS')

      const identified = await request(`${base}/v1/identify`, { method: 'POST', headers: { 'content-type': 'audio/wav' }, body: wav, ca: good.pem })
      t.equal(identified.status, 200, identified.body)
      const best = (JSON.parse(identified.body) as { matches: Array<{ id: number, offsetSeconds: number }> }).matches[0]
      t.equal(best?.id, 2, 'identify over https finds the song')
      t.ok(Math.abs(best.offsetSeconds - CLIP_START) < 0.5, `at ${best?.offsetSeconds} s`)

      const { client, confirmed } = await streamThroughSdk(`wss://127.0.0.1:${s.port}/v1/stream`, clipPcm, RATE, 7, { ca: good.pem })
      await client.close()
      t.ok(confirmed > 0, 'a stream over wss through the SDK (ca: the certificate) is confirmed')
    })
  }

  t.test('the CLI against an https server, trusting its certificate through NODE_EXTRA_CA_CERTS', async (t) => {
    const s = await serve(t, 'uws', good)
    const trusting = env({ NODE_EXTRA_CA_CERTS: good.cert })
    const identified = await runEarshot(dir, ['identify', 'clip.wav', '--json', '--server', `https://127.0.0.1:${s.port}`], trusting)
    t.equal(identified.code, 0, identified.stderr)
    t.equal((JSON.parse(identified.stdout) as { matches: Array<{ id: number }> }).matches[0]?.id, 2, 'identify --server https:// finds the song')
    for (const server of [`https://127.0.0.1:${s.port}`, `wss://127.0.0.1:${s.port}/v1/stream`]) {
      const streamed = await runEarshot(dir, ['stream', 'clip.wav', '--json', '--server', server], trusting)
      t.equal(streamed.code, 0, streamed.stderr)
      const events = streamed.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string, state?: string, id?: number })
      t.ok(events.some((e) => e.type === 'match' && e.state === 'confirmed' && e.id === 2), `stream --server ${server}: confirmed`)
    }
    const untrusted = await runEarshot(dir, ['identify', 'clip.wav', '--server', `https://127.0.0.1:${s.port}`], env())
    t.equal(untrusted.code, 1, 'without the certificate trusted: exit 1')
    t.match(untrusted.stderr, /^earshot: EAR_ERR_CONNECT: Cannot reach the server at https:\/\/127\.0\.0\.1:\d+: self-signed certificate\n$/, 'one line saying why')
  })

  for (const transport of TRANSPORTS) {
    t.test(`${transport}: an encrypted key with its passphrase (EARSHOT_TLS_PASSPHRASE)`, async (t) => {
      const s = await serve(t, transport, encrypted, { EARSHOT_TLS_PASSPHRASE: 'a-passphrase-for-the-test' })
      const ping = await request(`https://127.0.0.1:${s.port}/ping`, { ca: encrypted.pem })
      t.same([ping.status, ping.body], [200, 'pong'])
    })
  }

  t.test('a plain http request to the https port gets no answer', async (t) => {
    const s = await serve(t, 'ws', good)
    await t.rejects(httpGet(`http://127.0.0.1:${s.port}/ping`), 'refused by the TLS server')
  })

  t.test('certificates and keys that cannot be served: EAR_ERR_TLS saying why', async (t) => {
    const tls = (o: Partial<typeof defaults.tls>): unknown => loadTls({ ...defaults.tls, ...o })
    t.equal(tls({}), undefined, 'no TLS without a certificate and key')
    const cases: Array<[string, Partial<typeof defaults.tls>, RegExp]> = [
      ['a certificate alone', { cert: good.cert }, /tls\.cert \(--tls-cert\) is set without tls\.key \(--tls-key\): give both/],
      ['a key alone', { key: good.key }, /tls\.key \(--tls-key\) is set without tls\.cert \(--tls-cert\): give both/],
      ['a passphrase alone', { passphrase: 'x' }, /tls\.passphrase is set without tls\.cert and tls\.key/],
      ['a missing file', { cert: path.join(dir, 'missing.crt'), key: good.key }, /cannot read tls\.cert .*missing\.crt$/],
      ['a folder', { cert: good.cert, key: dir }, /cannot read tls\.key /],
      ['a key as the certificate', { cert: good.key, key: good.key }, /tls\.cert .*server\.key holds no PEM certificate$/],
      ['a certificate as the key', { cert: good.cert, key: good.cert }, /tls\.key .*server\.crt holds no PEM private key$/],
      ['the key of another certificate', { cert: good.cert, key: other.key }, /server\.crt and .*other\.key: the key does not belong to the certificate$/],
      ['an encrypted key without its passphrase', { cert: encrypted.cert, key: encrypted.key }, /the key is encrypted and tls\.passphrase is missing or wrong$/],
      ['an encrypted key with a wrong passphrase', { cert: encrypted.cert, key: encrypted.key, passphrase: 'wrong' }, /the key is encrypted and tls\.passphrase is missing or wrong$/],
    ]
    for (const [what, o, message] of cases) t.throws(() => tls(o), { code: 'EAR_ERR_TLS', message }, what)
    t.ok(loadTls({ cert: encrypted.cert, key: encrypted.key, passphrase: 'a-passphrase-for-the-test' }), 'the right passphrase opens it')
  })

  t.test('earshot serve with a certificate or key it cannot serve: one line, EAR_ERR_TLS, exit 1, nothing listens', async (t) => {
    const port = await freePort()
    const runs: Array<[string, string[], RegExp]> = [
      ['--tls-cert alone', ['--tls-cert', good.cert], /tls\.cert \(--tls-cert\) is set without tls\.key/],
      ['a missing key file', ['--tls-cert', good.cert, '--tls-key', 'missing.key'], /cannot read tls\.key missing\.key: ENOENT/],
      ['a key that does not match', ['--tls-cert', good.cert, '--tls-key', other.key], /the key does not belong to the certificate/],
    ]
    for (const transport of TRANSPORTS) {
      for (const [what, args, message] of runs) {
        const r = await runEarshot(dir, ['serve', '--db', 'db', '--port', String(port), '--transport', transport, ...args], env())
        t.equal(r.code, 1, `${transport}, ${what}: exit 1`)
        t.equal(r.stderr.split('\n').filter(Boolean).length, 1, `${transport}, ${what}: one line: ${r.stderr}`)
        t.match(r.stderr, /^earshot: EAR_ERR_TLS: Cannot serve TLS: /)
        t.match(r.stderr, message)
        t.notMatch(r.stderr, '    at ', 'no stack trace')
      }
    }
    const tlsKey = await runEarshot(dir, ['serve', '--db', 'db', '--port', String(port), '--tls-cert', good.cert], env({ EARSHOT_TLS_KEY: other.key }))
    t.match([tlsKey.code, tlsKey.stderr], [1, /^earshot: EAR_ERR_TLS: .*the key does not belong to the certificate/], 'the key from EARSHOT_TLS_KEY is checked the same')
  })
})
