/**
 * How a match's playback speed (`Match.speed`, track seconds per stream second) reads for people: the one rule of
 * the CLI and the web page. A speed at least 0.5 % away from 1 is told as "2.1 % fast" or "1.8 % slow"; closer to 1
 * it is normal speed, and nothing is said.
 */

/** Speeds closer to 1 than this (0.5 %) are normal speed: not told. */
export const SPEED_NOTE_FROM = 0.005

/** "2.1 % fast" (1.021), "1.8 % slow" (0.982), or '' for a speed within SPEED_NOTE_FROM of 1 (or not a number). */
export function speedNote (speed: number): string {
  if (typeof speed !== 'number' || !Number.isFinite(speed)) return ''
  // In whole tenths of a percent, so 1.005 (0.00499… in floating point) counts as the 0.5 % it says.
  const tenths = Math.round((speed - 1) * 1000)
  if (Math.abs(tenths) < SPEED_NOTE_FROM * 1000) return ''
  return `${(Math.abs(tenths) / 10).toFixed(1)} % ${tenths > 0 ? 'fast' : 'slow'}`
}
