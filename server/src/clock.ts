/**
 * Seconds as people read them, the same in the CLI and on the web page (both import this file): positions are
 * whole seconds passed (`clock`), lengths are rounded to the nearest second (`length`).
 */

/** Seconds as m:ss, or h:mm:ss from an hour on, whole seconds cut (a position: 59.6 s into a track is 0:59). */
export function clock (seconds: number): string {
  const s = Math.max(0, Math.floor(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const ss = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`
}

/** A length (a track's, a play's, a day's airtime) rounded to the nearest second: 113.6 s is 1:54. */
export function length (seconds: number): string {
  return clock(Math.round(Math.max(0, seconds)))
}
