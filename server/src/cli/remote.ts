/**
 * Commands that work on a running server over its HTTP API: `earshot monitor add|list|rm`, `earshot jobs
 * list|show|cancel` and `earshot plays`.
 */
import type { Command } from './command.js'
import { earshotError } from '../errors.js'
import type { MonitorInfo } from '../monitor/monitors.js'
import type { IndexJob } from '../catalog/index-jobs.js'
import { playsToCsv, type Play, type PlayPage } from '../playlog/play-log.js'
import { toCsv } from '../playlog/csv.js'
import { apiOptions, callApi, DEFAULT_API } from './api-client.js'
import { out, outJson, outText } from './terminal-text.js'
import { speedNote } from '../../../protocol/src/speed.js'

const apiFlags = {
  server: { type: 'string', description: `Server (default $EARSHOT_SERVER or ${DEFAULT_API})` },
  token: { type: 'string', description: 'API token (default $EARSHOT_TOKEN)' },
  json: { type: 'boolean', description: 'Print one JSON document' },
} as const

function describeMonitor (m: MonitorInfo): string {
  const speed = m.current ? speedNote(m.current.speed) : ''
  const now = m.current ? `${m.current.state} ${m.current.title || `track ${m.current.trackId}`}${m.current.artist ? ` — ${m.current.artist}` : ''}${speed ? `, ${speed}` : ''}` : 'no match'
  const state = m.state === 'down' ? `down since ${m.since}${m.lastError ? ` (${m.lastError})` : ''}` : m.state
  return `${m.id}  ${m.label || '-'}  ${m.url}\n    ${state}; ${now}`
}

export const monitorCommand: Command = {
  summary: 'Manage monitored streams on a running server: add URL, list, rm ID',
  usage: 'add <url> | list | rm <id>',
  positionals: [1, 2],
  options: { ...apiFlags, label: { type: 'string', description: 'Label of a new monitor' } },
  async run (values, [action, arg]) {
    const api = apiOptions(values)
    const json = values.json === true
    if (action === 'add' && arg) {
      const body: Record<string, string> = { url: arg }
      if (values.label !== undefined) body.label = values.label as string
      const m = JSON.parse((await callApi(api, 'POST', '/v1/monitors', body)).text) as MonitorInfo
      if (json) outJson(m)
      else out(`added monitor ${m.id} (${m.state})`)
      return 0
    }
    if (action === 'list' && arg === undefined) {
      const { monitors } = JSON.parse((await callApi(api, 'GET', '/v1/monitors')).text) as { monitors: MonitorInfo[] }
      if (json) outJson({ monitors })
      else if (monitors.length === 0) out('no monitors')
      else for (const m of monitors) out(describeMonitor(m))
      return 0
    }
    if (action === 'rm' && arg) {
      await callApi(api, 'DELETE', `/v1/monitors/${encodeURIComponent(arg)}`)
      if (json) outJson({ removed: arg })
      else out(`removed monitor ${arg}`)
      return 0
    }
    throw earshotError('EAR_ERR_USAGE', 'earshot monitor add <url> [--label L] | list | rm <id>')
  },
}

function describeJob (j: IndexJob): string {
  const counts = `indexed ${j.indexed}, already present ${j.present}, skipped ${j.skippedCount}` +
    (j.truncated > 0 ? ` (${j.truncated} truncated)` : '') + (j.symlinks > 0 ? `, ${j.symlinks} symbolic links not followed` : '')
  return `${j.id}  ${j.state}  ${j.createdAt}  ${j.paths.join(' ')}\n    ${counts}${j.error ? `; ${j.error}` : ''}`
}

export const jobsCommand: Command = {
  summary: 'Index jobs of a running server: list, show ID, cancel ID',
  usage: 'list | show <id> | cancel <id>',
  positionals: [1, 2],
  options: { ...apiFlags },
  async run (values, [action, arg]) {
    const api = apiOptions(values)
    const json = values.json === true
    if (action === 'list' && arg === undefined) {
      const { jobs } = JSON.parse((await callApi(api, 'GET', '/v1/index-jobs')).text) as { jobs: IndexJob[] }
      if (json) out(JSON.stringify({ jobs }))
      else if (jobs.length === 0) out('no index jobs')
      else for (const j of jobs) out(describeJob(j))
      return 0
    }
    if ((action === 'show' || action === 'cancel') && arg) {
      const job = JSON.parse((await callApi(api, action === 'show' ? 'GET' : 'DELETE', `/v1/index-jobs/${encodeURIComponent(arg)}`)).text) as IndexJob
      out(json ? JSON.stringify(job) : describeJob(job))
      return 0
    }
    throw earshotError('EAR_ERR_USAGE', 'earshot jobs list | show <id> | cancel <id>')
  },
}

interface TrackDay { day: string, trackId: number, title: string, artist: string, plays: number, seconds: number }

async function printDaily (api: ReturnType<typeof apiOptions>, values: Record<string, string | boolean | undefined>): Promise<number> {
  const query = new URLSearchParams()
  for (const key of ['monitor', 'stream', 'from', 'to'] as const) if (typeof values[key] === 'string') query.set(key, values[key] as string)
  const { days } = JSON.parse((await callApi(api, 'GET', `/v1/plays/daily?${query.toString()}`)).text) as { days: TrackDay[] }
  if (values.json === true) { outJson({ days }); return 0 }
  if (values.csv === true) {
    outText(toCsv(['day', 'trackId', 'title', 'artist', 'plays', 'seconds'], days.map((d) => [d.day, d.trackId, d.title, d.artist, d.plays, d.seconds])))
    return 0
  }
  if (days.length === 0) out('no plays')
  for (const d of days) out(`${d.day}  ${String(d.plays).padStart(4)} plays  ${Math.round(d.seconds)} s  ${d.title || `track ${d.trackId}`}${d.artist ? ` — ${d.artist}` : ''}`)
  return 0
}

export const playsCommand: Command = {
  summary: 'Print the play log of a running server (all pages; --csv for a spreadsheet)',
  usage: '',
  positionals: [0, 0],
  options: {
    ...apiFlags,
    monitor: { type: 'string', description: 'Only this monitor' },
    stream: { type: 'string', description: 'Only this client stream (its streamId)' },
    track: { type: 'string', description: 'Only this track id' },
    from: { type: 'string', description: 'Plays starting at or after this time (ISO 8601)' },
    to: { type: 'string', description: 'Plays starting before this time (ISO 8601)' },
    limit: { type: 'string', description: 'At most this many plays (default: all)' },
    csv: { type: 'boolean', description: 'Print CSV' },
    daily: { type: 'boolean', description: 'Print plays per track per day (UTC) instead (default: the last 30 days)' },
  },
  async run (values) {
    const api = apiOptions(values)
    if (values.daily === true) return printDaily(api, values)
    const query = new URLSearchParams()
    for (const key of ['monitor', 'stream', 'track', 'from', 'to'] as const) if (typeof values[key] === 'string') query.set(key, values[key] as string)
    const wanted = values.limit === undefined ? Infinity : Number(values.limit)
    if (!(wanted >= 1) || !Number.isInteger(wanted === Infinity ? 1 : wanted)) throw earshotError('EAR_ERR_USAGE', `--limit must be a positive integer, got '${String(values.limit)}'`)
    const all: Play[] = []
    let cursor: string | null = null
    do {
      query.set('limit', String(Math.min(1000, wanted - all.length)))
      if (cursor) query.set('cursor', cursor)
      const page = JSON.parse((await callApi(api, 'GET', `/v1/plays?${query.toString()}`)).text) as PlayPage
      all.push(...page.plays)
      cursor = page.nextCursor
    } while (cursor && all.length < wanted)
    // CSV is made here from the JSON pages, with the server's own writer: one header, rows quoted the same way.
    if (values.csv === true) { outText(playsToCsv(all)); return 0 }
    if (values.json === true) { outJson({ plays: all }); return 0 }
    if (all.length === 0) out('no plays')
    for (const p of all) {
      const span = `${p.startedAt} → ${p.endedAt ?? 'playing'}`
      const speed = speedNote(p.speed)
      out(`${span}  ${p.stream}  ${p.title || `track ${p.trackId}`}${p.artist ? ` — ${p.artist}` : ''}  (${p.peakConfidence}${speed ? `, ${speed}` : ''})`)
    }
    return 0
  },
}
