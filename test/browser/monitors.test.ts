/**
 * The Monitors panel in a real Chromium: a live WAV station on loopback airs a catalog song; the page's form
 * registers it with the real server (uWebSockets.js, a real LMDB), which pulls it; the panel then shows the monitor
 * listening, the song playing now, the play in its recent plays (started at a date and a second), and the airtime
 * chart with the seconds matched. Its plays of a date range download as CSV. Stations that refuse the connection, answer
 * 404 or send a web page instead of audio are told in words, and a monitor is removed from its card.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { once } from 'node:events'
import { buildCatalog } from '../helpers/catalog.js'
import { clip, song } from '../helpers/signals.js'
import { allowLoopback, startServer, testSettings } from '../helpers/stream-helpers.js'
import { startRadio } from '../helpers/radio.js'
import { openBrowser } from '../helpers/browser.js'

const RATE = 44100
/** Seconds of program per wall-clock second. */
const SPEED = 2
/** The monitor hears, confirms and files the song within this, in ms. */
const PLAY_WITHIN_MS = 20_000

/** A loopback HTTP server answering every request with `status`, `type` and `body`; closed in t's teardown. */
async function webServer (t: Test, status: number, type: string, body: string): Promise<string> {
  const server = http.createServer((_req, res) => { res.writeHead(status, { 'content-type': type }).end(body) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/live.mp3`
}

/** A URL on a port nothing listens on: connections to it are refused. */
async function refusedUrl (): Promise<string> {
  const s = net.createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as net.AddressInfo).port
  await new Promise((resolve) => s.close(resolve))
  return `http://127.0.0.1:${port}/live.mp3`
}

/** A local date as YYYY-MM-DD, as a date input holds it. */
function isoDay (d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
}

t.test('a monitored station: state, the song playing now, recent plays and the airtime chart', async (t) => {
  const { index } = buildCatalog(path.join(t.testdir(), 'db'), [3, 5], 30, RATE)
  t.teardown(() => index.close())
  // Program: 25 s of song 5 from 3 s in (track 2), then silence.
  const radio = await startRadio(clip(song(5, 30, RATE), RATE, 3, 25), RATE, SPEED)
  t.teardown(() => radio.close())
  const settings = allowLoopback(testSettings({ idleTimeoutMs: 60_000 }))
  const running = await startServer(t, 'uws', index, settings)

  const { page, pageErrors, screenshot } = await openBrowser(t)
  await page.goto(`${running.http}/#monitors`)
  await page.locator('body[data-ready="true"]').waitFor()
  await page.locator('#monitors-status', { hasText: 'No monitors yet' }).waitFor()
  await page.getByLabel('Stream URL').fill(radio.url)
  await page.getByLabel('Name').fill('Test FM')
  await page.getByRole('button', { name: 'Start monitoring' }).click()
  await page.locator('#monitor-form-status', { hasText: 'Monitoring Test FM.' }).waitFor()

  const card = page.locator('article.monitor', { has: page.getByRole('heading', { name: 'Test FM' }) })
  await card.waitFor()
  t.equal(await card.locator('.url').textContent(), radio.url, 'the card shows the stream URL')
  await card.locator('.state[data-state="listening"]').waitFor({ timeout: PLAY_WITHIN_MS })
  t.match(await card.locator('.state').textContent(), 'Listening', 'the monitor is listening')
  await card.locator('.now[data-track-id="2"]', { hasText: 'recognised' }).waitFor({ timeout: PLAY_WITHIN_MS })
  t.match(await card.locator('.now').textContent(), /Now: song 5/, 'the song playing now')
  const row = card.locator('table.plays tbody tr').first()
  await row.waitFor({ timeout: PLAY_WITHIN_MS })
  t.match(await row.textContent(), /song 5/, 'the play is in the recent plays')
  t.match(await row.textContent(), /playing/, 'still playing')
  const started = await row.locator('td.c-started').textContent() ?? ''
  t.match(started, /^[A-Z][a-z]{2} \d{1,2}, \d\d:\d\d:\d\d/, `the start has the date and the seconds (${started})`)

  // The chart reads the same plays: matched seconds appear once the play has lasted a moment.
  const chart = card.locator('figure.chart svg[role="img"]')
  await page.waitForFunction((name) => {
    const article = [...document.querySelectorAll('article.monitor')].find((a) => a.querySelector('h2')?.textContent === name)
    return Number(article?.querySelector('figure.chart svg')?.getAttribute('data-matched-seconds') ?? 0) > 0
  }, 'Test FM', { timeout: PLAY_WITHIN_MS })
  const seconds = Number(await chart.getAttribute('data-matched-seconds'))
  t.ok(seconds > 0 && seconds < 60, `the chart holds the matched airtime (${seconds} s)`)
  t.equal(await chart.locator('rect.bar').count(), 24, 'one bar per 15 minutes of the last 6 hours')
  const lastBar = Number(await chart.locator('rect.bar').last().getAttribute('data-seconds'))
  t.ok(lastBar > 0, `the latest bar has the airtime (${lastBar} s)`)
  t.match(await chart.getAttribute('aria-label'), /of songs recognised in the last 6 hours/, 'the chart has an accessible summary')
  await screenshot('monitors')

  // The plays of today as CSV: one file, the CSV header, the play of song 5.
  const today = isoDay(new Date())
  await card.getByLabel('Plays from').fill(today)
  await card.getByLabel('to (inclusive)').fill(today)
  const [download] = await Promise.all([page.waitForEvent('download'), card.getByRole('button', { name: 'Download plays (CSV)' }).click()])
  t.equal(download.suggestedFilename(), `plays-Test-FM-from-${today}-to-${today}.csv`, 'the file is named after the station and the days')
  const csv = fs.readFileSync(await download.path(), 'utf8').split('\r\n').filter((l) => l !== '')
  t.match(csv[0], /^id,stream,kind,trackId,title,/, 'the CSV starts with its header')
  t.equal(csv.length, 2, 'and holds the one play')
  t.match(csv[1], /,song 5,/, 'of song 5')
  await card.locator('[role="status"]', { hasText: /^Downloaded plays-Test-FM-.*: 1 play\.$/ }).waitFor()
  // Days before today hold no play: the range is applied.
  const yesterday = isoDay(new Date(Date.now() - 86_400_000))
  await card.getByLabel('Plays from').fill(yesterday)
  await card.getByLabel('to (inclusive)').fill(yesterday)
  const [empty] = await Promise.all([page.waitForEvent('download'), card.getByRole('button', { name: 'Download plays (CSV)' }).click()])
  t.same(fs.readFileSync(await empty.path(), 'utf8').split('\r\n').filter((l) => l !== '').length, 1, 'yesterday: the header alone')

  // Stations that fail, each told in words (the technical line stays in the title).
  const failing = [
    { label: 'Refused FM', url: await refusedUrl(), words: /refused the connection/ },
    { label: 'Gone FM', url: await webServer(t, 404, 'text/plain', 'not here'), words: /no stream at that address \(HTTP 404\)/ },
    { label: 'Web Page FM', url: await webServer(t, 200, 'text/html', `<!doctype html><title>Radio</title>${'<p>Listen live on our site!</p>'.repeat(200)}`), words: /not audio earshot can read/ },
  ]
  for (const f of failing) {
    await page.getByLabel('Stream URL').fill(f.url)
    await page.getByLabel('Name').fill(f.label)
    await page.getByRole('button', { name: 'Start monitoring' }).click()
    await page.locator('#monitor-form-status', { hasText: `Monitoring ${f.label}.` }).waitFor()
  }
  for (const f of failing) {
    const c = page.locator('article.monitor', { has: page.getByRole('heading', { name: f.label }) })
    await c.locator('.state[data-state="down"]').waitFor({ timeout: PLAY_WITHIN_MS })
    const problem = c.locator('.problem')
    await problem.waitFor({ timeout: PLAY_WITHIN_MS })
    const words = await problem.textContent() ?? ''
    t.match(words, f.words, `${f.label}: ${words}`)
    t.notMatch(words, /EAR_ERR|ECONN|ENOTFOUND/, `${f.label}: no error codes in the words`)
    t.match(await problem.getAttribute('title'), /^EAR_ERR_SOURCE: /, `${f.label}: the technical line is kept in the title`)
    t.match(await c.locator('.state').locator('xpath=..').textContent(), /since [A-Z][a-z]{2} \d{1,2}, \d\d:\d\d:\d\d/, `${f.label}: down since a date and a second`)
  }
  await screenshot('monitors-failing')

  // Remove one from its card, confirming the dialog.
  const gone = page.locator('article.monitor', { has: page.getByRole('heading', { name: 'Gone FM' }) })
  const goneId = await gone.getAttribute('data-monitor-id')
  page.once('dialog', (d) => { void d.accept() })
  await gone.getByRole('button', { name: 'Remove monitor Gone FM' }).click()
  await page.locator('#monitors-status', { hasText: /^Removed Gone FM\./ }).waitFor()
  t.equal(await gone.count(), 0, 'the card is gone')
  const { monitors } = await (await fetch(`${running.http}/v1/monitors`)).json() as { monitors: Array<{ id: string }> }
  t.notOk(monitors.some((m) => m.id === goneId), 'and so is the monitor on the server')
  t.equal(monitors.length, 3, 'the others stay')

  await page.setViewportSize({ width: 390, height: 844 })
  const width = await page.evaluate(() => ({ content: document.documentElement.scrollWidth, viewport: window.innerWidth }))
  t.ok(width.content <= width.viewport, `the panel fits a phone's width (${width.content} px in ${width.viewport} px)`)
  t.same(await page.evaluate(() => [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5).map((e) => e.tagName)), [], 'no element reaches past the right edge')
  await screenshot('monitors-phone')
  t.same(pageErrors, [], 'no script errors')
})
