/**
 * How a segment stores one hash's postings: (track id, frame) pairs sorted by track then frame, packed as varints.
 *
 * Per posting: the track id minus the previous posting's (0 for the same track), then the frame: its difference to
 * the previous frame when the track is the same, else the frame itself. At 10⁵ tracks a bucket holds a few hundred
 * postings, so ids step by a few hundred (2 bytes) and frames within a 4-minute track fit 2 bytes: about 4 bytes a
 * posting, against 8 for plain uint32 pairs.
 *
 * A bucket is cut into parts of at most PART_BYTES, each stored under its own key, hash * MAX_PARTS + part, so that
 * every value fits inline in a 4 KiB LMDB page: a value larger than half a page would take overflow pages of its own
 * and waste, on average, half a page. Part 0 starts with the bucket's posting count, so a lookup can skip a bucket too
 * deep to be informative after reading one value. Each part restarts the differences, so each decodes alone.
 */
import { DepthProfile } from './depth-profile.js'

/** Largest value written under one key: what LMDB keeps inline in a 4 KiB page (its node limit is 2,038 bytes). */
export const PART_BYTES = 1984
/** Parts per bucket; part numbers take the key's low 9 bits. */
export const PART_BITS = 9
export const MAX_PARTS = 1 << PART_BITS
/** Hashes must fit the rest of a uint32 key. */
export const MAX_HASH = 2 ** (32 - PART_BITS)
/**
 * Postings kept per bucket and segment. At 9 bytes a posting at most, they always fit MAX_PARTS parts. A hash that
 * common (in one track in ten at 10⁶ tracks) is never read by a query anyway.
 */
export const MAX_BUCKET_POSTINGS = 100_000

export function partKey (hash: number, part: number): number {
  return hash * MAX_PARTS + part
}

export function hashOfKey (key: number): number {
  return Math.floor(key / MAX_PARTS)
}

function writeVarint (out: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80
    v = Math.floor(v / 128)
  }
  out[at++] = v
  return at
}

/** Receives each encoded part; `bytes` is reused by the next call. */
export type PartSink = (key: number, bytes: Buffer) => void

/**
 * Encodes buckets into parts. One encoder is reused for every bucket of a segment: its buffer is allocated once.
 */
export class BucketEncoder {
  readonly #buf = Buffer.alloc(PART_BYTES)
  /** Depths of the buckets encoded, stored with the segment. */
  readonly depths = new DepthProfile()

  /**
   * Encode `count` postings (tracks[from..], frames[from..], sorted by track then frame) as the bucket of `hash`.
   * Returns how many were stored (at most MAX_BUCKET_POSTINGS).
   */
  encode (hash: number, tracks: ArrayLike<number>, frames: ArrayLike<number>, from: number, count: number, sink: PartSink): number {
    const n = Math.min(count, MAX_BUCKET_POSTINGS)
    this.depths.add(n)
    const buf = this.#buf
    let part = 0
    let at = writeVarint(buf, 0, n)
    let prevTrack = 0
    let prevFrame = 0
    for (let i = from; i < from + n; i++) {
      const track = tracks[i]
      const frame = frames[i]
      // 10 bytes hold any pair of uint32 varints (5 + 5): cut the part when the next pair might not fit.
      if (at + 10 > PART_BYTES) {
        sink(partKey(hash, part++), buf.subarray(0, at))
        at = 0
        prevTrack = 0
      }
      const dt = track - prevTrack
      at = writeVarint(buf, at, dt)
      at = writeVarint(buf, at, dt === 0 ? frame - prevFrame : frame)
      prevTrack = track
      prevFrame = frame
    }
    sink(partKey(hash, part), buf.subarray(0, at))
    return n
  }
}

/** The posting count at the start of part 0. */
export function bucketCount (part0: Uint8Array): number {
  let v = 0
  let scale = 1
  for (let at = 0; ; at++) {
    const b = part0[at]
    v += (b & 0x7f) * scale
    if (b < 0x80) return v
    scale *= 128
  }
}

/** Where the postings of part 0 begin: after the varint of its count. */
export function headerBytes (count: number): number {
  let n = 1
  while (count >= 0x80) { count = Math.floor(count / 128); n++ }
  return n
}

/**
 * Decode the postings of one part from byte `start` into tracks/frames from index `n`; returns the new n.
 * The arrays must have room (a part holds at most PART_BYTES / 2 postings).
 */
export function decodePart (part: Uint8Array, start: number, tracks: Uint32Array, frames: Uint32Array, n: number): number {
  const end = part.length
  let at = start
  let track = 0
  let frame = 0
  while (at < end) {
    // Two varints, unrolled for the common 1- and 2-byte cases.
    let b = part[at++]
    let dt = b & 0x7f
    if (b >= 0x80) {
      let scale = 128
      do { b = part[at++]; dt += (b & 0x7f) * scale; scale *= 128 } while (b >= 0x80)
    }
    b = part[at++]
    let df = b & 0x7f
    if (b >= 0x80) {
      let scale = 128
      do { b = part[at++]; df += (b & 0x7f) * scale; scale *= 128 } while (b >= 0x80)
    }
    if (dt === 0) frame += df
    else { track += dt; frame = df }
    tracks[n] = track
    frames[n++] = frame
  }
  return n
}
