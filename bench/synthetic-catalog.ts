/**
 * Synthetic catalog: real tracks' hash lists in, many distinct tracks with the same statistics out (for bench:scale).
 *
 * Copy k of an original keeps its frames and replaces every hash by T_k(hash), where T_k shifts the three landmark
 * fields by small per-copy amounts, each wrapping inside the range the pipeline produces:
 *
 *   anchor bin       b  -> minBin + (b - minBin + s) mod (maxBin - minBin)          |s| <= peakBinRadius
 *   bin difference   db -> -maxDeltaBins + (db + maxDeltaBins + d) mod (2 maxDeltaBins + 1)  |d| <= peakBinRadius
 *   frame difference dt -> minDeltaFrames + (dt - minDeltaFrames + e) mod (maxDeltaFrames - minDeltaFrames + 1)
 *                                                                                   |e| <= peakFrameRadius
 * Values outside those ranges (the pipeline never makes them) are left alone, so T_k is a bijection of the whole
 * 23-bit hash space. Copy 0 is the original (s = d = e = 0), so real clips of it find their true track.
 *
 * Why this keeps the statistics:
 *  - Per track, exactly: T_k is a bijection and the frames are kept, so a copy has the original's hash count, distinct
 *    hashes, repeats (a held chord repeats one hash), landmark groups and time structure.
 *  - Across the catalog: the copies of one original spread its hashes over at most (2·12+1)² neighbouring
 *    (anchor bin, bin difference) cells, so the catalog's hash distribution is the 190 real tracks' distribution
 *    smoothed by a box kernel of ±12 bins (±130 Hz) on both axes: a kernel estimate of the distribution real music
 *    draws from. Low bins and small intervals stay as popular as in real music, so popular buckets grow as deep as
 *    they would in a real catalog.
 *    Rejected: shifting the anchor bin over its whole range. Averaged over the copies, that flattens the anchor-bin
 *    axis, so the popular buckets of real music would be no deeper than any other and the query cost would be
 *    underestimated.
 *  - No aligned evidence with the original: a peak is the maximum of its ±peakBinRadius × ±peakFrameRadius
 *    neighbourhood, so no two anchors of one frame lie within 12 bins, no two targets of one frame within 12 bins and
 *    no two peaks of one bin within 8 frames. A copy's landmark at frame f would need exactly such a pair of peaks in
 *    the original to equal one of its landmarks at f (only a shift that wraps can meet a peak far away, by chance).
 *    The same holds between two copies of one original whose shifts differ by at most the radius on each axis.
 *
 * Copies per original: (2·12+1)² − 1 = 624 with e = 0, then 17 × 625 − 1 = 10,624 in all (190 originals give
 * 118,560 tracks without frame-difference shifts and 2,018,560 with them). The variants with e = 0 come first, in a
 * fixed shuffled order, so that any catalog size takes an even sample of the shifts.
 */
import type { FingerprintParams } from '../server/src/config/fingerprint.js'
import type { HashList } from '../server/src/dsp/pipeline.js'
import { BIN_BITS, DELTA_BIN_BITS, DELTA_FRAME_BITS } from '../server/src/dsp/landmarks.js'
import { fingerprintDigest } from '../server/src/index/lmdb-index.js'
import type { NewTrack } from '../server/src/index/types.js'
import { makeRng } from './degrade.js'

/** Per-copy shifts of the anchor bin, the bin difference and the frame difference. */
export interface Variant {
  bin: number
  deltaBin: number
  deltaFrame: number
}

/** A track of the synthetic catalog: its metadata and its hashes. */
export interface SyntheticTrack {
  meta: NewTrack
  hashes: HashList
  /** Which original and which copy of it. */
  original: number
  copy: number
}

const DELTA_BIN_BIAS = 1 << (DELTA_BIN_BITS - 1)
const VARIANT_SEED = 0x5ca1e // fixed: copy k is the same track on every run and machine

/** Every variant of `params`, copy 0 (no shift) first; then those with deltaFrame 0 in a fixed shuffle, then the rest. */
export function variants (params: FingerprintParams): Variant[] {
  const rb = params.peakBinRadius
  const rf = params.peakFrameRadius
  const rng = makeRng(VARIANT_SEED)
  const out: Variant[] = [{ bin: 0, deltaBin: 0, deltaFrame: 0 }]
  // Frame-difference shifts in the order 0, 1, -1, 2, -2...: the copies of a 100k catalog need none of them.
  for (let i = 0; i <= 2 * rf; i++) {
    const deltaFrame = i % 2 === 1 ? (i + 1) / 2 : -i / 2
    const block: Variant[] = []
    for (let bin = -rb; bin <= rb; bin++) {
      for (let deltaBin = -rb; deltaBin <= rb; deltaBin++) {
        if (bin !== 0 || deltaBin !== 0 || deltaFrame !== 0) block.push({ bin, deltaBin, deltaFrame })
      }
    }
    // Fisher–Yates with the fixed seed: any prefix is an even sample of the block.
    for (let j = block.length - 1; j > 0; j--) {
      const r = Math.floor(rng() * (j + 1))
      const v = block[j]; block[j] = block[r]; block[r] = v
    }
    out.push(...block)
  }
  return out
}

/** A cyclic shift by `by` of the values [lo, hi), identity elsewhere, over `size` values. */
function shiftTable (size: number, lo: number, hi: number, by: number): Uint32Array {
  const t = new Uint32Array(size)
  const n = hi - lo
  for (let v = 0; v < size; v++) t[v] = v >= lo && v < hi ? lo + ((((v - lo + by) % n) + n) % n) : v
  return t
}

/** T_k as three field tables: one table lookup per field instead of unpacking every hash into an object. */
export class HashShift {
  readonly #bin: Uint32Array
  readonly #deltaBin: Uint32Array
  readonly #deltaFrame: Uint32Array

  constructor (params: FingerprintParams, v: Variant) {
    this.#bin = shiftTable(1 << BIN_BITS, params.minBin, params.maxBin, v.bin)
    // The bin difference is stored biased by 128: shift the biased values of [-maxDeltaBins, maxDeltaBins].
    this.#deltaBin = shiftTable(1 << DELTA_BIN_BITS, DELTA_BIN_BIAS - params.maxDeltaBins, DELTA_BIN_BIAS + params.maxDeltaBins + 1, v.deltaBin)
    this.#deltaFrame = shiftTable(1 << DELTA_FRAME_BITS, params.minDeltaFrames, params.maxDeltaFrames + 1, v.deltaFrame)
  }

  apply (hash: number): number {
    const bin = hash >>> (DELTA_BIN_BITS + DELTA_FRAME_BITS)
    const deltaBin = (hash >>> DELTA_FRAME_BITS) & ((1 << DELTA_BIN_BITS) - 1)
    const deltaFrame = hash & ((1 << DELTA_FRAME_BITS) - 1)
    return ((this.#bin[bin] << (DELTA_BIN_BITS + DELTA_FRAME_BITS)) | (this.#deltaBin[deltaBin] << DELTA_FRAME_BITS) |
      this.#deltaFrame[deltaFrame]) >>> 0
  }

  /** A new hash list: hashes shifted, frames shared with `list` (the index only reads them). */
  applyList (list: HashList): HashList {
    const hashes = new Uint32Array(list.count)
    for (let i = 0; i < list.count; i++) hashes[i] = this.apply(list.hashes[i])
    return { hashes, frames: list.frames.subarray(0, list.count), count: list.count, frameCount: list.frameCount }
  }
}

/** Copy `k` of an original: shifted hashes and metadata of its own. */
export function copyTrack (shift: HashShift, original: { meta: NewTrack, hashes: HashList }, index: number, k: number): SyntheticTrack {
  if (k === 0) return { meta: original.meta, hashes: original.hashes, original: index, copy: 0 }
  const hashes = shift.applyList(original.hashes)
  const m = original.meta
  const title = m.title !== '' ? m.title : `track ${index}`
  return {
    meta: {
      title: `${title} #${k}`,
      artist: `${m.artist !== '' ? m.artist : 'artist'} #${k}`,
      album: `${m.album !== '' ? m.album : 'album'} #${k}`,
      source: `synthetic:${index}#${k}`,
      durationSeconds: m.durationSeconds,
      digest: fingerprintDigest(hashes),
    },
    hashes,
    original: index,
    copy: k,
  }
}

/**
 * The first `n` tracks of the catalog made from `originals`: copy 0 of every original, then copy 1 of every
 * original, and so on, so any size holds every original and an even spread of copies. Copies are made one at a time
 * (the caller keeps at most the one it is storing). `firstCopy` skips copies (to make tracks that are not in a
 * catalog of a given size).
 */
export function * syntheticTracks (params: FingerprintParams, originals: ReadonlyArray<{ meta: NewTrack, hashes: HashList }>, n: number, firstCopy = 0): Generator<SyntheticTrack> {
  const all = variants(params)
  const copies = firstCopy + Math.ceil(n / originals.length)
  if (copies > all.length) throw new RangeError(`${n} tracks need ${copies} copies of each of ${originals.length} originals; the shifts give ${all.length}`)
  let made = 0
  for (let k = firstCopy; made < n; k++) {
    const shift = new HashShift(params, all[k])
    for (let o = 0; o < originals.length && made < n; o++, made++) yield copyTrack(shift, originals[o], o, k)
  }
}
