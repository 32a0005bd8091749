/**
 * The Listen panel in a real Chromium, its microphone a fake capture device playing a WAV in a loop: a catalog song
 * under noise is named and confirmed, then the server goes away and the page says the connection was lost; unknown
 * music ends in "no match", and no candidate is shown below the server's answer threshold (minConfidence) on the way;
 * an empty catalog is told at once, before and after pressing Listen; on a phone-sized screen with the microphone
 * refused, the button is reached and pressed with the keyboard and the page says the microphone was denied. The
 * server is real (uWebSockets.js, a real LMDB).
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { buildCatalog } from '../helpers/catalog.js'
import { addNoise, clip, song, writeWav } from '../helpers/signals.js'
import { startServer, testSettings } from '../helpers/stream-helpers.js'
import { apiSettings } from '../helpers/api-helpers.js'
import { openBrowser } from '../helpers/browser.js'
import type { Page } from 'playwright-core'

const RATE = 44100
/** The song plays in the room at this signal-to-noise ratio, in dB. */
const ROOM_SNR_DB = 10
/** A catalog song near the microphone is confirmed within this, in ms (typically a few seconds). */
const CONFIRM_WITHIN_MS = 25_000
/** The page gives up after 12 s without a match; it must say so within this, in ms. */
const NO_MATCH_WITHIN_MS = 25_000

/** The page shows a candidate from this confidence on: the server's minConfidence (settings default). */
const CANDIDATE_FROM = 0.5

/** Record the confidence of every candidate the page shows (window.candidatesSeen), from now on. */
async function recordCandidates (page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: number[] = [];
    (window as unknown as { candidatesSeen: number[] }).candidatesSeen = seen
    const card = document.getElementById('candidate') as HTMLElement
    const bar = document.getElementById('candidate-confidence') as HTMLProgressElement
    const note = (): void => { if (!card.hidden) seen.push(bar.value) }
    new MutationObserver(note).observe(card, { attributes: true, subtree: true, childList: true, characterData: true })
  })
}

async function candidatesSeen (page: Page): Promise<number[]> {
  return await page.evaluate(() => (window as unknown as { candidatesSeen: number[] }).candidatesSeen)
}

const catalog = buildCatalog(path.join(t.testdir(), 'db'), [1, 2, 3], 30, RATE)
t.teardown(() => catalog.index.close())
const settings = testSettings({ helloTimeoutMs: 5000, idleTimeoutMs: 30_000 })

t.test('a catalog song near the microphone is named and confirmed; a lost connection is told, with a retry', async (t) => {
  const wav = path.join(t.testdir(), 'room.wav')
  writeWav(wav, addNoise(clip(catalog.songs.get(2) as Float32Array, RATE, 4, 20), ROOM_SNR_DB, 7), RATE)
  const running = await startServer(t, 'uws', catalog.index, settings)
  const { page, pageErrors, screenshot } = await openBrowser(t, { microphone: wav })
  await page.goto(`${running.http}/`)
  await page.locator('body[data-ready="true"]').waitFor()
  t.match(await page.locator('#server-info').textContent(), /3 tracks in the catalog/, 'the header shows the catalog size')

  t.ok(await page.locator('#catalog-empty').isHidden(), 'no empty-catalog notice')
  await recordCandidates(page)
  const listen = page.getByRole('button', { name: 'Listen' })
  const started = Date.now()
  await listen.click()
  await page.locator('#listen-status', { hasText: /^Listening/ }).waitFor()
  t.equal(await page.locator('#listen-button').getAttribute('aria-pressed'), 'true', 'the button shows the listening state')
  t.equal(await page.locator('#listen-button').textContent(), 'Stop')
  await page.waitForFunction(() => (document.getElementById('level-meter') as HTMLMeterElement).value > 0.2, undefined, { timeout: 5000 })
  t.pass('the level meter moves with the sound')

  await page.locator('#result:not([hidden])').waitFor({ timeout: CONFIRM_WITHIN_MS })
  t.comment(`confirmed after ${Date.now() - started} ms`)
  t.equal(await page.locator('#result-title').textContent(), 'song 2', 'the right title')
  t.equal(await page.locator('#result-state').textContent(), 'Recognised')
  t.equal(await page.locator('#result').getAttribute('data-track-id'), '2')
  const confidence = await page.locator('#result-confidence').evaluate((e) => (e as HTMLProgressElement).value)
  t.ok(confidence > 0.5 && confidence <= 1, `the confidence bar is filled (${confidence})`)
  const position = await page.locator('#result-position').textContent() ?? ''
  t.match(position, /^\d+:\d\d$/, `the position in the track is shown (${position})`)
  const [m, s] = position.split(':').map(Number)
  // The WAV starts 4 s into the song and loops every 20 s: the position lies in 4..24 s (plus a little elapsed).
  t.ok(m * 60 + s >= 4 && m * 60 + s <= 26, `the position ${position} lies within the clip the microphone hears`)
  await screenshot('listen-confirmed')
  const shown = await candidatesSeen(page)
  t.ok(shown.every((c) => c >= CANDIDATE_FROM), `every candidate shown had at least ${CANDIDATE_FROM} (${shown.length} seen)`)

  // The server goes away: the page says so and offers to try again.
  await running.server.close()
  const alert = page.locator('#listen-alert')
  await alert.waitFor({ state: 'visible', timeout: 10_000 })
  t.match(await alert.textContent(), /connection to the server was lost/i, 'a lost connection is told')
  t.ok(await page.getByRole('button', { name: 'Try again' }).isVisible(), 'with a retry button')
  t.equal(await page.locator('#listen-button').getAttribute('aria-pressed'), 'false', 'no longer listening')
  await screenshot('listen-connection-lost')
  t.same(pageErrors, [], 'no script errors')
})

t.test('unknown music ends in a clear "no match"', async (t) => {
  const wav = path.join(t.testdir(), 'unknown.wav')
  writeWav(wav, addNoise(song(77, 20, RATE), ROOM_SNR_DB, 8), RATE)
  const running = await startServer(t, 'uws', catalog.index, settings)
  const { page, pageErrors, screenshot } = await openBrowser(t, { microphone: wav })
  await page.goto(`${running.http}/`)
  await page.locator('body[data-ready="true"]').waitFor()
  await recordCandidates(page)
  await page.getByRole('button', { name: 'Listen' }).click()
  await page.locator('#listen-status', { hasText: /^Listening/ }).waitFor()
  const alert = page.locator('#listen-alert')
  await alert.waitFor({ state: 'visible', timeout: NO_MATCH_WITHIN_MS })
  t.match(await alert.textContent(), /No match/, 'the page says no match')
  t.same(await candidatesSeen(page), [], 'no candidate was named for music that is not in the catalog')
  t.ok(await page.locator('#result').isHidden(), 'no song is shown as recognised')
  t.equal(await page.locator('#listen-button').getAttribute('aria-pressed'), 'false', 'listening stopped')
  t.equal(await page.locator('#listen-button').textContent(), 'Listen')
  await screenshot('listen-no-match')
  t.same(pageErrors, [], 'no script errors')
})

t.test('an empty catalog is told at once, not after listening for nothing', async (t) => {
  const dir = t.testdir()
  const wav = path.join(dir, 'room.wav')
  writeWav(wav, song(2, 20, RATE), RATE)
  const empty = buildCatalog(path.join(dir, 'empty-db'), [], 30, RATE)
  t.teardown(() => empty.index.close())
  const running = await startServer(t, 'uws', empty.index, apiSettings({ stream: { helloTimeoutMs: 5000, idleTimeoutMs: 30_000 } }))
  const { page, pageErrors, screenshot } = await openBrowser(t, { microphone: wav })
  await page.goto(`${running.http}/`)
  await page.locator('body[data-ready="true"]').waitFor()
  const notice = page.locator('#catalog-empty')
  await notice.waitFor({ state: 'visible' })
  t.match(await notice.textContent(), /catalog is empty/, 'the Listen view says the catalog is empty')
  t.equal(await notice.getByRole('link', { name: 'Add songs to the catalog' }).getAttribute('href'), '#catalog', 'and links to the catalog')
  const pressed = Date.now()
  await page.getByRole('button', { name: 'Listen' }).click()
  await page.locator('#listen-status', { hasText: 'Not listening: the catalog is empty.' }).waitFor({ timeout: 2000 })
  t.ok(Date.now() - pressed < 2000, `pressing Listen says so at once (${Date.now() - pressed} ms), not after 12 s`)
  t.equal(await page.locator('#listen-button').getAttribute('aria-pressed'), 'false', 'and does not listen')
  t.ok(await page.locator('#listen-alert').isHidden(), 'no "No match… move closer"')
  await screenshot('listen-empty-catalog')

  // A song is added (as from another tab): the next press listens, and the notice goes.
  const form = new FormData()
  form.append('audio', new Blob([new Uint8Array(fs.readFileSync(wav))], { type: 'audio/wav' }), 'song 2.wav')
  t.equal((await fetch(`${running.http}/v1/tracks`, { method: 'POST', body: form })).status, 201, 'a track is added')
  await page.getByRole('button', { name: 'Listen' }).click()
  await page.locator('#listen-status', { hasText: /^Listening/ }).waitFor()
  t.ok(await notice.isHidden(), 'the notice is gone once the catalog has a track')
  await page.locator('#result:not([hidden])').waitFor({ timeout: CONFIRM_WITHIN_MS })
  t.pass('and the song is recognised')
  t.same(pageErrors, [], 'no script errors')
})

t.test('phone-sized, by keyboard, microphone refused: the page says so', async (t) => {
  // A microphone exists (the fake device), but the permission prompt is refused.
  const wav = path.join(t.testdir(), 'room.wav')
  writeWav(wav, song(5, 5, RATE), RATE)
  const running = await startServer(t, 'uws', catalog.index, settings)
  const { page, screenshot } = await openBrowser(t, { microphone: wav, grantMicrophone: false, viewport: { width: 390, height: 844 } })
  await page.goto(`${running.http}/`)
  await page.locator('body[data-ready="true"]').waitFor()
  const listen = page.getByRole('button', { name: 'Listen' })
  t.equal(await listen.count(), 1, 'one button whose accessible name is Listen')
  // Tab through the page until the button has the focus.
  let focused = ''
  for (let i = 0; i < 20 && focused !== 'listen-button'; i++) {
    await page.keyboard.press('Tab')
    focused = await page.evaluate(() => document.activeElement?.id ?? '')
  }
  t.equal(focused, 'listen-button', 'the Listen button is reached with Tab')
  const width = await page.evaluate(() => ({ content: document.documentElement.scrollWidth, viewport: window.innerWidth }))
  t.ok(width.content <= width.viewport, `nothing wider than the phone's screen (${width.content} px in ${width.viewport} px)`)
  await screenshot('phone-listen')
  await page.keyboard.press('Enter')
  const alert = page.locator('#listen-alert')
  await alert.waitFor({ state: 'visible' })
  t.match(await alert.textContent(), /Microphone access was denied/, 'a denied microphone is told')
  t.equal(await page.locator('#listen-button').getAttribute('aria-pressed'), 'false')
  await screenshot('phone-microphone-denied')
})
