/**
 * How long to wait before trying again after failures: exponential backoff with jitter. One function serves every
 * retry in earshot (a monitor reconnecting to its source, a webhook delivery, the SDK reopening its stream); it lives
 * in protocol/ because the SDK must not import server code and both sides import this package.
 */

/** The spread of a wait: each wait is the doubled delay times a random fraction from `low` to `high`. */
export interface Jitter {
  readonly low: number
  readonly high: number
}

/** ±20 %: the retries of many clients of one server spread out, and the average wait stays the doubled delay. */
export const SPREAD_JITTER: Jitter = Object.freeze({ low: 0.8, high: 1.2 })

/** "Equal jitter", the upper half random: retries that failed together spread out, and none comes early. */
export const EQUAL_JITTER: Jitter = Object.freeze({ low: 0.5, high: 1 })

/**
 * The wait in ms after `failures` failed attempts in a row (1 after the first): initialMs doubled per failure beyond
 * the first, capped at maxMs, times the jitter's random fraction, capped at maxMs again, rounded to the ms.
 */
export function backoffDelayMs (failures: number, initialMs: number, maxMs: number, jitter: Jitter, random: () => number = Math.random): number {
  const doubled = Math.min(maxMs, initialMs * 2 ** Math.max(0, failures - 1))
  return Math.round(Math.min(maxMs, doubled * (jitter.low + (jitter.high - jitter.low) * random())))
}
