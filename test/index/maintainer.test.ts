import t from 'tap'
import path from 'node:path'
import { defaultFingerprint as params } from '../../server/src/config/fingerprint.js'
import { LmdbIndex } from '../../server/src/index/lmdb-index.js'
import { MERGE_FACTOR } from '../../server/src/index/segments.js'
import { httpGet, startServer } from '../helpers/stream-helpers.js'
import { checkTrackPostings, syntheticList, syntheticMeta } from '../helpers/index-data.js'

// A served index merges its segments in the background, in a worker thread, while it answers.
t.test('the server merges a full tier of segments in the background', async (t) => {
  const dir = t.testdir() // once: each call makes the folder anew
  const index = LmdbIndex.open(path.join(dir, 'db'), params)
  t.teardown(() => index.close())
  const bulk = index.bulkWriter({ runPostings: 6000 })
  const lists = new Map<number, ReturnType<typeof syntheticList>>()
  for (let seed = 1; seed <= MERGE_FACTOR * 2; seed++) {
    const list = syntheticList(seed)
    lists.set(bulk.add(syntheticMeta(seed, list), list).track.id, list)
  }
  bulk.finish()
  t.equal(index.stats().segments, MERGE_FACTOR, `${MERGE_FACTOR} segments of one tier`)
  t.ok(index.needsMaintenance(), 'a merge is due')
  const { http } = await startServer(t, 'ws', index, undefined, 0, path.join(dir, 'state'))
  let health: { index: { segments: number }, maintenance: { rounds: number, merges: number, lastError: string | null } } | undefined
  for (let i = 0; i < 300; i++) {
    health = JSON.parse((await httpGet(`${http}/health`)).body)
    if (health!.maintenance.rounds > 0 && !index.needsMaintenance()) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(health!.maintenance.lastError, null, 'no error')
  t.equal(health!.maintenance.merges, 1, 'one merge')
  t.equal(index.stats().segments, 1, 'one segment, seen by the server\'s own handle')
  const problems = [...lists].map(([id, list]) => checkTrackPostings(index, id, list)).filter((p) => p !== undefined)
  t.same(problems, [], 'every track whole')
})
