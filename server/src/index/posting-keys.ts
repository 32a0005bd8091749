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

/** One track's postings as hash*2^24+frame keys, sorted: grouped by hash, frames ascending (exact in a double). */
export function sortedKeys (list: HashList): Float64Array {
  const keys = new Float64Array(list.count)
  for (let i = 0; i < list.count; i++) {
    if (list.hashes[i] >= MAX_HASH) throw new RangeError(`hash ${list.hashes[i]} does not fit the index's keys`)
    keys[i] = list.hashes[i] * MAX_FRAMES + list.frames[i]
  }
  return keys.sort()
}

