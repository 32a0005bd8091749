import t from 'tap'
import { TimeScaleSearch } from '../../server/src/match/time-scale.js'
import { prng } from '../helpers/signals.js'

/** Votes (query frame q, key k = track frame - q) as the parallel arrays the search reads. */
function votes (pairs: Array<[number, number]>): { keys: Float64Array, frames: Uint32Array } {
  return { keys: Float64Array.from(pairs.map((p) => p[1])), frames: Uint32Array.from(pairs.map((p) => p[0])) }
}

t.test('the worked example of the header comment', async (t) => {
  const s = new TimeScaleSearch()
  s.prepare(200, 100, 0.06)
  const v = votes([[0, 100], [100, 103], [200, 106]])
  s.best(v.keys, v.frames, 0, 3)
  t.equal(s.score, 3, 'all three votes in one window')
  t.equal(s.key, 103, 'keyed at the centre frame')
  t.ok(Math.abs(s.drift - 0.03) <= s.step, `drift ${s.drift.toFixed(4)} within a step of 0.03`)
  s.refine(v.keys, v.frames, 0, 3)
  t.ok(Math.abs(s.drift - 0.03) < 1e-9, 'refined to the line through the votes')
})

t.test('votes at nominal speed keep the nominal window, key and speed', async (t) => {
  const s = new TimeScaleSearch()
  s.prepare(430, 215, 0.06)
  const pairs: Array<[number, number]> = []
  for (let q = 0; q < 430; q += 7) pairs.push([q, 5000 + (q % 3 === 0 ? 1 : 0)]) // jitter of one frame
  const v = votes(pairs)
  s.best(v.keys, v.frames, 0, pairs.length)
  t.equal(s.score, pairs.length)
  t.equal(s.key, 5000, 'the lowest key of the best window')
  t.equal(s.drift, 0, 'a tie keeps speed 1')
})

t.test('finds the speed of a played-faster track among chance votes, and refines it to within 0.5 %', async (t) => {
  const rng = prng(4)
  for (const speed of [0.95, 0.97, 0.99, 1.02, 1.04, 1.05]) {
    const s = new TimeScaleSearch()
    const span = 430
    s.prepare(span, span / 2, 0.06)
    const pairs: Array<[number, number]> = []
    for (let q = 0; q < span; q += 3) {
      // True votes: track frame = 1000 + speed * q (±1 frame of jitter); chance votes anywhere.
      pairs.push([q, Math.round(1000 + speed * q + (rng() - 0.5) * 2) - q])
      pairs.push([Math.floor(rng() * span), Math.floor(rng() * 4000)])
    }
    pairs.sort((a, b) => a[0] - b[0])
    const v = votes(pairs)
    s.best(v.keys, v.frames, 0, pairs.length)
    s.refine(v.keys, v.frames, 0, pairs.length)
    const trueVotes = pairs.length / 2
    t.ok(s.score >= 0.8 * trueVotes, `speed ${speed}: ${s.score} of ${trueVotes} true votes in the window`)
    t.ok(Math.abs(1 + s.drift - speed) < 0.005, `speed ${speed}: estimated ${(1 + s.drift).toFixed(4)}`)
    const keyAtCentre = 1000 + speed * (span / 2) - span / 2
    t.ok(Math.abs(s.key - keyAtCentre) <= 1.5, `speed ${speed}: key ${s.key} near ${keyAtCentre.toFixed(1)}`)
  }
})

t.test('a tolerance of 0 searches nominal speed only', async (t) => {
  const s = new TimeScaleSearch()
  t.equal(s.prepare(430, 215, 0), 1)
  const v = votes([[0, 100], [100, 103], [200, 106]])
  s.best(v.keys, v.frames, 0, 3)
  t.equal(s.score, 1)
  t.equal(s.drift, 0)
})

t.test('hypotheses are spaced for half a frame at the ends, and capped for long queries', async (t) => {
  const s = new TimeScaleSearch()
  t.equal(s.prepare(430, 215, 0.06), 2 * Math.ceil(0.06 / (2 / 430)) + 1)
  t.ok(s.step * 430 / 4 <= 0.5 + 1e-9, 'half a frame at the ends')
  s.prepare(10, 5, 0.06)
  t.equal(s.step, 0.06, 'a short span: one step either side, at the tolerance, never beyond')
  t.equal(s.prepare(100000, 50000, 0.06), 49, 'a long query: at most 24 steps either side')
})

/**
 * The search as first written: every vote moved and counted at every speed, in the same order (r = 1, then outwards,
 * faster first), the first best window kept.
 */
function everyVote (s: TimeScaleSearch, keys: Float64Array, frames: Uint32Array): { score: number, key: number, drift: number } {
  const best = { score: 0, key: 0, drift: 0 }
  for (let h = 0; h < s.hypotheses; h++) {
    const drift = h === 0 ? 0 : (h % 2 === 1 ? 1 : -1) * ((h + 1) >> 1) * s.step
    const a = Array.from(keys, (k, i) => Math.round(k - drift * (frames[i] - s.centre))).sort((x, y) => x - y)
    // For each distinct key, the votes within a frame of it.
    for (let v = 0, lo = 0, hi = 0; v < a.length; v++) {
      if (v > 0 && a[v] === a[v - 1]) continue
      while (a[lo] < a[v] - 1) lo++
      while (hi < a.length && a[hi] <= a[v] + 1) hi++
      if (hi - lo > best.score) Object.assign(best, { score: hi - lo, key: a[v], drift })
    }
  }
  return best
}

t.test('counting only the votes that can still change the answer finds what counting every vote finds', async (t) => {
  const rng = prng(11)
  let compared = 0
  for (let trial = 0; trial < 300; trial++) {
    const span = [50, 200, 430, 1300][trial % 4]
    const s = new TimeScaleSearch()
    s.prepare(span, Math.floor(span / 2), trial % 7 === 0 ? 0.02 : 0.06)
    const pairs: Array<[number, number]> = []
    // Chance votes over a track of a few thousand frames, dense or sparse, and up to two lines at any speed.
    const chance = Math.floor(rng() * (trial % 3 === 0 ? 2000 : 200))
    const length = 500 + Math.floor(rng() * 8000)
    for (let i = 0; i < chance; i++) pairs.push([Math.floor(rng() * span), Math.floor(rng() * length)])
    for (let line = Math.floor(rng() * 3); line > 0; line--) {
      const speed = 1 + (rng() - 0.5) * 0.13
      const start = Math.floor(rng() * length)
      const every = 1 + Math.floor(rng() * 20)
      for (let q = 0; q < span; q += every) pairs.push([q, Math.round(start + speed * q + (rng() - 0.5) * 2) - q])
    }
    if (trial % 2 === 0) pairs.sort((a, b) => a[1] - b[1]) // in key order, as a tally lays them out
    const v = votes(pairs)
    const want = everyVote(s, v.keys, v.frames)
    for (const floor of [0, Math.max(0, want.score - 1), want.score, want.score + 1]) {
      s.best(v.keys, v.frames, 0, pairs.length, floor)
      if (want.score >= floor) {
        if (s.score !== want.score || s.key !== want.key || s.drift !== want.drift) {
          t.fail(`trial ${trial}, floor ${floor}: ${JSON.stringify([s.score, s.key, s.drift])} != ${JSON.stringify(want)}`)
        }
        compared++
      } else if (s.score >= floor) {
        t.fail(`trial ${trial}: a track short of the floor ${floor} is left below it, not ${s.score}`)
      }
    }
  }
  t.ok(compared > 600, `${compared} searches found the same window`)
})
