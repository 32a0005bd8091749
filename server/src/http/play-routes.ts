/**
 * The play log: plays by stream, track and time with cursor paging, as JSON or CSV, and plays per track per day.
 */
import { earshotError } from '../errors.js'
import { playsToCsv } from '../playlog/play-log.js'
import { intParam, timeParam } from './params.js'
import { json } from './request.js'
import type { Route } from './router.js'

/** Plays a page holds at most; a CSV export pages the same way (follow the Link header). */
export const MAX_PLAYS_PAGE = 1000
/** The longest range of a daily aggregate, in days. */
const MAX_AGGREGATE_DAYS = 400
const DAY_MS = 86_400_000

/** The stream filter: `monitor=` (a monitor id) or `stream=` (a client's streamId): two namespaces, one at a time. */
function streamParam (q: URLSearchParams): { stream?: string, kind?: 'monitor' | 'client' } {
  const monitor = q.get('monitor') || undefined
  const stream = q.get('stream') || undefined
  if (monitor !== undefined && stream !== undefined) throw earshotError('EAR_ERR_BAD_REQUEST', 'give monitor or stream, not both')
  if (monitor !== undefined) return { stream: monitor, kind: 'monitor' }
  return stream !== undefined ? { stream, kind: 'client' } : {}
}

export const playRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/plays',
    access: 'client',
    summary: 'Plays of the log, filtered by monitor or client stream, track and time; JSON or CSV (Accept: text/csv)',
    handle ({ services, req }) {
      const q = req.query
      const track = q.get('track')
      const trackId = track ? intParam(q, 'track', 0, 1, 2 ** 32) : undefined
      const page = services.plays.query({
        ...streamParam(q),
        trackId,
        from: timeParam(q, 'from'),
        to: timeParam(q, 'to'),
        limit: intParam(q, 'limit', 100, 1, MAX_PLAYS_PAGE),
        cursor: q.get('cursor') || undefined,
      })
      const csv = q.get('format') === 'csv' || /\btext\/csv\b/.test(req.header('accept') ?? '')
      if (!csv) return json(200, page)
      const headers: Record<string, string> = { 'content-disposition': 'attachment; filename="plays.csv"' }
      if (page.nextCursor) {
        const next = new URLSearchParams(q)
        next.set('cursor', page.nextCursor)
        next.delete('token')
        headers.link = `</v1/plays?${next.toString()}>; rel="next"`
      }
      return { status: 200, type: 'text/csv; charset=utf-8', body: playsToCsv(page.plays), headers }
    },
  },
  {
    method: 'GET',
    path: '/v1/plays/daily',
    access: 'client',
    summary: 'Plays per track per day (UTC) in a time range, optionally of one monitor or client stream',
    handle ({ services, req }) {
      const q = req.query
      const to = timeParam(q, 'to') ?? Date.now()
      const from = timeParam(q, 'from') ?? to - 30 * DAY_MS
      if (from >= to) throw earshotError('EAR_ERR_BAD_REQUEST', 'from must be before to')
      if (to - from > MAX_AGGREGATE_DAYS * DAY_MS) throw earshotError('EAR_ERR_BAD_REQUEST', `the range is longer than ${MAX_AGGREGATE_DAYS} days`)
      const days = services.plays.perTrackPerDay({ from, to, ...streamParam(q) })
      return json(200, { from: new Date(from).toISOString(), to: new Date(to).toISOString(), days })
    },
  },
]
