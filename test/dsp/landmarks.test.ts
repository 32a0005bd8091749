import t from 'tap'
import { defaultFingerprint as params, type FingerprintParams } from '../../server/src/config/fingerprint.js'
import { BANDS, checkHashLayout, hashToLandmark, hashToPair, HASH_LIMIT, isPair, LandmarkHasher, landmarkToHash, PAIR_DELTAS, PAIR_PITCHES, pairToHash, shapeOf, SHAPE_COUNT, SHAPES, TRIPLET_LIMIT } from '../../server/src/dsp/landmarks.js'
import { MAX_HASH } from '../../server/src/index/segment-codec.js'
import { fingerprint } from '../../server/src/dsp/pipeline.js'
import { prng, silence } from '../helpers/signals.js'

/** A peak at a time in frames and a position in bins, both fractional. */
type Peak = [time: number, bin: number]

/** Run the hasher over peaks (in time order); return "frame:hash" strings in emission order. */
function hashes (peaks: Peak[], options: { query?: boolean | 'clip' } = {}, p: FingerprintParams = params): string[] {
  const out: string[] = []
  const h = new LandmarkHasher(p, (hash, frame) => { out.push(`${frame}:${hash}`) }, options)
  for (const [time, bin] of peaks) {
    const frame = Math.round(time)
    const b = Math.round(bin)
    h.write(frame, b, time - frame, bin - b)
  }
  h.end()
  return out
}

const hashOf = (s: string): number => Number(s.split(':')[1])
/** Only the triplets' "frame:hash" strings. */
const triplets = (list: string[]): string[] => list.filter((s) => !isPair(hashOf(s)))
const pairs = (list: string[]): string[] => list.filter((s) => isPair(hashOf(s)))

/** A bin `semis` semitones from `bin`. */
const up = (bin: number, semis: number): number => bin * 2 ** (semis / 12)

t.test('the worked example of the header comment', async (t) => {
  t.equal(landmarkToHash(8, 7, -4, 9, 4), 2655692)
  t.same(hashToLandmark(2655692), { band: 8, intervalB: 7, intervalC: -4, span: 9, position: 4 })
  t.equal(shapeOf(2655692), 9 * 8 + 4)
  // The same triplet from peaks: anchor at bin 40, b a fifth up 10 frames later, c a major third down at 20.
  t.same(triplets(hashes([[0, 40], [10, up(40, 7)], [20, up(40, -4)]])), ['0:2655692'], 'one triplet, from the anchor')
  // The pair example: the same anchor and b at bin 60, 10 frames later.
  t.equal(pairToHash(48, 14, 10), 7673115)
  t.same(hashToPair(7673115), { pitch: 48, interval: 14, delta: 10 })
  t.equal(shapeOf(7673115), SHAPES + 9)
  t.same(pairs(hashes([[0, 40], [10, 60]])), ['0:7673115'], 'one pair, from the anchor')
})

t.test('pairToHash and hashToPair round trip; pair hashes follow the triplets\' and fit a segment key', async (t) => {
  let ok = true
  for (const pitch of [0, 1, 70, PAIR_PITCHES - 1]) {
    for (const interval of [-48, -1, 0, 1, 48]) {
      for (const delta of [1, 2, 30, PAIR_DELTAS]) {
        const hash = pairToHash(pitch, interval, delta)
        const back = hashToPair(hash)
        if (hash < TRIPLET_LIMIT || hash >= HASH_LIMIT || !isPair(hash) || back.pitch !== pitch || back.interval !== interval || back.delta !== delta ||
          shapeOf(hash) !== SHAPES + delta - 1) ok = false
      }
    }
  }
  t.ok(ok, 'every pair round trips, with its delta as its shape')
  t.equal(pairToHash(0, -48, 1), TRIPLET_LIMIT, 'the smallest pair hash')
  t.equal(pairToHash(PAIR_PITCHES - 1, 48, PAIR_DELTAS), HASH_LIMIT - 1, 'the largest hash')
  t.equal(SHAPE_COUNT, SHAPES + PAIR_DELTAS)
})

t.test('landmarkToHash and hashToLandmark round trip over the whole layout', async (t) => {
  let ok = true
  let n = 0
  for (const band of [0, 1, 12, BANDS - 1]) {
    for (const intervalB of [-24, -1, 0, 1, 24]) {
      for (const intervalC of [-24, -7, 0, 12, 24]) {
        for (const span of [0, 1, 8, 15]) {
          for (const position of [0, 3, 7]) {
            const hash = landmarkToHash(band, intervalB, intervalC, span, position)
            const back = hashToLandmark(hash)
            if (!Number.isInteger(hash) || hash < 0 || hash >= TRIPLET_LIMIT || isPair(hash) || back.band !== band || back.intervalB !== intervalB ||
              back.intervalC !== intervalC || back.span !== span || back.position !== position) ok = false
            n++
          }
        }
      }
    }
  }
  t.ok(ok, `${n} landmarks round trip and stay below ${TRIPLET_LIMIT}`)
  t.equal(landmarkToHash(BANDS - 1, 24, 24, 15, 7), TRIPLET_LIMIT - 1, 'the largest triplet hash')
  t.ok(HASH_LIMIT <= MAX_HASH, 'every hash fits a segment key')
  t.equal(SHAPES, 128)
  const one = [landmarkToHash(1, 0, 0, 0, 0), landmarkToHash(0, 1, 0, 0, 0), landmarkToHash(0, 0, 1, 0, 0),
    landmarkToHash(0, 0, 0, 1, 0), landmarkToHash(0, 0, 0, 0, 1), landmarkToHash(0, 0, 0, 0, 0)]
  t.equal(new Set(one).size, 6, 'each field changes the hash')
})

t.test('an anchor makes a pair with each of its first fanout targets and a triplet with every two', async (t) => {
  const peaks: Peak[] = [[0, 100]]
  for (let f = 1; f <= 8; f++) peaks.push([f * 7, up(100, f)]) // frames 7..56, all in the anchor's zone
  for (const [query, k] of [[false, params.fanout], [true, params.queryFanout]] as const) {
    const fromAnchor = hashes(peaks, { query }).filter((s) => s.startsWith('0:'))
    const tripletHashes = new Set(triplets(fromAnchor).map(hashOf))
    // A query also asks neighbour cells: the same intervals in another band or span.
    const intervals = [...new Set([...tripletHashes].map((h) => hashToLandmark(h)).map((l) => `${l.intervalB},${l.intervalC}`))]
    t.same(intervals, ['1,2', '1,3', '2,3', '1,4', '2,4', '3,4'].slice(0, (k * (k - 1)) / 2), `${query ? 'query' : 'index'}: triplets in the order their later target arrives`)
    t.same(pairs(fromAnchor).map((s) => hashToPair(hashOf(s)).delta), [7, 14, 21, 28].slice(0, k), 'a pair to each target')
  }
})

t.test('a clip\'s denser peaks make pairs only, with clipFanout targets', async (t) => {
  const peaks: Peak[] = [[0, 100]]
  for (let f = 1; f <= 8; f++) peaks.push([f * 7, up(100, f)])
  const all = hashes(peaks, { query: 'clip' })
  t.equal(triplets(all).length, 0, 'no triplets')
  const fromAnchor = all.filter((s) => s.startsWith('0:'))
  t.same(pairs(fromAnchor).map((s) => hashToPair(hashOf(s)).delta), [7, 14, 21, 28, 35, 42, 49, 56].slice(0, params.clipFanout), 'a pair to each target')
})

t.test('a clip\'s fingerprint holds every hash of a stream\'s query', async (t) => {
  const audio = new Float32Array(5 * 11025)
  const rand = prng(9)
  for (let i = 0; i < audio.length; i++) audio[i] = 0.3 * Math.sin(i * (0.05 + 0.02 * Math.floor(i / 4000))) + 0.05 * (rand() - 0.5)
  const key = (l: ReturnType<typeof fingerprint>): Set<string> => new Set(Array.from(l.hashes.subarray(0, l.count), (h, i) => `${l.frames[i]}:${h}`))
  const clip = key(fingerprint(params, audio, 11025, { query: 'clip' }))
  const stream = key(fingerprint(params, audio, 11025, { query: true }))
  t.ok(stream.size > 0)
  t.equal([...stream].filter((s) => !clip.has(s)).length, 0)
  t.ok(clip.size > stream.size, 'and more')
})

t.test('zone limits: maxDeltaFrames and maxIntervalSemitones are inclusive', async (t) => {
  const { maxDeltaFrames: df, maxIntervalSemitones: st } = params
  const count = (peaks: Peak[]): number => triplets(hashes(peaks)).filter((s) => s.startsWith('0:')).length
  t.equal(count([[0, 100], [5, 110], [df, 100]]), 1, 'a target at maxDeltaFrames')
  t.equal(count([[0, 100], [5, 110], [df + 1, 100]]), 0, 'one frame past it')
  t.equal(count([[0, 100], [5, 110], [20, up(100, st - 0.01)]]), 1, 'a target just inside the interval limit')
  t.equal(count([[0, 100], [5, 110], [20, up(100, st + 0.01)]]), 0, 'just outside it')
  t.equal(count([[0, 100], [5, 110], [20, up(100, -st - 0.01)]]), 0, 'and below')
})

/**
 * Random peaks in time order, bins between 12 and 400, at least two frames apart (so that a 5 % change of speed
 * never moves a target to the anchor's frame, out of the zone).
 */
function randomPeaks (seed: number, frames: number): Peak[] {
  const rng = prng(seed)
  const peaks: Peak[] = []
  for (let f = 0; f < frames; f += 2 + Math.floor(rng() * 2)) peaks.push([f + rng() * 0.4 - 0.2, 12 + rng() * 388])
  return peaks
}

t.test('query hashes find every indexed landmark under speed, tempo and pitch changes within the tolerance', async (t) => {
  const reference = randomPeaks(7, 600)
  const indexed = hashes(reference)
  t.ok(indexed.length > 1000, `${indexed.length} landmarks`)
  // time: track frames per query frame (the query's times are divided by it); pitch: frequency factor.
  const changes: Array<[string, number, number]> = [
    ['speed +5%', 1.05, 1.05], ['speed -5%', 0.95, 0.95], ['speed +2%', 1.02, 1.02],
    ['tempo +3%', 1.03, 1], ['tempo -3%', 0.97, 1], ['pitch +0.5 semitone', 1, 2 ** (0.5 / 12)], ['pitch -0.5 semitone', 1, 2 ** (-0.5 / 12)],
  ]
  for (const [name, time, pitch] of changes) {
    // Keep peaks whose bins stay in range; the zone limit in frames scales too, so keep triplets well inside it.
    const query = reference.map(([f, b]): Peak => [f / time, b * pitch])
    const found = new Set(hashes(query, { query: true }).map((s) => Number(s.split(':')[1])))
    // The zone's limit in frames scales with the audio: compare the landmarks of a zone narrow enough that their
    // targets stay in the query's zone at every change.
    const narrow = { ...params, maxDeltaFrames: Math.floor(params.maxDeltaFrames * 0.94) }
    const landmarks = triplets(hashes(reference, {}, narrow)).map(hashOf)
    const missing = landmarks.filter((h) => !found.has(h)).length
    t.equal(missing, 0, `${name}: all ${landmarks.length} triplets found`)
  }
})

t.test('pairs are exact: the same peaks give the same pairs; a speed change moves them', async (t) => {
  const reference = randomPeaks(11, 600)
  const indexed = pairs(hashes(reference))
  t.ok(indexed.length > 500, `${indexed.length} pairs`)
  const asked = new Set(pairs(hashes(reference, { query: true })))
  t.equal(indexed.filter((s) => !asked.has(s)).length, 0, 'a query of the same peaks holds every indexed pair')
  // Within a bin, the interpolated position does not change a pair.
  const nudged = reference.map(([f, b]): Peak => [f, Math.round(b) + 0.3 * Math.sign(b - Math.round(b))])
  t.same(pairs(hashes(nudged)), indexed, 'interpolation inside the bin changes no pair')
  const fast = new Set(pairs(hashes(reference.map(([f, b]): Peak => [f / 1.05, b * 1.05]), { query: true })).map(hashOf))
  const kept = indexed.filter((s) => fast.has(hashOf(s))).length
  t.ok(kept < indexed.length / 10, `at +5 % speed ${kept} of ${indexed.length} pairs (the triplets carry speed changes)`)
})

t.test('indexing gives one hash a landmark; a query gives neighbour cells only near an edge', async (t) => {
  const peaks = randomPeaks(3, 400)
  // With as many targets as the index, the query's extra hashes are the neighbour cells of triplets.
  const same = { ...params, queryFanout: params.fanout }
  const indexed = triplets(hashes(peaks, {}, same))
  const per = triplets(hashes(peaks, { query: true }, same)).length / indexed.length
  t.ok(per > 1 && per < 3, `${per.toFixed(2)} lookups per triplet`)
  t.equal(pairs(hashes(peaks, { query: true }, same)).length, pairs(hashes(peaks, {}, same)).length, 'one lookup per pair')
  const asked = new Set(hashes(peaks, { query: true }))
  t.equal(hashes(peaks).filter((s) => !asked.has(s)).length, 0, 'the query (more targets) holds every indexed hash')
})

t.test('checkHashLayout refuses parameters the layout cannot hold', async (t) => {
  t.doesNotThrow(() => checkHashLayout(params))
  t.throws(() => checkHashLayout({ ...params, minBin: 2 }), RangeError, 'more bands than the layout holds')
  t.throws(() => checkHashLayout({ ...params, maxIntervalSemitones: 25 }), RangeError)
  t.throws(() => checkHashLayout({ ...params, maxDeltaFrames: 4000 }), RangeError)
  t.throws(() => checkHashLayout({ ...params, speedTolerance: -0.1 }), RangeError)
  t.throws(() => checkHashLayout({ ...params, queryFanout: params.fanout - 1 }), RangeError, 'a query takes at least the index\'s targets')
  t.throws(() => checkHashLayout({ ...params, clipFanout: params.queryFanout - 1 }), RangeError, 'a clip takes at least a stream\'s targets')
  t.throws(() => checkHashLayout({ ...params, clipPeaksPerBlock: 0 }), RangeError)
  t.throws(() => new LandmarkHasher({ ...params, maxIntervalSemitones: 40 }, () => {}), RangeError)
})

t.test('silence gives no hashes', async (t) => {
  const list = fingerprint(params, silence(5, 44100), 44100)
  t.equal(list.count, 0)
  t.ok(list.frameCount > 0)
})
