import t, { type Test } from 'tap'
import { defaultFingerprint as params } from '../../server/src/config/fingerprint.js'
import { fingerprint, type HashList } from '../../server/src/dsp/pipeline.js'
import { fingerprintDigest } from '../../server/src/index/digest.js'
import { MemoryIndex } from '../../server/src/index/memory-index.js'
import { MAX_LIVE_BUCKET } from '../../server/src/index/posting-keys.js'
import type { Index } from '../../server/src/index/types.js'
import { addSynthetic, checkTrackPostings, freshIndex, SHARED_HASH, syntheticList, syntheticMeta, throwsCode } from '../helpers/index-data.js'
import { song } from '../helpers/signals.js'

// One suite, every implementation of Index: what the matchers and the catalog rely on, whether the postings live in
// LMDB or in memory. What only the LMDB index does (persistence, processes, segments) is in lmdb-index.test.ts.

const implementations: Array<[string, (t: Test) => Index]> = [
  ['lmdb', (t) => freshIndex(t).index],
  ['memory', (t) => { const index = new MemoryIndex(params); t.teardown(() => index.close()); return index }],
]

/** All postings of a hash as "track@frame", sorted. */
function postings (index: Index, hash: number): string[] {
  const out: string[] = []
  index.lookup(hash, (track, frame) => out.push(`${track}@${frame}`), Infinity)
  return out.sort()
}

const add = addSynthetic

for (const [name, make] of implementations) {
  t.test(`${name}: round trip: addTrack, lookup, getTrack, listTracks, stats`, async (t) => {
    const index = make(t)
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
    t.ok(s.bytesOnDisk >= 0 && s.bytesPerAudioSecond >= 0)
  })

  t.test(`${name}: a real fingerprint is found at its frames`, async (t) => {
    const index = make(t)
    const list = fingerprint(params, song(31, 10, 44100), 44100)
    const { track } = index.addTrack({ title: 's', artist: '', album: '', durationSeconds: 10, source: 's.wav', digest: fingerprintDigest(list) }, list)
    t.equal(track.hashCount, list.count)
    t.equal(checkTrackPostings(index, track.id, list), undefined)
  })

  t.test(`${name}: lookup skips a bucket over its limit, and reports its size`, async (t) => {
    const index = make(t)
    add(index, 1)
    let visited = 0
    t.equal(index.lookup(SHARED_HASH, () => visited++, 40), 40, 'at the limit: visited')
    t.equal(visited, 40)
    visited = 0
    t.equal(index.lookup(SHARED_HASH, () => visited++, 39), 40, 'one past it: size reported')
    t.equal(visited, 0, 'one past it: nothing visited')
  })

  t.test(`${name}: a bucket stops growing at MAX_LIVE_BUCKET (${MAX_LIVE_BUCKET})`, async (t) => {
    const index = make(t)
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

  t.test(`${name}: a track spanning 2^24 frames or more is refused`, async (t) => {
    const index = make(t)
    const list = (frameCount: number): HashList => ({ hashes: Uint32Array.of(5), frames: Uint32Array.of(frameCount - 1), count: 1, frameCount })
    throwsCode(t, () => index.addTrack({ title: 'x', artist: '', album: '', durationSeconds: 1e6, source: 'x', digest: 'long' }, list(2 ** 24)), 'EAR_ERR_AUDIO_TOO_LONG')
    t.equal(index.stats().tracks, 0, 'nothing written')
    t.equal(index.addTrack({ title: 'x', artist: '', album: '', durationSeconds: 1e6, source: 'x', digest: 'just' }, list(2 ** 24 - 1)).added, true, 'one frame less is fine')
    t.same(postings(index, 5), [`1@${2 ** 24 - 2}`])
  })

  t.test(`${name}: re-indexing the same digest is a no-op`, async (t) => {
    const index = make(t)
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

  t.test(`${name}: removeTrack removes the postings and the track`, async (t) => {
    const index = make(t)
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

  t.test(`${name}: catalog metadata: updateTrack, tracksWith, a track replaced in the transaction that adds the next`, async (t) => {
    const index = make(t)
    const a = add(index, 1)
    add(index, 2)
    const list = syntheticList(3)
    const withCodes = index.addTrack({ ...syntheticMeta(3, list), isrc: 'USRC17607839', externalId: 'cat-3', labels: { genre: 'jazz' } }, list).track
    t.match(index.getTrack(withCodes.id), { isrc: 'USRC17607839', externalId: 'cat-3', labels: { genre: 'jazz' } }, 'stored with the row')
    t.same(index.tracksWith('isrc', 'USRC17607839').map((x) => x.id), [withCodes.id], 'found by ISRC')
    t.same(index.tracksWith('externalId', 'cat-3').map((x) => x.id), [withCodes.id], 'found by external id')
    t.same(index.tracksWith('isrc', 'GBAYE0601498'), [], 'an ISRC nobody has')

    const edited = index.updateTrack(a.id, (x) => ({ ...x, isrc: 'USRC17607839', externalId: 'cat-1', labels: { mood: 'calm' }, editedFields: ['isrc'], id: 99, digest: 'forged', hashCount: 0 }))
    t.match(edited, { id: a.id, digest: 'digest-1', hashCount: a.list.count, isrc: 'USRC17607839', labels: { mood: 'calm' }, editedFields: ['isrc'] }, 'the row changes; id, digest and counts do not')
    t.same(index.getTrack(a.id), edited, 'as stored')
    t.same(index.tracksWith('isrc', 'USRC17607839').map((x) => x.id), [a.id, withCodes.id], 'two tracks with one ISRC, in id order')
    t.equal(index.findByDigest('digest-1')?.id, a.id, 'the digest still finds it')
    const moved = index.updateTrack(a.id, (x) => { const { isrc: _, ...rest } = x; return { ...rest, externalId: 'cat-1b' } })
    t.equal(moved?.isrc, undefined, 'a field left out of the new row is gone')
    t.same(index.tracksWith('isrc', 'USRC17607839').map((x) => x.id), [withCodes.id], 'and its lookup with it')
    t.same(index.tracksWith('externalId', 'cat-1'), [], 'the old external id finds nothing')
    t.same(index.tracksWith('externalId', 'cat-1b').map((x) => x.id), [a.id])
    t.equal(index.updateTrack(999, (x) => x), undefined, 'an unknown id: undefined')
    t.throws(() => index.updateTrack(a.id, () => { throw new Error('refused') }), /refused/, 'a change that throws')
    t.equal(index.getTrack(a.id)?.externalId, 'cat-1b', 'leaves the row as it was')

    // A changed file: its new track replaces the old one, both in one step.
    const next = syntheticList(4)
    const replaced = index.addTrack({ ...syntheticMeta(4, next), externalId: 'cat-3' }, next, withCodes.id)
    t.equal(replaced.added, true)
    t.equal(index.getTrack(withCodes.id), undefined, 'the old track is gone')
    t.same(index.tracksWith('isrc', 'USRC17607839'), [], 'with its codes')
    t.same(index.tracksWith('externalId', 'cat-3').map((x) => x.id), [replaced.track.id], 'the new track holds the external id now')
    let stray = 0
    for (let i = 0; i < list.count; i++) index.lookup(list.hashes[i], (track) => { if (track === withCodes.id) stray++ }, Infinity)
    t.equal(stray, 0, 'no posting of the old track left')
    t.equal(index.stats().tracks, 3)
    const same = index.addTrack(syntheticMeta(4, next), next, a.id)
    t.equal(same.added, false, 'audio indexed already: nothing added')
    t.ok(index.getTrack(a.id), 'so nothing is replaced')
  })
}
