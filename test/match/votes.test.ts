import t from 'tap'
import { defaultFingerprint as params } from '../../server/src/config/fingerprint.js'
import { pairToHash, shapeOf } from '../../server/src/dsp/landmarks.js'
import type { HashList } from '../../server/src/dsp/pipeline.js'
import { MemoryIndex } from '../../server/src/index/memory-index.js'
import { OFFSET_BIAS, TRACK_SCALE, VoteCaster } from '../../server/src/match/votes.js'

// VoteCaster on an in-memory index whose postings are written by hand: what a vote holds, and the two rules that keep
// one piece of evidence from voting many times.

function indexOf (tracks: Array<Array<[number, number]>>): MemoryIndex {
  const index = new MemoryIndex(params)
  tracks.forEach((pairs, i) => {
    const list: HashList = {
      hashes: Uint32Array.from(pairs, ([h]) => h),
      frames: Uint32Array.from(pairs, ([, f]) => f),
      count: pairs.length,
      frameCount: 1 + Math.max(...pairs.map(([, f]) => f)),
    }
    index.addTrack({ title: `t${i + 1}`, artist: '', album: '', durationSeconds: 1, source: `t${i + 1}`, digest: `d${i + 1}` }, list)
  })
  return index
}

/** The votes of a cast as [track, offset, query frame]. */
function cast (caster: VoteCaster, index: MemoryIndex, query: Array<[number, number]>, maxBucket = Infinity): Array<[number, number, number]> {
  const n = caster.cast(index, query.map(([h]) => h), query.map(([, f]) => f), query.length, maxBucket)
  const out: Array<[number, number, number]> = []
  for (let i = 0; i < n; i++) {
    const track = Math.floor(caster.votes[i] / TRACK_SCALE)
    out.push([track, caster.votes[i] - track * TRACK_SCALE - OFFSET_BIAS, caster.frames[i]])
  }
  return out
}

// Pairs of one shape (frame difference 5) and of another (7).
const A = pairToHash(10, 20, 5)
const B = pairToHash(11, 20, 5)
const C = pairToHash(10, 20, 7)

t.test('a vote is (track, track frame − query frame) with its query frame; offsets may be negative', async (t) => {
  t.equal(shapeOf(A), shapeOf(B), 'A and B share a shape')
  t.not(shapeOf(A), shapeOf(C), 'C has another')
  const index = indexOf([[[A, 100]], [[A, 3], [C, 40]]])
  const caster = new VoteCaster()
  t.same(cast(caster, index, [[A, 30]]), [[1, 70, 30], [2, -27, 30]])
  t.equal(caster.lookups, 1)
  t.equal(caster.postings, 2)
  t.same(cast(caster, index, [[C, 41]]), [[2, -1, 41]])
  t.same(cast(caster, index, [[12345, 0]]), [], 'a hash nobody has: no vote')
})

t.test('a hash votes once, from its first occurrence (a held sound repeats it)', async (t) => {
  const index = indexOf([[[A, 100]]])
  const caster = new VoteCaster()
  t.same(cast(caster, index, [[A, 10], [A, 11], [A, 12]]), [[1, 90, 10]])
  t.equal(caster.lookups, 1)
})

t.test('landmarks of one anchor frame and one shape vote once per (track, offset); other shapes vote apart', async (t) => {
  // A and B are two harmonics of one note: both found in track 1 at the same offset.
  const index = indexOf([[[A, 100], [B, 100], [C, 100]]])
  const caster = new VoteCaster()
  t.same(cast(caster, index, [[A, 40], [B, 40]]), [[1, 60, 40]], 'one coincidence, one vote')
  t.same(cast(caster, index, [[A, 40], [C, 40]]), [[1, 60, 40], [1, 60, 40]], 'two shapes: two votes')
  t.same(cast(caster, index, [[A, 40], [B, 41]]), [[1, 60, 40], [1, 59, 41]], 'two anchor frames: two votes')
  t.equal(caster.groups, 2)
  t.same([...caster.groupFrame.subarray(0, 2)], [40, 41], 'groups in query-frame order')
  t.same([...caster.groupStart.subarray(0, 2)], [0, 1])
})

t.test('votes come out in query-frame order whatever the order of the hashes', async (t) => {
  const index = indexOf([[[A, 100], [C, 200]]])
  const caster = new VoteCaster()
  t.same(cast(caster, index, [[C, 50], [A, 20]]), [[1, 80, 20], [1, 150, 50]])
})

t.test('a bucket deeper than maxBucket is skipped, and its depth still counted as read', async (t) => {
  const index = indexOf([[[A, 1]], [[A, 2]], [[A, 3]], [[C, 9]]])
  const caster = new VoteCaster()
  t.same(cast(caster, index, [[A, 0], [C, 0]], 2), [[4, 9, 0]], 'A (3 postings) skipped at maxBucket 2')
  t.equal(caster.postings, 4, 'both buckets\' sizes are reported')
  t.equal(cast(caster, index, [[A, 0]], 3).length, 3, 'at the limit: read')
})

t.test('buffers grow past their first size and are reused', async (t) => {
  const pairs: Array<[number, number]> = []
  for (let f = 0; f < 3000; f++) pairs.push([pairToHash(f % 144, Math.floor(f / 144), 1 + (f % 60)), f]) // all distinct
  const index = indexOf([pairs, pairs.map(([h, f]) => [h, f + 7] as [number, number])])
  const caster = new VoteCaster()
  const query = pairs.slice(0, 2500)
  const first = cast(caster, index, query)
  t.equal(first.length, 5000, 'a vote per hash and track')
  t.equal(first.filter(([track, offset]) => track === 1 && offset === 0).length, 2500, 'track 1 at offset 0')
  t.equal(first.filter(([track, offset]) => track === 2 && offset === 7).length, 2500, 'track 2 at offset 7')
  t.same(cast(caster, index, query), first, 'the same cast again: the same votes')
})
