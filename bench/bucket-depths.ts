/**
 * Bucket depths of a catalog: every stored posting in, the distribution of postings per hash out (the hash-width
 * study of bench:scale). Counted from the hash lists as they are stored, not from the index, so the figures are
 * those of the whole hash space (HASH_LIMIT hashes) whatever the index caps or skips.
 */
import { HASH_LIMIT } from '../server/src/dsp/landmarks.js'
import type { HashList } from '../server/src/dsp/pipeline.js'

export interface DepthSummary {
  postings: number
  /** Hashes with at least one posting, and their share of the hash space. */
  distinctHashes: number
  usedShare: number
  /** Postings per used hash: mean and quantiles over used hashes. */
  mean: number
  p50: number
  p99: number
  p999: number
  max: number
  /** Mean depth of the bucket a random posting sits in (Σ depth² / Σ depth): what a query hash reads on average. */
  postingWeightedMean: number
  /** Buckets deeper than each limit, and the share of all postings they hold. */
  over: Array<{ limit: number, buckets: number, postingShare: number }>
}

export class BucketDepths {
  // A counter per hash (7.4 M: 30 MB), whatever the catalog size.
  readonly #counts = new Uint32Array(HASH_LIMIT)
  #postings = 0

  add (list: HashList): void {
    const counts = this.#counts
    for (let i = 0; i < list.count; i++) counts[list.hashes[i]]++
    this.#postings += list.count
  }

  /** The distribution now; `limits` are bucket sizes to report the overflow of (e.g. the matcher's maxBucket). */
  summary (limits: readonly number[]): DepthSummary {
    const used = this.#counts.filter((c) => c > 0).sort()
    const n = used.length
    let sq = 0
    for (let i = 0; i < n; i++) sq += used[i] * used[i]
    const at = (q: number): number => (n === 0 ? 0 : used[Math.min(n - 1, Math.floor(q * n))])
    const total = this.#postings
    return {
      postings: total,
      distinctHashes: n,
      usedShare: n / HASH_LIMIT,
      mean: n === 0 ? 0 : total / n,
      p50: at(0.5),
      p99: at(0.99),
      p999: at(0.999),
      max: n === 0 ? 0 : used[n - 1],
      postingWeightedMean: total === 0 ? 0 : sq / total,
      over: limits.map((limit) => {
        let buckets = 0; let postings = 0
        for (let i = n - 1; i >= 0 && used[i] > limit; i--) { buckets++; postings += used[i] }
        return { limit, buckets, postingShare: total === 0 ? 0 : postings / total }
      }),
    }
  }
}
