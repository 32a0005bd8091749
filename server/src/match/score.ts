/**
 * Evidence to confidence.
 *
 * A match is a run of hashes whose track frame minus query frame is the same (±1 frame). Two things make it
 * believable, and confidence is their product:
 *  - it is unlikely to be chance: V votes scattered over B possible (track, offset) bins give each window of 3 bins
 *    a Poisson(3V/B) count; the chance that any of the B windows reaches the score by luck is at most B * P(X >= s);
 *  - it stands above the runner-up track: unknown music collects its best votes on some track by coincidence, and then
 *    other tracks collect nearly as many; the share of the score not explained by the runner-up's is the margin.
 */

/** ln(k!) by direct sum for small k and Stirling's series above. */
function logFactorial (k: number): number {
  if (k < 32) {
    let s = 0
    for (let i = 2; i <= k; i++) s += Math.log(i)
    return s
  }
  return k * Math.log(k) - k + 0.5 * Math.log(2 * Math.PI * k) + 1 / (12 * k)
}

/** P(X >= s) for X ~ Poisson(lambda). */
export function poissonTail (s: number, lambda: number): number {
  if (s <= 0) return 1
  if (lambda <= 0) return 0
  // For the small lambdas seen here the tail is dominated by its first terms: sum until they vanish.
  let term = Math.exp(s * Math.log(lambda) - lambda - logFactorial(s))
  let sum = 0
  for (let k = s; k < s + 1000; k++) {
    sum += term
    term *= lambda / (k + 1)
    if (term < sum * 1e-12) break
  }
  return Math.min(1, sum)
}

export interface Evidence {
  /** Aligned votes of the best track at its best offset. */
  score: number
  /** The same for the best other track (0 if none). */
  runnerUp: number
  /** All votes cast by the query. */
  votes: number
  /** The number of (track, offset) bins those votes could fall in: frames of all indexed audio. */
  bins: number
}

/** Chance that random collisions alone give a score this high somewhere. */
export function chanceProbability (e: Evidence): number {
  const bins = Math.max(1, e.bins)
  const lambda = (3 * e.votes) / bins
  return Math.min(1, bins * poissonTail(e.score, lambda))
}

/** Confidence in 0..1 that the best track is really playing. */
export function confidence (e: Evidence): number {
  if (e.score <= 0) return 0
  const significance = 1 - chanceProbability(e)
  const margin = 1 - (e.runnerUp + 1) / (e.score + 1)
  return Math.max(0, significance * margin)
}
