/**
 * A track's postings as sortable keys: hash * 2^24 + frame, exact in a double, so a native sort groups them by hash
 * with frames ascending. Shared by the live part and bulk loads.
 */
import type { HashList } from '../dsp/pipeline.js'
import { MAX_HASH } from './segment-codec.js'

/** Frame numbers are stored in 32 bits but keys hold 24: tracks up to 2^24 frames (~108 h). */
export const MAX_FRAMES = 1 << 24

/** A bucket of tracks added one at a time stops growing at this many postings: such a hash says little about which track is playing. */
export const MAX_LIVE_BUCKET = 8192

/**
 * Walk a track's sorted keys hash by hash: `append(hash, from, to)` gets each hash's run keys[from..to) and returns
 * how many it stored. Returns the total stored and the distinct hashes, in order (what a removal needs).
 */
export function appendByHash (keys: Float64Array, append: (hash: number, from: number, to: number) => number): { stored: number, distinct: number[] } {
  const distinct: number[] = []
  let stored = 0
  for (let i = 0; i < keys.length;) {
    const hash = Math.floor(keys[i] / MAX_FRAMES)
    let j = i
    while (j < keys.length && Math.floor(keys[j] / MAX_FRAMES) === hash) j++
    stored += append(hash, i, j)
    distinct.push(hash)
    i = j
  }
  return { stored, distinct }
}

/** One track's postings as hash*2^24+frame keys, sorted: grouped by hash, frames ascending (exact in a double). */
export function sortedKeys (list: HashList): Float64Array {
  const keys = new Float64Array(list.count)
  for (let i = 0; i < list.count; i++) {
    if (list.hashes[i] >= MAX_HASH) throw new RangeError(`hash ${list.hashes[i]} does not fit the index's keys`)
    keys[i] = list.hashes[i] * MAX_FRAMES + list.frames[i]
  }
  return keys.sort()
}

