import t from 'tap'
import path from 'node:path'
import type { Match } from '../../protocol/src/index.js'
import { defaultFingerprint as p, framesToSeconds } from '../../server/src/config/fingerprint.js'
import { matchMessage } from '../../server/src/stream/messages.js'
import { StreamSession, trackSecondsNow } from '../../server/src/stream/session.js'
import { buildCatalog } from '../helpers/catalog.js'
import { clip } from '../helpers/signals.js'
import { testSettings, toS16 } from '../helpers/stream-helpers.js'

// A match message's offsetSeconds is the track position at the audio received: the matcher's alignment at its tick
// (track frame minus stream frame at streamFrame), carried forward at the match's speed.

t.test('the track position is carried forward from the tick at the match\'s speed', async (t) => {
  const streamFrame = 430 // ~9.99 s of stream
  const offsetFrames = 1292 // the track ~30 s ahead there
  const atTick = framesToSeconds(p, offsetFrames + streamFrame)
  const tickSeconds = framesToSeconds(p, streamFrame)
  const near = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9
  t.ok(near(trackSecondsNow(p, { offsetFrames, streamFrame, speed: 1 }, tickSeconds), atTick), 'at the tick itself: the tick\'s position')
  t.ok(near(trackSecondsNow(p, { offsetFrames, streamFrame, speed: 1 }, tickSeconds + 2), atTick + 2), 'speed 1: one track second per stream second')
  t.ok(near(trackSecondsNow(p, { offsetFrames, streamFrame, speed: 1 }, tickSeconds + 2), framesToSeconds(p, offsetFrames) + tickSeconds + 2), 'speed 1: as before speeds were estimated')
  t.ok(near(trackSecondsNow(p, { offsetFrames, streamFrame, speed: 1.05 }, tickSeconds + 2), atTick + 2.1), 'speed 1.05: 2 s of stream are 2.1 s of track')
  t.ok(near(trackSecondsNow(p, { offsetFrames, streamFrame, speed: 0.98 }, tickSeconds + 0.5), atTick + 0.49), 'speed 0.98: 0.5 s of stream are 0.49 s of track')
})

t.test('a session at normal speed reports speed 1 with every match', async (t) => {
  const catalog = buildCatalog(path.join(t.testdir(), 'db'), [3], 20)
  t.teardown(() => catalog.index.close())
  const matches: Match[] = []
  const session = new StreamSession(catalog.index, testSettings(), { sampleRate: catalog.rate, encoding: 's16le', channels: 1 }, {
    match: (e) => matches.push(matchMessage(e)),
    matchEnd: () => {},
  })
  const start = 4
  session.write(new Uint8Array(toS16(clip(catalog.songs.get(1) as Float32Array, catalog.rate, start, 10)).buffer))
  session.flush()
  t.ok(matches.some((m) => m.state === 'confirmed'), 'confirmed')
  for (const m of matches) {
    t.ok(Math.abs(m.speed - 1) < 0.005, `speed ${m.speed} at ${m.streamSeconds} s`)
    t.equal(m.speed, Math.round(m.speed * 1000) / 1000, 'rounded to 0.001')
  }
  const last = matches.filter((m) => m.state === 'confirmed').at(-1)
  t.ok(last && Math.abs(last.offsetSeconds - (start + last.streamSeconds)) <= 0.5, `offset ${last?.offsetSeconds} at ${last?.streamSeconds} s`)
})
