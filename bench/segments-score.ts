/**
 * Scoring of bench:segments: the segments findSegments listed for a recording against the truth of what was aired.
 *
 * - A known excerpt is found when one segment of its track overlaps it by at least half the excerpt. It is covered
 *   when its track's segments together do (found, or recognised in pieces).
 * - A segment is false when it overlaps no excerpt of its track at all: a wrong track, or a song on an unknown excerpt
 *   or on talk. Since no track plays twice in the air, each segment belongs to at most one excerpt.
 * - Boundary errors of a found excerpt: its first segment's start and its last segment's end (segments of its track
 *   that overlap it) minus the excerpt's start and end. Offset error: the offset of its largest segment against the
 *   track second aired at that segment's start. An excerpt with more than one such segment is split.
 * - Segments that overlap another segment of the same track are counted too: one play listed more than once.
 */
import type { Segment } from '../server/src/recordings/segments.js'

/** What was aired, in the recording's seconds. */
export interface TruthPiece {
  kind: 'known' | 'unknown' | 'talk'
  trackId: number | undefined
  startSeconds: number
  endSeconds: number
  /** Track seconds at `startSeconds`. */
  offsetSeconds: number
  /** For messages: the track's package and file name, or "talk". */
  label: string
}

export interface Found {
  piece: TruthPiece
  /** Segments of the piece's track that overlap it, in order. */
  segments: Segment[]
  /** Seconds, signed: the segments minus the truth. */
  startError: number
  endError: number
  offsetError: number
  speed: number
}

export interface Missed {
  piece: TruthPiece
  /** Seconds its own track's segments cover of it, together. */
  covered: number
  /** Segments of any track that overlap it. */
  overlapping: Segment[]
}

export interface FalseSegment {
  segment: Segment
  /** The piece it overlaps most. */
  on: TruthPiece | undefined
}

export interface Score {
  known: number
  found: Found[]
  missed: Missed[]
  falseSegments: FalseSegment[]
  /** Segments that overlap another segment of the same track (one play listed twice). */
  overlapping: number
  /** Known excerpts that their track's segments cover by at least half together (found, or in pieces). */
  covered: number
}

/** Seconds of [from, to] that the segments cover, together. */
function union (segments: readonly Segment[], from: number, to: number): number {
  let covered = 0
  let reached = from
  for (const s of [...segments].sort((a, b) => a.startSeconds - b.startSeconds)) {
    const a = Math.max(reached, s.startSeconds)
    const b = Math.min(to, s.endSeconds)
    if (b > a) covered += b - a
    reached = Math.max(reached, b)
  }
  return covered
}

/** Seconds two spans share. */
function overlap (a0: number, a1: number, b0: number, b1: number): number {
  return Math.max(0, Math.min(a1, b1) - Math.max(a0, b0))
}

/**
 * Scores `segments` against `truth`.
 * @param speed track seconds per recording second of the air as played (1.03: 3 % fast)
 */
export function scoreSegments (truth: readonly TruthPiece[], segments: readonly Segment[], speed: number): Score {
  const found: Found[] = []
  const missed: Missed[] = []
  for (const piece of truth) {
    if (piece.kind !== 'known') continue
    const length = piece.endSeconds - piece.startSeconds
    const on = (s: Segment): number => overlap(s.startSeconds, s.endSeconds, piece.startSeconds, piece.endSeconds)
    // Segments are listed as they close, which is not always in order of start.
    const own = segments.filter((s) => s.trackId === piece.trackId && on(s) > 0).sort((a, b) => a.startSeconds - b.startSeconds)
    const largest = own.reduce<Segment | undefined>((best, s) => best === undefined || on(s) > on(best) ? s : best, undefined)
    if (largest === undefined || on(largest) < length / 2) {
      missed.push({ piece, covered: union(own, piece.startSeconds, piece.endSeconds), overlapping: segments.filter((s) => on(s) > 0) })
      continue
    }
    const aired = piece.offsetSeconds + speed * (largest.startSeconds - piece.startSeconds)
    found.push({
      piece,
      segments: own,
      startError: own[0].startSeconds - piece.startSeconds,
      endError: Math.max(...own.map((s) => s.endSeconds)) - piece.endSeconds,
      offsetError: largest.offsetSeconds - aired,
      speed: largest.speed,
    })
  }
  const falseSegments: FalseSegment[] = []
  for (const s of segments) {
    const on = (p: TruthPiece): number => overlap(s.startSeconds, s.endSeconds, p.startSeconds, p.endSeconds)
    // A segment of no length still lies on the piece its instant falls in.
    const touches = (p: TruthPiece): boolean => on(p) > 0 || (s.startSeconds >= p.startSeconds && s.startSeconds <= p.endSeconds)
    if (truth.some((p) => p.kind === 'known' && p.trackId === s.trackId && touches(p))) continue
    const under = truth.reduce<TruthPiece | undefined>((best, p) => best === undefined || on(p) > on(best) ? p : best, undefined)
    falseSegments.push({ segment: s, on: under })
  }
  const overlapping = segments.filter((s, i) => segments.some((t, j) => j !== i && t.trackId === s.trackId &&
    overlap(s.startSeconds, s.endSeconds, t.startSeconds, t.endSeconds) > 0)).length
  const covered = found.length + missed.filter((m) => m.covered >= (m.piece.endSeconds - m.piece.startSeconds) / 2).length
  return { known: found.length + missed.length, found, missed, falseSegments, overlapping, covered }
}
