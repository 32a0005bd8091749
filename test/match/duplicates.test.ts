/**
 * The same recording indexed twice. Three kinds of copy: shifted (a compilation that starts 0.5 s later), re-encoded
 * (rendered at 48 kHz with noise, as a lossy copy at another rate), and a truncated prefix followed by the complete
 * file. Copies already in an index (indexed before near-duplicates were caught) must not cancel each other in clip
 * or stream matching; a new copy is not indexed again but reported as already present.
 */
import t from 'tap'
import path from 'node:path'
import { Identifier } from '../../server/src/match/identify.js'
import { defaults, type Settings } from '../../server/src/config/defaults.js'
import { defaultFingerprint as params } from '../../server/src/config/fingerprint.js'
import { fingerprint, type HashList } from '../../server/src/dsp/pipeline.js'
import { fingerprintDigest } from '../../server/src/index/digest.js'
import { LmdbIndex } from '../../server/src/index/lmdb-index.js'
import { addTrackOnce, describePresent, findSameRecording } from '../../server/src/match/duplicate-finder.js'
import { StreamMatcher, type StreamMatchEvent } from '../../server/src/match/stream-matcher.js'
import { addNoise, clip, song, writeWav } from '../helpers/signals.js'
import { runEarshot } from '../helpers/child-env.js'
import { earshotInProcess } from '../helpers/cli-in-process.js'

const RATE = 44100
const SECONDS = 30

/** A song whose copy starts `seconds` later (silence first). */
function delayed (pcm: Float32Array, seconds: number): Float32Array {
  const out = new Float32Array(pcm.length + Math.round(seconds * RATE))
  out.set(pcm, Math.round(seconds * RATE))
  return out
}

interface Copy { name: string, pcm: Float32Array, rate: number }

/** The songs of the catalog and the second copies of three of them. */
const originals = new Map<number, Float32Array>([21, 22, 23, 24, 25].map((seed) => [seed, song(seed, SECONDS, RATE)]))
const copies: Array<{ seed: number, first: Copy, second: Copy }> = [
  { seed: 21, first: { name: 'original', pcm: originals.get(21)!, rate: RATE }, second: { name: 'shifted by 0.5 s', pcm: delayed(originals.get(21)!, 0.5), rate: RATE } },
  { seed: 22, first: { name: 'original', pcm: originals.get(22)!, rate: RATE }, second: { name: 're-encoded at 48 kHz', pcm: addNoise(song(22, SECONDS, 48000), 25, 3), rate: 48000 } },
  { seed: 23, first: { name: 'a truncated prefix', pcm: originals.get(23)!.slice(0, 12 * RATE), rate: RATE }, second: { name: 'the complete file', pcm: originals.get(23)!, rate: RATE } },
]

function add (index: LmdbIndex, title: string, pcm: Float32Array, rate: number): { id: number, list: HashList } {
  const list = fingerprint(params, pcm, rate)
  const { track } = index.addTrack({ title, artist: '', album: '', durationSeconds: pcm.length / rate, source: `${title}.wav`, digest: fingerprintDigest(list) }, list)
  return { id: track.id, list }
}

/** An index holding every song once, and both copies of the three copied songs (as an index built before the fix). */
function indexWithCopies (dir: string): { index: LmdbIndex, ids: Map<number, number[]> } {
  const index = LmdbIndex.open(dir, params)
  const ids = new Map<number, number[]>()
  for (const [seed, pcm] of originals) {
    const c = copies.find((x) => x.seed === seed)
    const first = c ? c.first : { name: 'original', pcm, rate: RATE }
    ids.set(seed, [add(index, `song ${seed} ${first.name}`, first.pcm, first.rate).id])
  }
  for (const c of copies) ids.get(c.seed)!.push(add(index, `song ${c.seed} ${c.second.name}`, c.second.pcm, c.second.rate).id)
  return { index, ids }
}

const dir = t.testdir()
const { index, ids } = indexWithCopies(path.join(dir, 'copies'))
t.teardown(() => index.close())
const settings: Settings = { ...defaults, db: index.dir }
const identifier = new Identifier(index, settings)

t.test('a clip of a song indexed twice is identified as one of its copies', async (t) => {
  for (const c of copies) {
    for (const start of [3, 8]) {
      const query = addNoise(clip(originals.get(c.seed)!, RATE, start, 8), 10, c.seed + start)
      const r = identifier.identify(query, RATE)
      const best = r.matches[0]
      const name = `song ${c.seed} (${c.first.name} + ${c.second.name}), clip at ${start} s`
      t.ok(best !== undefined && ids.get(c.seed)!.includes(best.id), `${name}: identified as #${best?.id} (copies ${ids.get(c.seed)!.join(', ')})`)
      t.ok(best !== undefined && best.confidence >= settings.minConfidence, `${name}: confidence ${best?.confidence}`)
      t.ok(r.matches.every((m) => ids.get(c.seed)!.includes(m.id)), `${name}: no other song`)
    }
  }
  // A song indexed once is still identified, with its copies-free margin.
  const single = identifier.identify(clip(originals.get(24)!, RATE, 5, 8), RATE).matches
  t.same(single.map((m) => m.id), ids.get(24), 'a song indexed once')
})

t.test('songs not in an index of copies are no match', async (t) => {
  // As in clip-matcher.test.ts: unrelated synthesised songs share exact pairs more than music does; one of these 25
  // reaches the threshold by a few votes (confidence 0.56).
  const wrong: string[] = []
  for (let seed = 101; seed <= 125; seed++) {
    const r = identifier.identify(song(seed, 8, RATE), RATE)
    if (r.matches.length > 0) wrong.push(`song ${seed}: ${JSON.stringify(r.matches.map((m) => [m.id, m.confidence]))}`)
    t.ok(r.matches.every((m) => m.confidence < 0.6), `song ${seed}: no match believed beyond 0.6`)
  }
  t.ok(wrong.length <= 1, `at most 1 of 25 songs matched: ${wrong.join('; ') || 'none'}`)
})

t.test('a stream of a song indexed twice is confirmed', async (t) => {
  for (const c of copies) {
    const events: StreamMatchEvent[] = []
    const matcher = new StreamMatcher(index, params, { match: (e) => events.push(e), end: () => {} })
    const list = fingerprint(params, addNoise(clip(originals.get(c.seed)!, RATE, 2, 10), 10, c.seed), RATE)
    for (let i = 0; i < list.count; i++) {
      matcher.addHash(list.hashes[i], list.frames[i])
      matcher.advance(list.frames[i])
    }
    matcher.end(list.frameCount)
    const confirmed = events.find((e) => e.state === 'confirmed')
    t.ok(confirmed !== undefined && ids.get(c.seed)!.includes(confirmed.trackId), `song ${c.seed} (${c.second.name}): confirmed as #${confirmed?.trackId}`)
  }
})

t.test('indexing a second copy says "already present as #N" and writes nothing', async (t) => {
  const fresh = LmdbIndex.open(path.join(dir, 'once'), params)
  t.teardown(() => fresh.close())
  const firsts = new Map<number, number>()
  for (const [seed, pcm] of originals) {
    const c = copies.find((x) => x.seed === seed)
    const first = c ? c.first : { name: 'original', pcm, rate: RATE }
    const list = fingerprint(params, first.pcm, first.rate)
    const r = addTrackOnce(fresh, params, { title: `song ${seed}`, artist: '', album: '', durationSeconds: 30, source: `${seed}.wav`, digest: fingerprintDigest(list) }, list, defaults.minConfidence)
    t.ok(r.added, `song ${seed}: the first copy is indexed`)
    firsts.set(seed, r.track.id)
  }
  const before = fresh.stats()
  for (const c of copies) {
    const list = fingerprint(params, c.second.pcm, c.second.rate)
    const r = addTrackOnce(fresh, params, { title: 'copy', artist: '', album: '', durationSeconds: 30, source: 'copy.wav', digest: fingerprintDigest(list) }, list, defaults.minConfidence)
    const name = `song ${c.seed}, ${c.second.name} after ${c.first.name}`
    t.equal(r.added, false, `${name}: not indexed again`)
    t.equal(r.track.id, firsts.get(c.seed), `${name}: the indexed copy is returned`)
    t.match(describePresent(r), new RegExp(`^as #${firsts.get(c.seed)} \\(the same recording`), `${name}: ${describePresent(r)}`)
  }
  t.same(fresh.stats().tracks, before.tracks, 'no track was added')
  t.same(fresh.stats().postings, before.postings, 'no posting was added')
  // The exact same file is caught by its digest, as before.
  const list = fingerprint(params, originals.get(24)!, RATE)
  const again = addTrackOnce(fresh, params, { title: 'again', artist: '', album: '', durationSeconds: 30, source: 'again.wav', digest: fingerprintDigest(list) }, list, defaults.minConfidence)
  t.equal(again.added, false)
  t.equal(describePresent(again), `as #${firsts.get(24)} (the same fingerprint)`)
})

t.test('different songs, and a song sharing a passage with an indexed one, are indexed', async (t) => {
  const fresh = LmdbIndex.open(path.join(dir, 'distinct'), params)
  t.teardown(() => fresh.close())
  for (let seed = 31; seed <= 40; seed++) {
    const pcm = song(seed, 20, RATE)
    const list = fingerprint(params, pcm, RATE)
    t.equal(findSameRecording(fresh, params, list, defaults.minConfidence), undefined, `song ${seed}: no same recording`)
    fresh.addTrack({ title: `${seed}`, artist: '', album: '', durationSeconds: 20, source: `${seed}.wav`, digest: fingerprintDigest(list) }, list)
  }
  // A medley: 8 s of song 31 inside 40 s of other music. It holds the passage, but it is another recording.
  const medley = new Float32Array(40 * RATE)
  medley.set(song(77, 16, RATE), 0)
  medley.set(song(31, 8, RATE), 16 * RATE)
  medley.set(song(78, 16, RATE), 24 * RATE)
  t.equal(findSameRecording(fresh, params, fingerprint(params, medley, RATE), defaults.minConfidence), undefined, 'a medley holding a passage of song 31 is another recording')
})

t.test('earshot index of a second copy: "already present ... as #N", counted with the present files', async (t) => {
  const cwd = t.testdir()
  writeWav(path.join(cwd, 'song.wav'), originals.get(21)!, RATE)
  writeWav(path.join(cwd, 'compilation.wav'), delayed(originals.get(21)!, 0.5), RATE)
  const first = await runEarshot(cwd, ['index', 'song.wav', '--db', 'db'])
  t.match(first.stdout, /^indexed 1, already present 0, skipped 0;/, 'the first copy is indexed')
  // The first as the program itself, the second in this process (runCli, as the program calls it).
  const second = await earshotInProcess(cwd, ['index', 'compilation.wav', '--db', 'db'])
  t.equal(second.code, 0, 'exit 0: nothing was lost')
  t.match(second.stdout, /^indexed 0, already present 1, skipped 0;/, 'the second copy is counted as present')
  t.match(second.stderr, /^already present compilation\.wav as #1 \(the same recording, 0\.5 s later in this file\)$/m, 'and says as which track')
})
