/**
 * Catalog metadata over HTTP, on both transports, against a real server on loopback and a real LMDB catalog: PATCH
 * /v1/tracks/:id (a JSON merge patch), the list's filters, uploads with metadata, an index job with a metadata file;
 * and the metadata where it travels: an identify answer, a stream's match, its play (JSON and CSV) and the
 * webhook event of that play.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import http from 'node:http'
import type net from 'node:net'
import path from 'node:path'
import { once } from 'node:events'
import { connect } from '../../client-sdk/src/index.js'
import type { Match } from '../../protocol/src/index.js'
import { parseCsv } from '../../server/src/playlog/csv.js'
import type { Play } from '../../server/src/playlog/play-log.js'
import type { TransportName } from '../../server/src/transport/types.js'
import { buildCatalog } from '../helpers/catalog.js'
import { clip, prng, song, wavBytes, writeWav } from '../helpers/signals.js'
import { allowLoopback, startServer, toS16, TRANSPORTS, waitUntil, within, writeChunks } from '../helpers/stream-helpers.js'
import { apiSettings, assertError, auditErrorAnswers, bodyOf, call, multipart, pollUntil, type Answer } from '../helpers/api-helpers.js'

const RATE = 44100
const SEEDS = [1, 2, 3]
const JSON_TYPE = { 'content-type': 'application/json' }

/** A webhook receiver on loopback: every event body it got. */
async function receiver (t: Test): Promise<{ url: string, events: Array<{ type: string, data: Play }> }> {
  const events: Array<{ type: string, data: Play }> = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => { events.push(JSON.parse(Buffer.concat(chunks).toString('utf8'))); res.writeHead(204).end() })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook`, events }
}

async function suite (t: Test, transport: TransportName): Promise<void> {
  const dir = t.testdir()
  const catalog = buildCatalog(path.join(dir, 'db'), SEEDS, 20, RATE)
  t.teardown(() => catalog.index.close())
  const rx = await receiver(t)
  const settings = allowLoopback(apiSettings())
  settings.webhooks = { ...settings.webhooks, urls: [rx.url], secret: 'test-secret-with-enough-length', initialBackoffMs: 20, maxBackoffMs: 100 }
  // Over uWS, streams and identify run on a stream engine (a worker thread with its own read-only view of the
  // index), as in production: it must see the edits the main thread makes.
  settings.workers = transport === 'uws' ? 1 : 0
  const { http: base, url } = await startServer(t, transport, catalog.index, settings)
  const patch = (id: number | string, body: unknown, type = 'application/json'): Promise<Answer> =>
    call(base, 'PATCH', `/v1/tracks/${id}`, { headers: { 'content-type': type }, body: JSON.stringify(body) })
  const ids = async (query: string): Promise<number[]> => {
    const a = await call(base, 'GET', `/v1/tracks?${query}`)
    if (a.status !== 200) throw new Error(`${query}: ${a.text}`)
    return bodyOf(a).tracks.map((x: { id: number }) => x.id)
  }

  t.test('PATCH /v1/tracks/:id: a JSON merge patch; every named field hand-set', async (t) => {
    const a = await patch(1, { isrc: 'us-rc1-76-07839', externalId: 'cat-1', labels: { Genre: 'jazz', mood: 'calm' } })
    t.equal(a.status, 200)
    t.match(bodyOf(a), { id: 1, title: 'song 1', isrc: 'USRC17607839', externalId: 'cat-1', labels: { genre: 'jazz', mood: 'calm' }, editedFields: ['externalId', 'isrc', 'labels'] })
    const b = await patch(1, { labels: { mood: null, era: '1970s' }, title: 'Song One' }, 'application/merge-patch+json')
    t.equal(b.status, 200, 'application/merge-patch+json is taken too')
    t.same(bodyOf(b).labels, { era: '1970s', genre: 'jazz' }, 'labels merged; a key set to null removed')
    t.equal(bodyOf(b).title, 'Song One')
    t.same(bodyOf(b).editedFields, ['externalId', 'isrc', 'labels', 'title'])
    t.same(bodyOf(await call(base, 'GET', '/v1/tracks/1')), bodyOf(b), 'GET shows the same')
    const c = await patch(2, { isrc: 'GBAYE0601498', labels: { genre: 'folk' } })
    t.equal(bodyOf(await patch(2, { isrc: null, labels: null })).isrc, undefined, 'null removes the ISRC')
    t.equal(bodyOf(await call(base, 'GET', '/v1/tracks/2')).labels, undefined, 'and labels: null all labels')
    t.equal(bodyOf(c).isrc, 'GBAYE0601498')
    t.equal(bodyOf(await patch(2, {})).id, 2, 'an empty patch answers the track')

    assertError(t, await patch(1, { isrc: 'US-RC1-76' }), 'EAR_ERR_BAD_METADATA', 'a bad ISRC')
    assertError(t, await patch(1, { labels: { 'a b': 'x' } }), 'EAR_ERR_BAD_METADATA', 'a bad label key')
    assertError(t, await patch(1, { labels: Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`k${i}`, 'v'])) }), 'EAR_ERR_BAD_METADATA', 'more than 32 labels once merged')
    assertError(t, await patch(1, { externalId: 'x'.repeat(201) }), 'EAR_ERR_BAD_METADATA', 'an external id too long')
    assertError(t, await patch(1, { isbn: '123' }), 'EAR_ERR_BAD_REQUEST', 'an unknown field')
    assertError(t, await patch(1, { title: null }), 'EAR_ERR_BAD_REQUEST', 'a title cannot be removed')
    assertError(t, await patch(1, { labels: { genre: 5 } }), 'EAR_ERR_BAD_REQUEST', 'a label that is not a string')
    assertError(t, await patch(999, { isrc: 'USRC17607839' }), 'EAR_ERR_TRACK_NOT_FOUND', 'an unknown track')
    assertError(t, await patch(1, { isrc: 'USRC17607839' }, 'text/plain'), 'EAR_ERR_CONTENT_TYPE', 'not JSON')
    assertError(t, await call(base, 'PATCH', '/v1/tracks/1', { headers: JSON_TYPE, body: '[1]' }), 'EAR_ERR_BAD_JSON', 'not an object')
    t.match(bodyOf(await call(base, 'GET', '/v1/tracks/1')), { isrc: 'USRC17607839', labels: { era: '1970s', genre: 'jazz' } }, 'refused patches changed nothing')
  })

  t.test('GET /v1/tracks filters by ISRC, external id, label and text', async (t) => {
    t.same(await ids('isrc=US-RC1-76-07839'), [1], 'isrc, dashed')
    t.same(await ids('isrc=usrc17607839'), [1], 'isrc, lower case')
    t.same(await ids('externalId=cat-1'), [1])
    t.same(await ids('externalId=CAT-1'), [], 'an external id exactly')
    t.same(await ids('label=genre:JAZZ'), [1], 'label key:value, the value in any case')
    t.same(await ids('label=era'), [1], 'label key')
    t.same(await ids('label=genre:folk'), [])
    t.same(await ids('q=1970s'), [1], 'text finds label values')
    t.same(await ids('q=song&label=genre'), [1], 'filters combine')
    t.same(await ids('isrc=USRC17607839&cursor=1'), [], 'a cursor past the one track')
    assertError(t, await call(base, 'GET', '/v1/tracks?isrc=nope'), 'EAR_ERR_BAD_METADATA', 'a bad ISRC filter')
    assertError(t, await call(base, 'GET', '/v1/tracks?label=a%20b'), 'EAR_ERR_BAD_METADATA', 'a bad label key')
  })

  t.test('uploads take the metadata as form fields or query parameters', async (t) => {
    const form = await multipart({ title: 'Ten', isrc: 'GB-AYE-06-01410', externalId: 'cat-10', labels: '{"genre":"ambient"}' }, { name: 'ten.wav', bytes: wavBytes(song(10, 8, RATE), RATE), type: 'audio/wav' })
    const a = await call(base, 'POST', '/v1/tracks', { headers: { 'content-type': form.type }, body: form.body })
    t.equal(a.status, 201)
    t.match(bodyOf(a).track, { title: 'Ten', isrc: 'GBAYE0601410', externalId: 'cat-10', labels: { genre: 'ambient' } })
    t.equal(bodyOf(a).track.editedFields, undefined, 'upload fields are not hand edits')
    const raw = await call(base, 'POST', '/v1/tracks?isrc=GBAYE0601411&labels=%7B%22mood%22%3A%22dark%22%7D', { headers: { 'content-type': 'audio/wav' }, body: wavBytes(song(11, 8, RATE), RATE) })
    t.match(bodyOf(raw).track, { isrc: 'GBAYE0601411', labels: { mood: 'dark' } }, 'query parameters for a raw body')
    const body = wavBytes(song(12, 8, RATE), RATE)
    assertError(t, await call(base, 'POST', '/v1/tracks?isrc=nope', { headers: { 'content-type': 'audio/wav' }, body }), 'EAR_ERR_BAD_METADATA', 'a bad ISRC')
    assertError(t, await call(base, 'POST', '/v1/tracks?labels=%5B1%5D', { headers: { 'content-type': 'audio/wav' }, body }), 'EAR_ERR_BAD_METADATA', 'labels that are not an object')
    t.same(await ids('q=song%2012'), [], 'nothing was added by the refused uploads')
    for (const id of [bodyOf(a).track.id, bodyOf(raw).track.id]) t.equal((await call(base, 'DELETE', `/v1/tracks/${id}`)).status, 204)
  })

  t.test('an index job applies a metadata file; a bad one is refused before the job is queued', async (t) => {
    const folder = path.join(dir, 'library')
    fs.mkdirSync(folder)
    writeWav(path.join(folder, 'x.wav'), song(20, 8, RATE), RATE)
    const meta = path.join(dir, 'library.json')
    fs.writeFileSync(meta, JSON.stringify([{ path: 'library/x.wav', isrc: 'GBAYE0601420', labels: { genre: 'pop' } }]))
    const started = await call(base, 'POST', '/v1/index-jobs', { headers: JSON_TYPE, body: JSON.stringify({ path: folder, metadata: meta }) })
    t.equal(started.status, 202)
    t.equal(bodyOf(started).metadata, meta, 'the job names its metadata file')
    const done = await pollUntil(() => call(base, 'GET', String(started.headers.location)).then(bodyOf), (j) => j.state !== 'queued' && j.state !== 'running', 20_000, 'the job')
    t.match(done, { state: 'done', indexed: 1 })
    const [id] = await ids('isrc=GBAYE0601420')
    t.match(bodyOf(await call(base, 'GET', `/v1/tracks/${id}`)), { title: 'x', labels: { genre: 'pop' } })
    fs.writeFileSync(meta, JSON.stringify([{ path: 'library/x.wav', isrc: 'bad' }]))
    const jobs = bodyOf(await call(base, 'GET', '/v1/index-jobs')).jobs.length
    assertError(t, await call(base, 'POST', '/v1/index-jobs', { headers: JSON_TYPE, body: JSON.stringify({ path: folder, metadata: meta }) }), 'EAR_ERR_BAD_METADATA', 'a bad metadata file')
    assertError(t, await call(base, 'POST', '/v1/index-jobs', { headers: JSON_TYPE, body: JSON.stringify({ path: folder, metadata: path.join(dir, 'none.csv') }) }), 'EAR_ERR_FILE_NOT_FOUND', 'a missing metadata file')
    t.equal(bodyOf(await call(base, 'GET', '/v1/index-jobs')).jobs.length, jobs, 'no job was queued')
  })

  t.test('the metadata travels: identify, a stream\'s match, its play (JSON and CSV) and its webhook events', async (t) => {
    const expected = { isrc: 'USRC17607839', externalId: 'cat-1', labels: { era: '1970s', genre: 'jazz' } }
    const identified = bodyOf(await call(base, 'POST', '/v1/identify', { headers: { 'content-type': 'audio/wav' }, body: wavBytes(clip(catalog.songs.get(1)!, RATE, 5, 6), RATE) }))
    t.match(identified.matches[0], { id: 1, ...expected }, 'an identify answer')
    const other = bodyOf(await call(base, 'POST', '/v1/identify', { headers: { 'content-type': 'audio/wav' }, body: wavBytes(clip(catalog.songs.get(3)!, RATE, 5, 6), RATE) }))
    t.equal(other.matches[0]?.id, 3)
    t.notOk('isrc' in other.matches[0] || 'labels' in other.matches[0], 'a track without metadata: no fields, not nulls')

    const pcm = new Float32Array(RATE * 22)
    pcm.set(clip(catalog.songs.get(1)!, RATE, 2, 14), 0)
    pcm.set(clip(song(99, 10, RATE), RATE, 0, 8), RATE * 14)
    const client = await connect(url, { sampleRate: RATE, reconnect: false, streamId: `kiosk-${transport}`, playLog: true })
    const matches: Match[] = []
    client.on('match', (m: Match) => matches.push(m))
    await writeChunks(client, toS16(pcm), 1, prng(3))
    await client.flush()
    const closed = once(client, 'close')
    await client.close()
    await within(closed, 5000, 'close')
    const confirmed = matches.find((m) => m.state === 'confirmed')
    t.match(confirmed, { id: 1, ...expected }, 'a stream\'s match message')

    const { plays } = bodyOf(await call(base, 'GET', `/v1/plays?stream=kiosk-${transport}`)) as { plays: Play[] }
    t.equal(plays.length, 1)
    t.match(plays[0], { trackId: 1, title: 'Song One', ...expected }, 'its play')
    const csv = await call(base, 'GET', `/v1/plays?stream=kiosk-${transport}&format=csv`)
    const [header, row] = parseCsv(csv.text).map((r) => r.cells)
    const cell = (name: string): string | undefined => row?.[header.indexOf(name)]
    t.same(header.slice(-3), ['isrc', 'externalId', 'labels'], 'the CSV\'s last columns')
    t.equal(cell('isrc'), 'USRC17607839')
    t.equal(cell('externalId'), 'cat-1')
    t.same(JSON.parse(cell('labels') ?? 'null'), expected.labels, 'labels as one JSON object')

    await waitUntil(() => rx.events.filter((e) => e.data.stream === `kiosk-${transport}`).length >= 2, 10_000, 'both webhook events')
    for (const e of rx.events.filter((x) => x.data.stream === `kiosk-${transport}`)) t.match(e.data, { trackId: 1, ...expected }, `the ${e.type} webhook`)
  })
}

for (const transport of TRANSPORTS) t.test(`catalog metadata over ${transport}`, (t) => suite(t, transport))

t.test('every error answer is {"error":{"code","message"}} with its catalogued status and no stack trace', async (t) => {
  auditErrorAnswers(t)
})
