/**
 * earshot behind Debian's nginx with the shipped site file, deploy/nginx/earshot.conf, as docs/DEPLOY.md sets it up:
 * a real `earshot serve` on loopback, a real nginx in front terminating TLS, on a self-signed certificate made by
 * openssl. Through nginx: /health and the web page, an identify (an https POST) and a stream over wss through the SDK
 * with a confirmed match; a write without a token is refused (the proxy's X-Forwarded-For: loopback is then not the
 * administrator) where the same write straight to earshot from loopback is not; /metrics answers this machine's
 * 127.0.0.1 and refuses another client (127.0.0.2, another loopback address), which earshot itself serves; plain http
 * is sent to https.
 *
 * The site file is the one shipped, with only its lines marked EDIT changed: the listening addresses (loopback, ports
 * of the test's), the certificate and key (the test's) and the upstream (the earshot child's port). Each of those
 * lines must be found exactly once, so that the test fails when the file changes shape rather than test another one.
 * It is included from a minimal nginx.conf of the test's own with every path in a temporary folder, so that nginx
 * needs no root: as root (CI), its workers drop to `nobody`, as Debian's drop to www-data; as another user they run
 * as that user.
 *
 * Skipped, with the reason, when nginx or openssl is missing. CI (.ci/run) installs nginx, so it runs there.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { STREAM_PATH } from '../../protocol/src/index.js'
import { defaults } from '../../server/src/config/defaults.js'
import { buildCatalog } from '../helpers/catalog.js'
import { startServeChild } from '../helpers/serve-child.js'
import { addNoise, clip, writeWav } from '../helpers/signals.js'
import { freePort, pollUntil, streamThroughSdk } from '../helpers/stream-helpers.js'
import { makeCertificate, noOpenssl, request } from '../helpers/tls.js'

const SITE = fileURLToPath(new URL('../../../deploy/nginx/earshot.conf', import.meta.url))
const RATE = 44100
const SEEDS = [21, 22, 23]
const CLIP_START = 8
/** Longest wait for nginx to stop after SIGTERM, in ms; then SIGKILL. */
const STOP_MS = 5000

function why (): string | false {
  if (spawnSync('nginx', ['-v'], { stdio: 'ignore' }).error !== undefined) return 'nginx not installed (Debian: apt-get install nginx)'
  return noOpenssl
}

/**
 * The shipped site file with its EDIT lines replaced: `[from, to]` pairs, each `from` found exactly once.
 * @throws naming the line that is not there once
 */
function edited (site: string, edits: ReadonlyArray<readonly [string, string]>): string {
  let out = site
  for (const [from, to] of edits) {
    const found = out.split(from).length - 1
    if (found !== 1) throw new Error(`deploy/nginx/earshot.conf holds ${JSON.stringify(from)} ${found} times, not once: update this test with it`)
    out = out.replace(from, to)
  }
  return out
}

/** A directive's value in `conf`, from its first occurrence. */
function directive (conf: string, name: string): string | undefined {
  return new RegExp(`^\\s*${name}\\s+([^;]+);`, 'm').exec(conf)?.[1]
}

t.test('earshot behind nginx with deploy/nginx/earshot.conf', { skip: why(), timeout: 120_000 }, async (t) => {
  const site = fs.readFileSync(SITE, 'utf8')

  t.test('the site file agrees with earshot', async (t) => {
    t.match(site, new RegExp(`location = ${STREAM_PATH} \\{`), 'the stream location is the protocol\'s STREAM_PATH')
    const m = /^(\d+)m$/.exec(directive(site, 'client_max_body_size') ?? '')
    t.equal(Number(m?.[1]) * 1024 * 1024, defaults.http.maxUploadBytes, 'client_max_body_size is earshot\'s largest body (http.maxUploadBytes)')
    const stream = site.slice(site.indexOf(`location = ${STREAM_PATH}`))
    const h = /^(\d+)h$/.exec(directive(stream, 'proxy_read_timeout') ?? '')
    t.ok(Number(h?.[1]) * 3600_000 > defaults.stream.idleTimeoutMs, 'a stream\'s silence is ended by earshot (stream.idleTimeoutMs) before nginx')
  })

  // Outside the repository: nginx's workers (nobody, when started as root) must reach its temporary folders.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'earshot-nginx-'))
  fs.chmodSync(dir, 0o755)
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const cert = makeCertificate(dir, 'site')

  const data = t.testdir()
  const catalog = buildCatalog(path.join(data, 'db'), SEEDS, 30, RATE)
  const clipPcm = addNoise(clip(catalog.songs.get(2)!, RATE, CLIP_START, 10), 10, 5)
  catalog.index.close()
  writeWav(path.join(data, 'clip.wav'), clipPcm, RATE)
  const earshot = await startServeChild(t, path.join(data, 'db'), 'uws')
  const upstream = Number(new URL(earshot.http).port)

  const [httpsPort, httpPort] = [await freePort(), await freePort()]
  fs.writeFileSync(path.join(dir, 'earshot.conf'), edited(site, [
    ['server 127.0.0.1:8080;', `server 127.0.0.1:${upstream};`],
    ['listen 80;', `listen 127.0.0.1:${httpPort};`],
    ['listen [::]:80;', ''],
    ['listen 443 ssl;', `listen 127.0.0.1:${httpsPort} ssl;`],
    ['listen [::]:443 ssl;', ''],
    ['/etc/letsencrypt/live/earshot.example.org/fullchain.pem', cert.cert],
    ['/etc/letsencrypt/live/earshot.example.org/privkey.pem', cert.key],
  ]))
  // What Debian's /etc/nginx/nginx.conf gives the site (its http block includes sites-enabled/*), minus root's paths.
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `    ${k}_temp_path ${path.join(dir, k)};`)
  fs.writeFileSync(path.join(dir, 'nginx.conf'), [
    'worker_processes 1;',
    'events { worker_connections 256; }',
    'http {',
    ...temp,
    `    access_log ${path.join(dir, 'access.log')};`,
    `    include ${path.join(dir, 'earshot.conf')};`,
    '}',
    '',
  ].join('\n'))

  const nginx = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', 'stderr', '-g', `daemon off; pid ${path.join(dir, 'nginx.pid')};`],
    { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  nginx.stdout.setEncoding('utf8').on('data', (s: string) => { log += s })
  nginx.stderr.setEncoding('utf8').on('data', (s: string) => { log += s })
  const exited = new Promise<void>((resolve) => nginx.once('exit', () => resolve()))
  // SIGTERM to the master, which stops its workers (SIGKILL would leave them running, and serving).
  t.teardown(async () => {
    if (nginx.exitCode !== null || nginx.signalCode !== null) return
    nginx.kill('SIGTERM')
    const timer = setTimeout(() => nginx.kill('SIGKILL'), STOP_MS)
    await exited
    clearTimeout(timer)
  })
  const proxy = `https://127.0.0.1:${httpsPort}`
  const up = await pollUntil(() => request(`${proxy}/health`, { ca: cert.pem }).catch(() => undefined), (a) => a !== undefined || nginx.exitCode !== null,
    10_000, 'nginx to answer', 50)
  t.ok(up, `nginx serves: ${log}`)
  if (!up) return

  t.test('the API and the page through nginx, over https', async (t) => {
    t.equal(up.status, 200)
    t.match(JSON.parse(up.body), { status: 'ok', transport: 'uws', index: { tracks: SEEDS.length } }, '/health is earshot\'s')
    const page = await request(`${proxy}/`, { ca: cert.pem })
    t.equal(page.status, 200)
    t.match(page.headers['content-type'], /^text\/html/, 'the web page')
    const identified = await request(`${proxy}/v1/identify`, {
      method: 'POST', headers: { 'content-type': 'audio/wav' }, body: fs.readFileSync(path.join(data, 'clip.wav')), ca: cert.pem,
    })
    t.equal(identified.status, 200, identified.body)
    const best = (JSON.parse(identified.body) as { matches: Array<{ id: number, offsetSeconds: number }> }).matches[0]
    t.equal(best?.id, 2, 'an identify POSTed through nginx finds the song')
    t.ok(Math.abs(best.offsetSeconds - CLIP_START) < 0.5, `at ${best?.offsetSeconds} s`)
  })

  t.test('a stream over wss through nginx is confirmed', async (t) => {
    const { client, confirmed } = await streamThroughSdk(`wss://127.0.0.1:${httpsPort}${STREAM_PATH}`, clipPcm, RATE, 9, { ca: cert.pem })
    await client.close()
    t.ok(confirmed > 0, 'confirmed through the WebSocket upgrade')
  })

  t.test('requests through nginx are not the administrator\'s, though they come from loopback', async (t) => {
    const missing = '/v1/tracks/999999'
    const direct = await request(`${earshot.http}${missing}`, { method: 'DELETE' })
    t.match([direct.status, direct.body], [404, /EAR_ERR_TRACK_NOT_FOUND/], 'straight from loopback: a write, allowed (no such track)')
    const proxied = await request(`${proxy}${missing}`, { method: 'DELETE', ca: cert.pem })
    t.match([proxied.status, proxied.body], [403, /EAR_ERR_FORBIDDEN/], 'through nginx: refused, as from any other machine')
  })

  t.test('/metrics: through nginx only for this machine; earshot serves it to anyone', async (t) => {
    const local = await request(`${proxy}/metrics`, { ca: cert.pem, localAddress: '127.0.0.1' })
    t.equal(local.status, 200, 'from 127.0.0.1 through nginx')
    t.match(local.body, /^earshot_/m, 'earshot\'s metrics')
    const other = await request(`${proxy}/metrics`, { ca: cert.pem, localAddress: '127.0.0.2' })
    t.equal(other.status, 403, 'from 127.0.0.2 through nginx: refused by nginx')
    t.notMatch(other.body, /earshot_/)
    const direct = await request(`${earshot.http}/metrics`, { localAddress: '127.0.0.2' })
    t.equal(direct.status, 200, 'from 127.0.0.2 straight to earshot: served')
  })

  t.test('plain http is sent to https', async (t) => {
    const plain = await request(`http://127.0.0.1:${httpPort}/v1/stats?x=1`)
    t.equal(plain.status, 301)
    t.equal(plain.headers.location, 'https://127.0.0.1/v1/stats?x=1')
  })
})
