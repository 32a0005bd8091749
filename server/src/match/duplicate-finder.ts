/**
 * Near-duplicates at indexing: a new track's fingerprint in, the indexed track that holds the same recording out.
 *
 * The exact duplicate (same fingerprint) is caught by its digest. A near-duplicate — the MP3 beside the FLAC, the
 * song on a compilation that starts later, a file indexed half copied and then complete — has other hashes, so the
 * new track is matched against the index as a clip, whole. It is the same recording as an indexed track when
 *  - the match is believed (its confidence reaches the identify threshold);
 *  - one of the two lies within the other at the matched offset (their overlap spans nearly all of the shorter);
 *  - its votes come from all along that overlap, not from one stretch: a remix or a medley that shares a passage
 *    with an indexed track is another recording, and is indexed.
 */
import type { FingerprintParams } from '../config/fingerprint.js'
import { framesToSeconds } from '../config/fingerprint.js'
import type { HashList } from '../dsp/pipeline.js'
import type { AddResult, BulkAdder, Index, NewTrack, SameRecording } from '../index/types.js'
import { ClipMatcher } from './clip-matcher.js'

/** The overlap must span this share of the shorter track: one contains the other. */
const CONTAINED_SHARE = 0.9
/** Coverage is counted in stretches of this many seconds, each with at least one aligned vote. */
const STRETCH_SECONDS = 2
/** This share of the stretches of the overlap must hold aligned votes. */
const COVERED_SHARE = 0.8

/**
 * The indexed track holding the same recording as `list`, if any.
 * @param minConfidence the identify threshold (settings.minConfidence)
 * @param replaces a track the new one is to replace (a changed file's old track): being it is no reason to keep out
 */
export function findSameRecording (index: Index, params: FingerprintParams, list: HashList, minConfidence: number, replaces?: number): SameRecording | undefined {
  if (list.count === 0) return undefined
  const hits: number[] = []
  const { candidates } = new ClipMatcher(index, params).match(list, { maxCandidates: 1, onBestHit: (frame) => hits.push(frame), speedTolerance: 0 })
  const best = candidates[0]
  if (!best || best.confidence < minConfidence || best.trackId === replaces) return undefined
  const track = index.getTrack(best.trackId)
  if (!track) return undefined
  // The overlap in the new track's frames: its frame f is the indexed track's frame f + offset.
  const from = Math.max(0, -best.offsetFrames)
  const to = Math.min(list.frameCount, track.frameCount - best.offsetFrames)
  const shorter = Math.min(list.frameCount, track.frameCount)
  if (to - from < CONTAINED_SHARE * shorter) return undefined
  const stretch = Math.max(1, Math.round((STRETCH_SECONDS * params.sampleRate) / params.hopSize))
  const first = Math.floor(from / stretch)
  const stretches = Math.max(1, Math.ceil(to / stretch) - first)
  const covered = new Uint8Array(stretches)
  for (const f of hits) if (f >= from && f < to) covered[Math.floor(f / stretch) - first] = 1
  const coverage = covered.reduce((a, b) => a + b, 0) / stretches
  if (coverage < COVERED_SHARE) return undefined
  return {
    trackId: track.id,
    offsetSeconds: best.offsetSeconds,
    coverage,
    indexedSeconds: framesToSeconds(params, track.frameCount),
    newSeconds: framesToSeconds(params, list.frameCount),
  }
}

export interface AddOnceOptions {
  /** Write through this bulk load instead of one transaction per track. */
  bulk?: BulkAdder
  /** A track removed once the new one is stored, in the same transaction (a changed file's old track). */
  replaces?: number
}

/**
 * Add a track unless the index holds it already, exactly (same digest) or as another copy of the same recording;
 * then nothing is written and the indexed track is returned with `added: false`.
 */
export function addTrackOnce (index: Index, params: FingerprintParams, meta: NewTrack, list: HashList, minConfidence: number, options: AddOnceOptions = {}): AddResult {
  const { bulk, replaces } = options
  const exact = index.findByDigest(meta.digest)
  if (exact) return { track: exact, added: false }
  const same = findSameRecording(index, params, list, minConfidence, replaces)
  const track = same && index.getTrack(same.trackId)
  if (same && track) return { track, added: false, sameRecording: same }
  return bulk ? bulk.add(meta, list, replaces) : index.addTrack(meta, list, replaces)
}

/** "as #N (why)" for the lines that report a copy not indexed again. */
export function describePresent (result: AddResult): string {
  const s = result.sameRecording
  if (!s) return `as #${result.track.id} (the same fingerprint)`
  const held = Math.abs(s.indexedSeconds - s.newSeconds) < 1 ? ''
    : `; #${result.track.id} holds ${s.indexedSeconds.toFixed(0)} s, this file ${s.newSeconds.toFixed(0)} s (remove #${result.track.id} and index again to keep this copy instead)`
  const o = s.offsetSeconds
  const shift = Math.abs(o) < 0.05 ? '' : o < 0 ? `, ${(-o).toFixed(1)} s later in this file` : `, from ${o.toFixed(1)} s into #${result.track.id}`
  return `as #${result.track.id} (the same recording${shift}${held})`
}
