import t from 'tap'
import { defaultFingerprint as params, type FingerprintParams } from '../../server/src/config/fingerprint.js'
import { checkHashLayout, hashToLandmark, LandmarkHasher, landmarkToHash } from '../../server/src/dsp/landmarks.js'
import { fingerprint } from '../../server/src/dsp/pipeline.js'
import { silence } from '../helpers/signals.js'

/** Run the hasher over (frame, bin) peaks; return "frame:bin,deltaBin,deltaFrame" strings, sorted. */
function landmarks (peaks: Array<[number, number]>, p: FingerprintParams = params): string[] {
  const out: string[] = []
  const h = new LandmarkHasher(p, (hash, frame) => {
    const l = hashToLandmark(hash)
    out.push(`${frame}:${l.bin},${l.deltaBin},${l.deltaFrame}`)
  })
  for (const [frame, bin] of peaks) h.write(frame, bin)
  h.end()
  return out.sort()
}

t.test('the worked example of the header comment', async (t) => {
  t.equal(landmarkToHash(100, -5, 12), 1646284)
  t.same(hashToLandmark(1646284), { bin: 100, deltaBin: -5, deltaFrame: 12 })
})

t.test('landmarkToHash and hashToLandmark round trip over the whole layout', async (t) => {
  let ok = true
  let n = 0
  for (const bin of [0, 1, 10, 100, 255, 445, 511]) {
    for (const deltaBin of [-127, -128, -64, -1, 0, 1, 64, 127]) {
      for (const deltaFrame of [0, 1, 12, 32, 63]) {
        const hash = landmarkToHash(bin, deltaBin, deltaFrame)
        const back = hashToLandmark(hash)
        if (hash < 0 || hash >= 2 ** 23 || back.bin !== bin || back.deltaBin !== deltaBin || back.deltaFrame !== deltaFrame) ok = false
        n++
      }
    }
  }
  t.ok(ok, `${n} landmarks round trip and fit 23 bits`)
  t.equal(new Set([landmarkToHash(1, 0, 0), landmarkToHash(0, 1, 0), landmarkToHash(0, 0, 1), landmarkToHash(0, -1, 0)]).size, 4,
    'each field changes the hash')
})

t.test('pairs each anchor with the first peaks of its target zone (hand-checked)', async (t) => {
  // Anchor (0,100): (0,150) is in the same frame, skipped; (3,105) and (10,100) are in the zone; (5,300) is 200 bins
  // away, past maxDeltaBins; (70,100) is 70 frames later, past maxDeltaFrames.
  // Anchor (0,150): (3,105) and (10,100). Anchor (3,105): (10,100). Anchor (5,300): nothing within 127 bins.
  // Anchor (10,100): (70,100), 60 frames later.
  const got = landmarks([[0, 100], [0, 150], [3, 105], [5, 300], [10, 100], [70, 100]])
  t.same(got, ['0:100,5,3', '0:100,0,10', '0:150,-45,3', '0:150,-50,10', '3:105,-5,7', '10:100,0,60'].sort())
})

t.test('an anchor makes at most fanout landmarks, with the nearest targets', async (t) => {
  const peaks: Array<[number, number]> = [[0, 200]]
  for (let f = 1; f <= 8; f++) peaks.push([f * 7, 200 + f]) // frames 7..56, all in the anchor's zone
  const fromAnchor = landmarks(peaks).filter((s) => s.startsWith('0:'))
  t.equal(fromAnchor.length, params.fanout)
  t.same(fromAnchor, ['0:200,1,7', '0:200,2,14', '0:200,3,21', '0:200,4,28', '0:200,5,35'].sort())
})

t.test('zone limits: maxDeltaFrames and maxDeltaBins are inclusive', async (t) => {
  const { maxDeltaFrames: df, maxDeltaBins: db } = params
  t.same(landmarks([[0, 200], [df, 200]]), [`0:200,0,${df}`], 'delta frames at the limit')
  t.same(landmarks([[0, 200], [df + 1, 200]]), [], 'one past it')
  t.same(landmarks([[0, 200], [5, 200 + db]]), [`0:200,${db},5`], 'delta bins at the limit')
  t.same(landmarks([[0, 200], [5, 200 + db + 1]]), [], 'one past it')
  t.same(landmarks([[0, 300], [5, 300 - db]]), [`0:300,${-db},5`], 'negative delta bins at the limit')
  t.same(landmarks([[0, 300], [5, 300 - db - 1]]), [], 'one past it')
})

t.test('checkHashLayout accepts the limits of the layout and refuses one past each', async (t) => {
  t.doesNotThrow(() => checkHashLayout({ ...params, maxBin: 512, maxDeltaBins: 127, maxDeltaFrames: 63 }))
  t.throws(() => checkHashLayout({ ...params, maxBin: 513 }), RangeError)
  t.throws(() => checkHashLayout({ ...params, maxDeltaBins: 128 }), RangeError)
  t.throws(() => checkHashLayout({ ...params, maxDeltaFrames: 64 }), RangeError)
  t.throws(() => new LandmarkHasher({ ...params, maxDeltaFrames: 64 }, () => {}), RangeError)
})

t.test('silence gives no hashes', async (t) => {
  const list = fingerprint(params, silence(5, 44100), 44100)
  t.equal(list.count, 0)
  t.ok(list.frameCount > 0)
})
