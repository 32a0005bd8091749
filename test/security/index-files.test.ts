/**
 * What index jobs read (issue 10, findings 3, 7 and 14): only regular files, symbolic links in folders counted and not
 * followed, ELOOP and EACCES with codes of their own, truncated files refused and counted, a bounded queue, and
 * cancellation (DELETE /v1/index-jobs/:id, `earshot jobs cancel`). Over both transports, on a real LMDB index.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import type { TransportName } from '../../server/src/transport/types.js'
import { LmdbIndex } from '../../server/src/index/lmdb-index.js'
import { defaultFingerprint } from '../../server/src/config/fingerprint.js'
import { song, wavBytes, writeWav } from '../helpers/signals.js'
import { startServer, TRANSPORTS } from '../helpers/stream-helpers.js'
import { apiSettings, assertError, auditErrorAnswers, bodyOf, call, pollUntil } from '../helpers/api-helpers.js'
import { childEnv, runEarshot } from '../helpers/child-env.js'
import { earshotInProcess } from '../helpers/cli-in-process.js'

const RATE = 44100
const JOB_TIMEOUT_MS = 30_000
const JSON_TYPE = { 'content-type': 'application/json' }
const haveFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0
const isRoot = process.getuid?.() === 0

const dir = t.testdir()
const at = (...p: string[]): string => path.join(dir, ...p)

// The files: special files, links, truncated audio, and a big folder (hard links of one minute) for a long job.
fs.mkdirSync(at('music'))
writeWav(at('music', 'song-1.wav'), song(1, 8, RATE), RATE)
fs.symlinkSync('song-1.wav', at('music', 'link.wav')) // a link to a file: counted, not followed
fs.symlinkSync('.', at('music', 'again')) // a link to its own folder: a walk that followed it would not end
spawnSync('mkfifo', [at('music', 'pipe.wav')])
spawnSync('mkfifo', [at('fifo.wav')])
fs.mkdirSync(at('loops'))
fs.symlinkSync('loop-b', at('loops', 'loop-a'))
fs.symlinkSync('loop-a', at('loops', 'loop-b'))
fs.mkdirSync(at('big'))
writeWav(at('big', 'minute-0.wav'), song(2, 60, RATE), RATE)
for (let i = 1; i < 24; i++) fs.linkSync(at('big', 'minute-0.wav'), at('big', `minute-${i}.wav`))

fs.mkdirSync(at('cut'))
const full = wavBytes(song(3, 8, RATE), RATE)
fs.writeFileSync(at('cut', 'half.wav'), full.subarray(0, 44 + 4 * RATE * 2)) // the header says 8 s, 4 s follow
if (haveFfmpeg) {
  // Three different songs: one recording in three formats would be one track and two copies of it.
  for (const [k, ext] of ['flac', 'ogg', 'mp3'].entries()) {
    const whole = at(`whole-${ext}.${ext}`)
    const source = at(`whole-${ext}.wav`)
    writeWav(source, song(4 + k, 20, RATE), RATE)
    const r = spawnSync('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-i', source, '-y', whole])
    fs.unlinkSync(source)
    if (r.status !== 0) throw new Error(`ffmpeg: ${r.stderr.toString()}`)
    const bytes = fs.readFileSync(whole)
    fs.writeFileSync(at('cut', `half.${ext}`), bytes.subarray(0, Math.floor(bytes.length / 2)))
  }
}

async function runJob (base: string, body: unknown): Promise<Record<string, any>> {
  const a = await call(base, 'POST', '/v1/index-jobs', { headers: JSON_TYPE, body: JSON.stringify(body) })
  if (a.status !== 202) throw new Error(`POST /v1/index-jobs answered ${a.status}: ${a.text}`)
  const { id } = bodyOf(a)
  return pollUntil(() => call(base, 'GET', `/v1/index-jobs/${id}`).then(bodyOf), (j) => j.state !== 'queued' && j.state !== 'running', JOB_TIMEOUT_MS, 'the job to end')
}

function reasonOf (job: Record<string, any>, file: string): string | undefined {
  return (job.skipped as Array<{ file: string, reason: string }>).find((s) => s.file === file)?.reason
}

let server: net.Server | undefined
t.before(async () => {
  server = net.createServer().listen(at('sock.wav'))
  await new Promise((resolve) => server!.once('listening', resolve))
})
t.teardown(() => { server?.close() })

async function suite (t: Test, transport: TransportName): Promise<void> {
  const index = LmdbIndex.open(at(`db-${transport}`), defaultFingerprint)
  t.teardown(() => index.close())
  const settings = apiSettings()
  const { http: base } = await startServer(t, transport, index, { ...settings, catalog: { ...settings.catalog, maxQueuedJobs: 1 } })

  t.test('devices, FIFOs and sockets are refused at once; links in folders are counted, not followed; a link loop is EAR_ERR_FILE_LOOP', async (t) => {
    const job = await runJob(base, { paths: ['/dev/zero', at('fifo.wav'), at('sock.wav'), at('loops', 'loop-a'), at('music')] })
    t.match(job, { state: 'done', total: 1, indexed: 1, skippedCount: 5, symlinks: 2, truncated: 0, error: null })
    t.match(reasonOf(job, '/dev/zero'), /^EAR_ERR_FILE_NOT_REGULAR: .*a device/)
    t.match(reasonOf(job, at('fifo.wav')), /^EAR_ERR_FILE_NOT_REGULAR: .*a FIFO/)
    t.match(reasonOf(job, at('sock.wav')), /^EAR_ERR_FILE_NOT_REGULAR: .*a socket/)
    t.match(reasonOf(job, at('music', 'pipe.wav')), /^EAR_ERR_FILE_NOT_REGULAR: /, 'a FIFO inside a folder too')
    t.match(reasonOf(job, at('loops', 'loop-a')), /^EAR_ERR_FILE_LOOP: /)
    t.equal(index.stats().tracks, 1, 'the one regular file, once')
  })

  t.test('a folder the server may not read is EAR_ERR_FILE_DENIED', { skip: isRoot && 'root reads every folder' }, async (t) => {
    const closed = at(`closed-${transport}`)
    fs.mkdirSync(closed)
    fs.chmodSync(closed, 0)
    t.teardown(() => fs.chmodSync(closed, 0o755))
    const job = await runJob(base, { path: closed })
    t.match(reasonOf(job, closed), /^EAR_ERR_FILE_DENIED: /)
  })

  t.test('truncated files are refused with EAR_ERR_AUDIO_TRUNCATED and counted; whole ones are indexed', async (t) => {
    const before = index.stats().tracks
    const wholes = haveFfmpeg ? ['flac', 'ogg', 'mp3'].map((ext) => at(`whole-${ext}.${ext}`)) : []
    const job = await runJob(base, { paths: [at('cut'), ...wholes] })
    const cut = fs.readdirSync(at('cut')).length
    t.match(job, { state: 'done', indexed: wholes.length, skippedCount: cut, truncated: cut })
    for (const name of fs.readdirSync(at('cut'))) t.match(reasonOf(job, at('cut', name)), /^EAR_ERR_AUDIO_TRUNCATED: /, `${name} is truncated`)
    t.equal(index.stats().tracks, before + wholes.length, 'nothing of the truncated files is in the index')
    if (!haveFfmpeg) t.comment('ffmpeg is not installed: only the WAV case ran')
  })

  t.test('the queue is bounded; queued and running jobs are cancelled; the server goes on', async (t) => {
    const start = (): Promise<ReturnType<typeof call> extends Promise<infer A> ? A : never> =>
      call(base, 'POST', '/v1/index-jobs', { headers: JSON_TYPE, body: JSON.stringify({ path: at('big') }) })
    const first = bodyOf(await start())
    const second = bodyOf(await start())
    assertError(t, await start(), 'EAR_ERR_JOB_QUEUE_FULL', 'a second job waiting, maxQueuedJobs 1')
    const { jobs } = bodyOf(await call(base, 'GET', '/v1/index-jobs'))
    t.same(jobs.filter((j: { id: string }) => j.id === first.id || j.id === second.id).map((j: { state: string }) => j.state), ['running', 'queued'])

    const queued = await call(base, 'DELETE', `/v1/index-jobs/${second.id}`)
    t.equal(queued.status, 200)
    t.match(bodyOf(queued), { state: 'cancelled', startedAt: null, indexed: 0 }, 'a queued job leaves the queue')
    const running = await call(base, 'DELETE', `/v1/index-jobs/${first.id}`)
    t.equal(running.status, 200)
    const stopped = bodyOf(running)
    t.equal(stopped.state, 'cancelled', 'a running job stops before the answer')
    t.ok(stopped.indexed + stopped.present < 24, `it stopped part way (${stopped.indexed + stopped.present} of 24 files)`)
    t.match(bodyOf(await call(base, 'DELETE', `/v1/index-jobs/${first.id}`)), { state: 'cancelled' }, 'cancelling again changes nothing')
    assertError(t, await call(base, 'DELETE', '/v1/index-jobs/00000000-0000-4000-8000-000000000000'), 'EAR_ERR_JOB_NOT_FOUND', 'an unknown job')
    assertError(t, await call(base, 'DELETE', '/v1/index-jobs/nope'), 'EAR_ERR_BAD_REQUEST', 'not a UUID')

    const after = await runJob(base, { path: at('music', 'song-1.wav') })
    t.match(after, { state: 'done', present: 1 }, 'the next job runs')
  })
}

for (const transport of TRANSPORTS) t.test(`index jobs over ${transport}`, (t) => suite(t, transport))

t.test('earshot index and identify refuse devices, FIFOs and sockets with a code, and the summary counts links and truncated files', async (t) => {
  // In this process (runCli, as the program calls it), but for the first refusal: the program itself, as a user runs it.
  const run = (args: string[]) => earshotInProcess(dir, [...args, '--db', 'cli-db'])
  const child = (args: string[]) => runEarshot(dir, [...args, '--db', 'cli-db'], childEnv({}, ['EARSHOT_DB']))
  for (const input of ['/dev/zero', 'fifo.wav', 'sock.wav']) {
    const r = await (input === '/dev/zero' ? child : run)(['index', input])
    t.equal(r.code, 1, `index ${input}: exit 1`)
    t.match(r.stderr, new RegExp(`^skipped ${input.replace(/[.\\/]/g, '\\$&')}: EAR_ERR_FILE_NOT_REGULAR: `, 'm'), `index ${input}: EAR_ERR_FILE_NOT_REGULAR`)
    const id = await run(['identify', input])
    t.equal(id.code, 1, `identify ${input}: exit 1`)
    t.match(id.stderr, /^earshot: EAR_ERR_FILE_NOT_REGULAR: /, `identify ${input}: EAR_ERR_FILE_NOT_REGULAR`)
  }
  const loop = await run(['index', path.join('loops', 'loop-a')])
  t.match(loop.stderr, /EAR_ERR_FILE_LOOP: /)
  const music = await run(['index', 'music'])
  t.equal(music.code, 0)
  t.match(music.stdout, /^indexed 1, already present 0, skipped 1; .*; 2 symbolic links in folders not followed$/m)
  const cut = await run(['index', 'cut', 'music'])
  const n = fs.readdirSync(at('cut')).length
  t.match(cut.stdout, new RegExp(`; ${n} truncated or damaged \\(still being copied\\?\\), not indexed;`), 'the summary says how many were truncated')
  t.match(cut.stderr, /^skipped cut\/half\.wav: EAR_ERR_AUDIO_TRUNCATED: .*4\.0 s of audio where the header declares 8\.0 s/m)
})

t.test('earshot jobs list, show and cancel over the HTTP API', async (t) => {
  const index = LmdbIndex.open(at('db-jobs'), defaultFingerprint)
  t.teardown(() => index.close())
  const { http: base } = await startServer(t, 'ws', index, apiSettings())
  const earshot = (...args: string[]) => earshotInProcess(dir, [...args, '--server', base])
  t.match((await earshot('jobs', 'list')).stdout, /^no index jobs$/m)
  const job = bodyOf(await call(base, 'POST', '/v1/index-jobs', { headers: JSON_TYPE, body: JSON.stringify({ path: at('big') }) }))
  const list = await earshot('jobs', 'list', '--json')
  t.equal(list.code, 0, list.stderr)
  t.same(JSON.parse(list.stdout).jobs.map((j: { id: string }) => j.id), [job.id])
  const cancel = await earshot('jobs', 'cancel', job.id)
  t.equal(cancel.code, 0, cancel.stderr)
  t.match(cancel.stdout, new RegExp(`^${job.id}  cancelled  `))
  t.match((await earshot('jobs', 'show', job.id)).stdout, /cancelled/)
  const unknown = await earshot('jobs', 'cancel', '00000000-0000-4000-8000-000000000000')
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /^earshot: EAR_ERR_API: The server answered 404 EAR_ERR_JOB_NOT_FOUND: /)
})

t.test('every error answer is {"error":{"code","message"}} with its catalogued status and no stack trace', async (t) => {
  auditErrorAnswers(t)
})
