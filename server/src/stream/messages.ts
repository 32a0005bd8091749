/** A session's results as protocol messages: the one place that rounds them for the wire. */
import type { Match, MatchEnd } from '../../../protocol/src/index.js'
import { round } from '../round.js'
import { catalogFields } from '../index/track-metadata.js'
import type { SessionMatch, SessionMatchEnd } from './session.js'

export function matchMessage (e: SessionMatch): Match {
  const t = e.track
  return {
    type: 'match',
    state: e.state,
    id: t.id,
    title: t.title,
    artist: t.artist,
    album: t.album,
    source: t.source,
    ...catalogFields(t),
    confidence: round(e.confidence, 3),
    offsetSeconds: round(e.offsetSeconds, 2),
    speed: round(e.speed, 3),
    streamSeconds: round(e.streamSeconds, 2),
    startedAtStreamSeconds: round(e.startSeconds, 2),
  }
}

export function matchEndMessage (e: SessionMatchEnd): MatchEnd {
  return {
    type: 'match-end',
    id: e.trackId,
    startedAtStreamSeconds: round(e.startSeconds, 2),
    endedAtStreamSeconds: round(e.endSeconds, 2),
  }
}
