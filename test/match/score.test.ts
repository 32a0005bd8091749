import t from 'tap'
import { chanceProbability, confidence, poissonTail } from '../../server/src/match/score.js'

/** P(X >= s) for X ~ Poisson(lambda), by summing the probability mass directly (terms built by recurrence). */
function directTail (s: number, lambda: number): number {
  let p = Math.exp(-lambda) // P(X = 0)
  let tail = 0
  for (let k = 0; k < s + 400; k++) {
    if (k >= s) tail += p
    p *= lambda / (k + 1)
  }
  return tail
}

t.test('poissonTail agrees with a direct sum', async (t) => {
  for (const lambda of [0.001, 0.05, 0.5, 1, 3, 8, 20]) {
    for (const s of [1, 2, 3, 5, 8, 13, 21, 31, 32, 40, 60]) {
      const want = directTail(s, lambda)
      if (want < 1e-250) continue // below what the direct sum resolves
      const got = poissonTail(s, lambda)
      t.ok(Math.abs(got - want) <= 1e-6 * want + 1e-15, `s=${s} lambda=${lambda}: ${got} vs ${want}`)
    }
  }
})

t.test('poissonTail: hand-checked values and edges', async (t) => {
  // P(X >= 1) = 1 - e^-lambda; P(X >= 2) = 1 - e^-lambda (1 + lambda).
  t.ok(Math.abs(poissonTail(1, 0.5) - (1 - Math.exp(-0.5))) < 1e-12)
  t.ok(Math.abs(poissonTail(2, 2) - (1 - 3 * Math.exp(-2))) < 1e-12)
  t.equal(poissonTail(0, 3), 1, 's = 0 is certain')
  t.equal(poissonTail(-1, 3), 1)
  t.equal(poissonTail(3, 0), 0, 'lambda = 0 never reaches s > 0')
  t.ok(poissonTail(200, 0.01) >= 0 && poissonTail(200, 0.01) < 1e-300, 'tiny tails underflow to about 0, not NaN')
  let monotone = true
  for (let s = 1; s < 50; s++) if (poissonTail(s + 1, 2) > poissonTail(s, 2)) monotone = false
  t.ok(monotone, 'decreasing in s')
})

t.test('chanceProbability is the union bound over the bins', async (t) => {
  const e = { score: 6, runnerUp: 0, votes: 500, bins: 10000 }
  t.ok(Math.abs(chanceProbability(e) - Math.min(1, 10000 * poissonTail(6, 0.15))) < 1e-15)
  t.equal(chanceProbability({ score: 1, runnerUp: 0, votes: 500, bins: 10000 }), 1, 'capped at 1')
  t.equal(chanceProbability({ score: 3, runnerUp: 0, votes: 0, bins: 0 }), 0, 'no votes: no chance hits')
})

t.test('confidence is in 0..1, 0 without votes, and monotone in score', async (t) => {
  t.equal(confidence({ score: 0, runnerUp: 0, votes: 100, bins: 1000 }), 0)
  for (const [runnerUp, votes, bins] of [[0, 200, 5000], [3, 1000, 10000], [10, 5000, 100000], [0, 20, 1000]]) {
    let prev = -1
    let ok = true
    for (let score = 1; score <= 300; score++) {
      const c = confidence({ score, runnerUp, votes, bins })
      if (!(c >= 0 && c <= 1) || c < prev) ok = false
      prev = c
    }
    t.ok(ok, `runnerUp=${runnerUp} votes=${votes} bins=${bins}: in 0..1 and non-decreasing`)
    t.ok(prev > 0.9, `a large score is believed (${prev.toFixed(3)})`)
  }
})

t.test('confidence falls as the runner-up closes in, and is 0 at a tie', async (t) => {
  let prev = 2
  let ok = true
  for (let runnerUp = 0; runnerUp <= 50; runnerUp++) {
    const c = confidence({ score: 50, runnerUp, votes: 1000, bins: 20000 })
    if (c > prev) ok = false
    prev = c
  }
  t.ok(ok, 'non-increasing in runnerUp')
  t.equal(prev, 0, 'a tie is no confidence')
})

t.test('a score random collisions easily reach is not believed', async (t) => {
  // 30000 votes over 10000 bins: 9 per 3-bin window on average, so a score of 10 is chance.
  t.ok(confidence({ score: 10, runnerUp: 0, votes: 30000, bins: 10000 }) < 0.05)
})
