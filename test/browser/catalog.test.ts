/**
 * The Identify and Catalog panels in a real Chromium against a real server (ws transport here; the Listen test uses
 * uWebSockets.js) and a real LMDB catalog of 12 synthetic songs: a file picked or dropped is identified with its
 * confidence; the catalog is searched and paged; with the admin token typed into the page, a file is uploaded with
 * progress, a track is removed, and a folder on the server's disk is indexed.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { buildCatalog } from '../helpers/catalog.js'
import { addNoise, clip, song, wavBytes, writeWav } from '../helpers/signals.js'
import { crossfade, startServer } from '../helpers/stream-helpers.js'
import { ADMIN_TOKEN, apiSettings, guardedSettings } from '../helpers/api-helpers.js'
import { openBrowser } from '../helpers/browser.js'

const RATE = 44100
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]

const catalog = buildCatalog(path.join(t.testdir(), 'db'), SEEDS, 20, RATE)
t.teardown(() => catalog.index.close())

t.test('identify a file: picked with the file button, or dropped on the zone', async (t) => {
  const dir = t.testdir()
  const known = path.join(dir, 'clip of song 4.wav')
  writeWav(known, addNoise(clip(catalog.songs.get(4) as Float32Array, RATE, 6, 8), 10, 3), RATE)
  const running = await startServer(t, 'ws', catalog.index, apiSettings())
  const { page, pageErrors, screenshot } = await openBrowser(t)
  await page.goto(`${running.http}/#identify`)
  await page.locator('body[data-ready="true"]').waitFor()
  t.ok(await page.locator('#listen').isHidden(), 'one section at a time: Listen is hidden')
  t.equal(await page.locator('a[href="#identify"]').getAttribute('aria-current'), 'page', 'the nav marks the section shown')

  await page.setInputFiles('#identify-file', known)
  const first = page.locator('#identify-results li').first()
  await first.waitFor()
  t.equal(await first.getAttribute('data-track-id'), '4', 'the best match is song 4')
  t.match(await first.textContent(), /song 4/)
  t.match(await first.textContent(), /at 0:0[5-7] in the track/, 'with its position in the track (the clip starts 6 s in)')
  const confidence = await first.locator('progress').evaluate((e) => (e as HTMLProgressElement).value)
  t.ok(confidence > 0.5 && confidence <= 1, `with its confidence (${confidence})`)
  t.match(await page.locator('#identify-status').textContent(), /clip of song 4\.wav: .*best first/)
  await screenshot('identify-picked')

  // Unknown music, dropped on the zone as a browser would drop a file.
  const bytes = wavBytes(song(91, 6, RATE), RATE).toString('base64')
  const transfer = await page.evaluateHandle((b64) => {
    const dt = new DataTransfer()
    dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], 'unknown.wav', { type: 'audio/wav' }))
    return dt
  }, bytes)
  await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer: transfer })
  await page.locator('#identify-status', { hasText: 'No match for unknown.wav' }).waitFor()
  t.equal(await page.locator('#identify-results li').count(), 0, 'an unknown file: no results, and a message saying so')
  await screenshot('identify-dropped-no-match')
  t.same(pageErrors, [], 'no script errors')
})

t.test('a long recording: every song on a timeline, listed, and downloaded as CSV', async (t) => {
  const dir = t.testdir()
  // Song 3, a song nobody indexed, then song 7, back to back: 54 s of air.
  const air = path.join(dir, 'an hour of air.wav')
  writeWav(air, crossfade([catalog.songs.get(3)!, song(93, 14, RATE), catalog.songs.get(7)!], RATE, 0).pcm, RATE)
  const running = await startServer(t, 'ws', catalog.index, apiSettings())
  const { page, pageErrors, screenshot } = await openBrowser(t)
  await page.goto(`${running.http}/#identify`)
  await page.locator('body[data-ready="true"]').waitFor()
  await page.getByLabel('A long recording').check()
  await page.setInputFiles('#identify-file', air)
  await page.locator('#identify-status', { hasText: 'an hour of air.wav: 2 songs in 0:54.' }).waitFor()
  t.same(await page.locator('#identify-segments li').evaluateAll((li) => li.map((e) => e.getAttribute('data-track-id'))), ['3', '7'], 'songs 3 and 7, in order; not the unknown one')
  t.match(await page.locator('#identify-segments li').first().textContent(), /^0:00–0:[12]\dsong 3from 0:00 in the track, confidence \d+%$/)
  t.match(await page.locator('#identify-segments li').nth(1).textContent(), /^0:3\d–0:5\dsong 7/)
  const blocks = await page.locator('#identify-timeline-bar .seg').evaluateAll((spans) => spans.map((s) => ({ left: parseFloat((s as HTMLElement).style.left), width: parseFloat((s as HTMLElement).style.width) })))
  t.equal(blocks.length, 2, 'two blocks on the timeline')
  t.ok(blocks[0].left < 2 && blocks[0].width > 30 && blocks[0].width < 40, `song 3 from the start, about a third of the length: ${JSON.stringify(blocks[0])}`)
  t.ok(blocks[1].left > 60 && blocks[1].left < 70 && blocks[1].left + blocks[1].width > 95, `song 7 in the last third, to the end: ${JSON.stringify(blocks[1])}`)
  t.equal(await page.locator('#identify-timeline-end').textContent(), '0:54')
  t.equal(await page.locator('#identify-progress').isHidden(), true, 'the progress bar goes once the job is done')
  await screenshot('identify-recording')

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download as CSV' }).click()])
  t.equal(download.suggestedFilename(), 'segments-an-hour-of-air.csv')
  const csv = fs.readFileSync(await download.path(), 'utf8').trimEnd().split('\r\n')
  t.equal(csv[0], 'startSeconds,endSeconds,trackId,title,artist,album,offsetSeconds,confidence,speed,isrc,externalId,labels')
  t.same(csv.slice(1).map((row) => row.split(',')[3]), ['song 3', 'song 7'])
  t.same(pageErrors, [], 'no script errors')
})

t.test('catalog: with the admin token, search, page, upload with progress, remove, index a server folder', async (t) => {
  const dir = t.testdir()
  const upload = path.join(dir, 'night-drive.wav')
  writeWav(upload, song(50, 12, RATE), RATE)
  const folder = path.join(dir, 'library')
  fs.mkdirSync(folder)
  writeWav(path.join(folder, 'Morning Light.wav'), song(60, 8, RATE), RATE)
  const running = await startServer(t, 'ws', catalog.index, guardedSettings())
  const get = (p: string): Promise<Response> => fetch(`${running.http}${p}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })

  const { page, screenshot } = await openBrowser(t)
  await page.goto(`${running.http}/#catalog`)
  await page.locator('body[data-ready="true"]').waitFor()
  // Tokens are configured: without one, the page says what to do.
  await page.locator('#catalog-alert', { hasText: /needs a token/ }).waitFor()
  t.pass('without a token, the page asks for one')
  await page.getByText('Access token', { exact: true }).click()
  await page.getByLabel('Token (admin or client)').fill(ADMIN_TOKEN)
  await page.getByRole('button', { name: 'Use token' }).click()
  await page.locator('#server-info', { hasText: '12 tracks in the catalog' }).waitFor()

  // Paging: 10 rows, then the last 2.
  await page.getByLabel('Rows per page').selectOption('10')
  await page.locator('#catalog-caption', { hasText: 'Tracks, page 1' }).waitFor()
  await page.waitForFunction(() => document.querySelectorAll('#catalog-rows tr').length === 10)
  t.ok(await page.getByRole('button', { name: 'Previous page' }).isDisabled(), 'no previous page on the first')
  await page.getByRole('button', { name: 'Next page' }).click()
  await page.locator('#catalog-caption', { hasText: 'Tracks, page 2' }).waitFor()
  t.same(await page.locator('#catalog-rows tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-track-id'))), ['11', '12'], 'page 2 holds tracks 11 and 12')
  t.ok(await page.getByRole('button', { name: 'Next page' }).isDisabled(), 'no page after the last')
  await page.getByRole('button', { name: 'Previous page' }).click()
  await page.locator('#catalog-caption', { hasText: 'Tracks, page 1' }).waitFor()

  // A track's catalog metadata shows under its title, and the search finds it.
  catalog.index.updateTrack(3, (x) => ({ ...x, isrc: 'USRC17607839', externalId: 'cat-3', labels: { genre: 'ambient' } }))
  await page.getByLabel('Search title, artist, album, ISRC or label').fill('genre:ambient')
  await page.getByRole('button', { name: 'Search' }).click()
  await page.locator('#catalog-caption', { hasText: 'Tracks matching "genre:ambient"' }).waitFor()
  t.same(await page.locator('#catalog-rows tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-track-id'))), ['3'], 'a label finds its track')
  t.equal(await page.locator('#catalog-rows tr[data-track-id="3"] .track-codes').textContent(), 'ISRC USRC17607839 · ID cat-3 · genre: ambient', 'its ISRC, id and labels under the title')
  await page.getByLabel('Search title, artist, album, ISRC or label').fill('US-RC1-76-07839')
  await page.getByRole('button', { name: 'Search' }).click()
  await page.locator('#catalog-caption', { hasText: 'Tracks matching "US-RC1-76-07839"' }).waitFor()
  t.same(await page.locator('#catalog-rows tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-track-id'))), ['3'], 'so does its ISRC, written with dashes')

  // Search.
  await page.getByLabel('Search title, artist, album, ISRC or label').fill('song 1')
  await page.getByRole('button', { name: 'Search' }).click()
  await page.locator('#catalog-caption', { hasText: 'Tracks matching "song 1"' }).waitFor()
  t.same(await page.locator('#catalog-rows tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-track-id'))), ['1', '10', '11', '12'], 'search finds songs 1, 10, 11, 12')
  await screenshot('catalog-search')

  // Upload one file with a title and an artist; every progress value the bar takes is recorded.
  await page.evaluate(() => {
    const bar = document.getElementById('upload-progress') as HTMLProgressElement
    const seen: number[] = [];
    (window as unknown as { progressSeen: number[] }).progressSeen = seen
    new MutationObserver(() => seen.push(bar.value)).observe(bar, { attributes: true, attributeFilter: ['value'] })
    // The value property does not always reflect to the attribute: sample it too.
    const timer = setInterval(() => { seen.push(bar.value); if (bar.value >= 1) clearInterval(timer) }, 5)
  })
  await page.setInputFiles('#upload-files', upload)
  await page.getByLabel('Title (one file only; default: its tags)').fill('Night Drive')
  await page.getByLabel('Artist', { exact: true }).fill('The Testers')
  await page.getByRole('button', { name: 'Upload and index' }).click()
  await page.locator('#upload-status', { hasText: /^Done: 1 added, 0 already in the catalog, 0 failed\.$/ }).waitFor()
  t.match(await page.locator('#upload-log').textContent(), /Added: Night Drive — The Testers \(#13\)/, 'the upload log names the new track')
  t.equal(await page.locator('#upload-progress').evaluate((e) => (e as HTMLProgressElement).value), 1, 'the progress bar is full')
  const seen = await page.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen)
  t.ok(seen.length > 0 && seen.every((v, i) => v >= 0 && v <= 1 && (i === 0 || v >= seen[i - 1] || seen[i - 1] === 1)), `the progress only grows (${seen.length} samples)`)
  const added = await (await get('/v1/tracks/13')).json() as { title: string, artist: string }
  t.match(added, { title: 'Night Drive', artist: 'The Testers' }, 'the server holds the uploaded track')
  await screenshot('catalog-uploaded')

  // Remove it from its row, confirming the dialog.
  await page.getByLabel('Search title, artist, album, ISRC or label').fill('Night')
  await page.getByRole('button', { name: 'Search' }).click()
  await page.locator('#catalog-rows tr[data-track-id="13"]').waitFor()
  page.once('dialog', (d) => { void d.accept() })
  await page.getByRole('button', { name: 'Remove Night Drive' }).click()
  await page.locator('#catalog-status', { hasText: 'Removed "Night Drive".' }).waitFor()
  t.equal((await get('/v1/tracks/13')).status, 404, 'the track is gone from the server')
  t.equal(await page.locator('#catalog-rows tr[data-track-id]').count(), 0, 'and from the table')

  // Index a folder on the server's disk.
  await page.getByLabel('A folder or file on the server\'s disk').fill(folder)
  await page.getByRole('button', { name: 'Index it' }).click()
  await page.locator('#job-status', { hasText: /^Done: 1 indexed, 0 already in the catalog, 0 skipped\.$/ }).waitFor({ timeout: 20_000 })
  const { tracks } = await (await get('/v1/tracks?q=Morning')).json() as { tracks: Array<{ title: string }> }
  t.same(tracks.map((x) => x.title), ['Morning Light'], 'the folder\'s file is a track, titled after its name')
  await page.locator('#server-info', { hasText: '13 tracks in the catalog' }).waitFor()
  await screenshot('catalog-folder-indexed')

  // A folder that does not exist: a failed job, said in the alert box, the progress bar empty.
  await page.getByLabel('A folder or file on the server\'s disk').fill(`${folder}-missing`)
  await page.getByRole('button', { name: 'Index it' }).click()
  await page.locator('#job-alert', { hasText: /The job failed: EAR_ERR_FILE_NOT_FOUND/ }).waitFor({ timeout: 20_000 })
  t.equal(await page.locator('#job-progress').evaluate((p) => (p as HTMLProgressElement).value), 0, 'no full bar for a job that indexed nothing')
  t.equal(await page.locator('#job-status').textContent(), '', 'and no "Done"')
})
