/**
 * Small helpers the benchmarks share: numeric options from the environment, and quantiles of timings.
 */

/** The number in environment variable `name`, or `fallback` when it is not set. */
export function env (name: string, fallback: number): number {
  const v = process.env[name]
  return v === undefined ? fallback : Number(v)
}

/** The value at quantile q (0..1) of xs: the one at index floor(q * n) once sorted; NaN when xs is empty. */
export function quantile (xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}
