/** How the CLI writes counts, sizes and durations for people. */

/** "1 track", "2 tracks", "0 tracks"; `plural` for words that do not just take an s. */
export function count (n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`
}

const UNITS = ['kB', 'MB', 'GB', 'TB', 'PB']

/** Bytes with a unit, in powers of 1000 as disks are sold: "812 bytes", "4.1 kB", "1.2 GB". */
export function formatBytes (bytes: number): string {
  if (!Number.isFinite(bytes) || Math.abs(bytes) < 1000) return count(Math.round(bytes), 'byte')
  let value = bytes
  let unit = -1
  while (Math.abs(value) >= 999.5 && unit < UNITS.length - 1) { value /= 1000; unit++ }
  return `${value.toFixed(Math.abs(value) < 99.95 ? 1 : 0)} ${UNITS[unit]}`
}

/** Seconds as m:ss, or h:mm:ss from an hour on, whole seconds cut (a position: 59.6 s into a track is 0:59). */
export function clock (seconds: number): string {
  const s = Math.max(0, Math.floor(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const ss = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`
}

/**
 * A length (a track's, a play's, a day's airtime) rounded to the nearest second, as the web page shows lengths
 * (dom.ts `length`): 113.6 s is 1:54 in both.
 */
export function length (seconds: number): string {
  return clock(Math.round(Math.max(0, seconds)))
}
