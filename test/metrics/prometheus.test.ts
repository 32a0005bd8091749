/**
 * A real Prometheus scrapes a real earshot, and every query of the Grafana dashboard runs on what it stored.
 *
 * Consumes: /usr/bin/prometheus (Debian's `prometheus` package; PROMETHEUS_BIN overrides the path), the dashboard
 * JSON, a server on loopback with a catalog, a live station pulled as a monitor and a client stream through the SDK.
 * Produces: nothing but assertions. Prometheus runs as a child on a free loopback port with its storage in the test
 * folder, scraping every second, and is killed in teardown.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { buildCatalog } from '../helpers/catalog.js'
import { startRadio } from '../helpers/radio.js'
import { clip, song } from '../helpers/signals.js'
import { allowLoopback, freePort, startServer, testSettings, within, addMonitor, streamThroughSdk } from '../helpers/stream-helpers.js'

const PROMETHEUS = process.env.PROMETHEUS_BIN || '/usr/bin/prometheus'
const DASHBOARD = fileURLToPath(new URL('../../../grafana/dashboards/earshot.json', import.meta.url))
const RATE = 44100
/** Seconds of program per wall-clock second of the test station. */
const RADIO_SPEED = 4
/** Longest wait for Prometheus to answer /-/ready, in ms. */
const READY_TIMEOUT_MS = 15_000
/** Longest wait for a series to reach Prometheus, in ms. */
const SERIES_TIMEOUT_MS = 20_000
/** Prometheus's own log kept for failure messages, in characters. */
const LOG_KEEP_CHARS = 4000

interface Vector { metric: Record<string, string>, value: [number, string] }
interface QueryAnswer { status: string, errorType?: string, error?: string, data?: { resultType: string, result: Vector[] } }

interface Prometheus { url: string, log: () => string }

/** Start Prometheus scraping `target` (host:port) every second; killed (and waited for) in t's teardown. */
async function startPrometheus (t: Test, target: string): Promise<Prometheus> {
  if (!fs.existsSync(PROMETHEUS)) {
    throw new Error(`${PROMETHEUS} is missing: install Debian's prometheus package (apt-get install -y prometheus), or set PROMETHEUS_BIN`)
  }
  const dir = t.testdir()
  const config = path.join(dir, 'prometheus.yml')
  fs.writeFileSync(config, [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: earshot',
    '    metrics_path: /metrics',
    '    static_configs:',
    `      - targets: ['${target}']`,
    '',
  ].join('\n'))
  const port = await freePort()
  const child: ChildProcess = spawn(PROMETHEUS, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { log = (log + s).slice(-LOG_KEEP_CHARS) })
  let exited = false
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve() }))
  child.once('error', (err) => { log += `\nspawn: ${err.message}` })
  t.teardown(async () => {
    if (exited) return
    child.kill('SIGTERM')
    try {
      await within(exit, 5000, 'Prometheus to stop')
    } catch {
      child.kill('SIGKILL')
      await within(exit, 5000, 'Prometheus to die')
    }
  })
  const url = `http://127.0.0.1:${port}`
  const end = Date.now() + READY_TIMEOUT_MS
  for (;;) {
    if (exited) throw new Error(`Prometheus exited at start:\n${log}`)
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)
    if (ok) break
    if (Date.now() > end) throw new Error(`Prometheus not ready within ${READY_TIMEOUT_MS} ms:\n${log}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { url, log: () => log }
}

async function query (prom: Prometheus, expr: string): Promise<QueryAnswer> {
  const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`)
  return await res.json() as QueryAnswer
}

/** The first value of an instant query, or NaN when it returns nothing. */
async function scalar (prom: Prometheus, expr: string): Promise<number> {
  const a = await query(prom, expr)
  if (a.status !== 'success') throw new Error(`${expr}: ${a.errorType}: ${a.error}`)
  const v = a.data?.result[0]?.value[1]
  return v === undefined ? Number.NaN : Number(v)
}

/** Wait until `expr` evaluates above 0; rejects with what Prometheus last said. */
/**
 * The value of `expr` once it is positive, or at least `least`: Prometheus answers from its last scrape, which may
 * have been taken while the audio was still arriving.
 */
async function waitPositive (prom: Prometheus, expr: string, least = Number.MIN_VALUE, ms = SERIES_TIMEOUT_MS): Promise<number> {
  const end = Date.now() + ms
  for (;;) {
    const v = await scalar(prom, expr)
    if (v >= least) return v
    if (Date.now() > end) throw new Error(`${expr} still ${v} after ${ms} ms; Prometheus log:\n${prom.log()}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

/** Every query of the dashboard, with Grafana's variables replaced as Grafana would for "All" and a 1 m rate window. */
function dashboardQueries (): Array<{ panel: string, expr: string }> {
  interface Panel { type: string, title?: string, targets?: Array<{ expr?: string }>, panels?: Panel[] }
  const d = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] }
  const out: Array<{ panel: string, expr: string }> = []
  const walk = (ps: Panel[]): void => {
    for (const p of ps) {
      walk(p.panels ?? [])
      for (const target of p.targets ?? []) {
        if (!target.expr) continue
        const expr = target.expr.replace(/\$\{monitor\}|\$monitor\b/g, '.*').replace(/\$\{__rate_interval\}|\$__rate_interval\b/g, '1m')
        out.push({ panel: p.title ?? p.type, expr })
      }
    }
  }
  walk(d.panels)
  return out
}

t.test('Prometheus scrapes earshot and evaluates every dashboard query', async (t) => {
  const queries = dashboardQueries()
  const panelQuery = (title: string): string => {
    const q = queries.find((x) => x.panel === title)
    if (!q) throw new Error(`no panel '${title}' on the dashboard`)
    return q.expr
  }
  const { index } = buildCatalog(path.join(t.testdir(), 'db'), [3, 5], 30, RATE)
  t.teardown(() => index.close())
  // The station airs 6 s of music not in the catalog, song 5 for 12 s, song 3 for 12 s (7.5 s of test time in all),
  // then silence. Two matches: a labelled counter appears at its first increment (prom-client does not export it
  // at 0), so increase() sees the second one.
  const program = new Float32Array(RATE * 30)
  program.set(clip(song(99, 30, RATE), RATE, 0, 6), 0)
  program.set(clip(song(5, 30, RATE), RATE, 2, 12), RATE * 6)
  program.set(clip(song(3, 30, RATE), RATE, 10, 12), RATE * 18)
  const radio = await startRadio(program, RATE, RADIO_SPEED)
  t.teardown(() => radio.close())
  const { url, http, port } = await startServer(t, 'uws', index, allowLoopback(testSettings({ idleTimeoutMs: 60_000 })))
  const prom = await startPrometheus(t, `127.0.0.1:${port}`)
  await waitPositive(prom, 'up{job="earshot"}')

  const monitorId = await addMonitor(t, http, radio.url)

  const { client, confirmed } = await streamThroughSdk(url, clip(song(3, 30, RATE), RATE, 4, 10), RATE, 3)
  t.ok(confirmed > 0, 'the client saw its song confirmed')

  t.ok(await waitPositive(prom, 'sum(earshot_sessions_opened_total)', 2) >= 2, 'earshot_sessions_opened_total: the client and the monitor')
  t.ok(await waitPositive(prom, 'sum(earshot_audio_seconds_total{kind="client"})', 10) >= 10, 'earshot_audio_seconds_total: the client\'s 10 s')
  t.ok(await waitPositive(prom, 'sum(earshot_matches_confirmed_total{monitor=""})') >= 1, 'earshot_matches_confirmed_total: the client stream')
  t.ok(await waitPositive(prom, `sum(earshot_matches_confirmed_total{monitor="${monitorId}"})`) >= 1, 'earshot_matches_confirmed_total: the monitor')
  // The panels themselves, once the station's second song is confirmed and scraped.
  const perHour = await waitPositive(prom, `sum(${panelQuery('Confirmed matches per hour, by monitor')})`)
  t.ok(perHour >= 1, `confirmed matches per hour on the station: ${perHour}`)
  const matched = await waitPositive(prom, `sum(${panelQuery('Share of airtime matched, by monitor')})`)
  t.ok(matched > 0 && matched < 1, `share of airtime matched on the station is between 0 and 1: ${matched}`)

  t.ok(queries.length >= 40, `${queries.length} dashboard queries`)
  for (const { panel, expr } of queries) {
    const a = await query(prom, expr)
    t.equal(a.status, 'success', `${panel}: ${expr}${a.error ? ` (${a.errorType}: ${a.error})` : ''}`)
  }

  // The variable's query: label_values(earshot_monitor_up, label).
  const labels = await (await fetch(`${prom.url}/api/v1/label/label/values?match[]=earshot_monitor_up`)).json() as { data: string[] }
  t.same(labels.data, ['test FM'], 'the monitor variable lists the station')

  // More panels that hold what the test made.
  const station = (await query(prom, panelQuery('Confirmed matches per hour, by monitor'))).data?.result ?? []
  t.same(station.map((r) => r.metric.label), ['test FM'], 'matches per hour are labelled with the station\'s label')
  const sessions = await query(prom, panelQuery('Sessions open by transport and kind'))
  t.same(sessions.data?.result.map((r) => `${r.metric.kind}/${r.metric.transport}`).sort(), ['client/uws', 'monitor/pull'], 'sessions by kind and transport')
  t.equal(await scalar(prom, panelQuery('Monitors up')), 1, 'one monitor up')
  t.equal(await scalar(prom, panelQuery('Monitors down')), 0, 'no monitor down')
  t.equal(await scalar(prom, panelQuery('Tracks')), 2, 'two tracks in the index')
  t.ok(await scalar(prom, panelQuery('Audio seconds per CPU second')) > 0, 'audio seconds per CPU second')

  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
  await client.close()
  await within(closed, 5000, 'the client to close')
})
