import t from 'tap'
import { EQUAL_JITTER, SPREAD_JITTER, backoffDelayMs } from '../../protocol/src/index.js'

// The one backoff of every retry: monitors and the SDK reconnect with SPREAD_JITTER, webhooks retry with EQUAL_JITTER.

t.test('spread jitter (monitors, the SDK): doubles per failure, ±20 %, up to the maximum', async (t) => {
  t.equal(backoffDelayMs(1, 1000, 60_000, SPREAD_JITTER, () => 0.5), 1000)
  t.equal(backoffDelayMs(1, 1000, 60_000, SPREAD_JITTER, () => 0), 800)
  t.equal(backoffDelayMs(1, 1000, 60_000, SPREAD_JITTER, () => 1), 1200)
  t.equal(backoffDelayMs(3, 1000, 60_000, SPREAD_JITTER, () => 0.5), 4000)
  t.equal(backoffDelayMs(7, 1000, 60_000, SPREAD_JITTER, () => 0.5), 60_000, '64 s is capped at 60 s')
  t.equal(backoffDelayMs(7, 1000, 60_000, SPREAD_JITTER, () => 1), 60_000, 'jitter stays under the cap')
  t.equal(backoffDelayMs(5000, 1000, 60_000, SPREAD_JITTER, () => 0), 48_000, 'no overflow after many failures')
})

t.test('equal jitter (webhooks): doubling from 1 s, the upper half random, capped at 300 s', async (t) => {
  t.equal(backoffDelayMs(1, 1000, 300_000, EQUAL_JITTER, () => 0), 500)
  t.equal(backoffDelayMs(1, 1000, 300_000, EQUAL_JITTER, () => 1), 1000)
  t.equal(backoffDelayMs(3, 1000, 300_000, EQUAL_JITTER, () => 1), 4000)
  t.equal(backoffDelayMs(3, 1000, 300_000, EQUAL_JITTER, () => 0.5), 3000)
  t.equal(backoffDelayMs(10, 1000, 300_000, EQUAL_JITTER, () => 1), 300_000, '512 s capped')
  t.equal(backoffDelayMs(2000, 1000, 300_000, EQUAL_JITTER, () => 0), 150_000, 'no overflow far past the cap')
})
