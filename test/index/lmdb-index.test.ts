import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { open } from 'lmdb'
import { defaultFingerprint as params } from '../../server/src/config/fingerprint.js'
import type { HashList } from '../../server/src/dsp/pipeline.js'
import { EarshotError } from '../../server/src/errors.js'
import { INDEX_FORMAT_VERSION, LmdbIndex } from '../../server/src/index/lmdb-index.js'
import { childEnv, spawnNode } from '../helpers/child-env.js'
import { lines, until } from '../helpers/child-lines.js'
import { addSynthetic, checkTrackPostings, freshIndex, syntheticList, syntheticMeta, throwsCode } from '../helpers/index-data.js'

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url))


const add = addSynthetic

t.test('stats read the file; trackHashes rebuilds a track\'s pairs', async (t) => {
  const { index } = freshIndex(t)
  const a = add(index, 1)
  add(index, 2)
  const s = index.stats()
  t.ok(s.bytesOnDisk > 0 && s.bytesPerAudioSecond > 0)
  const rebuilt = index.trackHashes(1)
  const key = (l: HashList): string[] => Array.from(l.hashes.subarray(0, l.count), (h, i) => `${h}@${l.frames[i]}`).sort()
  t.same(rebuilt && key(rebuilt), key(a.list))
  t.equal(index.trackHashes(99), undefined)
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

t.test('query-side parameters are not stored: an index opens whatever they are', async (t) => {
  const dir = path.join(t.testdir(), 'db')
  const index = LmdbIndex.open(dir, params)
  add(index, 1)
  await index.close()
  const other = LmdbIndex.open(dir, { ...params, queryFanout: params.queryFanout + 1, clipFanout: params.clipFanout + 1, clipPeaksPerBlock: 3, clipPeakFrameRadius: 2 })
  t.equal(other.stats().tracks, 1)
  await other.close()
  // An index made before they were left out stored queryFanout (and nothing of the clip's): it opens too.
  const root = open({ path: dir, maxDbs: 8 })
  const meta = root.openDB('meta', { encoding: 'msgpack' })
  const old: Record<string, unknown> = { ...params, queryFanout: 4 }
  for (const k of ['clipFanout', 'clipPeaksPerBlock', 'clipPeakFrameRadius']) delete old[k]
  await meta.put('params', old)
  await root.close()
  const again = LmdbIndex.open(dir, params, { readOnly: true })
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
  const child = spawnNode([path.join(fixtures, 'index-reader.js'), dir, String(size)], { stdio: ['pipe', 'pipe', 'inherit'], env: childEnv() })
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
  const child = spawnNode([path.join(fixtures, 'index-writer.js'), dir, '200', String(size)], { stdio: ['pipe', 'pipe', 'inherit'], env: childEnv() })
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

t.test('catalog metadata: an index written without it opens as it is, gains it, and keeps it across a reopen', async (t) => {
  const dir = path.join(t.testdir(), 'db')
  // Rows as every earshot before catalog metadata wrote them: no isrc, externalId, labels, and no code keys.
  const old = LmdbIndex.open(dir, params)
  add(old, 1)
  add(old, 2)
  await old.close()
  const index = LmdbIndex.open(dir, params)
  t.equal(index.getTrack(1)?.isrc, undefined, 'an old row reads without the fields')
  t.same(index.tracksWith('isrc', 'USRC17607839'), [])
  index.updateTrack(1, (x) => ({ ...x, isrc: 'USRC17607839', labels: { genre: 'jazz' } }))
  index.updateTrack(2, (x) => ({ ...x, isrc: 'USRC17607839', externalId: 'cat-2' }))
  await index.close()
  const reader = LmdbIndex.open(dir, params, { readOnly: true })
  t.same(reader.tracksWith('isrc', 'USRC17607839').map((x) => x.id), [1, 2], 'the lookup is stored with the rows')
  t.same(reader.getTrack(1)?.labels, { genre: 'jazz' })
  await reader.close()

  // An earshot from before the lookups removes a track: its row goes, its code key stays. It is skipped.
  const raw = open({ path: dir, maxDbs: 10_000 })
  raw.openDB<unknown, number>('tracks', { keyEncoding: 'uint32', encoding: 'msgpack' }).removeSync(2)
  await raw.close()
  const after = LmdbIndex.open(dir, params)
  t.teardown(() => after.close())
  t.same(after.tracksWith('isrc', 'USRC17607839').map((x) => x.id), [1], 'a code key of a removed row is skipped')
  t.same(after.tracksWith('externalId', 'cat-2'), [])
})

t.test('catalog metadata: a bulk load writes the code keys and removes the tracks it replaces in its commit', async (t) => {
  const { index } = freshIndex(t)
  const first = add(index, 1)
  const bulk = index.bulkWriter()
  const list = syntheticList(5)
  const r = bulk.add({ ...syntheticMeta(5, list), isrc: 'GBAYE0601498' }, list, first.id)
  t.ok(r.added)
  t.ok(index.getTrack(first.id), 'the old track stays until the run is committed')
  bulk.finish()
  t.equal(index.getTrack(first.id), undefined, 'the commit removes it')
  t.same(index.tracksWith('isrc', 'GBAYE0601498').map((x) => x.id), [r.track.id])
  t.equal(checkTrackPostings(index, r.track.id, list), undefined)
  t.equal(index.stats().tracks, 1)
})

t.test('lookups check for changes once a turn, and still see every write of this process at once', async (t) => {
  const { index, dir } = freshIndex(t)
  const a = add(index, 1)
  index.maintain({ compact: true })
  t.equal(index.stats().livePostings, 0, 'track 1 lives in a segment; the live part is empty')
  // One synchronous run: the first lookup marks the live part empty for this turn; the writes after it must clear that.
  const firstLookup = checkTrackPostings(index, 1, a.list)
  const b = add(index, 2)
  const addedToLive = checkTrackPostings(index, 2, b.list)
  index.removeTrack(1)
  let removedSeen = 0
  for (const hash of a.list.hashes.subarray(0, a.list.count)) index.lookup(hash, (id) => { if (id === 1) removedSeen++ })
  index.flushLive()
  const flushed = checkTrackPostings(index, 2, b.list)
  t.equal(firstLookup, undefined, 'track 1 found in its segment')
  t.equal(addedToLive, undefined, 'a track added to the empty live part is found in the same turn')
  t.equal(removedSeen, 0, 'a removed track is gone in the same turn')
  t.equal(flushed, undefined, 'a flushed track is found in its new segment in the same turn')

  // Another handle on the folder sees a write on its next turn.
  const reader = LmdbIndex.open(dir, params, { readOnly: true })
  t.teardown(() => reader.close())
  t.equal(checkTrackPostings(reader, 2, b.list), undefined)
  const c = add(index, 3)
  await new Promise((resolve) => setTimeout(resolve, 0))
  t.equal(checkTrackPostings(reader, 3, c.list), undefined, 'the other handle finds the new track a turn later')
})
