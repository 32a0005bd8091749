/**
 * The play log: plays by stream, track and time with cursor paging, as JSON or CSV, and plays per track per day.
 */
import { Type } from '@sinclair/typebox'
import { earshotError } from '../errors.js'
import { playsToCsv } from '../playlog/play-log.js'
import { answer, route } from './router.js'
import { dateTime, int, nullable, num, oneOf, speed, str, time } from './schemas.js'

/** Plays a page holds at most; a CSV export pages the same way (follow the Link header). */
export const MAX_PLAYS_PAGE = 1000
/** The longest range of a daily aggregate, in days. */
const MAX_AGGREGATE_DAYS = 400
const DAY_MS = 86_400_000

const Play = Type.Object({
  id: str('Sorts by start time: 13 digits of ms since 1970, a dash, 10 digits of sequence', { pattern: '^\\d{13}-\\d{10}$', example: '1709337000000-0000000042' }),
  stream: str('The monitor id, or a client stream\'s streamId'),
  kind: oneOf(['monitor', 'client']),
  trackId: int(),
  title: str('Copied when the play opened: readable after the track is removed'),
  artist: str(),
  album: str(),
  isrc: Type.Optional(str('The track\'s ISRC when the play opened; absent when it had none', { example: 'USRC17607839' })),
  externalId: Type.Optional(str('The track\'s external id when the play opened; absent when it had none')),
  labels: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'The track\'s labels when the play opened; absent when it had none. In CSV, one JSON object' })),
  startedAt: dateTime('Wall clock of the start'),
  endedAt: nullable(dateTime('Null while the play is open')),
  startStreamSeconds: num('Position in the stream at the start'),
  endStreamSeconds: nullable(num(), 'Null while open'),
  startOffsetSeconds: num('Position in the track at the start'),
  endOffsetSeconds: nullable(num(), 'Position in the track at the end: startOffsetSeconds + speed × (endStreamSeconds − startStreamSeconds); null while open'),
  peakConfidence: num(undefined, { minimum: 0, maximum: 1 }),
  lastSeenAt: dateTime('Wall clock of the last audio heard while open'),
  lastStreamSeconds: num(),
  open: Type.Boolean({ description: 'True while the track is still playing' }),
  speed: speed('stream', ', the latest confirmed estimate. Stream seconds (and so the play\'s length) are stream time, offsets track time. Plays filed by an earshot without speeds (play log format 2 and older) read 1'),
}, { $id: 'Play', description: 'One song heard on one stream (also the `data` of the match.confirmed and match.ended webhook events)' })

const streamFilter = {
  monitor: Type.Optional(str('Only plays of this monitor id')),
  stream: Type.Optional(str('Only plays of this client stream (its streamId; client streams and monitors are separate namespaces); not with `monitor`')),
}

/** The stream filter: `monitor=` (a monitor id) or `stream=` (a client's streamId): two namespaces, one at a time. */
function streamOf (q: { monitor?: string, stream?: string }): { stream?: string, kind?: 'monitor' | 'client' } {
  const monitor = q.monitor || undefined
  const stream = q.stream || undefined
  if (monitor !== undefined && stream !== undefined) throw earshotError('EAR_ERR_BAD_REQUEST', 'give monitor or stream, not both')
  if (monitor !== undefined) return { stream: monitor, kind: 'monitor' }
  return stream !== undefined ? { stream, kind: 'client' } : {}
}

export const playRoutes = [
  route({
    method: 'GET',
    path: '/v1/plays',
    access: 'client',
    operationId: 'listPlays',
    tag: 'plays',
    summary: 'Plays of the log, filtered by monitor or client stream, track and time; JSON or CSV (Accept: text/csv)',
    description: 'Newest first. Page with `cursor`: rows added meanwhile never shift a page. CSV is chosen by `Accept: text/csv` or `format=csv`; ' +
      'a CSV page carries the next page\'s URL in `Link: <...>; rel="next"` (without the token).',
    query: Type.Object({
      ...streamFilter,
      track: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 32, description: 'Only plays of this track id' })),
      from: Type.Optional(time('Plays starting at or after this', '2026-11-21T00:00:00Z')),
      to: Type.Optional(time('Plays starting before this', '2026-11-22T00:00:00Z')),
      limit: Type.Integer({ minimum: 1, maximum: MAX_PLAYS_PAGE, default: 100, description: 'Plays per page' }),
      cursor: Type.Optional(str('The `nextCursor` of the previous page, as given')),
      format: Type.Optional(str('csv: the page as CSV (like `Accept: text/csv`); anything else: JSON', { example: 'csv' })),
    }),
    responses: {
      200: {
        description: 'A page of plays',
        json: Type.Object({
          plays: Type.Array(Play, { description: 'Newest first' }),
          nextCursor: nullable(str(), 'Pass as `cursor` for the next page; null on the last page'),
        }, { $id: 'PlayPage' }),
        content: {
          'text/csv': str('RFC 4180, CRLF line ends, a header line, then one row per play with the columns of Play in its order; null and absent fields are empty, labels one JSON object', {
            example: 'id,stream,kind,trackId,title,artist,album,startedAt,endedAt,startStreamSeconds,endStreamSeconds,startOffsetSeconds,endOffsetSeconds,peakConfidence,lastSeenAt,lastStreamSeconds,open,speed,isrc,externalId,labels\r\n',
          }),
        },
        headers: {
          Link: 'CSV only: `</v1/plays?...&cursor=...>; rel="next"` when there is a next page',
          'Content-Disposition': 'CSV only: `attachment; filename="plays.csv"`',
        },
      },
    },
    errors: { 400: 'EAR_ERR_BAD_CURSOR: a cursor this server did not give out; EAR_ERR_BAD_REQUEST: both monitor and stream' },
    handle ({ services, req, query }) {
      const page = services.plays.query({ ...streamOf(query), trackId: query.track, from: query.from, to: query.to, limit: query.limit, cursor: query.cursor || undefined })
      const csv = query.format === 'csv' || /\btext\/csv\b/.test(req.header('accept') ?? '')
      if (!csv) return answer(200, page)
      const headers: Record<string, string> = { 'content-disposition': 'attachment; filename="plays.csv"' }
      if (page.nextCursor) {
        const next = new URLSearchParams(req.query)
        next.set('cursor', page.nextCursor)
        next.delete('token')
        headers.link = `</v1/plays?${next.toString()}>; rel="next"`
      }
      return { status: 200, type: 'text/csv; charset=utf-8', body: playsToCsv(page.plays), headers }
    },
  }),
  route({
    method: 'GET',
    path: '/v1/plays/daily',
    access: 'client',
    operationId: 'dailyPlays',
    tag: 'plays',
    summary: 'Plays per track per day (UTC) in a time range, optionally of one monitor or client stream',
    description: `Counts plays starting in [from, to); a play counts on the day it started, with its whole length. The range is at most ${MAX_AGGREGATE_DAYS} days.`,
    query: Type.Object({
      from: Type.Optional(time('Start of the range (default: 30 days before `to`)')),
      to: Type.Optional(time('End of the range (default: now)')),
      ...streamFilter,
    }),
    responses: {
      200: {
        description: 'Plays and seconds per track per day',
        json: Type.Object({
          from: dateTime('Start of the range (inclusive)'),
          to: dateTime('End of the range (exclusive)'),
          days: Type.Array(Type.Object({
            day: str('UTC day the plays started', { format: 'date', example: '2026-11-21' }),
            trackId: int(), title: str(), artist: str(),
            isrc: Type.Optional(str('The track\'s ISRC, as the day\'s first play of it holds it')),
            externalId: Type.Optional(str('The track\'s external id, likewise')),
            plays: int(),
            seconds: num('Seconds heard, summed over the plays'),
          }, { $id: 'TrackDay' }), { description: 'By day, then most played first' }),
        }, { $id: 'DailyPlays' }),
      },
    },
    errors: { 400: `EAR_ERR_BAD_REQUEST: from not before to, a range over ${MAX_AGGREGATE_DAYS} days, both monitor and stream, or over a million plays in the range` },
    handle ({ services, query }) {
      const to = query.to ?? Date.now()
      const from = query.from ?? to - 30 * DAY_MS
      if (from >= to) throw earshotError('EAR_ERR_BAD_REQUEST', 'from must be before to')
      if (to - from > MAX_AGGREGATE_DAYS * DAY_MS) throw earshotError('EAR_ERR_BAD_REQUEST', `the range is longer than ${MAX_AGGREGATE_DAYS} days`)
      const days = services.plays.perTrackPerDay({ from, to, ...streamOf(query) })
      return answer(200, { from: new Date(from).toISOString(), to: new Date(to).toISOString(), days })
    },
  }),
]
