/**
 * Time parameters of the play log (issue 10, finding 14): `?to=-5` was read by Date.parse as 2001-05-01. Negative,
 * non-finite, exponent and out-of-range times are EAR_ERR_BAD_REQUEST naming the parameter; ISO 8601 and
 * milliseconds since 1970 still work. Over both transports.
 */
import t from 'tap'
import path from 'node:path'
import { LmdbIndex } from '../../server/src/index/lmdb-index.js'
import { defaultFingerprint } from '../../server/src/config/fingerprint.js'
import { startServer, TRANSPORTS } from '../helpers/stream-helpers.js'
import { apiSettings, assertError, auditErrorAnswers, bodyOf, call } from '../helpers/api-helpers.js'

const BAD = ['-5', '-1', '1e3', 'NaN', 'Infinity', '-Infinity', '5.5', '0x10', '99999999999999999', '253402300800000',
  '10000-01-01', '2024-13-45', 'yesterday', 'Tue, 01 May 2001', ' 5', '2024-01-01T00:00:00Z junk']
const GOOD: Array<[string, number]> = [['0', 0], ['1709337000000', 1709337000000], ['2024-03-02', Date.UTC(2024, 2, 2)],
  ['2024-03-02T10:30:00Z', Date.UTC(2024, 2, 2, 10, 30)], ['2024-03-02T10:30:00.250+01:00', Date.UTC(2024, 2, 2, 9, 30, 0, 250)]]

for (const transport of TRANSPORTS) {
  t.test(`play-log time parameters over ${transport}`, async (t) => {
    const index = LmdbIndex.open(path.join(t.testdir(), 'db'), defaultFingerprint)
    t.teardown(() => index.close())
    const { http: base } = await startServer(t, transport, index, apiSettings())
    for (const raw of BAD) {
      for (const name of ['from', 'to']) {
        const q = `${name}=${encodeURIComponent(raw)}`
        const plays = await call(base, 'GET', `/v1/plays?${q}`)
        assertError(t, plays, 'EAR_ERR_BAD_REQUEST', `/v1/plays?${q}`)
        t.match(bodyOf(plays).error.message, new RegExp(`^Bad request: ${name} must be`), `${q}: the message names ${name}`)
        assertError(t, await call(base, 'GET', `/v1/plays/daily?${q}`), 'EAR_ERR_BAD_REQUEST', `/v1/plays/daily?${q}`)
      }
    }
    for (const [raw, ms] of GOOD) {
      const q = `to=${encodeURIComponent(raw)}&from=${encodeURIComponent(raw)}`
      t.equal((await call(base, 'GET', `/v1/plays?${q}`)).status, 200, `/v1/plays?${q}`)
      const daily = await call(base, 'GET', `/v1/plays/daily?to=${encodeURIComponent(raw)}&from=${ms === 0 ? '0' : String(ms - 86_400_000)}`)
      if (ms === 0) assertError(t, daily, 'EAR_ERR_BAD_REQUEST', 'an empty range: from must be before to')
      else t.equal(bodyOf(daily).to, new Date(ms).toISOString(), `to=${raw} is read as ${new Date(ms).toISOString()}`)
    }
  })
}

t.test('every error answer is {"error":{"code","message"}} with its catalogued status and no stack trace', async (t) => {
  auditErrorAnswers(t)
})
