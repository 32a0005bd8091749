/**
 * Radio-proof recognition: songs played faster or slower (pitch and tempo together), time-stretched (tempo only)
 * and pitch-shifted (pitch only), through the clip matcher and the stream matcher, on a real LMDB index.
 *
 * A song's playing is rendered by the synthesiser itself (signals.ts `song` with tempo and pitch factors), so the
 * truth is exact: at tempo f, the clip's second s is the track's second f * s.
 */
import t from 'tap'
import path from 'node:path'
import { Identifier } from '../../server/src/match/identify.js'
import { defaults, type Settings } from '../../server/src/config/defaults.js'
import { defaultFingerprint as params, framesToSeconds } from '../../server/src/config/fingerprint.js'
import { Fingerprinter, fingerprint } from '../../server/src/dsp/pipeline.js'
import { ClipMatcher } from '../../server/src/match/clip-matcher.js'
import { StreamMatcher, type StreamMatchEvent, type StreamMatchEndEvent } from '../../server/src/match/stream-matcher.js'
import { buildCatalog } from '../helpers/catalog.js'
import { song, type Playing } from '../helpers/signals.js'

const SEEDS = [11, 12, 13, 14, 15, 16]
const RATE = 22050
const SECONDS = 60
const catalog = buildCatalog(path.join(t.testdir(), 'db'), SEEDS, SECONDS, RATE)
t.teardown(() => catalog.index.close())
const settings: Settings = { ...defaults, db: catalog.index.dir }
const identifier = new Identifier(catalog.index, settings)

/** `seconds` of the song of track `id` from track second `from`, played as `playing`. */
function played (id: number, from: number, seconds: number, playing: Playing): Float32Array {
  const tempo = playing.tempo ?? 1
  // Render from the start (the synthesiser's choices are sequential), then cut: track second `from` is at from / tempo.
  const whole = song(SEEDS[id - 1], from / tempo + seconds + 1, RATE, playing)
  const start = Math.round((from / tempo) * RATE)
  return whole.slice(start, start + Math.round(seconds * RATE))
}

const cases: Array<[string, Playing]> = [
  ['speed +5 %', { tempo: 1.05, pitch: 1.05 }],
  ['speed -5 %', { tempo: 0.95, pitch: 0.95 }],
  ['speed +2 %', { tempo: 1.02, pitch: 1.02 }],
  ['speed -3 %', { tempo: 0.97, pitch: 0.97 }],
  ['tempo +3 %', { tempo: 1.03 }],
  ['tempo -3 %', { tempo: 0.97 }],
  ['pitch +0.5 semitone', { pitch: 2 ** (0.5 / 12) }],
  ['pitch -0.5 semitone', { pitch: 2 ** (-0.5 / 12) }],
  ['nominal', {}],
]

t.test('clips: right track, right offset, speed within 0.5 %', async (t) => {
  for (const [name, playing] of cases) {
    for (const [id, from] of [[1, 12.5], [4, 31], [6, 40]]) {
      const tempo = playing.tempo ?? 1
      const result = identifier.identify(played(id, from, 10, playing), RATE)
      const best = result.matches[0]
      const what = `${name}, track ${id} from ${from} s`
      t.equal(best?.id, id, `${what}: identified`)
      if (best === undefined) continue
      t.ok(Math.abs(best.offsetSeconds - from) <= 0.1, `${what}: offset ${best.offsetSeconds} s`)
      t.ok(Math.abs(best.speed - tempo) <= 0.005, `${what}: speed ${best.speed}`)
    }
  }
})

t.test('a speed search of 0 finds only nominal speed (what the duplicate finder asks for)', async (t) => {
  const matcher = new ClipMatcher(catalog.index, params)
  const query = fingerprint(params, played(2, 20, 10, { tempo: 1.04, pitch: 1.04 }), RATE, { query: true })
  const searched = matcher.match(query).candidates[0]
  const nominal = matcher.match(query, { speedTolerance: 0 }).candidates[0]
  t.equal(searched?.trackId, 2)
  t.ok(searched.confidence >= settings.minConfidence, `searched: confidence ${searched.confidence.toFixed(2)}`)
  t.ok(nominal === undefined || nominal.score < searched.score / 3, `nominal only: score ${nominal?.score} against ${searched.score}`)
})

/** Stream `pcm` through a StreamMatcher in 20 ms chunks; returns its events with stream seconds. */
function streamEvents (pcm: Float32Array): { matches: StreamMatchEvent[], ends: StreamMatchEndEvent[] } {
  const matches: StreamMatchEvent[] = []
  const ends: StreamMatchEndEvent[] = []
  const matcher = new StreamMatcher(catalog.index, params, { match: (e) => matches.push(e), end: (e) => ends.push(e) })
  const fp = new Fingerprinter(params, RATE, (hash, frame) => matcher.addHash(hash, frame), { query: true })
  const chunk = Math.round(RATE / 50)
  for (let i = 0; i < pcm.length; i += chunk) {
    fp.write(pcm, i, Math.min(chunk, pcm.length - i))
    matcher.advance(fp.frames)
  }
  fp.end()
  matcher.end(fp.frames)
  return { matches, ends }
}

const seconds = (frames: number): number => framesToSeconds(params, frames)

t.test('a stream that changes speed between songs: each confirmed, with its speed, ended at the change', async (t) => {
  // 25 s of track 3 at +3 % (from its second 5), then 25 s of track 5 at -4 % (from its second 10).
  const first = played(3, 5, 25, { tempo: 1.03, pitch: 1.03 })
  const second = played(5, 10, 25, { tempo: 0.96, pitch: 0.96 })
  const pcm = new Float32Array(first.length + second.length)
  pcm.set(first)
  pcm.set(second, first.length)
  const { matches, ends } = streamEvents(pcm)
  const confirmed = (id: number): StreamMatchEvent | undefined => matches.find((e) => e.trackId === id && e.state === 'confirmed')
  const a = confirmed(3)
  const b = confirmed(5)
  t.ok(a !== undefined, 'the first song is confirmed')
  t.ok(b !== undefined, 'the second song is confirmed')
  if (a === undefined || b === undefined) return
  // Synthesised songs take longer than music to confirm at any speed (4.6 s and 5.1 s at nominal speed here); the
  // time to a confirmed match on real music is bench:stream's to measure.
  t.ok(seconds(a.streamFrame) <= 6, `the first within 6 s of audio (${seconds(a.streamFrame).toFixed(1)} s)`)
  t.ok(seconds(b.streamFrame) - 25 <= 8, `the second within 8 s of its start (${(seconds(b.streamFrame) - 25).toFixed(1)} s)`)
  // The latest estimate of each: speed within 0.5 %, and the track position right.
  const last = (id: number): StreamMatchEvent => matches.filter((e) => e.trackId === id).at(-1)!
  for (const [e, speed, trackFrom, streamFrom] of [[last(3), 1.03, 5, 0], [last(5), 0.96, 10, 25]] as const) {
    t.ok(Math.abs(e.speed - speed) <= 0.005, `track ${e.trackId}: speed ${e.speed.toFixed(4)}`)
    const position = seconds(e.offsetFrames + e.streamFrame)
    const truth = trackFrom + speed * (seconds(e.streamFrame) - streamFrom)
    t.ok(Math.abs(position - truth) <= 0.1, `track ${e.trackId}: position ${position.toFixed(2)} s, truth ${truth.toFixed(2)} s`)
  }
  const endA = ends.find((e) => e.trackId === 3)
  t.ok(endA !== undefined && Math.abs(seconds(endA.endFrame) - 25) <= 1.5, `the first ends at the change (${endA && seconds(endA.endFrame).toFixed(1)} s)`)
  t.ok(endA !== undefined && seconds(endA.startFrame) <= 1, 'and started at the start')
  t.same([...new Set(matches.map((e) => e.trackId))].sort(), [3, 5], 'no other track reported')
})
