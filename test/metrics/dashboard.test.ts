/**
 * The Grafana dashboard (grafana/dashboards/earshot.json) against a live server's GET /metrics.
 *
 * Consumes: the dashboard JSON, and the text exposition of a real server that streamed a catalog song through the
 * SDK and pulled a live station as a monitor. Checks: every metric a panel queries exists; every metric has HELP and
 * TYPE; naming (earshot_ prefix, counters end in _total); no label per session or per track; the dashboard's
 * datasource variable is used by every panel. Then 1000 open sessions: /metrics still answers, the sessions gauge
 * sums to 1000, and no earshot series was added for them.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildCatalog } from '../helpers/catalog.js'
import { startRadio } from '../helpers/radio.js'
import { clip, song } from '../helpers/signals.js'
import { allowLoopback, httpGet, RawClient, startServer, testSettings, within, addMonitor, streamThroughSdk } from '../helpers/stream-helpers.js'

const DASHBOARD = fileURLToPath(new URL('../../../grafana/dashboards/earshot.json', import.meta.url))
const README = fileURLToPath(new URL('../../../grafana/README.md', import.meta.url))
const RATE = 44100
/** Sessions held open at once for the scrape-under-load case. */
const SESSIONS = 1000
/** Clients connecting at once while the sessions are opened. */
const OPEN_BATCH = 100
/** Seconds of program per wall-clock second of the test station. */
const RADIO_SPEED = 4
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** Label names that would mean one series per session, stream or track. */
const PER_ITEM_LABEL = /session|track|stream|title|artist|^id$|_id$/i
const HISTOGRAM_SUFFIX = /_(bucket|sum|count)$/

// --- The dashboard ---------------------------------------------------------------------------------------------

interface Target { expr?: string, datasource?: { type?: string, uid?: string } }
interface Panel { type: string, title?: string, datasource?: { type?: string, uid?: string }, targets?: Target[], panels?: Panel[] }
interface Variable { name: string, type: string, query?: unknown, definition?: string, includeAll?: boolean, datasource?: { uid?: string } }
interface Dashboard { uid: string, schemaVersion: number, panels: Panel[], templating: { list: Variable[] } }

/** Every panel, rows' nested panels included, rows left out. */
function dataPanels (d: Dashboard): Panel[] {
  const out: Panel[] = []
  const walk = (ps: Panel[]): void => {
    for (const p of ps) {
      if (p.type === 'row') walk(p.panels ?? [])
      else out.push(p)
    }
  }
  walk(d.panels)
  return out
}

const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'inf', 'nan'])

/**
 * The metric names a PromQL expression reads: identifiers left once strings, label matchers, range selectors and
 * grouping label lists are removed, that are neither functions (followed by a parenthesis) nor keywords.
 */
function metricNames (expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
  const names = new Set<string>()
  for (const m of s.matchAll(/(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (m[2] || PROMQL_KEYWORDS.has(m[1].toLowerCase())) continue
    names.add(m[1])
  }
  return [...names]
}

function loadDashboard (): Dashboard {
  return JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as Dashboard
}

// --- The text exposition ---------------------------------------------------------------------------------------

interface Sample { name: string, labels: Record<string, string>, value: number }
interface Family { name: string, type?: string, help?: string, samples: Sample[] }

/** Parse Prometheus text format 0.0.4 into families by name; a sample with no HELP/TYPE gets a family of its own. */
function parseExposition (text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  const family = (name: string): Family => {
    let f = families.get(name)
    if (!f) { f = { name, samples: [] }; families.set(name, f) }
    return f
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
    if (meta) {
      if (meta[1] === 'HELP') family(meta[2]).help = meta[3]
      else family(meta[2]).type = meta[3]
      continue
    }
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line)
    if (!m) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2]
    const base = m[1].replace(HISTOGRAM_SUFFIX, '')
    const owner = base !== m[1] && families.get(base)?.type === 'histogram' ? base : m[1]
    family(owner).samples.push({ name: m[1], labels, value: Number(m[3]) })
  }
  return families
}

/** The family a dashboard metric name reads: a histogram's _bucket, _sum and _count belong to the histogram. */
function familyOf (name: string, families: Map<string, Family>): Family | undefined {
  const base = name.replace(HISTOGRAM_SUFFIX, '')
  if (base !== name && families.get(base)?.type === 'histogram') return families.get(base)
  return families.get(name)
}

const sum = (f: Family | undefined, match: Record<string, string> = {}): number =>
  (f?.samples ?? []).filter((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0)

/**
 * Every earshot series (name and labels) outside the process and Node.js defaults, whose series vary by themselves,
 * and outside the HTTP metrics, whose series follow the requests made (the first scrape adds /metrics's own).
 */
function earshotSeries (families: Map<string, Family>): Set<string> {
  const out = new Set<string>()
  for (const f of families.values()) {
    if (f.name.startsWith('earshot_process_') || f.name.startsWith('earshot_nodejs_') || f.name.startsWith('earshot_http_')) continue
    for (const s of f.samples) out.add(`${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`)
  }
  return out
}

async function waitUntilAsync (cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!await cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function scrape (http: string): Promise<Map<string, Family>> {
  const res = await httpGet(`${http}/metrics`)
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status} ${res.body.slice(0, 200)}`)
  return parseExposition(res.body)
}

// --- Tests -----------------------------------------------------------------------------------------------------

t.test('metricNames reads the metrics of an expression and nothing else', async (t) => {
  t.same(metricNames('sum by (monitor) (increase(a_total{monitor!="", x=~"$m"}[1h])) * on (monitor) group_left (label) group by (monitor, label) (b_up{label=~"$monitor"})').sort(), ['a_total', 'b_up'])
  t.same(metricNames('histogram_quantile(0.95, sum by (le, route) (rate(h_seconds_bucket[$__rate_interval])))'), ['h_seconds_bucket'])
  t.same(metricNames('sum by (class) (label_replace(rate(r_total[5m]), "class", "${1}xx", "status", "([0-9]).*"))'), ['r_total'])
  t.same(metricNames('count(up == 0) or vector(0) + 1e3 / c'), ['up', 'c'])
})

t.test('the dashboard: uid, datasource and monitor variables, every panel on ${datasource}', async (t) => {
  const d = loadDashboard()
  t.equal(d.uid, 'earshot')
  t.ok(d.schemaVersion >= 36 && d.schemaVersion <= 41, `schemaVersion ${d.schemaVersion}`)
  const vars = new Map(d.templating.list.map((v) => [v.name, v]))
  const ds = vars.get('datasource')
  t.equal(ds?.type, 'datasource', 'a datasource variable')
  t.equal(ds?.query, 'prometheus', 'of Prometheus data sources')
  const monitor = vars.get('monitor')
  t.equal(monitor?.type, 'query', 'a monitor variable')
  t.equal(monitor?.definition, 'label_values(earshot_monitor_up, label)')
  t.same((monitor?.query as { query?: string } | undefined)?.query, 'label_values(earshot_monitor_up, label)')
  t.equal(monitor?.includeAll, true, 'with All')
  t.equal(monitor?.datasource?.uid, '${datasource}', 'the monitor variable queries ${datasource}')

  const panels = dataPanels(d)
  t.ok(panels.length >= 20, `${panels.length} panels`)
  const titles = new Set<string>()
  for (const p of panels) {
    t.ok(p.title && !titles.has(p.title), `a unique title: ${p.title}`)
    titles.add(p.title ?? '')
    t.equal(p.datasource?.uid, '${datasource}', `${p.title}: panel datasource`)
    t.ok((p.targets ?? []).length > 0, `${p.title}: has queries`)
    for (const target of p.targets ?? []) {
      t.equal(target.datasource?.uid, '${datasource}', `${p.title}: target datasource`)
      t.ok(target.expr && metricNames(target.expr).length > 0, `${p.title}: reads a metric`)
    }
  }
})

t.test('GET /metrics after a streamed song and a monitored station', async (t) => {
  const { index } = buildCatalog(path.join(t.testdir(), 'db'), [3, 5], 30, RATE)
  t.teardown(() => index.close())
  const radio = await startRadio(clip(song(5, 30, RATE), RATE, 2, 20), RATE, RADIO_SPEED)
  t.teardown(() => radio.close())
  const settings = allowLoopback(testSettings({ idleTimeoutMs: 60_000 }))
  const { url, http } = await startServer(t, 'uws', index, settings)

  const monitorId = await addMonitor(t, http, radio.url)

  // A client stream: 10 s of song 3, as fast as the server takes it.
  const { client, confirmed } = await streamThroughSdk(url, clip(song(3, 30, RATE), RATE, 4, 10), RATE, 7)
  t.ok(confirmed > 0, 'the client saw its song confirmed')

  // The monitor confirms song 5 on air.
  let families = new Map<string, Family>()
  await waitUntilAsync(async () => {
    families = await scrape(http)
    return sum(families.get('earshot_matches_confirmed_total'), { monitor: monitorId }) > 0
  }, 15_000, 'the monitor to confirm its song')

  t.equal(sum(families.get('earshot_matches_confirmed_total'), { monitor: '' }), 1, 'one confirmed match on client streams')
  t.ok(sum(families.get('earshot_audio_seconds_total'), { kind: 'client' }) >= 10, 'the client audio counted')
  t.ok(sum(families.get('earshot_monitor_audio_seconds_total'), { monitor: monitorId, label: 'test FM' }) > 0, 'the monitor audio counted')
  t.equal(sum(families.get('earshot_monitor_up'), { monitor: monitorId, label: 'test FM' }), 1, 'the monitor is up')
  t.equal(sum(families.get('earshot_sessions_active'), { transport: 'pull', kind: 'monitor' }), 1, 'one monitor session')
  t.equal(sum(families.get('earshot_sessions_active'), { transport: 'uws', kind: 'client' }), 1, 'one client session')
  const confirmCount = families.get('earshot_time_to_confirmed_seconds')?.samples.find((s) => s.name === 'earshot_time_to_confirmed_seconds_count')
  t.equal(confirmCount?.value, 2, 'time to confirmed observed for both confirmations')

  // Every metric a panel reads exists.
  const d = loadDashboard()
  const used = new Set<string>()
  for (const p of dataPanels(d)) for (const target of p.targets ?? []) for (const n of metricNames(target.expr ?? '')) used.add(n)
  t.ok(used.size >= 30, `${used.size} metrics on the dashboard`)
  for (const n of [...used].sort()) t.ok(familyOf(n, families)?.type, `${n} is in /metrics`)

  // HELP, TYPE and names.
  for (const f of families.values()) {
    t.ok(f.help && f.help.length > 0, `${f.name} has HELP`)
    t.ok(f.type && ['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(f.type), `${f.name} has TYPE (${f.type})`)
    t.match(f.name, /^earshot_[a-z0-9_]+$/, `${f.name} starts with earshot_`)
    if (f.type === 'counter') t.match(f.name, /_total$/, `counter ${f.name} ends in _total`)
    // prom-client's own Node.js gauges (active_handles_total and the like) are left as they are.
    if (f.type !== 'counter' && !f.name.startsWith('earshot_nodejs_')) t.notMatch(f.name, /_total$/, `${f.name} (${f.type}) does not end in _total`)
  }

  // No label per session or per track.
  const labelNames = new Set<string>()
  for (const f of families.values()) {
    for (const s of f.samples) {
      for (const [k, v] of Object.entries(s.labels)) {
        labelNames.add(k)
        if (k !== 'monitor' && UUID.test(v)) t.fail(`${s.name}{${k}="${v}"}: a UUID outside the monitor label`)
      }
    }
  }
  for (const k of labelNames) t.notMatch(k, PER_ITEM_LABEL, `label ${k} is not per session or track`)
  t.ok([...families.values()].some((f) => f.samples.some((s) => UUID.test(s.labels.monitor ?? ''))), 'monitor ids do appear under the monitor label')

  // The README's table of metrics lists every earshot metric, and no other (prom-client's defaults have a table of their own).
  const documented = new Set<string>()
  const readme = fs.readFileSync(README, 'utf8')
  const table = readme.slice(readme.indexOf('## Every metric'), readme.indexOf("prom-client's default process and Node.js metrics"))
  for (const m of table.matchAll(/^\| `(earshot_[a-z0-9_]+)` \|/gm)) documented.add(m[1])
  const own = [...families.keys()].filter((n) => !n.startsWith('earshot_process_') && !n.startsWith('earshot_nodejs_')).sort()
  t.same([...documented].sort(), own, 'grafana/README.md lists every earshot metric')

  // HTTP API requests were made above (POST /v1/monitors, GET /metrics): the request counter should show them.
  const http2 = families.get('earshot_http_requests_total')
  t.ok((http2?.samples ?? []).some((s) => s.labels.route === '/v1/monitors' && s.labels.method === 'POST' && s.labels.status === '201' && s.value >= 1),
    'earshot_http_requests_total counts API requests by route template, method and status')
  t.ok((families.get('earshot_http_request_duration_seconds')?.samples.length ?? 0) > 0, 'the duration histogram has samples')

  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
  await client.close()
  await within(closed, 5000, 'the client to close')
})

t.test(`${SESSIONS} open sessions: /metrics answers, sessions_active sums to ${SESSIONS}, no series per session`, async (t) => {
  const { index } = buildCatalog(path.join(t.testdir(), 'db'), [3], 10, RATE)
  t.teardown(() => index.close())
  const settings = testSettings({ maxSessions: SESSIONS + 10, maxConnectionsPerAddress: SESSIONS + 10, idleTimeoutMs: 120_000, helloTimeoutMs: 10_000 })
  settings.access = { ...settings.access, streamOpensPerMinute: SESSIONS * 10 }
  const { url, http } = await startServer(t, 'ws', index, settings)
  const clients: RawClient[] = []
  t.teardown(() => { for (const c of clients) c.ws.terminate() })

  const open = async (n: number): Promise<void> => {
    for (let done = 0; done < n;) {
      const batch = Math.min(OPEN_BATCH, n - done)
      await Promise.all(Array.from({ length: batch }, async () => {
        const c = await RawClient.open(url)
        clients.push(c)
        c.hello()
        await c.next('ready', 10_000)
      }))
      done += batch
    }
  }
  await open(1)
  const one = await scrape(http)
  t.equal(sum(one.get('earshot_sessions_active')), 1, 'one session')
  await open(SESSIONS - 1)

  const res = await httpGet(`${http}/metrics`)
  t.equal(res.status, 200, '/metrics answers with every session open')
  const many = parseExposition(res.body)
  t.equal(sum(many.get('earshot_sessions_active')), SESSIONS, `earshot_sessions_active sums to ${SESSIONS}`)
  t.equal(sum(many.get('earshot_sessions_active'), { transport: 'ws', kind: 'client' }), SESSIONS, 'all of them ws clients')
  t.equal(sum(many.get('earshot_sessions_opened_total')), SESSIONS, `${SESSIONS} sessions opened`)
  t.same([...earshotSeries(many)].sort(), [...earshotSeries(one)].sort(), `the same earshot series with 1 and ${SESSIONS} sessions`)
  t.ok(clients.every((c) => !c.isClosed), 'every session still open')
})
