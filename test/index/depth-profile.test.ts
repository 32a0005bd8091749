import t from 'tap'
import { DepthProfile } from '../../server/src/index/depth-profile.js'
import { freshIndex } from '../helpers/index-data.js'

t.test('expected postings per lookup, and the depth limit that keeps it under a budget', async (t) => {
  const p = new DepthProfile()
  for (let i = 0; i < 1000; i++) p.add(1)
  p.add(1000)
  // A lookup lands in a bucket as often as it is deep: (1000 * 1 + 1000 * 1000) / (1000 + 1000) postings.
  t.equal(p.expectedRead(), 500.5)
  t.equal(p.limitFor(600), Infinity, 'within the budget: no limit')
  const limit = p.limitFor(256)
  t.ok(limit >= 1 && limit < 1000, `the deep bucket is cut (limit ${limit})`)
  t.equal(p.expectedRead(limit), 0.5, 'what is left: the shallow buckets')
  const q = new DepthProfile()
  q.merge(p.bands)
  q.merge(p.bands)
  t.equal(q.expectedRead(), 500.5, 'two like segments: the same mean')
})

t.test('a big catalog\'s common hash is skipped by lookups through the budget, a small one\'s is not', async (t) => {
  const { index } = freshIndex(t)
  const bulk = index.bulkWriter()
  const COMMON = 4242
  for (let k = 1; k <= 1000; k++) {
    const list = { hashes: Uint32Array.of(COMMON, 100_000 + k), frames: Uint32Array.of(k, k), count: 2, frameCount: 2000 }
    bulk.add({ title: `t${k}`, artist: '', album: '', durationSeconds: 23, source: `s${k}`, digest: `d${k}` }, list)
  }
  bulk.finish()
  t.equal(index.bucketLimit(600), Infinity, 'a budget of 600 fits')
  const limit = index.bucketLimit(256)
  t.ok(limit < 1000, `a budget of 256 skips the bucket of 1000 (limit ${limit})`)
  let visited = 0
  t.equal(index.lookup(COMMON, () => visited++, limit), 1000, 'counted')
  t.equal(visited, 0, 'not read')
  t.equal(index.lookup(100_001, () => visited++, limit), 1, 'a rare hash is read')
  t.equal(visited, 1)
})
