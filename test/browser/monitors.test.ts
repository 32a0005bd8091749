/**
 * The Monitors panel in a real Chromium: a live WAV station on loopback airs a catalog song; the page's form
 * registers it with the real server (uWebSockets.js, a real LMDB), which pulls it; the panel then shows the monitor
 * listening, the song playing now, the play in its recent plays, and the airtime chart with the seconds matched.
 */
import t from 'tap'
import path from 'node:path'
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

  await page.setViewportSize({ width: 390, height: 844 })
  const width = await page.evaluate(() => ({ content: document.documentElement.scrollWidth, viewport: window.innerWidth }))
  t.ok(width.content <= width.viewport, `the panel fits a phone's width (${width.content} px in ${width.viewport} px)`)
  await screenshot('monitors-phone')
  t.same(pageErrors, [], 'no script errors')
})
