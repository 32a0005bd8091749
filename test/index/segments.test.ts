import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { open } from 'lmdb'
import { defaultFingerprint as params } from '../../server/src/config/fingerprint.js'
import type { HashList } from '../../server/src/dsp/pipeline.js'
import type { EarshotError } from '../../server/src/errors.js'
import { INDEX_FORMAT_VERSION, LmdbIndex } from '../../server/src/index/lmdb-index.js'
import { BucketEncoder, MAX_BUCKET_POSTINGS, PART_BYTES, bucketCount, decodePart, hashOfKey, headerBytes } from '../../server/src/index/segment-codec.js'
import { childEnv, runEarshot, spawnNode } from '../helpers/child-env.js'
import { earshotInProcess } from '../helpers/cli-in-process.js'
import { lines, until } from '../helpers/child-lines.js'
import { checkTrackPostings, freshIndex, SHARED_HASH, syntheticList, syntheticMeta } from '../helpers/index-data.js'
import { prng } from '../helpers/signals.js'

// Segments: the codec on its own, then bulk loads, merges, removals and crashes against a real LMDB. The other
// processes are real (a reader, a writer killed with -9, a lookup of a damaged index, and `earshot check` on it); the
// other earshot commands run in this process (runCli, as the program calls it), which is another process than the
// reader's for `earshot compact` too.
const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url))


/** Encode a bucket and decode its parts back. */
function roundTrip (hash: number, tracks: number[], frames: number[]): { tracks: number[], frames: number[], parts: number, stored: number, maxPart: number } {
  const parts: Array<{ key: number, bytes: Buffer }> = []
  const stored = new BucketEncoder().encode(hash, tracks, frames, 0, tracks.length, (key, bytes) => parts.push({ key, bytes: Buffer.from(bytes) }))
  const outT = new Uint32Array(stored)
  const outF = new Uint32Array(stored)
  let n = 0
  parts.forEach(({ key, bytes }, i) => {
    if (hashOfKey(key) !== hash) throw new Error('part of another hash')
    n = decodePart(bytes, i === 0 ? headerBytes(bucketCount(bytes)) : 0, outT, outF, n)
  })
  if (bucketCount(parts[0].bytes) !== stored || n !== stored) throw new Error(`count ${bucketCount(parts[0].bytes)}, decoded ${n}, stored ${stored}`)
  return { tracks: [...outT], frames: [...outF], parts: parts.length, stored, maxPart: Math.max(...parts.map((p) => p.bytes.length)) }
}

t.test('a bucket round-trips through the codec, cut into parts that fit a page', async (t) => {
  const rand = prng(9)
  for (const size of [1, 2, 300, 5000, 40_000]) {
    const pairs: Array<[number, number]> = []
    for (let i = 0; i < size; i++) pairs.push([1 + Math.floor(rand() * 2 ** 32 - 2), Math.floor(rand() * 2 ** 24)])
    pairs.sort((x, y) => x[0] - y[0] || x[1] - y[1])
    const r = roundTrip(8_000_000, pairs.map((p) => p[0]), pairs.map((p) => p[1]))
    t.same(r.tracks, pairs.map((p) => p[0]), `${size} postings: tracks`)
    t.same(r.frames, pairs.map((p) => p[1]), `${size} postings: frames`)
    t.ok(r.maxPart <= PART_BYTES, `${size} postings in ${r.parts} parts of at most ${PART_BYTES} bytes`)
  }
  // One track many times (frame differences), and ids and frames at their limits.
  const r = roundTrip(0, [1, 1, 1, 2 ** 32 - 1], [0, 5, 2 ** 24 - 1, 2 ** 24 - 1])
  t.same([r.tracks, r.frames], [[1, 1, 1, 2 ** 32 - 1], [0, 5, 2 ** 24 - 1, 2 ** 24 - 1]])
  const deep = roundTrip(3, Array.from({ length: MAX_BUCKET_POSTINGS + 5 }, (_, i) => i + 1), new Array(MAX_BUCKET_POSTINGS + 5).fill(7))
  t.equal(deep.stored, MAX_BUCKET_POSTINGS, 'a bucket keeps at most MAX_BUCKET_POSTINGS')
})

/** Load tracks 1..n through the bulk writer in runs of `run` postings; returns their lists by id. */
function bulkLoad (index: LmdbIndex, seeds: number[], run: number, size = 2000): Map<number, HashList> {
  const bulk = index.bulkWriter({ runPostings: run })
  const lists = new Map<number, HashList>()
  for (const seed of seeds) {
    const list = syntheticList(seed, size)
    const r = bulk.add(syntheticMeta(seed, list), list)
    if (r.added) lists.set(r.track.id, list)
  }
  bulk.finish()
  return lists
}

function allComplete (t: Test, index: LmdbIndex, lists: Map<number, HashList>, what: string): void {
  const problems = [...lists].map(([id, list]) => checkTrackPostings(index, id, list)).filter((p) => p !== undefined)
  t.same(problems, [], `${what}: every track has exactly its postings`)
  t.equal(index.stats().tracks, lists.size, `${what}: ${lists.size} tracks`)
  t.equal(index.stats().postings, [...lists.values()].reduce((s, l) => s + l.count, 0), `${what}: postings total`)
}

t.test('bulk loads write runs as segments; lookups equal those of tracks added one by one', async (t) => {
  const { index: a, dir } = freshIndex(t)
  const b = LmdbIndex.open(path.join(path.dirname(dir), 'one-by-one'), params)
  t.teardown(() => b.close())
  const seeds = Array.from({ length: 30 }, (_, i) => i + 1)
  const lists = bulkLoad(a, seeds, 15_000)
  for (const seed of seeds) { const l = syntheticList(seed); b.addTrack(syntheticMeta(seed, l), l) }
  t.equal(a.stats().segments, 5, 'runs of 15,000 postings: 30 tracks of 2,020 in 5 segments (6 tracks a run)')
  t.equal(a.stats().livePostings, 0, 'nothing in the live part')
  allComplete(t, a, lists, 'bulk')
  const visit = (index: LmdbIndex, hash: number): string[] => {
    const out: string[] = []
    index.lookup(hash, (track, frame) => out.push(`${track}@${frame}`))
    return out.sort()
  }
  t.same(visit(a, SHARED_HASH), visit(b, SHARED_HASH), 'the shared bucket is the same')
  t.equal(a.lookup(SHARED_HASH, () => t.fail('visited'), 10), 30 * 40, 'a deep bucket is counted, not visited, past the limit')
  // The same audio again, in this load or another: not added.
  const again = a.bulkWriter()
  const l1 = syntheticList(1)
  t.equal(again.add(syntheticMeta(1, l1), l1).added, false, 'a digest already indexed')
  const l99 = syntheticList(99)
  t.equal(again.add(syntheticMeta(99, l99), l99).added, true)
  t.equal(again.add(syntheticMeta(99, l99), l99).added, false, 'a digest already in this load')
  again.finish()
  t.equal(a.stats().tracks, 31)
})

t.test('merges keep every posting, drop removed tracks, and leave one segment after compaction', async (t) => {
  const { index } = freshIndex(t)
  const lists = bulkLoad(index, Array.from({ length: 40 }, (_, i) => i + 1), 10_000)
  for (let seed = 41; seed <= 45; seed++) {
    const l = syntheticList(seed)
    lists.set(index.addTrack(syntheticMeta(seed, l), l).track.id, l)
  }
  const before = index.stats()
  t.ok(before.segments! >= 8, `${before.segments} segments`)
  // Removal before a merge: a tombstone for a segment track, a plain delete for a live one.
  index.removeTrack(3)
  lists.delete(3)
  index.removeTrack(43)
  lists.delete(43)
  t.equal(index.stats().tombstones, 1, 'one tombstone (track 3 is in a segment, 43 was live)')
  allComplete(t, index, lists, 'after removals')
  let removedSeen = 0
  for (const h of syntheticList(3).hashes) index.lookup(h, (id) => { if (id === 3) removedSeen++ })
  t.equal(removedSeen, 0, 'a removed track is not visited')

  const tiered = index.maintain()
  t.ok(tiered.merges >= 1, `tiered maintenance merged ${tiered.merges} times`)
  allComplete(t, index, lists, 'after tiered merges')
  const compacted = index.maintain({ compact: true })
  t.ok(compacted.flushed > 0, 'the live part was flushed')
  const after = index.stats()
  t.equal(after.segments, 1, 'one segment')
  t.equal(after.tombstones, 0, 'the tombstone was applied')
  t.equal(after.livePostings, 0)
  allComplete(t, index, lists, 'after compaction')

  // Removal after a merge, then another compaction.
  index.removeTrack(10)
  lists.delete(10)
  index.maintain({ compact: true })
  t.equal(index.stats().tombstones, 0)
  allComplete(t, index, lists, 'after a removal and a second compaction')
  t.same(index.maintain(), { flushed: 0, merges: 0, abandoned: 0 }, 'nothing left to do')

  // Export reads every track back, in batches.
  const back = new Map<number, number>()
  for (const { track, list } of index.fingerprints(0, 7000)) back.set(track.id, list.count)
  t.same([...back.entries()].sort((x, y) => x[0] - y[0]), [...lists.entries()].map(([id, l]) => [id, l.count]).sort((x, y) => x[0] - y[0]), 'fingerprints() gives every track whole')
})

t.test('a reader in another process answers completely while segments are merged', async (t) => {
  const { index, dir } = freshIndex(t)
  const size = 3000
  bulkLoad(index, Array.from({ length: 24 }, (_, i) => i + 1), 8000, size)
  t.ok(index.stats().segments! >= 8)
  const child = spawnNode([path.join(fixtures, 'segment-worker.js'), 'read', dir, String(size)], { stdio: ['pipe', 'pipe', 'inherit'], env: childEnv() })
  t.teardown(() => { if (child.exitCode === null) child.kill() })
  const out = lines(child)
  await until(out, (l) => l.startsWith('reads'))
  const done = index.maintain({ compact: true })
  t.ok(done.merges >= 1, 'merged')
  await until(out, (l) => l.startsWith('reads'))
  child.stdin!.end()
  const summary = JSON.parse(await until(out, (l) => l.startsWith('{'))) as { reads: number, errors: string[], errorCount: number }
  t.same(summary.errors, [], 'no incomplete read')
  t.ok(summary.reads >= 10, `${summary.reads} full checks`)
})

t.test('kill -9 during a bulk load leaves the runs committed before it, whole', async (t) => {
  const dir = path.join(t.testdir(), 'db')
  const size = 4000
  const child = spawnNode([path.join(fixtures, 'segment-worker.js'), 'bulk', dir, '400', String(size), '20000'], { stdio: ['pipe', 'pipe', 'inherit'], env: childEnv() })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, s) => resolve(s)))
  await until(lines(child), (l) => l === 'committed 12')
  child.kill('SIGKILL')
  t.equal(await exited, 'SIGKILL')
  const index = LmdbIndex.open(dir, params)
  t.teardown(() => index.close())
  const tracks = [...index.listTracks()]
  t.ok(tracks.length >= 12 && tracks.length % 4 === 0, `${tracks.length} tracks, whole runs of 4`)
  const lists = new Map(tracks.map((tr) => [tr.id, syntheticList(Number(tr.source.split('-')[1]), size)]))
  allComplete(t, index, lists, 'after the kill')
  let stray = 0
  index.lookup(SHARED_HASH, (id) => { if (!lists.has(id)) stray++ })
  t.equal(stray, 0, 'no postings of an uncommitted track')
  // Loading again adds the rest and skips what is there.
  const more = index.bulkWriter()
  let added = 0
  for (let seed = 1; seed <= tracks.length + 4; seed++) {
    const l = syntheticList(seed, size)
    if (more.add(syntheticMeta(seed, l), l).added) added++
  }
  more.finish()
  t.equal(added, 4, 'only the new tracks')
})

t.test('kill -9 during a merge leaves the segments as they were; maintenance drops the half-written output', async (t) => {
  const dir = path.join(t.testdir(), 'db')
  const size = 6000
  const child = spawnNode([path.join(fixtures, 'segment-worker.js'), 'churn', dir, String(size), '30000'], { stdio: ['pipe', 'pipe', 'inherit'], env: childEnv() })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, s) => resolve(s)))
  await until(lines(child), (l) => l === 'cycle 1')
  // Watch from here until a merge is under way (its output written, not listed), then kill.
  const watcher = LmdbIndex.open(dir, params, { readOnly: true })
  let polls = 0
  while (watcher.mergesInProgress() === 0) {
    if (++polls > 20_000) break
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  child.kill('SIGKILL')
  t.equal(await exited, 'SIGKILL')
  t.ok(watcher.mergesInProgress() > 0, 'killed during a merge')
  await watcher.close()
  const index = LmdbIndex.open(dir, params)
  t.teardown(() => index.close())
  const tracks = [...index.listTracks()]
  const lists = new Map(tracks.map((tr) => [tr.id, syntheticList(Number(tr.source.split('-')[1]), size)]))
  allComplete(t, index, lists, 'after the kill')
  const m = index.maintain({ compact: true })
  t.equal(m.abandoned, 1, 'the unlisted output is dropped')
  t.equal(index.mergesInProgress(), 0)
  allComplete(t, index, lists, 'after maintenance')
  t.equal(index.stats().segments, 1)
})

/** Make a closed index of tracks added one by one into format 1: the live part, version 1, no segment databases. */
async function toFormat1 (dir: string): Promise<void> {
  const root = open({ path: dir, maxDbs: 16 })
  const meta = root.openDB('meta', { encoding: 'msgpack' })
  const totals = meta.get('totals') as Record<string, number>
  delete totals.live
  await meta.put('totals', totals)
  await meta.put('formatVersion', 1)
  root.openDB('generation', {}).dropSync()
  root.openDB('tombstones', {}).dropSync()
  await root.close()
}

t.test('an index of format 1 is refused with the way out; earshot migrate upgrades it in place', async (t) => {
  const { index, dir } = freshIndex(t)
  const lists = new Map<number, HashList>()
  for (let seed = 1; seed <= 6; seed++) {
    const l = syntheticList(seed)
    lists.set(index.addTrack(syntheticMeta(seed, l), l).track.id, l)
  }
  await index.close()
  await toFormat1(dir)

  try {
    LmdbIndex.open(dir, params)
    t.fail('opened')
  } catch (err) {
    t.equal((err as EarshotError).code, 'EAR_ERR_INDEX_FORMAT')
    t.match((err as Error).message, `has format version 1; this earshot reads version ${INDEX_FORMAT_VERSION}: run earshot migrate --db ${dir}`)
  }
  const run = await earshotInProcess(path.dirname(dir), ['migrate', '--db', dir])
  t.equal(run.code, 0, run.stderr)
  const postings = [...lists.values()].reduce((sum, l) => sum + l.count, 0)
  t.match(run.stdout, `upgraded from format 1 to 2: 6 tracks, ${postings} postings`)
  const again = await earshotInProcess(path.dirname(dir), ['migrate', '--db', dir])
  t.match(again.stdout, /already format 2; nothing to do/)

  const migrated = LmdbIndex.open(dir, params)
  t.teardown(() => migrated.close())
  t.equal(migrated.stats().segments, 1, 'the postings are in one segment')
  t.equal(migrated.stats().livePostings, 0)
  allComplete(t, migrated, lists, 'after migration')
})

t.test('an index of a version migrate does not know is refused, unchanged', async (t) => {
  const { index, dir } = freshIndex(t)
  const l = syntheticList(1)
  index.addTrack(syntheticMeta(1, l), l)
  await index.close()
  const root = open({ path: dir, maxDbs: 16 })
  await root.openDB('meta', { encoding: 'msgpack' }).put('formatVersion', 99)
  await root.close()
  const run = await earshotInProcess(path.dirname(dir), ['migrate', '--db', dir])
  t.equal(run.code, 1)
  t.match(run.stderr, /EAR_ERR_INDEX_FORMAT: .*format version 99; this earshot reads version 2: this version cannot be upgraded/)
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace')
  const root2 = open({ path: dir, maxDbs: 16 })
  t.equal(root2.openDB('meta', { encoding: 'msgpack' }).get('formatVersion'), 99, 'left as it was')
  await root2.close()
})

t.test('damaged segment leaves are found at open: a coded refusal, never a signal', async (t) => {
  const { index, dir } = freshIndex(t)
  bulkLoad(index, Array.from({ length: 30 }, (_, i) => i + 1), 1_000_000, 5000)
  await index.close()
  // Overwrite a tenth of the leaf pages with seeded noise; nearly all of them are segments' leaves. Mapped without
  // the check, such pages made LMDB abort on an assertion in a lookup.
  const file = path.join(dir, 'data.mdb')
  const fd = fs.openSync(file, 'r+')
  const page = Buffer.alloc(4096)
  const rand = prng(5)
  let damaged = 0
  for (let p = 2; p * 4096 < fs.fstatSync(fd).size; p++) {
    fs.readSync(fd, page, 0, 4096, p * 4096)
    if ((page.readUInt16LE(18) & 0x7f) !== 0x02 || rand() > 0.1) continue
    for (let b = 0; b < 4096; b++) page[b] = Math.floor(rand() * 256)
    fs.writeSync(fd, page, 0, 4096, p * 4096)
    damaged++
  }
  fs.closeSync(fd)
  t.ok(damaged > 5, `${damaged} leaf pages damaged`)
  const child = spawnNode([path.join(fixtures, 'segment-worker.js'), 'lookup', dir, '5000', '30'], { stdio: ['pipe', 'pipe', 'inherit'], env: childEnv() })
  child.stdin!.end()
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const result = JSON.parse(await until(lines(child), (l) => l.startsWith('{'))) as { answered: number, errors: Record<string, number> }
  t.same(await exited, { code: 0, signal: null }, 'no signal death')
  t.same(result, { answered: 0, errors: { 'open: EAR_ERR_INDEX_OPEN': 1 } }, 'refused at open')
  const check = await runEarshot(path.dirname(dir), ['check', '--db', dir])
  t.equal(check.code, 1, 'earshot check says so too')
  t.match(check.stderr, /^earshot: EAR_ERR_INDEX_OPEN: .*damaged/)
})

t.test('earshot compact rewrites the file without free pages, unless another process has it open', async (t) => {
  const { index, dir } = freshIndex(t)
  const lists = bulkLoad(index, Array.from({ length: 24 }, (_, i) => i + 1), 8000, 3000)
  await index.close()
  const file = path.join(dir, 'data.mdb')
  const child = spawnNode([path.join(fixtures, 'segment-worker.js'), 'read', dir, '3000'], { stdio: ['pipe', 'pipe', 'inherit'], env: childEnv() })
  t.teardown(() => { if (child.exitCode === null) child.kill() })
  const out = lines(child)
  await until(out, (l) => l.startsWith('reads'))
  const busy = await earshotInProcess(path.dirname(dir), ['compact', '--db', dir])
  t.equal(busy.code, 0, busy.stderr)
  t.match(busy.stdout, `process ${child.pid} has the index open`, 'one process, in the singular')
  const merged = fs.statSync(file).size
  child.stdin!.end()
  const summary = JSON.parse(await until(out, (l) => l.startsWith('{'))) as { errors: string[] }
  t.same(summary.errors, [], 'the reader answered completely through the merge')
  const alone = await earshotInProcess(path.dirname(dir), ['compact', '--db', dir])
  t.match(alone.stdout, /file rewritten without free pages/)
  t.ok(fs.statSync(file).size < merged, `${merged} -> ${fs.statSync(file).size} bytes`)
  const reopened = LmdbIndex.open(dir, params)
  t.teardown(() => reopened.close())
  t.equal(reopened.stats().segments, 1)
  allComplete(t, reopened, lists, 'after the rewrite')
})

t.test('a backup of format 1 (an export made before segments) is imported', async (t) => {
  const { index, dir } = freshIndex(t)
  const lists = new Map<number, HashList>()
  for (let seed = 1; seed <= 5; seed++) {
    const l = syntheticList(seed)
    lists.set(index.addTrack(syntheticMeta(seed, l), l).track.id, l)
  }
  await index.close()
  await toFormat1(dir)
  const backup = path.join(path.dirname(dir), 'old-export.mdb')
  fs.copyFileSync(path.join(dir, 'data.mdb'), backup)
  const target = path.join(path.dirname(dir), 'new')
  const run = await earshotInProcess(path.dirname(dir), ['import', backup, '--db', target])
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, 'imported 5 tracks, 0 already present')
  const imported = LmdbIndex.open(target, params)
  t.teardown(() => imported.close())
  const byDigest = new Map([...lists].map(([id, l]) => [imported.findByDigest(`digest-${id}`)!.id, l]))
  allComplete(t, imported, byDigest, 'imported')
})
