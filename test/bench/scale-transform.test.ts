import t from 'tap'
import { defaultFingerprint as params } from '../../server/src/config/fingerprint.js'
import { BANDS, HASH_LIMIT, hashToLandmark, hashToPair, isPair, landmarkToHash, MAX_INTERVAL, pairToHash, POSITIONS, shapeOf, SHAPE_COUNT, SHAPES, SPANS } from '../../server/src/dsp/landmarks.js'
import { fingerprint } from '../../server/src/dsp/pipeline.js'
import { fingerprintDigest } from '../../server/src/index/digest.js'
import { bandCells, HashShift, inverse, movesEveryPeak, pairPitchCells, spanCells, syntheticTracks, variants, type Variant } from '../../bench/synthetic-catalog.js'
import { song } from '../helpers/signals.js'

// The copies of bench:scale: each copy's hash map is a bijection, and a copy shares next to no aligned evidence with
// its original, even through the neighbour cells a query looks up.
const all = variants(params)
const BLOCK = 490 // variants per span shift (see the header of bench/synthetic-catalog.ts)
const INTERVALS = 2 * MAX_INTERVAL + 1
const key = (v: Variant): string => `${v.band},${v.intervalB},${v.intervalC},${v.span},${v.position}`

t.test('the cells the default parameters reach', async (t) => {
  t.equal(bandCells(params), 22, 'bands of 3 semitones over bins 10..446')
  t.equal(spanCells(params), 14, 'span cells of 0.3 up to ln 64')
  t.equal(pairPitchCells(params), 132, 'pair pitch cells of half a semitone over bins 10..445')
  t.ok(bandCells(params) <= BANDS && spanCells(params) <= SPANS)
})

t.test('variants: copy 0 unshifted, then every allowed shift once per span shift', async (t) => {
  t.same(all[0], { band: 0, intervalB: 0, intervalC: 0, span: 0, position: 0 })
  t.equal(all.length, 1 + 14 * BLOCK, 'a block per span shift')
  t.equal(new Set(all.map(key)).size, all.length, 'all distinct')
  const rest = all.slice(1)
  t.ok(rest.every((v) => Math.abs(v.band) >= 1 && Math.abs(v.band) <= 2 && Math.abs(v.intervalB) <= 2 && Math.abs(v.intervalC) <= 2 &&
    v.position >= -3 && v.position <= 4 && v.span >= -6 && v.span <= 7), 'shifts within their radii')
  t.ok(rest.every(movesEveryPeak), 'every copy moves all three peaks of a triplet')
  // A query looks up band ± 1 and span ± 1 of its own landmarks: a copy must differ from its original in more.
  t.ok(rest.every((v) => v.position !== 0), 'every copy moves the position, out of reach of a query\'s neighbour cells')
  // By hand: a band shift of 1 up needs interval c up 1 or 2 (else c may stay where it was); a shift of 2 takes
  // every interval shift. Interval b takes all five, the position seven.
  const block0 = all.slice(1, 1 + BLOCK)
  t.equal(block0.filter((v) => v.band === 1).length, 2 * 5 * 7)
  t.ok(block0.filter((v) => v.band === 1).every((v) => v.intervalC >= 1))
  t.equal(block0.filter((v) => v.band === 2).length, 5 * 5 * 7)
  t.equal(block0.filter((v) => v.band === -2).length, 5 * 5 * 7)
  t.ok(block0.every((v) => v.span === 0), `the first ${BLOCK} copies keep the span`)
  t.ok(all.slice(1 + BLOCK, 1 + 2 * BLOCK).every((v) => v.span === 1), 'then span shift 1')
  t.equal(new Set(block0.slice(0, 100).map((v) => v.band)).size, 4, 'a prefix samples every band shift')
  t.same(variants(params), all, 'the same order on every run')
})

t.test('the shift of each field, with a worked example and a wrap', async (t) => {
  // The example of dsp/landmarks.ts: band 8, intervals +7 and -4, span 9, position 4.
  const s = new HashShift(params, { band: 2, intervalB: -1, intervalC: 2, span: 1, position: -3 })
  t.same(hashToLandmark(s.apply(2655692)), { band: 10, intervalB: 6, intervalC: -2, span: 10, position: 1 })
  // Bands wrap inside [0, 22), intervals inside [-24, 24], spans inside [0, 14), positions inside [0, 8).
  const w = new HashShift(params, { band: 2, intervalB: 1, intervalC: -2, span: 1, position: 1 })
  t.same(hashToLandmark(w.apply(landmarkToHash(21, 24, -24, 13, 7))), { band: 1, intervalB: -24, intervalC: 23, span: 0, position: 0 })
  t.same(hashToLandmark(w.apply(landmarkToHash(22, 0, 0, 15, 3))), { band: 22, intervalB: 1, intervalC: -2, span: 15, position: 4 },
    'bands and spans the pipeline never makes stay put')
  t.equal(w.apply(HASH_LIMIT), HASH_LIMIT, 'hashes past the layout stay put')
  t.equal(w.apply(2 ** 23 - 1), 2 ** 23 - 1)
  const back = new HashShift(params, inverse({ band: 2, intervalB: 1, intervalC: -2, span: 1, position: 1 }))
  t.equal(back.apply(w.apply(2655692)), 2655692, 'the inverse variant undoes it')
  // A pair (the example of dsp/landmarks.ts: pitch 48, interval +14, delta 10): pitch by 6 band, interval by 2 dB,
  // delta by the position shift; pitches wrap inside [0, 132), intervals inside [-48, 48], deltas inside [1, 63].
  t.same(hashToPair(s.apply(pairToHash(48, 14, 10))), { pitch: 60, interval: 12, delta: 7 })
  t.same(hashToPair(w.apply(pairToHash(130, 47, 63))), { pitch: 10, interval: -48, delta: 1 })
  t.equal(back.apply(w.apply(pairToHash(48, 14, 10))), pairToHash(48, 14, 10), 'and a pair\'s')
})

t.test('each copy maps the hash space onto itself one to one, and the hashes the pipeline makes onto themselves', async (t) => {
  const sample = [all[1], all[2], all[BLOCK], all[BLOCK + 1], all[all.length - 1], { band: -2, intervalB: 2, intervalC: -2, span: 7, position: 4 }]
  const bands = bandCells(params)
  const spans = spanCells(params)
  // A hash the pipeline can make: band and span within the cells the parameters reach (the intervals all are).
  const reachable = (h: number): boolean => {
    if (!isPair(h)) return Math.floor(h / (INTERVALS * INTERVALS * SHAPES)) < bands && Math.floor(shapeOf(h) / POSITIONS) < spans
    const p = hashToPair(h)
    return p.pitch < pairPitchCells(params) && p.delta <= params.maxDeltaFrames
  }
  for (const v of sample) {
    const s = new HashShift(params, v)
    const seen = new Uint8Array(HASH_LIMIT)
    let collisions = 0; let outside = 0; let left = 0
    for (let h = 0; h < HASH_LIMIT; h++) {
      const x = s.apply(h)
      if (!(x >= 0 && x < HASH_LIMIT && Number.isInteger(x))) { outside++; continue }
      if (seen[x] === 1) collisions++
      seen[x] = 1
      if (reachable(h) !== reachable(x)) left++
    }
    t.equal(collisions + outside, 0, `shift ${key(v)}: a permutation of [0, HASH_LIMIT)`)
    t.equal(left, 0, `shift ${key(v)}: keeps band < ${bands}, span < ${spans} and a pair's pitch < ${pairPitchCells(params)}`)
  }
})

t.test('copies keep the statistics of their original and share only chance aligned pairs with it', async (t) => {
  const songs = [1, 2, 3].map((seed) => song(seed, 30, 11025))
  const originals = songs.map((x, i) => {
    const list = fingerprint(params, x, 11025)
    const hashes = { hashes: list.hashes.slice(0, list.count), frames: list.frames.slice(0, list.count), count: list.count, frameCount: list.frameCount }
    return { meta: { title: `song ${i + 1}`, artist: '', album: '', source: `song-${i + 1}`, durationSeconds: 30, digest: fingerprintDigest(hashes) }, hashes }
  })
  const pairs = (l: { hashes: Uint32Array, frames: Uint32Array, count: number }): Set<number> => {
    const s = new Set<number>()
    for (let i = 0; i < l.count; i++) s.add(l.hashes[i] * 2 ** 24 + l.frames[i])
    return s
  }
  const own = originals.map((o) => pairs(o.hashes))
  // What a clip of the original looks up: its hashes with the neighbour cells of band and span.
  const looked = songs.map((x) => pairs(fingerprint(params, x, 11025, { query: true })))
  const distinct = (l: { hashes: Uint32Array, count: number }): number => new Set(l.hashes.subarray(0, l.count)).size
  const groups = (l: { hashes: Uint32Array, frames: Uint32Array, count: number }): number => {
    const s = new Set<number>()
    for (let i = 0; i < l.count; i++) s.add(l.frames[i] * SHAPE_COUNT + shapeOf(l.hashes[i]))
    return s.size
  }
  const valid = (h: number): boolean => {
    if (isPair(h)) {
      const p = hashToPair(h)
      return p.pitch < pairPitchCells(params) && Math.abs(p.interval) <= 2 * params.maxIntervalSemitones && p.delta >= 1 && p.delta <= params.maxDeltaFrames
    }
    const l = hashToLandmark(h)
    return l.band < bandCells(params) && Math.abs(l.intervalB) <= params.maxIntervalSemitones && Math.abs(l.intervalC) <= params.maxIntervalSemitones &&
      l.span < spanCells(params) && l.position < POSITIONS && Number.isInteger(l.band) && l.band >= 0 && l.span >= 0 && l.position >= 0
  }
  // 200 copies of each (the first 200 shifts), plus the last variant (a span shift).
  const copies = [...syntheticTracks(params, originals, 200 * 3), ...syntheticTracks(params, originals, 3, all.length - 1)]
  let shared = 0; let sharedLooked = 0; let worst = 0; let total = 0; let sameStats = true; let invalid = 0
  for (const c of copies) {
    if (c.copy === 0) continue
    const o = originals[c.original].hashes
    if (c.hashes.count !== o.count || c.hashes.frameCount !== o.frameCount || distinct(c.hashes) !== distinct(o) ||
      groups(c.hashes) !== groups(o) || !c.hashes.frames.every((f, i) => f === o.frames[i])) sameStats = false
    let mine = 0
    for (let i = 0; i < c.hashes.count; i++) {
      const h = c.hashes.hashes[i]
      if (!valid(h)) invalid++
      total++
      const p = h * 2 ** 24 + c.hashes.frames[i]
      if (own[c.original].has(p)) shared++
      if (looked[c.original].has(p)) { sharedLooked++; mine++ }
    }
    worst = Math.max(worst, mine / c.hashes.count)
  }
  t.equal(invalid, 0, 'every landmark of a copy is one the pipeline could make')
  t.ok(sameStats, 'same count, distinct hashes, landmark groups and frames')
  t.ok(shared / total < 2e-4, `aligned pairs in common with the original: ${shared} of ${total}`)
  t.ok(sharedLooked / total < 2e-4, `aligned pairs a clip of the original looks up: ${sharedLooked} of ${total}`)
  t.ok(worst < 3e-3, `the worst copy: ${worst.toExponential(1)} of its landmarks`)
  t.equal(new Set(copies.map((c) => c.meta.digest)).size, copies.length, 'every copy a distinct track')
  t.equal(copies[0].meta, originals[0].meta, 'copy 0 is the original')
})
