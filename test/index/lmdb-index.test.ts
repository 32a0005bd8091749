import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { open } from 'lmdb'
import { defaultFingerprint as params } from '../../server/src/config/fingerprint.js'
import { fingerprint, type HashList } from '../../server/src/dsp/pipeline.js'
import { EarshotError } from '../../server/src/errors.js'
import { fingerprintDigest, INDEX_FORMAT_VERSION, LmdbIndex, MAX_LIVE_BUCKET } from '../../server/src/index/lmdb-index.js'
import { childEnv } from '../helpers/child-env.js'
import { lines, until } from '../helpers/child-lines.js'
import { checkTrackPostings, freshIndex, SHARED_HASH, syntheticList, syntheticMeta } from '../helpers/index-data.js'
import { song } from '../helpers/signals.js'

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url))


/** All postings of a hash as "track@frame", sorted. */
function postings (index: LmdbIndex, hash: number): string[] {
  const out: string[] = []
  index.lookup(hash, (track, frame) => out.push(`${track}@${frame}`), Infinity)
  return out.sort()
}

function add (index: LmdbIndex, seed: number, count?: number): { id: number, list: HashList, added: boolean } {
  const list = syntheticList(seed, count)
  const { track, added } = index.addTrack(syntheticMeta(seed, list), list)
  return { id: track.id, list, added }
}

/** Assert an EarshotError with the code. */
function throwsCode (t: Test, fn: () => unknown, code: string, message?: string): void {
  try {
    fn()
    t.fail(`expected ${code}`)
  } catch (err) {
    t.ok(err instanceof EarshotError, `${message ?? code}: an EarshotError`)
    t.equal((err as EarshotError).code, code, message ?? code)
  }
}

t.test('round trip: addTrack, lookup, getTrack, listTracks, stats', async (t) => {
  const { index } = freshIndex(t)
  const a = add(index, 1)
  const b = add(index, 2)
  t.equal(a.id, 1)
  t.equal(b.id, 2)
  t.ok(a.added && b.added)
  t.equal(checkTrackPostings(index, 1, a.list), undefined, 'every posting of track 1')
  t.equal(checkTrackPostings(index, 2, b.list), undefined, 'every posting of track 2')
  // The shared hash's bucket holds both tracks, at the frames they were added with.
  const shared = postings(index, SHARED_HASH)
  t.equal(shared.length, 80)
  t.ok(shared.includes('1@0') && shared.includes('1@3900') && shared.includes('2@100'))
  t.equal(index.lookup(12345, () => t.fail('no postings')), 0, 'an absent hash has no postings')

  const track = index.getTrack(1)
  t.match(track, { id: 1, title: 'track 1', artist: 'test', source: 'synthetic-1', digest: 'digest-1', hashCount: a.list.count, frameCount: 4000 })
  t.ok(!Number.isNaN(Date.parse(track?.indexedAt ?? '')), 'indexedAt is a date')
  t.equal(index.getTrack(3), undefined)
  t.same([...index.listTracks()].map((x) => x.id), [1, 2])
  t.equal(index.findByDigest('digest-2')?.id, 2)
  t.equal(index.findByDigest('nope'), undefined)

  const s = index.stats()
  t.equal(s.tracks, 2)
  t.equal(s.postings, a.list.count + b.list.count)
  t.equal(s.distinctHashes, new Set([...a.list.hashes, ...b.list.hashes]).size)
  t.equal(index.totalFrames(), 8000)
  t.ok(Math.abs(s.audioSeconds - (8000 * params.hopSize) / params.sampleRate) < 1e-9)
  t.ok(s.bytesOnDisk > 0 && s.bytesPerAudioSecond > 0)

  // trackHashes rebuilds the same pairs.
  const rebuilt = index.trackHashes(1)
  const key = (l: HashList): string[] => Array.from(l.hashes.subarray(0, l.count), (h, i) => `${h}@${l.frames[i]}`).sort()
  t.same(rebuilt && key(rebuilt), key(a.list))
  t.equal(index.trackHashes(99), undefined)
})

t.test('a real fingerprint is found at its frames', async (t) => {
  const { index } = freshIndex(t)
  const list = fingerprint(params, song(31, 10, 44100), 44100)
  const { track } = index.addTrack({ title: 's', artist: '', album: '', durationSeconds: 10, source: 's.wav', digest: fingerprintDigest(list) }, list)
  t.equal(track.hashCount, list.count)
  t.equal(checkTrackPostings(index, track.id, list), undefined)
})

t.test('lookup skips a bucket over its limit, and reports its size', async (t) => {
  const { index } = freshIndex(t)
  add(index, 1)
  let visited = 0
  t.equal(index.lookup(SHARED_HASH, () => visited++, 40), 40, 'at the limit: visited')
  t.equal(visited, 40)
  visited = 0
  t.equal(index.lookup(SHARED_HASH, () => visited++, 39), 40, 'one past it: size reported')
  t.equal(visited, 0, 'one past it: nothing visited')
})

t.test(`a live bucket stops growing at MAX_LIVE_BUCKET (${MAX_LIVE_BUCKET})`, async (t) => {
  const { index } = freshIndex(t)
  const n = MAX_LIVE_BUCKET + 1
  const list: HashList = { hashes: new Uint32Array(n).fill(777), frames: Uint32Array.from({ length: n }, (_, i) => i), count: n, frameCount: n }
  const { track } = index.addTrack({ title: 'x', artist: '', album: '', durationSeconds: 1, source: 'x', digest: 'big' }, list)
  t.equal(track.hashCount, MAX_LIVE_BUCKET, 'one past the limit is not stored')
  t.equal(index.stats().postings, MAX_LIVE_BUCKET, 'and not counted')
  t.equal(index.lookup(777, () => {}, Infinity), MAX_LIVE_BUCKET)
  // Another track adds nothing to the full bucket, and its count says so.
  const one: HashList = { hashes: Uint32Array.of(777, 778), frames: Uint32Array.of(0, 0), count: 2, frameCount: 1 }
  t.equal(index.addTrack({ title: 'y', artist: '', album: '', durationSeconds: 1, source: 'y', digest: 'small' }, one).track.hashCount, 1)
  t.equal(index.stats().postings, MAX_LIVE_BUCKET + 1)
})

t.test('a track spanning 2^24 frames or more is refused', async (t) => {
  const { index } = freshIndex(t)
  const list = (frameCount: number): HashList => ({ hashes: Uint32Array.of(5), frames: Uint32Array.of(frameCount - 1), count: 1, frameCount })
  throwsCode(t, () => index.addTrack({ title: 'x', artist: '', album: '', durationSeconds: 1e6, source: 'x', digest: 'long' }, list(2 ** 24)), 'EAR_ERR_AUDIO_TOO_LONG')
  t.equal(index.stats().tracks, 0, 'nothing written')
  t.equal(index.addTrack({ title: 'x', artist: '', album: '', durationSeconds: 1e6, source: 'x', digest: 'just' }, list(2 ** 24 - 1)).added, true, 'one frame less is fine')
  t.same(postings(index, 5), [`1@${2 ** 24 - 2}`])
})

t.test('re-indexing the same digest is a no-op', async (t) => {
  const { index } = freshIndex(t)
  const first = add(index, 1)
  const before = index.stats()
  const list = syntheticList(1)
  const again = index.addTrack({ ...syntheticMeta(1, list), title: 'other title' }, list)
  t.equal(again.added, false)
  t.equal(again.track.id, first.id)
  t.equal(again.track.title, 'track 1', 'the stored track is returned')
  t.same(index.stats(), before, 'totals unchanged')
  t.equal(postings(index, SHARED_HASH).length, 40, 'no duplicate postings')
  t.same([...index.listTracks()].map((x) => x.id), [1])
})

t.test('removeTrack removes the postings and the track', async (t) => {
  const { index } = freshIndex(t)
  const a = add(index, 1)
  const b = add(index, 2)
  const c = add(index, 3)
  t.equal(index.removeTrack(b.id), true)
  t.equal(index.getTrack(b.id), undefined)
  t.equal(index.findByDigest('digest-2'), undefined)
  t.same([...index.listTracks()].map((x) => x.id), [1, 3])
  // Track 2's postings are gone, the others' are untouched, also in shared buckets.
  const left = postings(index, SHARED_HASH)
  t.equal(left.length, 80)
  t.notOk(left.some((p) => p.startsWith('2@')))
  let stray = 0
  for (let i = 0; i < b.list.count; i++) index.lookup(b.list.hashes[i], (track) => { if (track === 2) stray++ }, Infinity)
  t.equal(stray, 0, 'no posting of track 2 left')
  t.equal(checkTrackPostings(index, 1, a.list), undefined)
  t.equal(checkTrackPostings(index, 3, c.list), undefined)
  const s = index.stats()
  t.equal(s.tracks, 2)
  t.equal(s.postings, a.list.count + c.list.count)
  t.equal(s.distinctHashes, new Set([...a.list.hashes, ...c.list.hashes]).size, 'emptied buckets are deleted')
  t.equal(index.totalFrames(), 8000)

  t.equal(index.removeTrack(b.id), false, 'a second time: false')
  t.equal(index.removeTrack(999), false, 'unknown id: false')
  t.equal(index.stats().postings, s.postings, 'and nothing changed')

  // The same audio can be added again; it gets a new id.
  const again = add(index, 2)
  t.equal(again.added, true)
  t.equal(again.id, 4)
  t.equal(checkTrackPostings(index, 4, again.list), undefined)
})

t.test('the index persists across close and reopen', async (t) => {
  const dir = path.join(t.testdir(), 'db')
  const index = LmdbIndex.open(dir, params)
  const a = add(index, 1)
  add(index, 2)
  index.removeTrack(2)
  const before = index.stats()
  await index.close()
  const again = LmdbIndex.open(dir, params, { readOnly: true })
  t.teardown(() => again.close())
  t.same({ ...again.stats(), bytesOnDisk: 0, bytesPerAudioSecond: 0 }, { ...before, bytesOnDisk: 0, bytesPerAudioSecond: 0 })
  t.equal(checkTrackPostings(again, 1, a.list), undefined)
  t.same([...again.listTracks()].map((x) => x.id), [1])
})

t.test('opening with other fingerprint parameters is refused', async (t) => {
  const dir = path.join(t.testdir(), 'db')
  const index = LmdbIndex.open(dir, params)
  add(index, 1)
  await index.close()
  for (const change of [{ fanout: 5 }, { hopSize: 512 }, { minPeakLogPower: -22 }]) {
    const name = Object.keys(change)[0]
    try {
      LmdbIndex.open(dir, { ...params, ...change })
      t.fail(`${name}: expected EAR_ERR_INDEX_PARAMS`)
    } catch (err) {
      t.ok(err instanceof EarshotError, `${name}: EarshotError`)
      t.equal((err as EarshotError).code, 'EAR_ERR_INDEX_PARAMS', `${name}: code`)
      t.match((err as Error).message, name, `${name}: the message names the parameter`)
    }
  }
  throwsCode(t, () => LmdbIndex.open(dir, { ...params, fanout: 5 }, { readOnly: true }), 'EAR_ERR_INDEX_PARAMS', 'read-only too')
  // The refused opens changed nothing.
  const again = LmdbIndex.open(dir, params)
  t.teardown(() => again.close())
  t.equal(again.stats().tracks, 1)
})

t.test('an index of another format version is refused', async (t) => {
  const dir = path.join(t.testdir(), 'db')
  await LmdbIndex.open(dir, params).close()
  const root = open({ path: dir, maxDbs: 8 })
  await root.openDB('meta', { encoding: 'msgpack' }).put('formatVersion', INDEX_FORMAT_VERSION + 1)
  await root.close()
  throwsCode(t, () => LmdbIndex.open(dir, params), 'EAR_ERR_INDEX_FORMAT')
})

t.test('read-only open of a folder with no index is EAR_ERR_INDEX_OPEN', async (t) => {
  const dir = t.testdir()
  throwsCode(t, () => LmdbIndex.open(path.join(dir, 'none'), params, { readOnly: true }), 'EAR_ERR_INDEX_OPEN')
  t.notOk(fs.existsSync(path.join(dir, 'none')), 'nothing created')
})

t.test('backup writes a snapshot that openBackup reads; other files are EAR_ERR_IMPORT', async (t) => {
  const { index } = freshIndex(t)
  const a = add(index, 1)
  add(index, 2)
  const file = path.join(t.testdir(), 'backup.mdb')
  await index.backup(file)
  add(index, 3) // after the snapshot
  const copy = LmdbIndex.openBackup(file, params)
  t.teardown(() => copy.close())
  t.same([...copy.listTracks()].map((x) => x.id), [1, 2])
  t.equal(checkTrackPostings(copy, 1, a.list), undefined)

  const text = path.join(path.dirname(file), 'not-a-backup.mdb')
  fs.writeFileSync(text, 'x'.repeat(5000))
  throwsCode(t, () => LmdbIndex.openBackup(text, params), 'EAR_ERR_IMPORT', 'a text file')
  const tiny = path.join(path.dirname(file), 'tiny.mdb')
  fs.writeFileSync(tiny, 'x')
  throwsCode(t, () => LmdbIndex.openBackup(tiny, params), 'EAR_ERR_IMPORT', 'a file shorter than a header')
})

t.test('a reader in another process sees consistent data while this process writes', async (t) => {
  const { index, dir } = freshIndex(t)
  const size = 6000 // sizeable tracks: each transaction takes a while, so reads land during writes
  add(index, 1, size)
  const child = spawn(process.execPath, [path.join(fixtures, 'index-reader.js'), dir, String(size)], { stdio: ['pipe', 'pipe', 'inherit'], env: childEnv() })
  t.teardown(() => { if (child.exitCode === null) child.kill() })
  const out = lines(child)
  await until(out, (l) => l === 'saw 1')
  const tracks = 15
  for (let seed = 2; seed <= tracks; seed++) {
    add(index, seed, size)
    // Wait for the reader to see this track, so it sees every state; it keeps reading during the next write.
    await until(out, (l) => l === `saw ${seed}`)
  }
  child.stdin!.end()
  const summary = JSON.parse(await until(out, (l) => l.startsWith('{'))) as { reads: number, seen: number[], errors: string[], errorCount: number }
  t.same(summary.errors, [], 'no inconsistent read')
  t.equal(summary.errorCount, 0)
  t.same(summary.seen, Array.from({ length: tracks }, (_, i) => i + 1), 'the reader saw every track count, in order')
  t.ok(summary.reads >= tracks)
})

t.test('a writer killed with SIGKILL mid-way leaves every track complete', async (t) => {
  const dir = path.join(t.testdir(), 'db')
  const size = 30000
  const child = spawn(process.execPath, [path.join(fixtures, 'index-writer.js'), dir, '200', String(size)], { stdio: ['pipe', 'pipe', 'inherit'], env: childEnv() })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
  await until(lines(child), (l) => l === 'added 8')
  child.kill('SIGKILL')
  t.equal(await exited, 'SIGKILL', 'the writer was killed')

  const index = LmdbIndex.open(dir, params)
  t.teardown(() => index.close())
  const tracks = [...index.listTracks()]
  t.ok(tracks.length >= 8, `${tracks.length} tracks survived`)
  t.same(tracks.map((x) => x.id), tracks.map((_, i) => i + 1), 'ids 1..n, none missing')
  const distinct = new Set<number>()
  let complete = 0
  let sum = 0
  for (const track of tracks) {
    const seed = Number(track.source.split('-')[1])
    const list = syntheticList(seed, size)
    if (track.hashCount === list.count && checkTrackPostings(index, track.id, list) === undefined) complete++
    sum += track.hashCount
    for (const h of list.hashes) distinct.add(h)
  }
  t.equal(complete, tracks.length, 'every listed track has all its postings and nothing else')
  // Nothing of the track being written when the kill came.
  const next = syntheticList(tracks.length + 1, size)
  let stray = 0
  for (let i = 0; i < next.count; i++) index.lookup(next.hashes[i], (id) => { if (id > tracks.length) stray++ }, Infinity)
  t.equal(stray, 0, 'no postings of an unlisted track')
  const s = index.stats()
  t.equal(s.tracks, tracks.length, 'track total')
  t.equal(s.postings, sum, 'postings total')
  t.equal(s.distinctHashes, distinct.size, 'distinct hashes')
  t.equal(index.totalFrames(), 4000 * tracks.length, 'frames total')
  // And the index takes writes again.
  const more = add(index, 5000, 100)
  t.equal(more.id, tracks.length + 1)
  t.equal(checkTrackPostings(index, more.id, more.list), undefined)
})
