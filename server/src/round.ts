/** `x` rounded to `digits` decimals: how figures are shown and sent (seconds to 2 or 3, confidences to 3). */
export function round (x: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}
