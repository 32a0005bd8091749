/**
 * Web pages against a server on the same machine, in a real Chromium (issue 10, finding 4). The server has no token,
 * so loopback is its administrator. Two attacker pages:
 *
 *   another site   http://attacker.example:PORT2/ (a second loopback HTTP server; Chromium resolves the name to
 *                  127.0.0.1) sends no-cors writes to the server: a multipart track upload, a monitor, an index
 *                  job; a CORS read; a WebSocket stream.
 *   a rebound name http://rebind.attacker.example:PORT/, the server's own port: the attacker's DNS first sent the
 *                  browser to the attacker's page (played here by the test fulfilling that one document), then
 *                  answers 127.0.0.1, so the page's requests reach the server as same-origin ones.
 *
 * Neither may add a track, a monitor or an index job, nor read an answer; the server's own page (catalog, listen and
 * monitors tests in test/browser) keeps working. Run over both transports.
 */
import t from 'tap'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import type net from 'node:net'
import { buildCatalog } from '../helpers/catalog.js'
import { song, wavBytes } from '../helpers/signals.js'
import { startServer, TRANSPORTS, httpGet } from '../helpers/stream-helpers.js'
import { apiSettings } from '../helpers/api-helpers.js'
import { openBrowser } from '../helpers/browser.js'

const RATE = 44100
const ATTACKER = 'attacker.example'
const REBOUND = 'rebind.attacker.example'

const catalog = buildCatalog(path.join(t.testdir(), 'db'), [1], 10, RATE)
t.teardown(() => catalog.index.close())
/** A folder of the server's disk with a song in it: what an index job would add. */
const folder = path.join(t.testdir(), 'music')
fs.mkdirSync(folder)
fs.writeFileSync(path.join(folder, 'planted.wav'), wavBytes(song(9, 8, RATE), RATE))
const wav = wavBytes(song(8, 8, RATE), RATE)

/** The attack, run in the page: every request it makes, and what the page could read of each answer. */
const attack = String(async (target: string, folder: string): Promise<Record<string, string>> => {
  const out: Record<string, string> = {}
  const attempt = async (name: string, run: () => Promise<string>): Promise<void> => {
    try { out[name] = await run() } catch (err) { out[name] = `failed: ${(err as Error).name}` }
  }
  const read = async (res: Response): Promise<string> => res.type === 'opaque' ? 'opaque' : `${res.status} ${await res.text()}`
  const form = new FormData()
  form.append('title', 'planted')
  form.append('audio', await (await fetch('/song.wav')).blob(), 'planted.wav')
  const json = (body: unknown): RequestInit => ({ method: 'POST', mode: 'no-cors', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const cross = target !== location.origin
  await attempt('track', async () => read(await fetch(`${target}/v1/tracks`, { method: 'POST', mode: 'no-cors', body: form })))
  // Across sites, no-cors cannot send application/json; a text/plain body is what a page can send.
  const jsonOrText = (body: unknown): RequestInit => cross ? { ...json(body), headers: { 'content-type': 'text/plain' } } : { ...json(body), mode: 'same-origin' }
  await attempt('monitor', async () => read(await fetch(`${target}/v1/monitors`, jsonOrText({ url: 'http://127.0.0.1:22/', label: 'port scan' }))))
  await attempt('job', async () => read(await fetch(`${target}/v1/index-jobs`, jsonOrText({ paths: [folder] }))))
  await attempt('read', async () => read(await fetch(`${target}/v1/monitors`, { mode: cross ? 'cors' : 'same-origin' })))
  await attempt('stream', () => new Promise((resolve) => {
    const ws = new WebSocket(`${target.replace(/^http/, 'ws')}/v1/stream`)
    ws.onopen = () => { ws.close(); resolve('open') }
    ws.onerror = () => resolve('refused')
  }))
  return out
})

/** POSTs the server answered, by route and status, from its request counter. */
async function writesAnswered (base: string): Promise<string[]> {
  const metrics = (await httpGet(`${base}/metrics`)).body
  return [...metrics.matchAll(/^earshot_http_requests_total\{([^}]*)\} (\d+)/gm)]
    .filter(([, labels]) => labels.includes('method="POST"'))
    .map(([, labels, n]) => `${/route="([^"]*)"/.exec(labels)?.[1]} ${/status="([^"]*)"/.exec(labels)?.[1]} x${n}`)
    .sort()
}

t.test('pages of another site and of a rebound name cannot write to, nor read from, a server without tokens', async (t) => {
  const evil = http.createServer((req, res) => {
    if (req.url === '/song.wav') { res.writeHead(200, { 'content-type': 'audio/wav' }).end(wav); return }
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>attacker</title><p>hello')
  })
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { evil.closeAllConnections(); evil.close(() => resolve()) }))
  const evilPort = (evil.address() as net.AddressInfo).port
  const { context, page, screenshot } = await openBrowser(t, {
    args: [
      `--host-resolver-rules=MAP ${ATTACKER} 127.0.0.1, MAP ${REBOUND} 127.0.0.1`,
      // Chromium's Private Network Access would stop the rebound page (its document did not come from loopback) on its
      // own; other browsers have no such check, so the server must not count on it: the test turns it off.
      '--disable-features=BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults,LocalNetworkAccessChecks',
    ],
  })

  for (const transport of TRANSPORTS) {
    await t.test(`over ${transport}`, async (t) => {
      const { http: base, port } = await startServer(t, transport, catalog.index, apiSettings())

      await page.goto(`http://${ATTACKER}:${evilPort}/`)
      const cross = await page.evaluate(`(${attack})(${JSON.stringify(base)}, ${JSON.stringify(folder)})`) as Record<string, string>
      t.comment(`another site: ${JSON.stringify(cross)}`)
      t.same([cross.track, cross.monitor, cross.job], ['opaque', 'opaque', 'opaque'], 'the writes were sent (their answers are opaque to the page)')
      t.equal(cross.read, 'failed: TypeError', 'a read across sites is not readable')
      t.equal(cross.stream, 'refused', 'the stream is refused')

      // The attacker's DNS serves its page first; then the name points at 127.0.0.1 and the page's requests reach the server.
      const rebound = `http://${REBOUND}:${port}`
      await context.route(`${rebound}/`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>rebound</title>' }))
      await context.route(`${rebound}/song.wav`, (route) => route.fulfill({ status: 200, contentType: 'audio/wav', body: Buffer.from(wav) }))
      await page.goto(`${rebound}/`)
      const same = await page.evaluate(`(${attack})(location.origin, ${JSON.stringify(folder)})`) as Record<string, string>
      t.comment(`rebound name: ${JSON.stringify(same)}`)
      for (const what of ['track', 'monitor', 'job', 'read'] as const) {
        t.match(same[what], /^403 .*EAR_ERR_HOST_NOT_ALLOWED/, `${what}: refused, and the page reads only the refusal`)
      }
      t.equal(same.stream, 'refused', 'the stream is refused')
      await context.unrouteAll()
      await screenshot(`rebound-${transport}`)

      t.same(await writesAnswered(base), [
        '/v1/index-jobs 403 x2', '/v1/monitors 403 x2', '/v1/tracks 403 x2',
      ], 'every write was refused with 403')
      const tracks = JSON.parse((await httpGet(`${base}/v1/tracks`)).body)
      t.equal(tracks.total ?? tracks.tracks.length, 1, 'no track was added')
      t.same(JSON.parse((await httpGet(`${base}/v1/monitors`)).body).monitors, [], 'no monitor was added')
    })
  }
})
