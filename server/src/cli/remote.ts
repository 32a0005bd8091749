/**
 * Commands that work on a running server over its HTTP API: `earshot monitor add|list|rm`, `earshot jobs
 * list|show|cancel` and `earshot plays`.
 */
import type { Command } from './command.js'
import { earshotError, EarshotError } from '../errors.js'
import type { MonitorInfo } from '../monitor/monitors.js'
import type { IndexJob } from '../catalog/index-jobs.js'
import { PLAY_CSV_COLUMNS, playCsvCells, type Play, type PlayPage } from '../playlog/play-log.js'
import { toCsv } from '../playlog/csv.js'
import { apiOptions, callApi, serverFlag, type ApiOptions } from './api-client.js'
import { count, length as lengthOf } from './format.js'
import { out, outJson, outText } from './terminal-text.js'
import { speedNote } from '../../../protocol/src/speed.js'

export const apiFlags = {
  ...serverFlag,
  token: { type: 'string', description: 'API token (default $EARSHOT_TOKEN)' },
  json: { type: 'boolean', description: 'Print one JSON document' },
} as const

function describeMonitor (m: MonitorInfo): string {
  const speed = m.current ? speedNote(m.current.speed) : ''
  const now = m.current ? `${m.current.state} ${m.current.title || `track ${m.current.trackId}`}${m.current.artist ? ` — ${m.current.artist}` : ''}${speed ? `, ${speed}` : ''}` : 'no match'
  const state = m.state === 'down' ? `down since ${m.since}${m.lastError ? ` (${m.lastError})` : ''}` : m.state
  return `${m.id}  ${m.label || '-'}  ${m.url}\n    ${state}; ${now}`
}

async function listMonitors (api: ApiOptions): Promise<MonitorInfo[]> {
  return (JSON.parse((await callApi(api, 'GET', '/v1/monitors')).text) as { monitors: MonitorInfo[] }).monitors
}

const named = (m: MonitorInfo): string => m.label ? `${m.id} (${m.label})` : m.id

/** At most a few monitors, named for an error message. */
function candidates (monitors: readonly MonitorInfo[]): string {
  const shown = monitors.slice(0, 5).map(named).join(', ')
  return monitors.length > 5 ? `${shown} and ${monitors.length - 5} more` : shown
}

/**
 * The monitor a user means: its id, its label (any case), or a prefix of its id that only it has. Ambiguous:
 * a usage error naming the monitors it could be. None: undefined (the caller says what that means).
 */
export function findMonitor (monitors: readonly MonitorInfo[], given: string): MonitorInfo | undefined {
  const exact = monitors.find((m) => m.id === given)
  if (exact) return exact
  const lower = given.toLowerCase()
  for (const matches of [
    monitors.filter((m) => m.label !== '' && m.label.toLowerCase() === lower),
    given.length > 0 ? monitors.filter((m) => m.id.startsWith(given)) : [],
  ]) {
    if (matches.length === 1) return matches[0]
    if (matches.length > 1) throw earshotError('EAR_ERR_USAGE', `'${given}' could be any of ${count(matches.length, 'monitor')}: ${candidates(matches)}; give more of the id`)
  }
  return undefined
}

async function resolveMonitor (api: ApiOptions, given: string): Promise<MonitorInfo> {
  const monitors = await listMonitors(api)
  const m = findMonitor(monitors, given)
  if (m) return m
  throw earshotError('EAR_ERR_USAGE', `no monitor is '${given}' (an id, a unique start of one, or a label): ` +
    (monitors.length === 0 ? 'the server has no monitors' : `the server has ${candidates(monitors)}`))
}

export const monitorCommand: Command = {
  summary: 'Manage monitored streams on a running server: add URL, list, rm ID or LABEL',
  usage: 'add <url> [--label L] | list | rm <id, start of id, or label>',
  positionals: [1, 2],
  actions: ['add', 'list', 'rm'],
  options: { ...apiFlags, label: { type: 'string', description: 'Label of a new monitor' } },
  async run (values, [action, arg]) {
    const api = apiOptions(values)
    const json = values.json === true
    if (action === 'add' && arg) {
      const body: Record<string, string> = { url: arg }
      if (values.label !== undefined) body.label = values.label as string
      const m = JSON.parse((await callApi(api, 'POST', '/v1/monitors', body)).text) as MonitorInfo
      if (json) outJson(m)
      else out(`added monitor ${named(m)}: ${m.state}`)
      return 0
    }
    if (action === 'list' && arg === undefined) {
      const monitors = await listMonitors(api)
      if (json) outJson({ monitors })
      else if (monitors.length === 0) out('no monitors')
      else for (const m of monitors) out(describeMonitor(m))
      return 0
    }
    if (action === 'rm' && arg) {
      const m = await resolveMonitor(api, arg)
      await callApi(api, 'DELETE', `/v1/monitors/${encodeURIComponent(m.id)}`)
      if (json) outJson({ removed: m.id })
      else out(`removed monitor ${named(m)}`)
      return 0
    }
    throw earshotError('EAR_ERR_USAGE', `earshot monitor ${this.usage}`)
  },
}

function describeJob (j: IndexJob): string {
  const counts = `indexed ${j.indexed}, already present ${j.present}, skipped ${j.skippedCount}` +
    (j.truncated > 0 ? ` (${j.truncated} truncated)` : '') + (j.symlinks > 0 ? `, ${count(j.symlinks, 'symbolic link')} not followed` : '')
  return `${j.id}  ${j.state}  ${j.createdAt}  ${j.paths.join(' ')}\n    ${counts}${j.error ? `; ${j.error}` : ''}`
}

export const jobsCommand: Command = {
  summary: 'Index jobs of a running server: list, show ID, cancel ID',
  usage: 'list | show <id> | cancel <id>',
  positionals: [1, 2],
  actions: ['list', 'show', 'cancel'],
  options: { ...apiFlags },
  async run (values, [action, arg]) {
    const api = apiOptions(values)
    const json = values.json === true
    if (action === 'list' && arg === undefined) {
      const { jobs } = JSON.parse((await callApi(api, 'GET', '/v1/index-jobs')).text) as { jobs: IndexJob[] }
      if (json) outJson({ jobs })
      else if (jobs.length === 0) out('no index jobs')
      else for (const j of jobs) out(describeJob(j))
      return 0
    }
    if ((action === 'show' || action === 'cancel') && arg) {
      const job = JSON.parse((await callApi(api, action === 'show' ? 'GET' : 'DELETE', `/v1/index-jobs/${encodeURIComponent(arg)}`)).text) as IndexJob
      if (json) outJson(job)
      else out(describeJob(job))
      return 0
    }
    throw earshotError('EAR_ERR_USAGE', `earshot jobs ${this.usage}`)
  },
}

interface TrackDay { day: string, trackId: number, title: string, artist: string, isrc?: string, externalId?: string, plays: number, seconds: number }

function filterQuery (values: Record<string, string | boolean | undefined>, monitorId: string | undefined, keys: readonly string[]): URLSearchParams {
  const query = new URLSearchParams()
  for (const key of keys) if (typeof values[key] === 'string') query.set(key, values[key] as string)
  if (monitorId !== undefined) query.set('monitor', monitorId)
  return query
}

async function printDaily (api: ApiOptions, values: Record<string, string | boolean | undefined>, monitorId: string | undefined): Promise<number> {
  const query = filterQuery(values, monitorId, ['stream', 'from', 'to'])
  const { days } = JSON.parse((await callApi(api, 'GET', `/v1/plays/daily?${query.toString()}`)).text) as { days: TrackDay[] }
  if (values.json === true) { outJson({ days }); return 0 }
  if (values.csv === true) {
    outText(toCsv(['day', 'trackId', 'title', 'artist', 'plays', 'seconds', 'isrc', 'externalId'], days.map((d) => [d.day, d.trackId, d.title, d.artist, d.plays, d.seconds, d.isrc, d.externalId])))
    return 0
  }
  if (days.length === 0) out('no plays')
  for (const d of days) out(`${d.day}  ${count(d.plays, 'play').padStart(9)}  ${lengthOf(d.seconds).padStart(7)}  ${d.title || `track ${d.trackId}`}${d.artist ? ` — ${d.artist}` : ''}`)
  return 0
}

/** How long a play lasted, in stream seconds (so far, while it is open). */
export function playSeconds (p: Play): number {
  return Math.max(0, (p.endStreamSeconds ?? p.lastStreamSeconds) - p.startStreamSeconds)
}

/**
 * The monitor --monitor names: by id, label or unique id prefix among the server's monitors. A value no monitor has
 * is sent as it is: the plays of a removed monitor stay in the log under its id.
 */
async function monitorFilter (api: ApiOptions, given: string): Promise<{ id: string, monitors: MonitorInfo[] }> {
  const monitors = await listMonitors(api)
  return { id: findMonitor(monitors, given)?.id ?? given, monitors }
}

export const playsCommand: Command = {
  summary: 'Print the play log of a running server (all pages; --csv for a spreadsheet)',
  usage: '',
  positionals: [0, 0],
  options: {
    ...apiFlags,
    monitor: { type: 'string', description: 'Only this monitor: its id, a unique start of it, or its label' },
    stream: { type: 'string', description: 'Only this client stream (its streamId)' },
    track: { type: 'string', description: 'Only this track id' },
    from: { type: 'string', description: 'Plays starting at or after this time (ISO 8601)' },
    to: { type: 'string', description: 'Plays starting before this time (ISO 8601)' },
    limit: { type: 'string', description: 'At most this many plays (default: all)' },
    csv: { type: 'boolean', description: 'Print CSV: every field of a play, then the station\'s label and the play\'s length in seconds' },
    daily: { type: 'boolean', description: 'Print plays per track per day (UTC) instead (default: the last 30 days)' },
  },
  notes: ['Each play is told with its station (a monitor\'s label, else the monitor id or the client\'s streamId) and its length.'],
  async run (values) {
    const api = apiOptions(values)
    const wanted = values.limit === undefined ? Infinity : Number(values.limit)
    if (!(wanted >= 1) || !Number.isInteger(wanted === Infinity ? 1 : wanted)) throw earshotError('EAR_ERR_USAGE', `--limit must be a positive integer, got '${String(values.limit)}'`)
    let monitors: MonitorInfo[] | undefined
    let monitorId: string | undefined
    if (typeof values.monitor === 'string') ({ id: monitorId, monitors } = await monitorFilter(api, values.monitor))
    if (values.daily === true) return printDaily(api, values, monitorId)
    const query = filterQuery(values, monitorId, ['stream', 'track', 'from', 'to'])
    const all: Play[] = []
    let cursor: string | null = null
    do {
      query.set('limit', String(Math.min(1000, wanted - all.length)))
      if (cursor) query.set('cursor', cursor)
      const page = JSON.parse((await callApi(api, 'GET', `/v1/plays?${query.toString()}`)).text) as PlayPage
      all.push(...page.plays)
      cursor = page.nextCursor
    } while (cursor && all.length < wanted)
    if (values.json === true) { outJson({ plays: all }); return 0 }
    // The stations' labels, for the plays of monitors. A token that may read plays may list monitors too; if the
    // list cannot be had, the plays are still printed, by monitor id.
    if (monitors === undefined && all.some((p) => p.kind === 'monitor')) {
      try { monitors = await listMonitors(api) } catch (err) { if (!(err instanceof EarshotError)) throw err }
    }
    const labels = new Map((monitors ?? []).filter((m) => m.label !== '').map((m) => [m.id, m.label]))
    const station = (p: Play): string => (p.kind === 'monitor' ? labels.get(p.stream) : undefined) ?? p.stream
    // CSV is made here from the JSON pages, with the server's own writer and columns (one header, rows quoted the
    // same way), and two more at the end: the station's label and the play's length.
    if (values.csv === true) {
      const rows = all.map((p) => [...playCsvCells(p), p.kind === 'monitor' ? (labels.get(p.stream) ?? '') : '', Math.round(playSeconds(p) * 10) / 10])
      outText(toCsv([...PLAY_CSV_COLUMNS, 'label', 'durationSeconds'], rows))
      return 0
    }
    if (all.length === 0) out('no plays')
    for (const p of all) {
      const span = `${p.startedAt} → ${p.endedAt ?? 'playing'}`
      const speed = speedNote(p.speed)
      out(`${span}  ${station(p)}  ${p.title || `track ${p.trackId}`}${p.artist ? ` — ${p.artist}` : ''}  ${lengthOf(playSeconds(p))}  (${p.peakConfidence}${speed ? `, ${speed}` : ''})`)
    }
    return 0
  },
}
