import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { once } from 'node:events'
import { build } from '../../server/src/app.js'
import { router } from '../../server/src/http/routes.js'
import type { ErrorCode } from '../../server/src/errors.js'
import type { TransportName } from '../../server/src/transport/types.js'
import { buildCatalog } from '../helpers/catalog.js'
import { clip, song, wavBytes, whiteNoise, writeWav } from '../helpers/signals.js'
import { crossfade, LOOPBACK_ADDRESSES, RawClient, startServer, TRANSPORTS } from '../helpers/stream-helpers.js'
import {
  apiSettings, assertError, auditErrorAnswers, bodyOf, call, fillPath, multipart, PROBES, pollUntil, routeKey, sendProbe, serveBytes,
  UNKNOWN_TRACK_ID, UNKNOWN_UUID, type Answer,
} from '../helpers/api-helpers.js'

// The route matrix: every route of the table answers its documented success, unknown paths and methods, HEAD,
// unknown and malformed ids, and the error body of every error answered in this file. Run against both transports,
// each on a catalog of its own (the cases add and remove tracks). A route added to the table without a case here
// fails the loop.
const SEEDS = [1, 2, 3]
const RATE = 44100
const SONG_SECONDS = 20

const TRACK_KEYS = ['album', 'artist', 'durationSeconds', 'hashCount', 'id', 'indexedAt', 'source', 'title']
const MONITOR_KEYS = ['createdAt', 'current', 'id', 'label', 'lastError', 'reconnects', 'since', 'state', 'streamSeconds', 'unmatchedSeconds', 'url']
const JOB_KEYS = ['audioSeconds', 'createdAt', 'error', 'finishedAt', 'id', 'indexed', 'paths', 'present', 'skipped', 'skippedCount', 'startedAt', 'state', 'symlinks', 'total', 'truncated']
const IDENTIFY_JOB_KEYS = ['audioSeconds', 'bytes', 'createdAt', 'cut', 'damaged', 'durationSeconds', 'error', 'finishedAt', 'id', 'name', 'progress', 'segments', 'startedAt', 'state']
const SEGMENT_KEYS = ['album', 'artist', 'confidence', 'endSeconds', 'offsetSeconds', 'speed', 'startSeconds', 'title', 'trackId']
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** The error of an unknown id, per route pattern; a new route with an id needs an entry. */
const UNKNOWN_ID: Readonly<Record<string, { id: string, code: ErrorCode }>> = {
  '/v1/tracks/:id': { id: UNKNOWN_TRACK_ID, code: 'EAR_ERR_TRACK_NOT_FOUND' },
  '/v1/monitors/:id': { id: UNKNOWN_UUID, code: 'EAR_ERR_MONITOR_NOT_FOUND' },
  '/v1/index-jobs/:id': { id: UNKNOWN_UUID, code: 'EAR_ERR_JOB_NOT_FOUND' },
  '/v1/identify-jobs/:id': { id: UNKNOWN_UUID, code: 'EAR_ERR_JOB_NOT_FOUND' },
}
/** Malformed for every id kind (positive integers, UUIDs); `%ZZ` is not even valid percent-encoding. */
const MALFORMED_IDS = ['abc', '0', '-1', '1.5', '99999999999999999999', 'x'.repeat(80), '%ZZ', UNKNOWN_UUID.slice(1), '1%2F2']

const keys = (o: object): string[] => Object.keys(o).sort()

async function suite (t: Test, transport: TransportName): Promise<void> {
  const dir = t.testdir()
  const catalog = buildCatalog(path.join(dir, 'db'), SEEDS, SONG_SECONDS, RATE)
  t.teardown(() => catalog.index.close())
  const { http: base, url: wsUrl } = await startServer(t, transport, catalog.index, apiSettings({ network: { allowedAddresses: LOOPBACK_ADDRESSES } }))
  // Noise: the monitors of these cases match nothing, so the play log stays empty.
  const sourceUrl = await serveBytes(t, wavBytes(whiteNoise(3, RATE, 0.3), RATE))
  let uploads = 0
  let monitors = 0

  /** Upload a new song (a seed of its own) as a raw WAV body. */
  const upload = (seed: number): Promise<Answer> => call(base, 'POST', `/v1/tracks?title=${encodeURIComponent(`upload ${seed}`)}&artist=tester`,
    { headers: { 'content-type': 'audio/wav' }, body: wavBytes(song(seed, 8, RATE), RATE) })
  const addMonitor = (): Promise<Answer> => call(base, 'POST', '/v1/monitors',
    { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: `${sourceUrl}?n=${++monitors}`, label: `m${monitors}` }) })
  const removeMonitor = async (t: Test, id: string): Promise<void> => {
    const a = await call(base, 'DELETE', `/v1/monitors/${id}`)
    t.equal(a.status, 204, 'the monitor is removed')
  }
  const jobFolder = (): string => {
    const folder = path.join(dir, `job-${++uploads}`)
    fs.mkdirSync(folder)
    writeWav(path.join(folder, 'a.wav'), song(40 + uploads, 6, RATE), RATE)
    return folder
  }

  /** A recording of two catalog songs with a crossfade: song 1's first 14 s, then song 3's first 14 s. */
  const recording = wavBytes(crossfade([clip(catalog.songs.get(1)!, RATE, 0, 14), clip(catalog.songs.get(3)!, RATE, 0, 14)], RATE, 2).pcm, RATE)
  const startRecording = async (): Promise<Answer> => {
    const form = await multipart({}, { name: 'air.wav', bytes: recording, type: 'audio/wav' })
    return call(base, 'POST', '/v1/identify-jobs', { headers: { 'content-type': form.type }, body: form.body })
  }

  /** A built file of the web page: 200, its type, not sniffed, revalidated. */
  const webFile = async (t: Test, p: string, type: RegExp): Promise<Answer> => {
    const a = await call(base, 'GET', p)
    t.equal(a.status, 200, `${p} is served (built by npm run build)`)
    t.match(a.headers['content-type'], type)
    t.ok(a.body.length > 0, 'not empty')
    t.equal(a.headers['x-content-type-options'], 'nosniff')
    t.equal(a.headers['cache-control'], 'no-cache')
    return a
  }

  const cases: Record<string, (t: Test) => Promise<void>> = {
    async 'GET /health' (t) {
      const a = await call(base, 'GET', '/health')
      t.equal(a.status, 200)
      const h = bodyOf(a)
      t.equal(h.status, 'ok')
      t.same(h.problems, [])
      t.equal(h.transport, transport)
      t.equal(typeof h.sessions, 'number')
      t.equal(typeof h.uptimeSeconds, 'number')
      t.ok(h.index.tracks >= SEEDS.length, 'index stats')
      t.ok(h.disk.freeBytes > 0 && h.disk.totalBytes >= h.disk.freeBytes, 'disk space')
      t.same(keys(h.monitors), ['connecting', 'down', 'finished', 'listening', 'total'])
    },
    async 'GET /ping' (t) {
      const a = await call(base, 'GET', '/ping')
      t.equal(a.status, 200)
      t.match(a.headers['content-type'], /^text\/plain/)
      t.equal(a.text, 'pong')
    },
    async 'GET /metrics' (t) {
      const a = await call(base, 'GET', '/metrics')
      t.equal(a.status, 200)
      t.match(a.headers['content-type'], /^text\/plain/)
      t.match(a.text, /^# HELP earshot_/m, 'Prometheus text with earshot metrics')
    },
    async 'GET /openapi.json' (t) {
      const a = await call(base, 'GET', '/openapi.json')
      t.equal(a.status, 200)
      t.match(a.headers['content-type'], /^application\/json/)
      const doc = bodyOf(a)
      t.match(doc.openapi, /^3\./)
      t.equal(typeof doc.paths, 'object')
    },
    async 'GET /v1/stats' (t) {
      const a = await call(base, 'GET', '/v1/stats')
      t.equal(a.status, 200)
      const s = bodyOf(a)
      t.same(keys(s), ['audioSeconds', 'distinctHashes', 'indexBytes', 'minConfidence', 'monitors', 'postings', 'sessions', 'tracks', 'uptimeSeconds', 'webhooks'])
      t.equal(s.tracks, catalog.index.stats().tracks)
      t.ok(s.postings > 0 && s.distinctHashes > 0 && s.indexBytes > 0)
      t.equal(s.webhooks, null, 'no webhooks configured')
    },
    async 'GET /v1/stream' (t) {
      const plain = await call(base, 'GET', '/v1/stream')
      assertError(t, plain, 'EAR_ERR_UPGRADE_REQUIRED', 'a plain GET')
      const c = await RawClient.open(wsUrl)
      c.hello()
      const ready = await c.next('ready')
      t.equal(typeof ready.sessionId, 'string', 'a WebSocket gets a session')
      await c.close()
    },
    async 'POST /v1/identify' (t) {
      const a = await call(base, 'POST', '/v1/identify', { headers: { 'content-type': 'audio/wav' }, body: wavBytes(clip(catalog.songs.get(2)!, RATE, 6, 5), RATE) })
      t.equal(a.status, 200)
      const r = bodyOf(a)
      t.same(keys(r), ['matches', 'processingTimeMs', 'queryDurationMs'])
      t.equal(r.matches[0]?.id, 2, 'the right track first')
      t.same(keys(r.matches[0]), ['album', 'artist', 'confidence', 'id', 'offsetSeconds', 'source', 'speed', 'title'])
      t.ok(r.matches[0].confidence > 0 && r.matches[0].confidence <= 1)
      t.ok(Math.abs(r.matches[0].speed - 1) < 0.005, `a clip at normal speed: speed ${r.matches[0].speed}`)
      t.ok(Math.abs(r.matches[0].offsetSeconds - 6) < 0.5, `offset ${r.matches[0].offsetSeconds} s`)
      t.equal(r.queryDurationMs, 5000)
    },
    async 'GET /v1/tracks' (t) {
      const a = await call(base, 'GET', '/v1/tracks')
      t.equal(a.status, 200)
      const r = bodyOf(a)
      t.same(keys(r), ['nextCursor', 'tracks'])
      t.equal(r.nextCursor, null)
      t.same(r.tracks.slice(0, SEEDS.length).map((x: { id: number }) => x.id), [1, 2, 3])
      t.same(keys(r.tracks[0]), TRACK_KEYS)
    },
    async 'GET /v1/tracks/:id' (t) {
      const a = await call(base, 'GET', '/v1/tracks/2')
      t.equal(a.status, 200)
      const r = bodyOf(a)
      t.same(keys(r), TRACK_KEYS)
      t.match(r, { id: 2, title: 'song 2', source: 'song-2.wav', durationSeconds: SONG_SECONDS })
      t.ok(r.hashCount > 0)
    },
    async 'POST /v1/tracks' (t) {
      const a = await upload(10)
      t.equal(a.status, 201)
      const r = bodyOf(a)
      t.same(keys(r), ['added', 'track'])
      t.equal(r.added, true)
      t.same(keys(r.track), TRACK_KEYS)
      t.match(r.track, { title: 'upload 10', artist: 'tester' })
      t.ok(r.track.id > SEEDS.length, 'a new id')
    },
    async 'PATCH /v1/tracks/:id' (t) {
      const id = bodyOf(await upload(12)).track.id
      const a = await call(base, 'PATCH', `/v1/tracks/${id}`, { headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ isrc: 'US-RC1-76-07839', externalId: 'cat-12', labels: { genre: 'jazz' } }) })
      t.equal(a.status, 200)
      const r = bodyOf(a)
      t.same(keys(r), [...TRACK_KEYS, 'editedFields', 'externalId', 'isrc', 'labels'].sort(), 'the track, with its catalog metadata')
      t.match(r, { id, isrc: 'USRC17607839', externalId: 'cat-12', labels: { genre: 'jazz' }, editedFields: ['externalId', 'isrc', 'labels'] })
      t.equal((await call(base, 'DELETE', `/v1/tracks/${id}`)).status, 204)
    },
    async 'DELETE /v1/tracks/:id' (t) {
      const id = bodyOf(await upload(11)).track.id
      const a = await call(base, 'DELETE', `/v1/tracks/${id}`)
      t.equal(a.status, 204)
      t.equal(a.text, '', 'no body')
      assertError(t, await call(base, 'GET', `/v1/tracks/${id}`), 'EAR_ERR_TRACK_NOT_FOUND', 'after removal')
    },
    async 'POST /v1/index-jobs' (t) {
      const folder = jobFolder()
      const a = await call(base, 'POST', '/v1/index-jobs', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: folder }) })
      t.equal(a.status, 202)
      const job = bodyOf(a)
      t.same(keys(job), JOB_KEYS)
      t.match(job.id, UUID)
      t.same(job.paths, [folder])
      t.ok(job.state === 'queued' || job.state === 'running', `state ${job.state}`)
      t.equal(a.headers.location, `/v1/index-jobs/${job.id}`)
      await pollUntil(() => call(base, 'GET', `/v1/index-jobs/${job.id}`).then(bodyOf), (j) => j.state === 'done', 20_000, 'the job to finish')
    },
    async 'GET /v1/index-jobs/:id' (t) {
      const folder = jobFolder()
      const id = bodyOf(await call(base, 'POST', '/v1/index-jobs', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ paths: [folder] }) })).id
      const first = await call(base, 'GET', `/v1/index-jobs/${id}`)
      t.equal(first.status, 200)
      t.same(keys(bodyOf(first)), JOB_KEYS, 'the same shape as the POST answer')
      const done = await pollUntil(() => call(base, 'GET', `/v1/index-jobs/${id}`).then(bodyOf), (j) => j.state === 'done' || j.state === 'failed', 20_000, 'the job to finish')
      t.match(done, { id, state: 'done', total: 1, indexed: 1, present: 0, skipped: [], skippedCount: 0, truncated: 0, symlinks: 0, error: null })
      t.ok(done.audioSeconds > 5.9 && done.audioSeconds < 6.1, `${done.audioSeconds} s of audio`)
    },
    async 'GET /v1/index-jobs' (t) {
      const id = bodyOf(await call(base, 'POST', '/v1/index-jobs', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: jobFolder() }) })).id
      const a = await call(base, 'GET', '/v1/index-jobs')
      t.equal(a.status, 200)
      const { jobs } = bodyOf(a)
      t.ok(jobs.every((j: object) => keys(j).join() === JOB_KEYS.join()), 'every job has the shape of the POST answer')
      t.equal(jobs.at(-1).id, id, 'oldest first: the newest job last')
      await pollUntil(() => call(base, 'GET', `/v1/index-jobs/${id}`).then(bodyOf), (j) => j.state === 'done', 20_000, 'the job to finish')
    },
    async 'DELETE /v1/index-jobs/:id' (t) {
      const id = bodyOf(await call(base, 'POST', '/v1/index-jobs', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: jobFolder() }) })).id
      const a = await call(base, 'DELETE', `/v1/index-jobs/${id}`)
      t.equal(a.status, 200)
      const job = bodyOf(a)
      t.same(keys(job), JOB_KEYS)
      t.ok(job.state === 'cancelled' || job.state === 'done', `cancelled, or done had it finished first (${job.state})`)
      t.equal(bodyOf(await call(base, 'GET', `/v1/index-jobs/${id}`)).state, job.state, 'the job keeps that state')
    },
    async 'POST /v1/identify-jobs' (t) {
      const a = await startRecording()
      t.equal(a.status, 202)
      const job = bodyOf(a)
      t.same(keys(job), IDENTIFY_JOB_KEYS)
      t.match(job.id, UUID)
      t.equal(a.headers.location, `/v1/identify-jobs/${job.id}`)
      t.match(job, { name: 'air.wav', bytes: recording.length, durationSeconds: 26, segments: [], error: null })
      const done = await pollUntil(() => call(base, 'GET', `/v1/identify-jobs/${job.id}`).then(bodyOf), (j) => j.state === 'done', 20_000, 'the job to finish')
      t.same(done.segments.map((s: { trackId: number }) => s.trackId), [1, 3], 'song 1, then song 3')
      t.same(keys(done.segments[0]), SEGMENT_KEYS)
      t.match(done, { progress: 1, audioSeconds: 26, cut: false, damaged: null })
      t.match((await call(base, 'GET', '/metrics')).text, /^earshot_identify_jobs_total\{state="done"\} [1-9]/m, 'counted in the metrics')
    },
    async 'GET /v1/identify-jobs/:id' (t) {
      const id = bodyOf(await startRecording()).id
      const done = await pollUntil(() => call(base, 'GET', `/v1/identify-jobs/${id}`).then(bodyOf), (j) => j.state === 'done', 20_000, 'the job to finish')
      t.same(keys(done), IDENTIFY_JOB_KEYS)
      for (const asked of [{ path: `/v1/identify-jobs/${id}?format=csv` }, { path: `/v1/identify-jobs/${id}`, accept: 'text/csv' }]) {
        const a = await call(base, 'GET', asked.path, { headers: asked.accept ? { accept: asked.accept } : {} })
        t.equal(a.status, 200)
        t.match(a.headers['content-type'], /^text\/csv/)
        t.equal(a.headers['content-disposition'], 'attachment; filename="segments.csv"')
        const lines = a.text.trimEnd().split('\r\n')
        t.equal(lines[0], 'startSeconds,endSeconds,trackId,title,artist,album,offsetSeconds,confidence,speed,isrc,externalId,labels')
        t.same(lines.slice(1).map((l) => l.split(',')[2]), ['1', '3'], 'a row per segment')
      }
    },
    async 'GET /v1/identify-jobs' (t) {
      const id = bodyOf(await startRecording()).id
      const a = await call(base, 'GET', '/v1/identify-jobs')
      t.equal(a.status, 200)
      t.same(keys(bodyOf(a)), ['jobs'])
      t.ok(bodyOf(a).jobs.some((j: { id: string }) => j.id === id), 'the new job is listed')
      await pollUntil(() => call(base, 'GET', `/v1/identify-jobs/${id}`).then(bodyOf), (j) => j.state === 'done', 20_000, 'the job to finish')
    },
    async 'DELETE /v1/identify-jobs/:id' (t) {
      const id = bodyOf(await startRecording()).id
      const a = await call(base, 'DELETE', `/v1/identify-jobs/${id}`)
      t.equal(a.status, 200)
      const job = bodyOf(a)
      t.ok(['cancelled', 'done'].includes(job.state), `cancelled, or done before the request: ${job.state}`)
      t.equal(bodyOf(await call(base, 'GET', `/v1/identify-jobs/${id}`)).state, job.state, 'the job keeps that state')
    },
    async 'POST /v1/monitors' (t) {
      const a = await addMonitor()
      t.equal(a.status, 201)
      const m = bodyOf(a)
      t.same(keys(m), MONITOR_KEYS)
      t.match(m.id, UUID)
      t.equal(m.url, `${sourceUrl}?n=${monitors}`)
      t.equal(a.headers.location, `/v1/monitors/${m.id}`)
      await removeMonitor(t, m.id)
    },
    async 'GET /v1/monitors' (t) {
      const m = bodyOf(await addMonitor())
      const a = await call(base, 'GET', '/v1/monitors')
      t.equal(a.status, 200)
      const list = bodyOf(a)
      t.same(keys(list), ['monitors'])
      t.same(list.monitors.map((x: { id: string }) => x.id), [m.id])
      t.same(keys(list.monitors[0]), MONITOR_KEYS)
      await removeMonitor(t, m.id)
    },
    async 'GET /v1/monitors/:id' (t) {
      const m = bodyOf(await addMonitor())
      const a = await call(base, 'GET', `/v1/monitors/${m.id}`)
      t.equal(a.status, 200)
      t.same(keys(bodyOf(a)), MONITOR_KEYS)
      t.match(bodyOf(a), { id: m.id, url: m.url, label: m.label })
      await removeMonitor(t, m.id)
    },
    async 'DELETE /v1/monitors/:id' (t) {
      const m = bodyOf(await addMonitor())
      const a = await call(base, 'DELETE', `/v1/monitors/${m.id}`)
      t.equal(a.status, 204)
      t.equal(a.text, '', 'no body')
      assertError(t, await call(base, 'GET', `/v1/monitors/${m.id}`), 'EAR_ERR_MONITOR_NOT_FOUND', 'after removal')
    },
    async 'GET /v1/plays' (t) {
      const a = await call(base, 'GET', '/v1/plays')
      t.equal(a.status, 200)
      t.same(bodyOf(a), { plays: [], nextCursor: null })
    },
    async 'GET /' (t) {
      const a = await webFile(t, '/', /^text\/html/)
      t.match(a.headers['content-security-policy'], /default-src 'self'/, 'a content security policy')
      t.match(a.text, /<html/i)
    },
    async 'GET /web/app.js' (t) { await webFile(t, '/web/app.js', /^text\/javascript/) },
    async 'GET /web/style.css' (t) { await webFile(t, '/web/style.css', /^text\/css/) },
    async 'GET /sdk/earshot.js' (t) {
      const a = await webFile(t, '/sdk/earshot.js', /^text\/javascript/)
      t.equal(a.headers['access-control-allow-origin'], '*', 'other origins may load the SDK')
    },
    async 'GET /sdk/earshot-worklet.js' (t) {
      const a = await webFile(t, '/sdk/earshot-worklet.js', /^text\/javascript/)
      t.equal(a.headers['access-control-allow-origin'], '*', 'other origins may load the worklet')
    },
    async 'GET /v1/plays/daily' (t) {
      const a = await call(base, 'GET', '/v1/plays/daily?from=2024-01-01T00:00:00Z&to=2024-01-31T00:00:00Z')
      t.equal(a.status, 200)
      t.same(bodyOf(a), { from: '2024-01-01T00:00:00.000Z', to: '2024-01-31T00:00:00.000Z', days: [] })
    },
    async 'POST /v1/webhooks/replay' (t) {
      const json = { 'content-type': 'application/json' }
      const body = JSON.stringify({ from: '2024-01-01T00:00:00Z', to: '2024-01-31T00:00:00Z' })
      assertError(t, await call(base, 'POST', '/v1/webhooks/replay', { headers: json, body }), 'EAR_ERR_BAD_REQUEST', 'replay without a webhook URL')
      // A server with a webhook URL (nothing listens there), on a state of its own.
      const webhooks = { ...apiSettings().webhooks, urls: ['http://127.0.0.1:9/hook'], secret: 'test-secret-with-enough-length' }
      const hooked = await build({ index: catalog.index, settings: { ...apiSettings({ network: { allowedAddresses: LOOPBACK_ADDRESSES } }), webhooks }, transport, stateDir: path.join(dir, 'hooked-state') })
      t.teardown(() => hooked.close())
      const a = await call(`http://127.0.0.1:${await hooked.listen('127.0.0.1', 0)}`, 'POST', '/v1/webhooks/replay', { headers: json, body })
      t.equal(a.status, 202)
      t.same(bodyOf(a), { events: 0, complete: true, next: null })
    },
  }

  t.test('every route answers its documented success', async (t) => {
    for (const route of router.routes) {
      const key = routeKey(route)
      const c = cases[key]
      t.ok(c, `a success case for ${key}`)
      if (c) await t.test(key, c)
    }
    t.same(Object.keys(cases).filter((k) => !router.routes.some((r) => routeKey(r) === k)), [], 'no case for a route that does not exist')
    t.same(Object.keys(PROBES).filter((k) => !router.routes.some((r) => routeKey(r) === k)), [], 'no probe for a route that does not exist')
  })

  t.test('an unknown path is 404 EAR_ERR_NOT_FOUND, whatever the method', async (t) => {
    for (const p of ['/nothing', '/index.html', '/v1', '/v1/', '/v1/trackss', '/v1/tracks/1/extra', '/health/', '/v2/tracks', '/V1/TRACKS', '/web/', '/sdk/other.js']) {
      for (const method of ['GET', 'POST', 'DELETE']) assertError(t, await call(base, method, p), 'EAR_ERR_NOT_FOUND', `${method} ${p}`)
    }
    const head = await call(base, 'HEAD', '/nothing')
    t.equal(head.status, 404, 'HEAD of an unknown path')
    t.equal(head.body.length, 0, 'without a body')
  })

  t.test('a method a path does not take is 405 EAR_ERR_METHOD with an Allow header', async (t) => {
    const patterns = [...new Set(router.routes.map((r) => r.path))]
    for (const pattern of patterns) {
      const concrete = fillPath(pattern, pattern.includes('tracks') ? '1' : UNKNOWN_UUID)
      const allowed = router.routes.filter((r) => new RegExp(`^${r.path.replace(/:[a-zA-Z]+/g, '[^/]+')}$`).test(concrete)).map((r) => r.method)
      for (const method of ['GET', 'POST', 'DELETE', 'PUT', 'PATCH'].filter((m) => !allowed.includes(m as never))) {
        const a = await call(base, method, concrete)
        assertError(t, a, 'EAR_ERR_METHOD', `${method} ${concrete}`)
        const expected = allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed // HEAD is served wherever GET is
        t.same(String(a.headers.allow ?? '').split(/,\s*/).sort(), [...expected].sort(), `${method} ${concrete}: Allow ${expected.join(', ')}`)
      }
    }
  })

  t.test('HEAD answers like GET without a body', async (t) => {
    // These hold the uptime, the free disk space or request counters, which change between two requests.
    const changing = new Set(['GET /health', 'GET /v1/stats', 'GET /metrics'])
    for (const route of router.routes.filter((r) => r.method === 'GET')) {
      const key = routeKey(route)
      const get = await sendProbe(base, route)
      const p = PROBES[key]
      const head = await call(base, 'HEAD', p.path)
      t.equal(head.status, get.status, `HEAD ${p.path}: status ${get.status}`)
      t.equal(head.headers['content-type'], get.headers['content-type'], `HEAD ${p.path}: the same content type`)
      t.equal(head.body.length, 0, `HEAD ${p.path}: no body`)
      if (!changing.has(key)) t.equal(head.headers['content-length'], String(get.body.length), `HEAD ${p.path}: the length of GET's body`)
    }
  })

  t.test('ids: unknown is 404 with the route\'s code, malformed is 400 EAR_ERR_BAD_REQUEST', async (t) => {
    for (const route of router.routes.filter((r) => r.path.includes(':'))) {
      const unknown = UNKNOWN_ID[route.path]
      t.ok(unknown, `an unknown-id case for ${route.path}`)
      if (!unknown) continue
      const p = PROBES[routeKey(route)]
      const opts = { headers: p.headers, body: p.body }
      assertError(t, await call(base, route.method, fillPath(route.path, unknown.id), opts), unknown.code, `${route.method} unknown ${route.path}`)
      for (const bad of MALFORMED_IDS) {
        assertError(t, await call(base, route.method, fillPath(route.path, bad), opts), 'EAR_ERR_BAD_REQUEST', `${route.method} ${fillPath(route.path, bad.slice(0, 24))}`)
      }
    }
  })

  t.test('the server still serves after all that', async (t) => {
    const a = await call(base, 'GET', '/ping')
    t.equal(a.text, 'pong')
    const c = await RawClient.open(wsUrl)
    c.hello()
    await c.next('ready')
    c.ws.close(1000)
    await once(c.ws, 'close')
  })
}

for (const transport of TRANSPORTS) t.test(`the HTTP API over ${transport}`, (t) => suite(t, transport))

t.test('every error answer is {"error":{"code","message"}} with its catalogued status and no stack trace', async (t) => {
  auditErrorAnswers(t)
})
