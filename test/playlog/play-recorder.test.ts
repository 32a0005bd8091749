import t, { type Test } from 'tap'
import path from 'node:path'
import { open, type RootDatabase } from 'lmdb'
import { PlayLog, type Play } from '../../server/src/playlog/play-log.js'
import { PlayRecorder, type PlayEvent, type PlayRecorderOptions } from '../../server/src/playlog/play-recorder.js'
import type { SessionMatch, SessionMatchEnd } from '../../server/src/stream/session.js'

/** Wall clock at stream second 0 of the first session. */
const T0 = Date.UTC(2024, 5, 10, 8, 0, 0)
/** Audio arrives in chunks of this many seconds. */
const CHUNK_SECONDS = 0.5

const iso = (ms: number): string => new Date(ms).toISOString()

/**
 * A recorder on a real log, fed like a live session: `play(to)` sends audio chunks up to stream second `to` with the
 * clock running in step; matches and match ends go in between.
 */
function setup (t: Test, options: PlayRecorderOptions = {}, dir = path.join(t.testdir(), 'db')): {
  log: PlayLog
  root: RootDatabase
  rec: PlayRecorder
  events: PlayEvent[]
  clock: { ms: number }
  play: (to: number) => void
  send: (m: SessionMatch | SessionMatchEnd) => void
} {
  const root = open({ path: dir, maxDbs: 8 })
  t.teardown(() => root.close())
  const log = new PlayLog(root)
  const clock = { ms: T0 }
  const events: PlayEvent[] = []
  const rec = new PlayRecorder(log, { id: 'radio-1', kind: 'monitor' }, (e) => events.push(e), { now: () => clock.ms, ...options })
  /** Session stream position and the wall clock at its second 0. */
  const session = { at: 0, wallAtZero: T0 }
  const play = (to: number): void => {
    while (session.at + CHUNK_SECONDS <= to + 1e-9) {
      session.at += CHUNK_SECONDS
      clock.ms = session.wallAtZero + Math.round(session.at * 1000)
      rec.audio(session.at)
    }
  }
  return { log, root, rec, events, clock, play, send: (m) => { if ('track' in m) rec.match(m); else rec.matchEnd(m) } }
}

function match (state: 'tentative' | 'confirmed', id: number, streamSeconds: number, startSeconds: number, offsetSeconds: number, confidence: number, speed = 1): SessionMatch {
  const track = { id, title: `title ${id}`, artist: `artist ${id}`, album: `album ${id}`, source: `${id}.flac`, durationSeconds: 300, digest: `d${id}`, indexedAt: iso(T0), hashCount: 1000, frameCount: 12000 }
  return { state, track, confidence, offsetSeconds, speed, streamSeconds, startSeconds }
}

function matchEnd (trackId: number, startSeconds: number, endSeconds: number): SessionMatchEnd {
  return { trackId, startSeconds, endSeconds }
}

function rows (log: PlayLog): Play[] {
  return log.query({ limit: 1000 }).plays.reverse() // oldest first
}

t.test('tentative, confirmed, updates, match-end: one play', async (t) => {
  const { log, rec, events, play, send } = setup(t)
  play(3)
  send(match('tentative', 7, 3, 1, 33, 0.2))
  t.same(rows(log), [], 'a tentative match writes nothing')
  t.same(events, [])
  play(5)
  send(match('confirmed', 7, 5, 1, 35, 0.6))
  // Started at stream second 1, 4 s before now; 35 - 4 = 31 s into the track.
  const opened = rec.current as Play
  t.match(opened, { stream: 'radio-1', kind: 'monitor', trackId: 7, title: 'title 7', artist: 'artist 7', album: 'album 7', startedAt: iso(T0 + 1000), startStreamSeconds: 1, startOffsetSeconds: 31, peakConfidence: 0.6, open: true, speed: 1 })
  t.same(events, [{ type: 'match.confirmed', play: opened }])
  t.same(rows(log).map((p) => p.id), [opened.id])

  play(10)
  send(match('confirmed', 7, 10, 1, 40, 0.9))
  play(15)
  send(match('confirmed', 7, 15, 1, 45, 0.7))
  play(40)
  t.match(log.get(opened.id), { open: true, lastStreamSeconds: 40, lastSeenAt: iso(T0 + 40_000), peakConfidence: 0.9 }, 'touched as audio goes by, the peak kept')
  t.equal(events.length, 1, 'updates emit nothing')

  play(42)
  send(match('tentative', 7, 42, 1, 72, 0.3))
  send(matchEnd(7, 1, 40))
  t.equal(rec.current, undefined)
  const closed = log.get(opened.id) as Play
  t.match(closed, { open: false, startStreamSeconds: 1, endStreamSeconds: 40, endedAt: iso(T0 + 40_000), startOffsetSeconds: 31, endOffsetSeconds: 70, peakConfidence: 0.9, speed: 1 })
  t.same(events.map((e) => e.type), ['match.confirmed', 'match.ended'])
  t.same(events[1].play, closed, 'the event carries the closed row')
  t.equal(rows(log).length, 1, 'one row in all')

  send(matchEnd(7, 1, 40))
  play(50)
  t.equal(events.length, 2, 'a second match-end does nothing')
  t.equal(log.openPlays().length, 0)
})

t.test('another track confirmed while one is open: the first closes where the second starts', async (t) => {
  const { log, rec, events, play, send } = setup(t)
  play(10)
  send(match('confirmed', 1, 10, 2, 20, 0.5))
  play(66)
  send(match('tentative', 2, 64, 60, 4, 0.2))
  t.equal(rec.current?.trackId, 1, 'a tentative match of another track changes nothing')
  send(match('confirmed', 2, 66, 60, 6, 0.6))
  const [a, b] = rows(log)
  t.match(a, { trackId: 1, open: false, startStreamSeconds: 2, endStreamSeconds: 60, startedAt: iso(T0 + 2000), endedAt: iso(T0 + 60_000), startOffsetSeconds: 12, endOffsetSeconds: 70 })
  t.match(b, { trackId: 2, open: true, startStreamSeconds: 60, startedAt: iso(T0 + 60_000), startOffsetSeconds: 0 })
  t.same(events.map((e) => `${e.type} ${e.play.trackId}`), ['match.confirmed 1', 'match.ended 1', 'match.confirmed 2'])
  t.equal(rec.current?.id, b.id)

  send(matchEnd(1, 2, 59)) // the old track's end, late: already closed
  t.equal(events.length, 3)
  t.equal(log.get(a.id)?.endStreamSeconds, 60)
  play(100)
  send(matchEnd(2, 60, 98))
  t.match(log.get(b.id), { open: false, endStreamSeconds: 98, endedAt: iso(T0 + 98_000), endOffsetSeconds: 38 })
  t.same(events.map((e) => `${e.type} ${e.play.trackId}`), ['match.confirmed 1', 'match.ended 1', 'match.confirmed 2', 'match.ended 2'])
})

t.test('a track that is never confirmed records nothing', async (t) => {
  const { log, rec, events, play, send } = setup(t)
  play(4)
  send(match('tentative', 3, 4, 1, 10, 0.2))
  play(8)
  send(match('tentative', 3, 8, 1, 14, 0.3))
  play(12)
  send(matchEnd(3, 1, 9))
  rec.close(12)
  await log.flushed()
  t.same(rows(log), [])
  t.same(log.openPlays(), [])
  t.same(events, [])
  t.equal(rec.current, undefined)
})

t.test('end() without match-end closes the open play where the session stopped', async (t) => {
  const { log, rec, events, play, send } = setup(t)
  play(8)
  send(match('confirmed', 5, 8, 3, 100, 0.55))
  play(30)
  rec.close(30)
  const [p] = rows(log)
  t.match(p, { open: false, startStreamSeconds: 3, endStreamSeconds: 30, startedAt: iso(T0 + 3000), endedAt: iso(T0 + 30_000), startOffsetSeconds: 95, endOffsetSeconds: 122 })
  t.same(events.map((e) => e.type), ['match.confirmed', 'match.ended'])
  t.equal(rec.current, undefined)
  rec.close(30)
  t.equal(events.length, 2, 'end() with nothing open does nothing')
})

t.test('streamBase: a reconnect starts a new session, stream time goes on', async (t) => {
  const { log, rec, events, clock, send } = setup(t)
  // Session 1: 20 s of audio, a play confirmed at 5 s.
  for (let s = 0.5; s <= 20; s += 0.5) { clock.ms = T0 + s * 1000; rec.audio(s) }
  send(match('confirmed', 1, 5, 1, 11, 0.5)) // late in this loop on purpose: now is 20 s, the match says 5 s
  rec.close(20)
  // The source comes back 3 s of wall clock later; the new session counts from 0 again.
  rec.streamBase = 20
  const wallAtZero = T0 + 23_000
  for (let s = 0.5; s <= 30; s += 0.5) {
    clock.ms = wallAtZero + s * 1000
    rec.audio(s)
    if (s === 6) send(match('confirmed', 2, 6, 2, 14, 0.7))
  }
  send(matchEnd(2, 2, 28))
  const [a, b] = rows(log)
  // Back-dated from the latest audio (20 s), not from the message's own 5 s: the start is 19 s before now.
  t.match(a, { trackId: 1, open: false, startStreamSeconds: 1, endStreamSeconds: 20, startedAt: iso(T0 + 1000), endedAt: iso(T0 + 20_000), startOffsetSeconds: 7, endOffsetSeconds: 26 })
  t.match(b, {
    trackId: 2,
    open: false,
    startStreamSeconds: 22,
    endStreamSeconds: 48,
    startedAt: iso(wallAtZero + 2000),
    endedAt: iso(wallAtZero + 28_000),
    startOffsetSeconds: 10,
    endOffsetSeconds: 36,
  })
  t.equal(events.length, 4)
})

t.test('touches every touchEverySeconds of stream time; a crash is recovered at the last touch', async (t) => {
  const dir = path.join(t.testdir(), 'db')
  const first = setup(t, { touchEverySeconds: 5 }, dir)
  first.play(3)
  first.send(match('confirmed', 9, 3, 1, 50, 0.8))
  first.play(12)
  t.match(first.log.get(first.rec.current?.id ?? ''), { lastStreamSeconds: 8, lastSeenAt: iso(T0 + 8000) }, 'touched at 3 (the confirm) and 8, not yet at 12')
  first.play(13)
  t.equal(first.log.get(first.rec.current?.id ?? '')?.lastStreamSeconds, 13)
  await first.log.flushed()
  await first.root.close()

  // Restart: the play is still open on disk, and recover closes it at the last touch.
  const second = setup(t, {}, dir)
  const recovered = second.log.recover()
  t.equal(recovered.length, 1)
  t.match(recovered[0], { trackId: 9, open: false, startStreamSeconds: 1, endStreamSeconds: 13, endedAt: iso(T0 + 13_000), startOffsetSeconds: 48, endOffsetSeconds: 60, peakConfidence: 0.8 })
  t.same(second.log.recover(), [])
})

t.test('bad options fail fast', async (t) => {
  const { log } = setup(t)
  for (const touchEverySeconds of [0, -1, Number.NaN, Infinity]) {
    t.throws(() => new PlayRecorder(log, { id: 'x', kind: 'client' }, () => {}, { touchEverySeconds }), TypeError, `touchEverySeconds ${touchEverySeconds}`)
  }
})

t.test('admit: a refused play is not opened; a later match of its track asks again and starts at its first evidence', async (t) => {
  let allow = false
  let asked = 0
  const { log, events, play, send } = setup(t, { admit: () => { asked++; return allow } })
  play(8)
  send(match('confirmed', 7, 8, 2, 10, 0.8))
  t.equal(asked, 1, 'asked before opening')
  t.same(rows(log), [], 'refused: no play')
  t.same(events, [], 'and no event')
  play(9)
  send(match('tentative', 7, 9, 2, 11, 0.8))
  t.equal(asked, 1, 'a tentative match does not ask')
  allow = true
  send(match('confirmed', 7, 9, 2, 11, 0.9))
  t.equal(asked, 2, 'the next confirmed match asks again')
  const [p] = rows(log)
  t.equal(p?.trackId, 7, 'admitted: the play opens')
  t.equal(p?.startStreamSeconds, 2, 'at its first evidence, not when it was admitted')
  t.equal(p?.startedAt, iso(T0 + 2000))
  send(match('confirmed', 7, 10, 2, 12, 0.9))
  t.equal(asked, 2, 'an open play does not ask again')
})

t.test('speed: offsets move by speed × stream seconds, lengths stay in stream time, the latest confirmed speed is kept', async (t) => {
  const { log, rec, events, play, send } = setup(t)
  play(8)
  // First evidence at 3 s, confirmed at 8 s at 61.25 s into the track, played 5 % fast: the track advanced
  // 1.05 × 5 = 5.25 s since the first evidence, so the play starts 56 s in (not 61.25 - 5 = 56.25).
  send(match('confirmed', 4, 8, 3, 61.25, 0.7, 1.05))
  const opened = rec.current as Play
  t.match(opened, { trackId: 4, startStreamSeconds: 3, startOffsetSeconds: 56, speed: 1.05, open: true })
  t.match(events[0]?.play, { startOffsetSeconds: 56, speed: 1.05 }, 'the confirmed event carries the speed')

  play(20)
  send(match('tentative', 9, 20, 18, 5, 0.2, 0.9)) // another track's tentative match says nothing of this play's speed
  send(match('confirmed', 4, 20, 3, 73.8, 0.8, 1.04)) // a better estimate
  play(21)
  t.match(log.get(opened.id), { open: true, speed: 1.04, lastStreamSeconds: 21 }, 'the latest estimate goes out with the next touch')

  play(42)
  // The match-end moves the start to 2 s: the start offset goes back 1.04 × 1 s; the end is at 40 s.
  send(matchEnd(4, 2, 40))
  const closed = log.get(opened.id) as Play
  t.match(closed, { open: false, startStreamSeconds: 2, endStreamSeconds: 40, startOffsetSeconds: 54.96, speed: 1.04 })
  // 54.96 + 1.04 × 38 s of stream = 94.48 s into the track; the play lasted 38 s of stream.
  t.equal(closed.endOffsetSeconds, 94.48, 'the end offset advanced speed × the stream seconds played')
  t.equal((closed.endStreamSeconds as number) - closed.startStreamSeconds, 38, 'the length is in stream seconds')
  t.same(events.map((e) => [e.type, e.play.speed]), [['match.confirmed', 1.05], ['match.ended', 1.04]])
})

t.test('speed: a crash is recovered with the latest touched speed', async (t) => {
  const dir = path.join(t.testdir(), 'db')
  const first = setup(t, {}, dir)
  first.play(10)
  first.send(match('confirmed', 2, 10, 4, 26.2, 0.9, 0.97)) // 3 % slow: 26.2 - 0.97 × 6 = 20.38 s in at the start
  first.play(15)
  first.send(match('confirmed', 2, 15, 4, 31.05, 0.9, 0.97))
  first.play(24)
  await first.log.flushed()
  await first.root.close()

  const second = setup(t, {}, dir)
  const [p] = second.log.recover()
  // Last touched at 24 s: 20 s of stream after the start, 0.97 × 20 = 19.4 s of track.
  t.match(p, { open: false, startStreamSeconds: 4, endStreamSeconds: 24, startOffsetSeconds: 20.38, endOffsetSeconds: 39.78, speed: 0.97 })
})

/** A play another node left open on stream 'radio-1': track 7 from stream second 2 (offset 12), last heard at 20. */
function orphanOn (log: PlayLog): Play {
  const opened = log.open({ stream: 'radio-1', kind: 'monitor', trackId: 7, title: 'title 7', artist: 'artist 7', album: 'album 7', startedAt: iso(T0 + 2000), startStreamSeconds: 2, startOffsetSeconds: 12, peakConfidence: 0.8 })
  log.touch(opened.id, { lastStreamSeconds: 20, lastSeenAt: iso(T0 + 20_000), peakConfidence: 0.8 })
  return log.get(opened.id) as Play
}

t.test('adopt: the same song confirmed where the orphan had got to continues its row, with no second match.confirmed', async (t) => {
  const { log, rec, events, play, send } = setup(t)
  const orphan = orphanOn(log)
  // This node resumes at stream second 24 (a takeover: 4 s missed); track 7 at offset 12 + 28 = 40 at second 30.
  rec.streamBase = 24
  rec.adopt(orphan)
  play(6)
  send(match('confirmed', 7, 6, 2, 40, 0.7)) // first evidence at 24 + 2 = 26: offset 36, as the orphan predicts
  t.equal(rec.current?.id, orphan.id, 'the orphan is the open play again')
  t.same(events, [], 'no new match.confirmed')
  play(16)
  send(matchEnd(7, 2, 15))
  const closed = log.get(orphan.id) as Play
  t.match(closed, { open: false, startStreamSeconds: 2, startOffsetSeconds: 12, endStreamSeconds: 39, endOffsetSeconds: 49, peakConfidence: 0.8 }, 'one row from the first start to the end heard here')
  t.same(events.map((e) => e.type), ['match.ended'])
  t.equal(rows(log).length, 1)
})

t.test('adopt: another song, or the same song elsewhere, closes the orphan where it was last heard', async (t) => {
  for (const [what, trackId, offset] of [['another song', 8, 50], ['the same song 60 s further', 7, 100]] as const) {
    const { log, rec, events, play, send } = setup(t, {}, path.join(t.testdir(), `db-${trackId}`))
    const orphan = orphanOn(log)
    rec.streamBase = 24
    rec.adopt(orphan)
    play(6)
    send(match('confirmed', trackId, 6, 2, offset, 0.7))
    t.match(log.get(orphan.id), { open: false, endStreamSeconds: 20, endedAt: iso(T0 + 20_000), endOffsetSeconds: 30 }, `${what}: the orphan ends at its last audio`)
    t.same(events.map((e) => e.type), ['match.ended', 'match.confirmed'], `${what}: its end, then the new play`)
    t.not(rec.current?.id, orphan.id)
  }
})

t.test('adopt: an orphan not confirmed again within 30 s of stream is closed where it was last heard', async (t) => {
  const { log, rec, events, play } = setup(t)
  const orphan = orphanOn(log)
  rec.streamBase = 24
  rec.adopt(orphan)
  play(20)
  t.equal(log.get(orphan.id)?.open, true, 'still open 24 s after its last audio')
  play(30)
  t.match(log.get(orphan.id), { open: false, endStreamSeconds: 20 })
  t.same(events.map((e) => e.type), ['match.ended'])
  rec.close(30)
  t.equal(events.length, 1, 'closed once')
})
