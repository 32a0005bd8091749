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

/** Positions and lengths as the web page shows them too. */
export { clock, length } from '../clock.js'
