/**
 * The matched-airtime chart of a monitor: plays of the play log in, an SVG bar chart out, one bar per time bucket
 * showing the share of the bucket in which a song was recognised. For people who would rather look than read; the
 * same figures are in its accessible name and in each bar's title.
 */
import { duration, percent } from './dom.js'

/** The part of a Play the chart reads. */
export interface PlaySpan { startedAt: string, endedAt: string | null, lastSeenAt: string, open: boolean }

export interface AirtimeOptions {
  /** The chart's span, in hours. */
  hours: number
  /** Bucket length, in minutes. */
  bucketMinutes: number
}

export const DEFAULT_AIRTIME: AirtimeOptions = { hours: 6, bucketMinutes: 15 }

/** Seconds matched per bucket, oldest first; the last bucket ends at `nowMs`. */
export function airtimeBuckets (plays: readonly PlaySpan[], nowMs: number, o: AirtimeOptions = DEFAULT_AIRTIME): number[] {
  const bucketMs = o.bucketMinutes * 60_000
  const count = Math.round((o.hours * 60) / o.bucketMinutes)
  const start = nowMs - count * bucketMs
  const out = new Array<number>(count).fill(0)
  for (const p of plays) {
    // An open play lasts until the last audio heard in it.
    const from = Math.max(start, Date.parse(p.startedAt))
    const to = Math.min(nowMs, Date.parse(p.open || p.endedAt === null ? p.lastSeenAt : p.endedAt))
    if (!(to > from)) continue
    for (let b = Math.floor((from - start) / bucketMs); b < count && start + b * bucketMs < to; b++) {
      const lo = Math.max(from, start + b * bucketMs)
      const hi = Math.min(to, start + (b + 1) * bucketMs)
      if (hi > lo) out[b] += (hi - lo) / 1000
    }
  }
  return out
}

const SVG = 'http://www.w3.org/2000/svg'
/** The drawing's coordinates (the SVG scales to its box). */
const WIDTH = 240
const HEIGHT = 72
const PLOT = { left: 22, right: 236, top: 4, bottom: 58 }

function svg<K extends keyof SVGElementTagNameMap> (tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  if (text !== undefined) e.textContent = text
  return e
}

/** A figure with the chart of `plays` over the last hours. */
export function airtimeChart (plays: readonly PlaySpan[], nowMs: number, o: AirtimeOptions = DEFAULT_AIRTIME): HTMLElement {
  const buckets = airtimeBuckets(plays, nowMs, o)
  const bucketSeconds = o.bucketMinutes * 60
  const total = buckets.reduce((a, b) => a + b, 0)
  const busiest = buckets.reduce((best, v, i) => (v > buckets[best] ? i : best), 0)
  const start = nowMs - buckets.length * bucketSeconds * 1000
  const label = (i: number): string => {
    const t = (ms: number): string => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    return `${t(start + i * bucketSeconds * 1000)}–${t(start + (i + 1) * bucketSeconds * 1000)}`
  }
  const summary = total === 0
    ? `No song recognised in the last ${o.hours} hours.`
    : `${duration(total)} of songs recognised in the last ${o.hours} hours; most in ${label(busiest)} (${percent(buckets[busiest] / bucketSeconds)} of it).`

  const chart = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': summary, 'data-matched-seconds': Math.round(total) })
  const plotW = PLOT.right - PLOT.left
  const plotH = PLOT.bottom - PLOT.top
  const slot = plotW / buckets.length
  chart.append(svg('line', { class: 'axis', x1: PLOT.left, y1: PLOT.bottom, x2: PLOT.right, y2: PLOT.bottom }))
  chart.append(svg('line', { class: 'axis', x1: PLOT.left, y1: PLOT.top, x2: PLOT.left, y2: PLOT.bottom }))
  chart.append(svg('text', { x: PLOT.left - 2, y: PLOT.top + 5, 'text-anchor': 'end' }, '100%'))
  chart.append(svg('text', { x: PLOT.left - 2, y: PLOT.bottom, 'text-anchor': 'end' }, '0'))
  for (const [i, seconds] of buckets.entries()) {
    const share = Math.min(1, seconds / bucketSeconds)
    // A bucket with any airtime shows at least a sliver: a short play must not vanish.
    const h = seconds > 0 ? Math.max(1, share * plotH) : 0
    const bar = svg('rect', { class: 'bar', x: PLOT.left + i * slot + slot * 0.1, y: PLOT.bottom - h, width: slot * 0.8, height: h, 'data-seconds': Math.round(seconds) })
    bar.append(svg('title', {}, `${label(i)}: ${duration(seconds)} recognised (${percent(share)})`))
    chart.append(bar)
  }
  for (const [at, text, anchor] of [[0, `−${o.hours} h`, 'start'], [0.5, `−${o.hours / 2} h`, 'middle'], [1, 'now', 'end']] as const) {
    chart.append(svg('text', { x: PLOT.left + at * plotW, y: HEIGHT - 4, 'text-anchor': anchor }, text))
  }

  const figure = document.createElement('figure')
  figure.className = 'chart'
  const caption = document.createElement('figcaption')
  caption.textContent = `Recognised airtime, last ${o.hours} hours (share of each ${o.bucketMinutes} minutes)`
  figure.append(caption, chart)
  return figure
}
