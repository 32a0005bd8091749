import t from 'tap'
import { defaultFingerprint as params } from '../../server/src/config/fingerprint.js'
import { HASH_LIMIT } from '../../server/src/dsp/landmarks.js'
import type { HashList } from '../../server/src/dsp/pipeline.js'
import { MemoryIndex } from '../../server/src/index/memory-index.js'
import { StreamMatcher, type StreamMatchEndEvent, type StreamMatchEvent } from '../../server/src/match/stream-matcher.js'
import { prng } from '../helpers/signals.js'

// The stream matcher alone, on scripted votes: tracks of random hashes in an in-memory index, and streams made of
// their (hash, frame) pairs, thinned and mixed with hashes of nothing, fed straight to addHash/advance. No audio, so
// every expectation below is exact about where a track starts and ends in the stream.

/** Hashes per frame, about what the fingerprinter gives music (116 postings a second at 43 frames a second). */
const DENSITY = 2.7
const TRACK_FRAMES = 6000 // ~2.3 min
const TRACKS = 40
const FRAMES_PER_SECOND = params.sampleRate / params.hopSize

/** A track of random hashes at DENSITY per frame; the same seed gives the same track. */
function randomTrack (seed: number, frames = TRACK_FRAMES): HashList {
  const rand = prng(seed)
  const n = Math.round(frames * DENSITY)
  const hashes = new Uint32Array(n)
  const frameOf = new Uint32Array(n)
  for (let i = 0; i < n; i++) {
    hashes[i] = Math.floor(rand() * HASH_LIMIT)
    frameOf[i] = Math.floor((i / n) * frames)
  }
  return { hashes, frames: frameOf, count: n, frameCount: frames }
}

function catalog (): { index: MemoryIndex, tracks: HashList[] } {
  const index = new MemoryIndex(params)
  const tracks: HashList[] = []
  for (let i = 0; i < TRACKS; i++) {
    const list = randomTrack(1000 + i)
    tracks.push(list)
    index.addTrack({ title: `t${i + 1}`, artist: '', album: '', durationSeconds: TRACK_FRAMES / FRAMES_PER_SECOND, source: `t${i + 1}`, digest: `d${i + 1}` }, list)
  }
  return { index, tracks }
}

/** One stretch of a scripted stream: `frames` frames of track `track` from its frame `from`, or of nothing (track 0). */
interface Stretch { track: number, from: number, frames: number }

interface Heard { matches: StreamMatchEvent[], ends: StreamMatchEndEvent[] }

/**
 * Play stretches into a matcher: keep `keep` of each track's hashes, add hashes of nothing at `noise` × DENSITY, and
 * advance every `chunk` frames. Returns what the matcher reported.
 */
function play (index: MemoryIndex, tracks: HashList[], stretches: Stretch[], o: { keep?: number, noise?: number, chunk?: number, seed?: number } = {}): Heard {
  const keep = o.keep ?? 0.5
  const noise = o.noise ?? 1
  const chunk = o.chunk ?? 10
  const rand = prng(o.seed ?? 7)
  const heard: Heard = { matches: [], ends: [] }
  const matcher = new StreamMatcher(index, params, { match: (e) => heard.matches.push({ ...e }), end: (e) => heard.ends.push({ ...e }) })
  // The stream's pairs, frame by frame.
  const pairs: Array<[number, number]> = []
  let at = 0
  for (const s of stretches) {
    if (s.track > 0) {
      const list = tracks[s.track - 1]
      for (let i = 0; i < list.count; i++) {
        const f = list.frames[i]
        if (f >= s.from && f < s.from + s.frames && rand() < keep) pairs.push([list.hashes[i], at + f - s.from])
      }
    }
    const extra = Math.round(s.frames * DENSITY * noise)
    for (let i = 0; i < extra; i++) pairs.push([Math.floor(rand() * HASH_LIMIT), at + Math.floor(rand() * s.frames)])
    at += s.frames
  }
  pairs.sort((a, b) => a[1] - b[1])
  // As a session feeds it: the hashes of each frame once the stream has reached it, and advance() after every
  // `chunk` frames (a piece of audio converted).
  let next = 0
  for (let frame = 0; frame < at; frame++) {
    while (next < pairs.length && pairs[next][1] === frame) { matcher.addHash(pairs[next][0], frame); next++ }
    if ((frame + 1) % chunk === 0) matcher.advance(frame + 1)
  }
  matcher.end(at)
  return heard
}

const { index, tracks } = catalog()
const seconds = (s: number): number => Math.round(s * FRAMES_PER_SECOND)

t.test('a track in noise: tentative, then confirmed, at its offset, speed 1; it ends with the stream', async (t) => {
  const heard = play(index, tracks, [{ track: 7, from: seconds(30), frames: seconds(20) }])
  t.ok(heard.matches.length > 0, 'matches reported')
  t.ok(heard.matches.every((m) => m.trackId === 7), 'only track 7')
  t.equal(heard.matches[0].state, 'tentative', 'tentative first')
  const confirmed = heard.matches.find((m) => m.state === 'confirmed')
  t.ok(confirmed, 'confirmed')
  t.ok(confirmed!.streamFrame <= seconds(5), `within 5 s (at ${(confirmed!.streamFrame / FRAMES_PER_SECOND).toFixed(2)} s)`)
  for (const m of heard.matches) {
    t.ok(Math.abs(m.offsetFrames - seconds(30)) <= 1, `offset ${m.offsetFrames} frames`)
    t.equal(m.speed, 1, 'speed 1')
    t.ok(m.startFrame <= seconds(1), `first vote near the start (${m.startFrame})`)
    t.ok(m.confidence > 0 && m.confidence <= 1)
  }
  const states = heard.matches.map((m) => m.state)
  t.same(states.slice(states.indexOf('confirmed')).filter((s) => s !== 'confirmed'), [], 'never tentative again once confirmed')
  t.equal(heard.ends.length, 1, 'one end')
  t.match(heard.ends[0], { trackId: 7 })
  t.ok(heard.ends[0].endFrame >= seconds(19), `at the end of the stream (${heard.ends[0].endFrame})`)
})

t.test('a song change: the first ends where it stopped, the second is confirmed at its own offset', async (t) => {
  const heard = play(index, tracks, [
    { track: 3, from: seconds(10), frames: seconds(25) },
    { track: 12, from: seconds(60), frames: seconds(25) },
  ])
  const confirmedTracks = [...new Set(heard.matches.filter((m) => m.state === 'confirmed').map((m) => m.trackId))]
  t.same(confirmedTracks, [3, 12], 'both confirmed, in order')
  const end3 = heard.ends.find((e) => e.trackId === 3)
  t.ok(end3, 'track 3 ended')
  t.ok(Math.abs(end3!.endFrame - seconds(25)) <= seconds(1), `track 3's last vote at the change (${(end3!.endFrame / FRAMES_PER_SECOND).toFixed(2)} s)`)
  const twelve = heard.matches.filter((m) => m.trackId === 12)
  t.ok(twelve.every((m) => Math.abs(m.offsetFrames - (seconds(60) - seconds(25))) <= 1), 'track 12 at its offset')
  const first12 = twelve.find((m) => m.state === 'confirmed')!
  // Track 3's votes leave the sliding window (16 ticks, about 8 s) by then at the latest.
  t.ok(first12.streamFrame - seconds(25) <= seconds(8), `track 12 confirmed within the window after the change (${((first12.streamFrame - seconds(25)) / FRAMES_PER_SECOND).toFixed(2)} s)`)
  t.ok(first12.startFrame >= seconds(24), `its first vote after the change (${(first12.startFrame / FRAMES_PER_SECOND).toFixed(2)} s)`)
})

t.test('a minute of hashes of nothing: never confirmed; a chance tentative stays weak and ends', async (t) => {
  for (const seed of [1, 2, 3]) {
    const heard = play(index, tracks, [{ track: 0, from: 0, frames: seconds(60) }], { noise: 2, seed })
    t.same(heard.matches.filter((m) => m.state === 'confirmed'), [], `seed ${seed}: nothing confirmed`)
    t.ok(heard.matches.every((m) => m.confidence < 0.5), `seed ${seed}: every tentative under the confirmation threshold`)
  }
})

t.test('a track that stops: its match ends after the silence, not before', async (t) => {
  const heard = play(index, tracks, [
    { track: 20, from: seconds(40), frames: seconds(15) },
    { track: 0, from: 0, frames: seconds(20) },
  ])
  t.ok(heard.matches.some((m) => m.trackId === 20 && m.state === 'confirmed'), 'confirmed')
  t.equal(heard.ends.length, 1)
  const end = heard.ends[0]
  t.ok(Math.abs(end.endFrame - seconds(15)) <= seconds(1), `last vote where the track stopped (${(end.endFrame / FRAMES_PER_SECOND).toFixed(2)} s)`)
  const last = heard.matches.at(-1)!
  t.ok(last.streamFrame <= seconds(15) + seconds(5), 'no update long after it stopped')
})

t.test('a song that repeats a section: the match may move to the repeat and back, and is one match from start to end', async (t) => {
  // Track 41 holds a chorus twice: all of it at 20–30 s, and at 60–70 s a rendition that shares 60 % of its hashes
  // (a chorus sung again is never the same twice). The stream plays the song through, but its second chorus is the
  // first one's rendition, so the repeat at 20 s matches it better than the song's own 60 s: the match moves there,
  // and when the chorus ends it must come back to the song, without an end nor a later first vote.
  const base = randomTrack(2041)
  const chorus = (f: number): boolean => f >= seconds(20) && f < seconds(30)
  const hashes: number[] = []
  const frames: number[] = []
  const rand = prng(41)
  for (let i = 0; i < base.count; i++) {
    const f = base.frames[i]
    if (f >= seconds(60) && f < seconds(70)) continue
    hashes.push(base.hashes[i]); frames.push(f)
    if (chorus(f) && rand() < 0.6) { hashes.push(base.hashes[i]); frames.push(f + seconds(40)) }
  }
  for (let i = 0; i < base.count; i++) { // the rest of the second rendition: hashes of its own
    const f = base.frames[i]
    if (chorus(f) && rand() < 0.4) { hashes.push(Math.floor(rand() * HASH_LIMIT)); frames.push(f + seconds(40)) }
  }
  const order = frames.map((_, i) => i).sort((a, b) => frames[a] - frames[b])
  const song: HashList = { hashes: Uint32Array.from(order.map((i) => hashes[i])), frames: Uint32Array.from(order.map((i) => frames[i])), count: order.length, frameCount: TRACK_FRAMES }
  const repeats = new MemoryIndex(params)
  for (const [i, list] of tracks.entries()) repeats.addTrack({ title: `t${i + 1}`, artist: '', album: '', durationSeconds: 0, source: '', digest: `d${i + 1}` }, list)
  repeats.addTrack({ title: 'repeats', artist: '', album: '', durationSeconds: 0, source: '', digest: 'd41' }, song)
  const all = [...tracks, song]
  const heard = play(repeats, all, [
    { track: 41, from: 0, frames: seconds(60) },
    { track: 41, from: seconds(20), frames: seconds(10) }, // the stream's second chorus: the first's rendition
    { track: 41, from: seconds(70), frames: seconds(30) },
  ])
  const moved = heard.matches.some((m) => m.trackId === 41 && Math.abs(m.offsetFrames + seconds(40)) <= 2)
  t.ok(moved, 'the match moved to the repeat at 20 s while the second chorus played (what this test is about)')
  t.same(heard.ends.map((e) => e.trackId), [41], `one end, with the stream: ${JSON.stringify(heard.ends)}`)
  t.ok(heard.ends[0].startFrame <= seconds(1), `from the song's first vote (${heard.ends[0].startFrame})`)
  t.ok(heard.ends[0].endFrame >= seconds(99), `to its last (${heard.ends[0].endFrame})`)
  const confirmed = heard.matches.filter((m) => m.state === 'confirmed')
  const first = heard.matches.findIndex((m) => m.state === 'confirmed')
  t.same(heard.matches.slice(first).filter((m) => m.state !== 'confirmed'), [], 'confirmed once, never tentative again')
  t.ok(confirmed.every((m) => m.startFrame <= seconds(1)), 'every report names the song\'s first vote')
})
