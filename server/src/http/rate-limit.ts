/**
 * Token buckets by key (a token or a client address): `perMinute` requests a minute, in bursts of at most that
 * many. Buckets that have refilled are forgotten on a sweep, so the map stays as small as the set of recent clients.
 */
export class RateLimiter {
  readonly #perMinute: number
  readonly #buckets = new Map<string, { tokens: number, at: number }>()
  #lastSweep = 0

  /** @param perMinute requests allowed per minute and key */
  constructor (perMinute: number) {
    this.#perMinute = perMinute
  }

  /** Take one request for `key` at `now` (ms). Returns 0 when allowed, else the seconds until one is. */
  take (key: string, now = Date.now()): number {
    const rate = this.#perMinute / 60_000 // per ms
    if (now - this.#lastSweep > 60_000) this.#sweep(now, rate)
    let b = this.#buckets.get(key)
    if (!b) { b = { tokens: this.#perMinute, at: now }; this.#buckets.set(key, b) }
    b.tokens = Math.min(this.#perMinute, b.tokens + (now - b.at) * rate)
    b.at = now
    if (b.tokens >= 1) { b.tokens -= 1; return 0 }
    return Math.max(1, Math.ceil((1 - b.tokens) / rate / 1000))
  }

  /** Give back one request taken from `key` (a request another limit refused). */
  refund (key: string): void {
    const b = this.#buckets.get(key)
    if (b) b.tokens = Math.min(this.#perMinute, b.tokens + 1)
  }

  #sweep (now: number, rate: number): void {
    this.#lastSweep = now
    for (const [key, b] of this.#buckets) if (b.tokens + (now - b.at) * rate >= this.#perMinute) this.#buckets.delete(key)
  }
}
