/**
 * How deep the buckets of a segment are, by quarter-octaves of depth: for each band, the buckets, the sum of their
 * depths and the sum of their squared depths.
 *
 * A query hash falls in a bucket about as often as that bucket is deep (music's common hashes are common in the query
 * too), so a lookup reads on average Σd² / Σd postings. When that is more than a query can afford, the deepest
 * buckets, which say least about which track is playing, are the ones to skip: `limitFor` gives the depth to stop at.
 */

const BANDS_PER_OCTAVE = 4
/** Bands up to a depth of 2^20, beyond any bucket a segment keeps. */
const BANDS = 20 * BANDS_PER_OCTAVE

/** [buckets, Σ depth, Σ depth²] per band, as stored with each segment. */
export type DepthBands = Array<[number, number, number]>

export class DepthProfile {
  readonly bands: DepthBands = Array.from({ length: BANDS }, () => [0, 0, 0])

  static band (depth: number): number {
    return Math.min(BANDS - 1, Math.floor(BANDS_PER_OCTAVE * Math.log2(depth)))
  }

  add (depth: number): void {
    if (depth <= 0) return
    const b = this.bands[DepthProfile.band(depth)]
    b[0]++
    b[1] += depth
    b[2] += depth * depth
  }

  /** Add another profile's bands (segments listed together). */
  merge (bands: DepthBands | undefined): void {
    if (!bands) return
    for (let i = 0; i < Math.min(BANDS, bands.length); i++) {
      this.bands[i][0] += bands[i][0]
      this.bands[i][1] += bands[i][1]
      this.bands[i][2] += bands[i][2]
    }
  }

  /** Postings a lookup reads on average when buckets deeper than `limit` are skipped. */
  expectedRead (limit = Infinity): number {
    let sum = 0
    let squares = 0
    for (let i = 0; i < BANDS; i++) {
      const [, d, d2] = this.bands[i]
      sum += d
      if (upperDepth(i) <= limit) squares += d2
    }
    return sum > 0 ? squares / sum : 0
  }

  /**
   * The deepest bucket a lookup should read so that lookups read at most `perLookup` postings on average
   * (Infinity when every bucket fits). Band edges set the steps: a quarter-octave, about 19 %.
   */
  limitFor (perLookup: number): number {
    if (this.expectedRead() <= perLookup) return Infinity
    let limit = 0
    for (let i = 0; i < BANDS; i++) {
      if (this.expectedRead(upperDepth(i)) > perLookup) break
      limit = upperDepth(i)
    }
    return Math.max(1, limit)
  }
}

/** The deepest bucket of band i. */
function upperDepth (i: number): number {
  return Math.ceil(2 ** ((i + 1) / BANDS_PER_OCTAVE)) - 1
}
