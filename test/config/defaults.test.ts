import t from 'tap'
import { defaults, resolveDb } from '../../server/src/config/defaults.js'
import { defaultFingerprint, framesToSeconds, lookaheadFrames } from '../../server/src/config/fingerprint.js'
import { checkHashLayout } from '../../server/src/dsp/landmarks.js'

t.test('the index folder: --db, then EARSHOT_DB, then ./data', async (t) => {
  t.equal(resolveDb('/flag', { EARSHOT_DB: '/env' }), '/flag')
  t.equal(resolveDb(undefined, { EARSHOT_DB: '/env' }), '/env')
  t.equal(resolveDb(undefined, {}), './data')
  t.equal(resolveDb(undefined, { EARSHOT_DB: '' }), './data', 'an empty EARSHOT_DB is unset')
  t.equal(defaults.db, './data')
})

t.test('defaults are frozen and consistent', async (t) => {
  t.ok(Object.isFrozen(defaults) && Object.isFrozen(defaultFingerprint))
  t.equal(defaults.fingerprint, defaultFingerprint)
  t.ok(defaults.minConfidence > 0 && defaults.minConfidence < 1)
  t.doesNotThrow(() => checkHashLayout(defaultFingerprint), 'the default parameters fit the hash layout')
  const p = defaultFingerprint
  t.ok(p.maxBin <= p.fftSize / 2 && p.minBin < p.maxBin, 'the picking range is inside the spectrum')
  t.ok(Number.isInteger(Math.log2(p.fftSize)), 'the FFT size is a power of two')
})

t.test('framesToSeconds: frames of hopSize samples at sampleRate', async (t) => {
  const p = defaultFingerprint
  t.equal(framesToSeconds(p, 0), 0)
  t.equal(framesToSeconds(p, p.sampleRate), p.hopSize, 'sampleRate frames last hopSize seconds')
  t.equal(framesToSeconds({ ...p, sampleRate: 8000, hopSize: 80 }, 100), 1)
})

t.test('lookaheadFrames covers the peak neighbourhood, a block and the target zone', async (t) => {
  const p = defaultFingerprint
  t.ok(lookaheadFrames(p) >= p.maxDeltaFrames + p.peakFrameRadius)
  t.equal(lookaheadFrames({ ...p, peakFrameRadius: 1, clipPeakFrameRadius: 1, blockFrames: 2, maxDeltaFrames: 3 }), 6)
  t.equal(lookaheadFrames({ ...p, peakFrameRadius: 1, clipPeakFrameRadius: 4, blockFrames: 2, maxDeltaFrames: 3 }), 9, 'the larger of the stream\'s and the clip\'s neighbourhoods')
})
