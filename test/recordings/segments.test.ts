import t from 'tap'
import path from 'node:path'
import { defaults } from '../../server/src/config/defaults.js'
import { findSegments, SegmentList, type Segment } from '../../server/src/recordings/segments.js'
import type { Track } from '../../server/src/index/types.js'
import { buildCatalog } from '../helpers/catalog.js'
import { defaultFingerprint as params } from '../../server/src/config/fingerprint.js'
import { fingerprint } from '../../server/src/dsp/pipeline.js'
import { fingerprintDigest } from '../../server/src/index/digest.js'
import { LmdbIndex } from '../../server/src/index/lmdb-index.js'
import { addNoise, song, wavBytes } from '../helpers/signals.js'
import { crossfade } from '../helpers/stream-helpers.js'

const RATE = 22050
const SEEDS = [11, 12, 13]

/**
 * A recording of a station's air: track 1 from its 5th second, a song nobody indexed, track 2 whole, then track 3
 * played 3 % fast (pitch and tempo, as radio does), with 2 s crossfades and noise at 10 dB under it all.
 */
function airing (songs: Map<number, Float32Array>): { pcm: Float32Array, spans: Array<[number, number]> } {
  const fast = song(SEEDS[2], 30 / 1.03, RATE, { tempo: 1.03, pitch: 1.03 })
  const parts = [songs.get(1)!.subarray(5 * RATE), song(99, 14, RATE), songs.get(2)!, fast]
  const { pcm, spans } = crossfade(parts, RATE, 2)
  return { pcm: addNoise(pcm, 10), spans }
}

t.test('every song of a recording is one segment at its place, the unknown song none', async (t) => {
  const cat = buildCatalog(path.join(t.testdir(), 'db'), SEEDS, 30, RATE)
  t.teardown(() => cat.index.close())
  cat.index.updateTrack(3, (track) => ({ ...track, isrc: 'USRC17607839', externalId: 'cat-13', labels: { genre: 'test' } }))
  const { pcm, spans } = airing(cat.songs)
  const seen: Segment[] = []
  const progress: number[] = []
  const result = await findSegments(cat.index, defaults, { bytes: wavBytes(pcm, RATE), name: 'air.wav' }, 3600, {
    onSegment: (s) => seen.push(s),
    onProgress: (s) => progress.push(s),
  })
  t.same(result.segments.map((s) => s.trackId), [1, 2, 3], 'tracks 1, 2 and 3 in order, the unknown song not among them')
  t.same(seen, result.segments, 'each segment was told as it closed')
  t.equal(result.cut, false)
  t.ok(Math.abs(result.audioSeconds - pcm.length / RATE) < 0.1, `${result.audioSeconds} s examined, the whole recording`)
  t.ok(progress.length > 0 && progress.every((p, i) => i === 0 || p >= progress[i - 1]), 'progress only moves forward')
  const [a, b, c] = result.segments
  const near = (x: number, want: number, tolerance: number, what: string): void => {
    t.ok(Math.abs(x - want) <= tolerance, `${what}: ${x} (expected ${want.toFixed(2)} ± ${tolerance})`)
  }
  // Starts are a match's first evidence; ends its last, up to a few seconds short of a fade.
  near(a.startSeconds, spans[0][0], 1, 'track 1 starts')
  near(a.offsetSeconds, 5, 1, 'track 1 is heard from its 5th second')
  near(a.endSeconds, spans[0][1], 4, 'track 1 ends')
  near(b.startSeconds, spans[2][0], 3, 'track 2 starts')
  near(b.offsetSeconds, b.startSeconds - spans[2][0], 1, 'track 2 offset matches its start')
  near(b.endSeconds, spans[2][1], 4, 'track 2 ends')
  near(c.startSeconds, spans[3][0], 3, 'track 3 starts')
  near(c.speed, 1.03, 0.01, 'track 3 speed')
  // At 3 % fast the track runs 1.03 s per recording second: its offset scales with the time since its start.
  near(c.offsetSeconds, (c.startSeconds - spans[3][0]) * 1.03, 1.5, 'track 3 offset, in track seconds')
  near(c.endSeconds, spans[3][1], 1, 'track 3 ends where the recording ends')
  t.same([c.isrc, c.externalId, c.labels], ['USRC17607839', 'cat-13', { genre: 'test' }], 'a segment carries its track\'s catalog fields')
  t.equal(a.isrc, undefined, 'and a track without them none')
  for (const s of result.segments) {
    t.ok(s.confidence >= defaults.minConfidence && s.confidence <= 1, `confidence ${s.confidence}`)
    t.equal(s.title, `song ${SEEDS[s.trackId - 1]}`)
  }
})

t.test('a song that repeats a section is one segment from its start to its end', async (t) => {
  // Verse, a chorus heard three times, outro: the chorus matches the track at three offsets, 12 s apart. A match
  // that moved to another offset of the same track and faded there must not end the song (nor start it later).
  const verse = song(31, 12, RATE)
  const chorus = song(32, 12, RATE)
  const outro = song(33, 12, RATE)
  const track = new Float32Array(5 * 12 * RATE)
  for (const [i, part] of [verse, chorus, chorus, chorus, outro].entries()) track.set(part, i * 12 * RATE)
  const index = LmdbIndex.open(path.join(t.testdir(), 'db'), params)
  t.teardown(() => index.close())
  const list = fingerprint(params, track, RATE)
  index.addTrack({ title: 'repeats', artist: '', album: '', durationSeconds: 60, source: 'repeats.wav', digest: fingerprintDigest(list) }, list)
  const air = new Float32Array((60 + 10) * RATE)
  air.set(track)
  air.set(song(34, 10, RATE), 60 * RATE) // then something nobody indexed
  const result = await findSegments(index, defaults, { samples: addNoise(air, 10), sampleRate: RATE }, 3600)
  t.equal(result.segments.length, 1, `one segment: ${JSON.stringify(result.segments.map((s) => [s.startSeconds, s.endSeconds, s.offsetSeconds]))}`)
  const [s] = result.segments
  t.ok(s.startSeconds < 2 && Math.abs(s.offsetSeconds - s.startSeconds) < 1, `from the start: ${s.startSeconds} s, at ${s.offsetSeconds} s in the track`)
  t.ok(s.endSeconds > 55, `to the end: ${s.endSeconds} s`)
})

t.test('PCM already decoded gives the segments encoded audio gives', async (t) => {
  const cat = buildCatalog(path.join(t.testdir(), 'db'), SEEDS, 30, RATE)
  t.teardown(() => cat.index.close())
  const { pcm } = airing(cat.songs)
  const fromPcm = await findSegments(cat.index, defaults, { samples: pcm, sampleRate: RATE }, 3600)
  const fromWav = await findSegments(cat.index, defaults, { bytes: wavBytes(pcm, RATE, 1, 24), name: 'air.wav' }, 3600)
  t.same(fromPcm.segments.map((s) => s.trackId), fromWav.segments.map((s) => s.trackId), 'the same tracks')
  // 24-bit samples differ from the floats in their last bits: a peak may move, not a segment.
  for (const [i, s] of fromPcm.segments.entries()) {
    const w = fromWav.segments[i]
    t.ok(Math.abs(s.startSeconds - w.startSeconds) <= 0.2 && Math.abs(s.endSeconds - w.endSeconds) <= 0.2, `segment ${i}: ${s.startSeconds}–${s.endSeconds} s and ${w.startSeconds}–${w.endSeconds} s`)
  }
})

t.test('maxSeconds examines the start only and says it was cut', async (t) => {
  const cat = buildCatalog(path.join(t.testdir(), 'db'), SEEDS, 30, RATE)
  t.teardown(() => cat.index.close())
  const { pcm } = airing(cat.songs)
  const result = await findSegments(cat.index, defaults, { samples: pcm, sampleRate: RATE }, 20)
  t.equal(result.cut, true)
  t.equal(result.audioSeconds, 20)
  t.same(result.segments.map((s) => s.trackId), [1], 'only track 1 within the first 20 s')
  t.ok(result.segments[0].endSeconds <= 20)
})

t.test('an abort stops the work with its reason', async (t) => {
  const cat = buildCatalog(path.join(t.testdir(), 'db'), SEEDS, 30, RATE)
  t.teardown(() => cat.index.close())
  const { pcm } = airing(cat.songs)
  const abort = new AbortController()
  let told = 0
  const work = findSegments(cat.index, defaults, { bytes: wavBytes(pcm, RATE), name: 'air.wav' }, 3600, {
    signal: abort.signal,
    onProgress: () => { if (++told === 1) abort.abort(new Error('cancelled by the test')) },
  })
  await t.rejects(work, /cancelled by the test/)
})

t.test('bad recordings fail as identify does', async (t) => {
  const cat = buildCatalog(path.join(t.testdir(), 'db'), SEEDS, 5, RATE)
  t.teardown(() => cat.index.close())
  await t.rejects(findSegments(cat.index, defaults, { bytes: new Uint8Array(0), name: 'empty.mp3' }, 3600), { code: 'EAR_ERR_FILE_EMPTY' })
  await t.rejects(findSegments(cat.index, defaults, { bytes: Buffer.from('not audio at all, just text '.repeat(50)), name: 'notes.txt' }, 3600,
  ), { code: 'EAR_ERR_NOT_AUDIO' })
  await t.rejects(findSegments(cat.index, defaults, { samples: new Float32Array(0), sampleRate: RATE }, 3600), { code: 'EAR_ERR_AUDIO_TOO_SHORT' })
})

t.test('SegmentList: the play recorder\'s rules', async (t) => {
  const track = (id: number): Track => ({ id, title: `t${id}`, artist: '', album: '', durationSeconds: 100, source: '', digest: '', indexedAt: '', hashCount: 0, frameCount: 0 })
  const list = new SegmentList()
  const m = (id: number, state: 'tentative' | 'confirmed', streamSeconds: number, startSeconds: number, offsetSeconds: number, confidence: number, speed = 1) =>
    list.match({ state, track: track(id), confidence, speed, streamSeconds, offsetSeconds, startSeconds })
  m(1, 'tentative', 3, 1, 12, 0.3)
  list.matchEnd({ trackId: 1, startSeconds: 1, endSeconds: 4 })
  t.same(list.segments, [], 'a tentative match that ended files nothing')
  m(2, 'confirmed', 8, 5, 23, 0.7, 1.02) // at second 8 the track is at 23: it was at 23 - 1.02 * 3 at second 5
  m(2, 'confirmed', 12, 5, 27.1, 0.9, 1.02)
  m(3, 'confirmed', 40, 36, 10, 0.8) // another track takes over where its evidence starts
  list.finish(50)
  t.same(list.segments.map((s) => [s.trackId, s.startSeconds, s.endSeconds, s.offsetSeconds, s.confidence, s.speed]), [
    [2, 5, 36, 19.94, 0.9, 1.02],
    [3, 36, 50, 6, 0.8, 1],
  ])
})
