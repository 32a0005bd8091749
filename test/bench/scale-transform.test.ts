import t from 'tap'
import { defaultFingerprint as params } from '../../server/src/config/fingerprint.js'
import { hashToLandmark, landmarkToHash } from '../../server/src/dsp/landmarks.js'
import { fingerprint } from '../../server/src/dsp/pipeline.js'
import { fingerprintDigest } from '../../server/src/index/lmdb-index.js'
import { HashShift, syntheticTracks, variants } from '../../bench/synthetic-catalog.js'
import { song } from '../helpers/signals.js'

// The copies of bench:scale: each copy's hash map is a bijection, and a copy shares no aligned evidence with its original.
const all = variants(params)
const HASH_SPACE = 1 << 23

t.test('variants: copy 0 unshifted, then every shift within the peak radii once', async (t) => {
  t.same(all[0], { bin: 0, deltaBin: 0, deltaFrame: 0 })
  t.equal(all.length, 25 * 25 * 17, '(2·12+1)² shifts of bins × (2·8+1) of frames')
  t.equal(new Set(all.map((v) => `${v.bin},${v.deltaBin},${v.deltaFrame}`)).size, all.length, 'all distinct')
  t.ok(all.every((v) => Math.abs(v.bin) <= 12 && Math.abs(v.deltaBin) <= 12 && Math.abs(v.deltaFrame) <= 8))
  t.ok(all.slice(0, 625).every((v) => v.deltaFrame === 0), 'the first 625 keep the frame difference')
  t.same(variants(params), all, 'the same order on every run')
})

t.test('the shift of each field, with a worked example and a wrap', async (t) => {
  const s = new HashShift(params, { bin: 3, deltaBin: -2, deltaFrame: 1 })
  t.same(hashToLandmark(s.apply(landmarkToHash(100, -5, 12))), { bin: 103, deltaBin: -7, deltaFrame: 13 })
  // Bins wrap inside [minBin, maxBin) = [10, 446), bin differences inside [-127, 127], frame differences inside [1, 63].
  t.same(hashToLandmark(s.apply(landmarkToHash(445, -126, 63))), { bin: 12, deltaBin: 127, deltaFrame: 1 })
  t.same(hashToLandmark(s.apply(landmarkToHash(5, 0, 0))), { bin: 5, deltaBin: -2, deltaFrame: 0 }, 'values the pipeline never makes stay put')
})

t.test('each copy maps the 23-bit hash space onto itself one to one', async (t) => {
  const sample = [all[1], all[2], all[624], all[625], all[all.length - 1], { bin: 12, deltaBin: -12, deltaFrame: -8 }]
  for (const v of sample) {
    const s = new HashShift(params, v)
    const seen = new Uint8Array(HASH_SPACE)
    let collisions = 0; let outside = 0
    for (let h = 0; h < HASH_SPACE; h++) {
      const x = s.apply(h)
      if (x >= HASH_SPACE) { outside++; continue }
      if (seen[x] === 1) collisions++
      seen[x] = 1
    }
    t.equal(collisions + outside, 0, `shift ${JSON.stringify(v)}: a bijection`)
  }
})

t.test('copies keep the statistics of their original and share no aligned (hash, frame) pair with it', async (t) => {
  const originals = [1, 2, 3].map((seed) => {
    const list = fingerprint(params, song(seed, 30, 11025), 11025)
    const hashes = { hashes: list.hashes.slice(0, list.count), frames: list.frames.slice(0, list.count), count: list.count, frameCount: list.frameCount }
    return { meta: { title: `song ${seed}`, artist: '', album: '', source: `song-${seed}`, durationSeconds: 30, digest: fingerprintDigest(hashes) }, hashes }
  })
  const pairs = (l: { hashes: Uint32Array, frames: Uint32Array, count: number }): Set<number> => {
    const s = new Set<number>()
    for (let i = 0; i < l.count; i++) s.add(l.hashes[i] * 2 ** 24 + l.frames[i])
    return s
  }
  const own = originals.map((o) => pairs(o.hashes))
  const distinct = (l: { hashes: Uint32Array, count: number }): number => new Set(l.hashes.subarray(0, l.count)).size
  // Whether a shift carries a landmark across the edge of a field's range (then it lands far away, by chance).
  const wraps = (hash: number, v: { bin: number, deltaBin: number, deltaFrame: number }): boolean => {
    const l = hashToLandmark(hash)
    const b = l.bin + v.bin; const d = l.deltaBin + v.deltaBin; const f = l.deltaFrame + v.deltaFrame
    return b < params.minBin || b >= params.maxBin || Math.abs(d) > params.maxDeltaBins || f < params.minDeltaFrames || f > params.maxDeltaFrames
  }
  // 200 copies of each (the first 200 shifts), plus the last variant (a frame-difference shift).
  const copies = [...syntheticTracks(params, originals, 200 * 3), ...syntheticTracks(params, originals, 3, all.length - 1)]
  let shared = 0; let sharedNear = 0; let total = 0; let sameStats = true
  for (const c of copies) {
    if (c.copy === 0) continue
    const o = originals[c.original].hashes
    if (c.hashes.count !== o.count || c.hashes.frameCount !== o.frameCount || distinct(c.hashes) !== distinct(o)) sameStats = false
    for (let i = 0; i < c.hashes.count; i++) {
      total++
      if (!own[c.original].has(c.hashes.hashes[i] * 2 ** 24 + c.hashes.frames[i])) continue
      shared++
      if (!wraps(o.hashes[i], all[c.copy])) sharedNear++
    }
  }
  t.equal(sharedNear, 0, 'no aligned pair in common but where a shift wraps round')
  t.ok(shared / total < 1e-4, `aligned pairs in common, by chance across a wrap: ${shared} of ${total}`)
  t.ok(sameStats, 'same count, distinct hashes and frames')
  t.equal(new Set(copies.map((c) => c.meta.digest)).size, copies.length, 'every copy a distinct track')
  t.equal(copies[0].meta, originals[0].meta, 'copy 0 is the original')
})
