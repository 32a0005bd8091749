/**
 * Synthetic tracks for index tests: deterministic hash lists that need no audio, and the checks that an index holds
 * them completely. Shared by the index tests and the child processes in test/fixtures/.
 */
import path from 'node:path'
import type { Test } from 'tap'
import { defaultFingerprint } from '../../server/src/config/fingerprint.js'
import type { HashList } from '../../server/src/dsp/pipeline.js'
import { EarshotError } from '../../server/src/errors.js'
import { LmdbIndex } from '../../server/src/index/lmdb-index.js'
import type { Index, NewTrack } from '../../server/src/index/types.js'
import { prng } from './signals.js'

/** A hash every synthetic track contains (at frames 0, 100, 200, ...), so buckets hold several tracks. */
export const SHARED_HASH = 1646284

/**
 * A synthetic track's hashes: `count` random (hash, frame) pairs over `frameCount` frames, plus SHARED_HASH every
 * 100 frames. The same seed always gives the same list.
 */
export function syntheticList (seed: number, count = 2000, frameCount = 4000): HashList {
  const rand = prng(seed * 31 + 7)
  const shared = Math.ceil(frameCount / 100)
  const hashes = new Uint32Array(count + shared)
  const frames = new Uint32Array(count + shared)
  for (let i = 0; i < count; i++) {
    hashes[i] = Math.floor(rand() * 2 ** 23)
    frames[i] = Math.floor(rand() * frameCount)
  }
  for (let k = 0; k < shared; k++) {
    hashes[count + k] = SHARED_HASH
    frames[count + k] = k * 100
  }
  return { hashes, frames, count: count + shared, frameCount }
}

/** Metadata of synthetic track `seed`: the digest is derived from the seed, so the same seed is the same track. */
export function syntheticMeta (seed: number, list: HashList): NewTrack {
  return {
    title: `track ${seed}`,
    artist: 'test',
    album: '',
    durationSeconds: (list.frameCount * 256) / 11025,
    source: `synthetic-${seed}`,
    digest: `digest-${seed}`,
  }
}

/** (hash, frame) pairs of a list as "hash@frame" keys, counting duplicates. */
export function pairCounts (list: HashList): Map<string, number> {
  const m = new Map<string, number>()
  for (let i = 0; i < list.count; i++) {
    const k = `${list.hashes[i]}@${list.frames[i]}`
    m.set(k, (m.get(k) ?? 0) + 1)
  }
  return m
}

/**
 * Whether the index holds exactly `list` for track `id`: every (hash, frame) pair of the list is found in the
 * postings as many times as the list has it, and the track has no other postings among those hashes.
 * Returns a description of the first difference, or undefined.
 */
export function checkTrackPostings (index: Index, id: number, list: HashList): string | undefined {
  const want = pairCounts(list)
  const have = new Map<string, number>()
  for (const hash of new Set(list.hashes.subarray(0, list.count))) {
    index.lookup(hash, (trackId, frame) => {
      if (trackId !== id) return
      const k = `${hash}@${frame}`
      have.set(k, (have.get(k) ?? 0) + 1)
    }, Infinity)
  }
  for (const [k, n] of want) if (have.get(k) !== n) return `track ${id}: ${k} found ${have.get(k) ?? 0} times, want ${n}`
  for (const [k, n] of have) if (want.get(k) !== n) return `track ${id}: unexpected posting ${k}`
  return undefined
}

/** A fresh index in the test's folder, closed in teardown (the folder is made anew: call it once per test). */
export function freshIndex (t: Test): { index: LmdbIndex, dir: string } {
  const dir = path.join(t.testdir(), 'db')
  const index = LmdbIndex.open(dir, defaultFingerprint)
  t.teardown(() => index.close())
  return { index, dir }
}

/** Add synthetic track `seed` to an index: its id, its hash list, and whether it was added. */
export function addSynthetic (index: Index, seed: number, count?: number): { id: number, list: HashList, added: boolean } {
  const list = syntheticList(seed, count)
  const { track, added } = index.addTrack(syntheticMeta(seed, list), list)
  return { id: track.id, list, added }
}

/** Assert that `fn` throws an EarshotError with the code. */
export function throwsCode (t: Test, fn: () => unknown, code: string, message?: string): void {
  try {
    fn()
    t.fail(`expected ${code}`)
  } catch (err) {
    t.ok(err instanceof EarshotError, `${message ?? code}: an EarshotError`)
    t.equal((err as EarshotError).code, code, message ?? code)
  }
}
