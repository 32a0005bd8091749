/**
 * Every view of the page at a phone's size (390×844) and at a desktop's, in a real Chromium against a real server
 * (uWebSockets.js, a real LMDB) with content in every view: a song recognised through the fake microphone, a file
 * identified, a catalog with a long title, a monitored station with plays and one that is down. At the phone's size
 * no view scrolls sideways: the document is no wider than the screen, and no element reaches past its right edge
 * (a table scrolling inside its own box counts: its last columns are off screen). The header stays one line of
 * navigation. Screenshots of every view at both sizes are kept in .tap/screenshots/phone.test/. On a touch screen the
 * Identify view does not offer to drop a file.
 */
import t from 'tap'
import net from 'node:net'
import path from 'node:path'
import { once } from 'node:events'
import type { Page } from 'playwright-core'
import { buildCatalog } from '../helpers/catalog.js'
import { addNoise, clip, song, wavBytes, writeWav } from '../helpers/signals.js'
import { allowLoopback, crossfade, startServer } from '../helpers/stream-helpers.js'
import { apiSettings } from '../helpers/api-helpers.js'
import { startRadio } from '../helpers/radio.js'
import { openBrowser } from '../helpers/browser.js'

const RATE = 44100
const PHONE = { width: 390, height: 844 }
const DESKTOP = { width: 1280, height: 900 }
/** The phone's header: brand and figures on one line, the navigation on the next; it took 160 px when it wrapped. */
const PHONE_HEADER_MAX_PX = 100
/** Recognitions and a monitor's first play come within this, in ms. */
const WITHIN_MS = 25_000
/** A title and an artist as long as real ones get. */
const LONG_TITLE = 'Concerto for Orchestra in Five Movements: Introduzione, Andante non troppo'
const LONG_ARTIST = 'The Philharmonic Orchestra of the Extraordinarily Long Name'
/** Its length: 0:08 rounded to the nearest second, as `earshot tracks list` shows it (0:07 counted down). */
const LONG_SECONDS = 7.6

const catalog = buildCatalog(path.join(t.testdir(), 'db'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 30, RATE)
t.teardown(() => catalog.index.close())

interface Overflow { scrollWidth: number, clientWidth: number, wide: string[] }

/** How the page overflows the screen sideways: the document's scroll width, and the elements past its right edge. */
async function overflow (page: Page): Promise<Overflow> {
  return await page.evaluate(() => {
    const root = document.scrollingElement ?? document.documentElement
    const width = root.clientWidth
    const wide: string[] = []
    for (const e of document.querySelectorAll('body *')) {
      const r = e.getBoundingClientRect()
      if (r.width === 0 || r.height === 0) continue
      if (r.width > width + 0.5 || r.right > width + 0.5) {
        const name = `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.classList.length > 0 ? `.${[...e.classList].join('.')}` : ''}`
        wide.push(`${name} (${Math.round(r.left)}..${Math.round(r.right)} px)`)
      }
    }
    return { scrollWidth: root.scrollWidth, clientWidth: width, wide }
  })
}

/** A port nothing listens on: connections to it are refused. */
async function closedPort (): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as net.AddressInfo).port
  await new Promise((resolve) => s.close(resolve))
  return port
}

t.test('every view at phone and desktop sizes: nothing scrolls sideways; screenshots of each', async (t) => {
  const dir = t.testdir()
  const room = path.join(dir, 'room.wav')
  writeWav(room, addNoise(clip(catalog.songs.get(2) as Float32Array, RATE, 4, 20), 10, 7), RATE)
  const known = path.join(dir, 'clip of song 4.wav')
  writeWav(known, clip(catalog.songs.get(4) as Float32Array, RATE, 6, 8), RATE)
  const recording = path.join(dir, 'Saturday night, the whole show, recorded off air.wav')
  writeWav(recording, crossfade([catalog.songs.get(8)!, catalog.songs.get(9)!], RATE, 2).pcm, RATE)
  const radio = await startRadio(clip(song(5, 30, RATE), RATE, 3, 25), RATE, 2)
  t.teardown(() => radio.close())
  const running = await startServer(t, 'uws', catalog.index, allowLoopback(apiSettings({ stream: { helloTimeoutMs: 5000, idleTimeoutMs: 60_000 } })))

  // A track with a long title and artist, uploaded as a user would (no tokens configured: loopback may upload).
  const form = new FormData()
  form.append('audio', new Blob([new Uint8Array(wavBytes(song(70, LONG_SECONDS, RATE), RATE))], { type: 'audio/wav' }), 'long.wav')
  form.append('title', LONG_TITLE)
  form.append('artist', LONG_ARTIST)
  // Its catalog metadata, shown under the title: long values must wrap, not widen the card.
  form.append('isrc', 'GB-XYZ-26-00001')
  form.append('externalId', 'orchestral-catalogue-0000000000000000000000000000000001')
  form.append('labels', JSON.stringify({ genre: 'Orchestral', 'rights-holder': 'The Extraordinarily Long Name of a Rights Holder Incorporated' }))
  t.equal((await fetch(`${running.http}/v1/tracks`, { method: 'POST', body: form })).status, 201, 'a long-titled track is added')
  const addMonitor = async (url: string, label: string): Promise<void> => {
    const res = await fetch(`${running.http}/v1/monitors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url, label }) })
    t.equal(res.status, 201, `monitor ${label} added`)
  }
  await addMonitor(radio.url, 'Test FM')
  await addMonitor(`http://127.0.0.1:${await closedPort()}/live.mp3`, 'Refused FM')

  const { page, pageErrors, screenshot } = await openBrowser(t, { microphone: room, viewport: PHONE })
  await page.goto(`${running.http}/`)
  await page.locator('body[data-ready="true"]').waitFor()
  await page.locator('#server-info', { hasText: '13 tracks in the catalog' }).waitFor()

  // Content in every view first (at the phone's size, as a phone user would get it).
  await page.getByRole('button', { name: 'Listen' }).click()
  await page.locator('#result:not([hidden])').waitFor({ timeout: WITHIN_MS })
  t.equal(await page.locator('#result-title').textContent(), 'song 2', 'Listen: the song is recognised on the phone')
  await page.goto(`${running.http}/#identify`)
  await page.locator('body[data-ready="true"]').waitFor()
  await page.setInputFiles('#identify-file', known)
  await page.locator('#identify-results li[data-track-id="4"]').waitFor()
  t.pass('Identify: the file is identified on the phone')
  // A long recording too, so that its timeline and segment list are on the views measured below.
  await page.getByLabel('A long recording').check()
  await page.setInputFiles('#identify-file', recording)
  await page.locator('#identify-segments li[data-track-id="9"]').waitFor()
  t.pass('Identify: a long recording\'s songs are listed on the phone')

  const views: Array<{ hash: string, ready: () => Promise<void> }> = [
    { hash: 'listen', ready: async () => {} },
    { hash: 'identify', ready: async () => {} },
    { hash: 'catalog', ready: async () => { await page.locator('#catalog-rows tr[data-track-id="13"]').waitFor() } },
    {
      hash: 'monitors',
      ready: async () => {
        await page.locator('article.monitor table.plays tbody tr').first().waitFor({ timeout: WITHIN_MS })
        await page.locator('article.monitor .state[data-state="down"]').waitFor({ timeout: WITHIN_MS })
        await page.locator('article.monitor .problem').first().waitFor({ timeout: WITHIN_MS })
      },
    },
  ]

  // The Listen view is live (the microphone goes on): go back to it without a reload.
  await page.evaluate(() => { location.hash = '#listen' })
  for (const [size, viewport] of [['phone', PHONE], ['desktop', DESKTOP]] as const) {
    await page.setViewportSize(viewport)
    for (const view of views) {
      await page.evaluate((h) => { location.hash = `#${h}` }, view.hash)
      await page.locator(`#${view.hash}:not([hidden])`).waitFor()
      await view.ready()
      const o = await overflow(page)
      t.ok(o.scrollWidth <= o.clientWidth, `${size}, ${view.hash}: the page does not scroll sideways (${o.scrollWidth} px in ${o.clientWidth} px)`)
      t.same(o.wide, [], `${size}, ${view.hash}: no element reaches past the screen's right edge`)
      await screenshot(`${size}-${view.hash}`)
    }
  }

  await page.setViewportSize(PHONE)
  await page.evaluate(() => { location.hash = '#catalog' })
  const header = await page.locator('header.site-header').boundingBox()
  t.ok(header !== null && header.height <= PHONE_HEADER_MAX_PX, `the phone's header is at most ${PHONE_HEADER_MAX_PX} px high (${header?.height ?? '?'} px)`)
  const navTops = await page.locator('.site-header nav a').evaluateAll((as) => as.map((a) => Math.round(a.getBoundingClientRect().top)))
  t.equal(new Set(navTops).size, 1, `the navigation is one line on the phone (link tops ${navTops.join(', ')})`)

  // The long title breaks between words only: every line of its cell starts with a word of the title.
  const row = page.locator('#catalog-rows tr[data-track-id="13"]')
  t.ok(await row.getByRole('button', { name: `Remove ${LONG_TITLE}` }).isVisible(), 'the Remove button of a long-titled track is on screen')
  t.equal(await row.locator('td.c-length').textContent(), '0:08', 'its length (7.6 s) is rounded to the nearest second, as the command line rounds it')
  const lines = await row.locator('td.c-title').evaluate((td) => {
    const text = td.firstChild as Text
    const range = document.createRange()
    const starts: string[] = []
    let top = -1
    for (let i = 0; i < text.length; i++) {
      range.setStart(text, i)
      range.setEnd(text, i + 1)
      const r = range.getClientRects()[0]
      if (r === undefined || text.data[i] === ' ') continue
      if (Math.round(r.top) > top) { top = Math.round(r.top); starts.push(text.data.slice(i)) }
    }
    return starts
  })
  t.ok(lines.length > 1, `the long title wraps on the phone (${lines.length} lines)`)
  const words = LONG_TITLE.split(' ')
  for (const line of lines) t.ok(words.some((w, i) => line === words.slice(i).join(' ')), `a line starts at a word: "${line.slice(0, 20)}…"`)
  t.same(pageErrors, [], 'no script errors')
})

t.test('a touch screen: Identify offers the file button, not a drop zone', async (t) => {
  const running = await startServer(t, 'ws', catalog.index, apiSettings())
  const mouse = await openBrowser(t, { viewport: DESKTOP })
  await mouse.page.goto(`${running.http}/#identify`)
  await mouse.page.locator('body[data-ready="true"]').waitFor()
  t.ok(await mouse.page.getByText('Drop an audio file here').isVisible(), 'with a mouse, the page offers to drop a file')

  const touch = await openBrowser(t, { viewport: PHONE, touch: true })
  await touch.page.goto(`${running.http}/#identify`)
  await touch.page.locator('body[data-ready="true"]').waitFor()
  t.ok(await touch.page.evaluate(() => matchMedia('(pointer: coarse)').matches || matchMedia('(hover: none)').matches), 'the browser is a touch screen')
  t.ok(await touch.page.getByText('Drop an audio file here').isHidden(), 'on a touch screen, no "Drop a file"')
  t.ok(await touch.page.getByText('Choose a file…').isVisible(), 'the file button is there')
  await touch.screenshot('touch-identify')
})
