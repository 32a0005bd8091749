import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import type { TransportName } from '../../server/src/transport/types.js'
import { buildCatalog } from '../helpers/catalog.js'
import { clip, song, wavBytes, whiteNoise, writeWav } from '../helpers/signals.js'
import { startServer, toStereo, TRANSPORTS } from '../helpers/stream-helpers.js'
import {
  apiSettings, assertError, auditErrorAnswers, bodyOf, call, multipart, pcm16, pollUntil, type Answer,
} from '../helpers/api-helpers.js'

// Identify in every body format, the track list (paging, search), uploads, removal, index jobs, stats and health,
// against both transports, each on a catalog of its own (three 20 s songs; track id k is seed k).
const SEEDS = [1, 2, 3]
const RATE = 44100
const SONG_SECONDS = 20
const JOB_TIMEOUT_MS = 20_000

interface Identified { id: number, title: string, source: string, confidence: number, offsetSeconds: number }

async function suite (t: Test, transport: TransportName): Promise<void> {
  const dir = t.testdir()
  const catalog = buildCatalog(path.join(dir, 'db'), SEEDS, SONG_SECONDS, RATE)
  t.teardown(() => catalog.index.close())
  const { http: base } = await startServer(t, transport, catalog.index, apiSettings())

  const identify = (type: string, body: Uint8Array | string): Promise<Answer> => call(base, 'POST', '/v1/identify', { headers: { 'content-type': type }, body })
  const best = async (type: string, body: Uint8Array): Promise<Identified | undefined> => {
    const a = await identify(type, body)
    if (a.status !== 200) throw new Error(`identify answered ${a.status}: ${a.text}`)
    return bodyOf(a).matches[0]
  }
  const allIds = (): number[] => [...catalog.index.listTracks(0)].map((x) => x.id)

  t.test('identify: WAV, raw PCM (s16le, f32le, stereo, big-endian L16) and multipart give the same answer', async (t) => {
    const pcm = clip(catalog.songs.get(2)!, RATE, 7, 5)
    const wav = await best('audio/wav', wavBytes(pcm, RATE))
    t.ok(wav, 'a match')
    if (!wav) return
    t.equal(wav.id, 2, 'the right track')
    t.equal(wav.title, 'song 2')
    t.ok(wav.confidence >= 0.5 && wav.confidence <= 1, `confidence ${wav.confidence}`)
    t.ok(Math.abs(wav.offsetSeconds - 7) < 0.5, `offset ${wav.offsetSeconds} s`)
    const f32 = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength)
    const stereo = toStereo(pcm)
    const form = await multipart({ note: 'a clip' }, { name: 'clip.wav', bytes: wavBytes(pcm, RATE), type: 'audio/wav' })
    const variants: Array<[string, string, Uint8Array]> = [
      ['raw s16le', 'audio/pcm;rate=44100;encoding=s16le;channels=1', pcm16(pcm)],
      ['raw s16le, spaced and quoted', 'audio/pcm; rate="44100"; encoding=s16le', pcm16(pcm)],
      ['raw f32le', 'audio/pcm;rate=44100;encoding=f32le;channels=1', f32],
      ['raw stereo s16le', 'audio/pcm;rate=44100;encoding=s16le;channels=2', pcm16(stereo)],
      ['audio/L16 (big-endian)', 'audio/L16;rate=44100', pcm16(pcm, true)],
      ['multipart', form.type, form.body],
      ['octet-stream WAV', 'application/octet-stream', wavBytes(pcm, RATE)],
    ]
    for (const [name, type, body] of variants) {
      const m = await best(type, body)
      t.equal(m?.id, 2, `${name}: the same track`)
      t.ok(m && Math.abs(m.offsetSeconds - wav.offsetSeconds) < 0.2, `${name}: the same offset (${m?.offsetSeconds} s)`)
    }
    // L16 read as little-endian is noise: the byte order is really applied.
    const swapped = await identify('audio/pcm;rate=44100;encoding=s16le', pcm16(pcm, true))
    t.equal(swapped.status, 200)
    t.not(bodyOf(swapped).matches[0]?.id, 2, 'big-endian bytes read as little-endian find nothing')
  })

  t.test('identify: no match, bad bodies', async (t) => {
    const noise = await identify('audio/wav', wavBytes(whiteNoise(4, RATE, 0.3, 7), RATE))
    t.equal(noise.status, 200)
    t.same(bodyOf(noise).matches, [], 'noise matches nothing')
    t.equal(bodyOf(noise).queryDurationMs, 4000)
    const junk = Buffer.from('this is not audio at all; '.repeat(100))
    assertError(t, await identify('audio/wav', junk), 'EAR_ERR_NOT_AUDIO', 'text as audio/wav')
    assertError(t, await identify('application/octet-stream', junk), 'EAR_ERR_NOT_AUDIO', 'text as octet-stream')
    const junkForm = await multipart({}, { name: 'notes.txt', bytes: junk, type: 'text/plain' })
    assertError(t, await identify(junkForm.type, junkForm.body), 'EAR_ERR_NOT_AUDIO', 'text as a multipart file')
    assertError(t, await identify('audio/wav', ''), 'EAR_ERR_FILE_EMPTY', 'an empty body')
    assertError(t, await identify('audio/pcm;rate=44100', ''), 'EAR_ERR_FILE_EMPTY', 'empty PCM')
    const empty = await multipart({}, { name: 'empty.wav', bytes: new Uint8Array(0), type: 'audio/wav' })
    assertError(t, await identify(empty.type, empty.body), 'EAR_ERR_FILE_EMPTY', 'an empty multipart file')
    const fieldsOnly = new Request('http://x.invalid/', { method: 'POST', body: (() => { const f = new FormData(); f.append('title', 'x'); return f })() })
    assertError(t, await identify(fieldsOnly.headers.get('content-type')!, Buffer.from(await fieldsOnly.arrayBuffer())), 'EAR_ERR_BAD_REQUEST', 'a form without a file')
    assertError(t, await identify('multipart/form-data; boundary=nothere', 'garbage'), 'EAR_ERR_BAD_REQUEST', 'a malformed form')
    assertError(t, await identify('multipart/form-data', 'garbage'), 'EAR_ERR_BAD_REQUEST', 'a form without a boundary')
    const pcm = pcm16(whiteNoise(1, 8000))
    assertError(t, await identify('audio/pcm', pcm), 'EAR_ERR_BAD_REQUEST', 'PCM without a rate')
    assertError(t, await identify('audio/pcm;rate=100', pcm), 'EAR_ERR_BAD_REQUEST', 'PCM at 100 Hz')
    assertError(t, await identify('audio/pcm;rate=8000;channels=3', pcm), 'EAR_ERR_BAD_REQUEST', 'three channels')
    assertError(t, await identify('audio/pcm;rate=8000;encoding=u8', pcm), 'EAR_ERR_BAD_REQUEST', 'an unknown encoding')
    assertError(t, await identify('audio/pcm;rate=8000', pcm.subarray(1)), 'EAR_ERR_BAD_REQUEST', 'an odd number of s16 bytes')
    const nan = new Float32Array(800).fill(NaN)
    assertError(t, await identify('audio/pcm;rate=8000;encoding=f32le', new Uint8Array(nan.buffer)), 'EAR_ERR_BAD_REQUEST', 'NaN samples')
  })

  t.test('tracks: paging with limit and cursor covers every track once', async (t) => {
    const expected = allIds()
    t.same(expected, SEEDS)
    for (const limit of [1, 2, 3, 50]) {
      const seen: number[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const a = await call(base, 'GET', `/v1/tracks?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`)
        t.equal(a.status, 200)
        const page = bodyOf(a)
        t.ok(page.tracks.length <= limit, `limit ${limit}: a page of ${page.tracks.length}`)
        seen.push(...page.tracks.map((x: { id: number }) => x.id))
        cursor = page.nextCursor
        t.ok(cursor === null || typeof cursor === 'string', 'nextCursor is a string or null')
      } while (cursor !== null && ++pages < 10)
      t.same(seen, expected, `limit ${limit}: every track once, in id order`)
    }
    for (const bad of ['limit=0', 'limit=1001', 'limit=x', 'limit=1.5', 'cursor=-1', 'cursor=abc']) {
      assertError(t, await call(base, 'GET', `/v1/tracks?${bad}`), 'EAR_ERR_BAD_REQUEST', bad)
    }
  })

  t.test('tracks: q= searches title, artist and album, case-insensitively, with paging', async (t) => {
    const ids = async (query: string): Promise<number[]> => bodyOf(await call(base, 'GET', `/v1/tracks?${query}`)).tracks.map((x: { id: number }) => x.id)
    t.same(await ids('q=song%202'), [2])
    t.same(await ids('q=SONG'), [1, 2, 3])
    t.same(await ids('q=%20song%203%20'), [3], 'the query is trimmed')
    t.same(await ids('q=nothing-like-this'), [])
    const first = bodyOf(await call(base, 'GET', '/v1/tracks?q=song&limit=2'))
    t.same(first.tracks.map((x: { id: number }) => x.id), [1, 2])
    t.equal(first.nextCursor, '2')
    const second = bodyOf(await call(base, 'GET', `/v1/tracks?q=song&limit=2&cursor=${first.nextCursor}`))
    t.same(second.tracks.map((x: { id: number }) => x.id), [3])
    t.equal(second.nextCursor, null)
  })

  t.test('uploads: raw and multipart → 201, identified, the same audio again → 200 added:false, removal', async (t) => {
    const ten = song(10, 8, RATE)
    const raw = await call(base, 'POST', '/v1/tracks?title=Ten&artist=Tester&album=Uploads', { headers: { 'content-type': 'audio/wav' }, body: wavBytes(ten, RATE) })
    t.equal(raw.status, 201, 'a raw WAV body is created')
    const tenTrack = bodyOf(raw).track
    t.match(bodyOf(raw), { added: true, track: { title: 'Ten', artist: 'Tester', album: 'Uploads' } })
    t.ok(Math.abs(tenTrack.durationSeconds - 8) < 0.05, `duration ${tenTrack.durationSeconds} s`)
    t.ok(tenTrack.hashCount > 0)
    t.equal((await best('audio/wav', wavBytes(clip(ten, RATE, 2, 4), RATE)))?.id, tenTrack.id, 'identify finds the upload')

    const again = await call(base, 'POST', '/v1/tracks?title=Other', { headers: { 'content-type': 'audio/wav' }, body: wavBytes(ten, RATE) })
    t.equal(again.status, 200, 'the same audio again')
    t.match(bodyOf(again), { added: false, track: { id: tenTrack.id, title: 'Ten' } })

    const eleven = song(11, 8, RATE)
    const form = await multipart({ title: 'Eleven', artist: 'Form', album: 'Multi' }, { name: 'eleven.wav', bytes: wavBytes(eleven, RATE), type: 'audio/wav' })
    const viaForm = await call(base, 'POST', '/v1/tracks', { headers: { 'content-type': form.type }, body: form.body })
    t.equal(viaForm.status, 201, 'a multipart upload is created')
    const elevenTrack = bodyOf(viaForm).track
    t.match(elevenTrack, { title: 'Eleven', artist: 'Form', album: 'Multi' })
    t.not(elevenTrack.id, tenTrack.id)
    t.equal((await best('audio/wav', wavBytes(clip(eleven, RATE, 3, 4), RATE)))?.id, elevenTrack.id, 'identify finds the multipart upload')
    t.same(bodyOf(await call(base, 'GET', '/v1/tracks?q=eleven')).tracks.map((x: { id: number }) => x.id), [elevenTrack.id], 'listed and searchable')
    t.match(bodyOf(await call(base, 'GET', `/v1/tracks/${elevenTrack.id}`)), { id: elevenTrack.id, title: 'Eleven' })

    assertError(t, await call(base, 'POST', '/v1/tracks', { headers: { 'content-type': 'audio/pcm;rate=44100' }, body: pcm16(ten) }), 'EAR_ERR_CONTENT_TYPE', 'raw PCM cannot be a track')
    assertError(t, await call(base, 'POST', '/v1/tracks', { headers: { 'content-type': 'audio/wav' }, body: 'not audio '.repeat(50) }), 'EAR_ERR_NOT_AUDIO', 'text as a track')
    assertError(t, await call(base, 'POST', `/v1/tracks?title=${'x'.repeat(501)}`, { headers: { 'content-type': 'audio/wav' }, body: wavBytes(ten, RATE) }), 'EAR_ERR_BAD_REQUEST', 'a title over 500 characters')
    const silent = await call(base, 'POST', '/v1/tracks', { headers: { 'content-type': 'audio/wav' }, body: wavBytes(new Float32Array(RATE), RATE) })
    assertError(t, silent, 'EAR_ERR_AUDIO_TOO_SHORT', 'a second of silence')

    const removed = await call(base, 'DELETE', `/v1/tracks/${tenTrack.id}`)
    t.equal(removed.status, 204)
    t.equal(removed.text, '')
    assertError(t, await call(base, 'GET', `/v1/tracks/${tenTrack.id}`), 'EAR_ERR_TRACK_NOT_FOUND', 'GET after removal')
    assertError(t, await call(base, 'DELETE', `/v1/tracks/${tenTrack.id}`), 'EAR_ERR_TRACK_NOT_FOUND', 'DELETE twice')
    t.not((await best('audio/wav', wavBytes(clip(ten, RATE, 2, 4), RATE)))?.id, tenTrack.id, 'identify no longer finds it')
    t.notOk(allIds().includes(tenTrack.id), 'gone from the index')
  })

  t.test('index jobs: a folder of 2 WAVs and a junk file → 202, then done: 2 indexed, 1 skipped with a reason', async (t) => {
    const folder = path.join(dir, 'music')
    fs.mkdirSync(folder)
    writeWav(path.join(folder, 'a.wav'), song(20, 8, RATE), RATE)
    writeWav(path.join(folder, 'b.wav'), song(21, 8, RATE), RATE)
    fs.writeFileSync(path.join(folder, 'junk.mp3'), 'not audio at all '.repeat(100))
    fs.writeFileSync(path.join(folder, 'notes.txt'), 'not an audio extension: not even tried')
    const before = catalog.index.stats().tracks
    const run = async (body: unknown): Promise<Record<string, any>> => {
      const a = await call(base, 'POST', '/v1/index-jobs', { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      t.equal(a.status, 202, 'accepted')
      const job = bodyOf(a)
      t.equal(a.headers.location, `/v1/index-jobs/${job.id}`)
      return pollUntil(() => call(base, 'GET', `/v1/index-jobs/${job.id}`).then(bodyOf), (j) => j.state === 'done' || j.state === 'failed', JOB_TIMEOUT_MS, 'the job to finish')
    }
    const done = await run({ path: folder })
    t.match(done, { state: 'done', total: 3, indexed: 2, present: 0, skippedCount: 1, error: null })
    t.equal(done.skipped.length, 1)
    t.equal(path.basename(done.skipped[0]?.file ?? ''), 'junk.mp3', 'the junk file is skipped')
    t.match(done.skipped[0]?.reason, /^EAR_ERR_NOT_AUDIO/, `with a reason: ${done.skipped[0]?.reason}`)
    t.ok(Math.abs(done.audioSeconds - 16) < 0.1, `${done.audioSeconds} s of audio`)
    t.ok(done.startedAt <= done.finishedAt, 'times in order')
    t.equal(catalog.index.stats().tracks, before + 2)
    const found = await best('audio/wav', wavBytes(clip(song(21, 8, RATE), RATE, 2, 4), RATE))
    t.equal(path.basename(found?.source ?? ''), 'b.wav', 'identify finds an indexed file')

    const again = await run({ paths: [folder, path.join(folder, 'missing.wav')] })
    t.match(again, { state: 'done', indexed: 0, present: 2, skippedCount: 2 }, 'files already indexed are present, not added again')
    t.match(again.skipped.map((s: { reason: string }) => s.reason).sort(), [/^EAR_ERR_FILE_NOT_FOUND/, /^EAR_ERR_NOT_AUDIO/])
    t.equal(catalog.index.stats().tracks, before + 2)

    // Nothing to index: a missing folder, or one without audio, fails the job with the reason (not "done").
    fs.mkdirSync(path.join(dir, 'no-audio'))
    fs.writeFileSync(path.join(dir, 'no-audio', 'notes.txt'), 'text')
    for (const [what, where, code] of [['a missing folder', path.join(dir, 'nowhere'), /^EAR_ERR_FILE_NOT_FOUND/], ['a folder without audio', path.join(dir, 'no-audio'), /^EAR_ERR_NOT_AUDIO/]] as const) {
      const failed = await run({ path: where })
      t.match(failed, { state: 'failed', total: 0, indexed: 0, error: code }, `${what}: failed, with the reason`)
    }

    for (const bad of [{ paths: [] }, { paths: [''] }, { paths: 'x' }, { path: 5 }, { path: '' }, { path: 'x'.repeat(4097) }]) {
      assertError(t, await call(base, 'POST', '/v1/index-jobs', { headers: { 'content-type': 'application/json' }, body: JSON.stringify(bad) }), 'EAR_ERR_BAD_REQUEST', JSON.stringify(bad).slice(0, 40))
    }
  })

  t.test('GET /v1/stats and /health report the index', async (t) => {
    const s = catalog.index.stats()
    const stats = bodyOf(await call(base, 'GET', '/v1/stats'))
    t.match(stats, { tracks: s.tracks, postings: s.postings, distinctHashes: s.distinctHashes, audioSeconds: Math.round(s.audioSeconds), sessions: 0, webhooks: null, minConfidence: 0.5 })
    t.ok(stats.indexBytes > 0 && stats.uptimeSeconds >= 0)
    t.same(stats.monitors, { total: 0, connecting: 0, listening: 0, down: 0, finished: 0 })
    const health = await call(base, 'GET', '/health')
    t.equal(health.status, 200)
    t.match(bodyOf(health), { status: 'ok', problems: [], transport, sessions: 0, index: { tracks: s.tracks, postings: s.postings } })
  })
}

for (const transport of TRANSPORTS) t.test(`catalog routes over ${transport}`, (t) => suite(t, transport))

t.test('every error answer is {"error":{"code","message"}} with its catalogued status and no stack trace', async (t) => {
  auditErrorAnswers(t)
})
