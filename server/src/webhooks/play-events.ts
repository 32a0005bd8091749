/**
 * Play events for webhooks: consumes plays (as a PlayRecorder reports them, or as the play log holds them) and
 * produces webhook events whose ids never change, so an event replayed from the log is the same event to a receiver.
 *
 *   event id = UUIDv5(`${type}/${play.id}`, PLAY_EVENT_NAMESPACE)
 *
 * e.g. the match.ended of play '1709337000000-0000000042' has one id, the first time and every replay; with the
 * delivery id UUIDv5(url, event id) (webhooks.ts), a receiver de-duplicating by either drops a replayed copy.
 *
 * Replay re-enqueues the events of a time range from the play log: a match.confirmed for each play that started in
 * it, a match.ended for each play that ended in it. The data is the play as the log holds it now (a replayed
 * match.confirmed of a play that has ended shows its end).
 */
import { v5 as uuidV5 } from 'uuid'
import type { Play, PlayLog } from '../playlog/play-log.js'
import type { PlayEvent } from '../playlog/play-recorder.js'
import type { WebhookDispatcher, WebhookEvent } from './webhooks.js'

/** earshot's own namespace for name-based ids (a fixed random UUID: no other v5 name can collide with ours). */
export const PLAY_EVENT_NAMESPACE = '56582b7b-0ee7-4e33-a177-1b55b08746d3'

/** A play's ended event can fall in a range its start does not: plays starting this long before `from` are read too. */
export const REPLAY_LOOKBACK_MS = 24 * 3_600_000 // a play longer than a day is not a song

/** The webhook event of a play event, with its stable id and its time (when the play started, or ended). */
export function playEvent (e: PlayEvent): WebhookEvent {
  const at = Date.parse((e.type === 'match.ended' ? e.play.endedAt : null) ?? e.play.startedAt)
  return { type: e.type, data: e.play, id: uuidV5(`${e.type}/${e.play.id}`, PLAY_EVENT_NAMESPACE), at }
}

export interface ReplayResult {
  /** Events queued (each is one delivery per URL). */
  events: number
  /** False when the queue filled before the range was done: replay `next` once it drains. */
  complete: boolean
  /** The rest of the range (ISO 8601), or null when complete. */
  next: { from: string, to: string } | null
}

/**
 * Queue the events of plays in [from, to) (ms since epoch), oldest play first, while the queue has room; never
 * counted as drops. Reads the plays that started from `from - REPLAY_LOOKBACK_MS`, up to the first that does not fit.
 */
export function replayPlays (log: PlayLog, webhooks: WebhookDispatcher, from: number, to: number): ReplayResult {
  let events = 0
  for (const play of log.between(from - REPLAY_LOOKBACK_MS, to)) {
    const due = eventsInRange(play, from, to)
    if (due.length === 0) continue
    if (due.length > webhooks.room) {
      return { events, complete: false, next: { from: new Date(Math.max(from, Date.parse(play.startedAt))).toISOString(), to: new Date(to).toISOString() } }
    }
    for (const type of due) webhooks.enqueue(playEvent({ type, play }))
    events += due.length
  }
  return { events, complete: true, next: null }
}

function eventsInRange (play: Play, from: number, to: number): Array<PlayEvent['type']> {
  const due: Array<PlayEvent['type']> = []
  const started = Date.parse(play.startedAt)
  if (started >= from && started < to) due.push('match.confirmed')
  const ended = play.endedAt === null ? NaN : Date.parse(play.endedAt)
  if (ended >= from && ended < to) due.push('match.ended')
  return due
}
