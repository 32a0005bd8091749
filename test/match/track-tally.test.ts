import t from 'tap'
import { TrackTally } from '../../server/src/match/track-tally.js'
import { OFFSET_BIAS, TRACK_SCALE } from '../../server/src/match/votes.js'

const vote = (track: number, offset: number): number => track * TRACK_SCALE + offset + OFFSET_BIAS

t.test('tracks are visited most voted first, each with its votes sorted by key', async (t) => {
  const tally = new TrackTally()
  // Track 7: 3 votes, track 3: 2, track 9: 1, in the order a cast leaves them.
  const votes = Float64Array.from([vote(7, 5), vote(3, -2), vote(7, 4), vote(9, 0), vote(7, 5), vote(3, 8)])
  tally.tally(votes, votes.length)
  t.equal(tally.tracks, 3)
  t.same([0, 1, 2].map((i) => [tally.track(i), tally.raw(i)]), [[7, 3], [3, 2], [9, 1]])
  const from = tally.sortTrack(0)
  t.same([...tally.sorted.subarray(from, from + 3)], [vote(7, 4), vote(7, 5), vote(7, 5)])
  const from3 = tally.sortTrack(1)
  t.same([...tally.sorted.subarray(from3, from3 + 2)], [vote(3, -2), vote(3, 8)])
  tally.reset()
  t.equal(tally.tracks, 0)
  // Counts start from zero again: the next tally sees only its own votes.
  tally.tally(Float64Array.from([vote(9, 1), vote(9, 2)]), 2)
  t.same([tally.track(0), tally.raw(0)], [9, 2])
})

t.test('a track with more votes than the insertion sort takes is sorted too', async (t) => {
  const tally = new TrackTally()
  const offsets = Array.from({ length: 100 }, (_, i) => (i * 37) % 101 - 50)
  const votes = Float64Array.from(offsets.map((o) => vote(2, o)))
  tally.tally(votes, votes.length)
  const from = tally.sortTrack(0)
  t.same([...tally.sorted.subarray(from, from + 100)], offsets.slice().sort((a, b) => a - b).map((o) => vote(2, o)))
})

t.test('track ids past the arrays grow them', async (t) => {
  const tally = new TrackTally()
  const votes = Float64Array.from([vote(100_000, 1), vote(5, 1), vote(100_000, 2)])
  tally.tally(votes, votes.length)
  t.same([tally.track(0), tally.raw(0), tally.track(1), tally.raw(1)], [100_000, 2, 5, 1])
})

t.test('keepTracks keeps the chosen tracks\' votes in group order, with group starts', async (t) => {
  const tally = new TrackTally()
  // Three groups: [a1 b1 c1] [b2] [c2 a2]; keep tracks 1 (a) and 3 (c).
  const votes = Float64Array.from([vote(1, 0), vote(2, 0), vote(3, 0), vote(2, 5), vote(3, 9), vote(1, 9)])
  const groupStart = Uint32Array.from([0, 3, 4])
  const keys = [vote(3, 0), vote(1, 0)]
  const m = tally.keepTracks(votes, votes.length, groupStart, 3, keys, 2)
  t.equal(m, 4)
  t.same([...tally.kept.subarray(0, m)], [vote(1, 0), vote(3, 0), vote(3, 9), vote(1, 9)])
  t.same([...tally.keptGroupStart.subarray(0, 3)], [0, 2, 2])
  // The marks are cleared: keeping track 2 alone finds only its votes.
  t.equal(tally.keepTracks(votes, votes.length, groupStart, 3, [vote(2, 0)], 1), 2)
})

t.test('given query frames, each track\'s votes are laid out in key order, with their frames', async (t) => {
  const tally = new TrackTally()
  // Offsets far apart (three radix digits) and close together, negative ones, and repeats.
  const cast: Array<[number, number, number]> = [] // track, offset, query frame
  for (let i = 0; i < 300; i++) cast.push([i % 3 === 0 ? 4 : 11, ((i * 7919) % 6007) * (i % 5 === 0 ? 2000 : 1) - 3000, i])
  cast.push([4, 0, 301], [4, 0, 302], [11, -OFFSET_BIAS + 1, 303], [11, OFFSET_BIAS - 1, 304])
  const votes = Float64Array.from(cast.map(([track, offset]) => vote(track, offset)))
  const frames = Uint32Array.from(cast.map((c) => c[2]))
  tally.tally(votes, votes.length, frames)
  for (let i = 0; i < tally.tracks; i++) {
    const from = tally.start(i)
    const got = Array.from({ length: tally.raw(i) }, (_, j) => [tally.sorted[from + j], tally.sortedFrames[from + j]])
    // Stable: equal keys keep the cast order.
    const want = cast.filter((c) => c[0] === tally.track(i)).map(([track, offset, q]) => [vote(track, offset), q])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    t.same(got, want, `track ${tally.track(i)}`)
  }
})
