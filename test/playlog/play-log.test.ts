import t, { type Test } from 'tap'
import path from 'node:path'
import { open, type RootDatabase } from 'lmdb'
import { EarshotError } from '../../server/src/errors.js'
import { PlayLog, PLAYLOG_FORMAT_VERSION, playsToCsv, type NewPlay, type Play, type PlayLogOptions, type PlayQuery } from '../../server/src/playlog/play-log.js'

/** 2024-03-01T23:50:00Z: ten minutes before a UTC day boundary. */
const T0 = Date.UTC(2024, 2, 1, 23, 50, 0)

interface Env { dir: string, root: RootDatabase, log: PlayLog }

function openEnv (dir: string, options?: PlayLogOptions): Env {
  const root = open({ path: dir, maxDbs: 8 })
  return { dir, root, log: new PlayLog(root, options) }
}

/** A fresh log in a temp folder; `reopen` closes the environment and opens it again. Closed in teardown. */
function fresh (t: Test, options?: PlayLogOptions): { env: Env, reopen: () => Promise<Env> } {
  const dir = path.join(t.testdir(), 'db')
  const holder = { env: openEnv(dir, options) }
  t.teardown(() => holder.env.root.close())
  return {
    get env () { return holder.env },
    async reopen () {
      await holder.env.root.close()
      holder.env = openEnv(dir, options)
      return holder.env
    },
  }
}

function newPlay (over: Partial<NewPlay> = {}): NewPlay {
  return {
    stream: 'radio-1',
    kind: 'monitor',
    trackId: 7,
    title: 'Song',
    artist: 'Band',
    album: 'Record',
    startedAt: new Date(T0).toISOString(),
    startStreamSeconds: 100,
    startOffsetSeconds: 12.5,
    peakConfidence: 0.4,
    ...over,
  }
}

function throwsCode (t: Test, fn: () => unknown, code: string, message: string): void {
  try {
    fn()
    t.fail(`${message}: expected ${code}`)
  } catch (err) {
    t.ok(err instanceof EarshotError, `${message}: an EarshotError`)
    t.equal((err as EarshotError).code, code, message)
  }
}

t.test('open, touch, close round trip', async (t) => {
  const { log } = fresh(t).env
  const p = log.open(newPlay())
  t.match(p.id, /^1709337000000-\d{10}$/, 'the id starts with the start time in ms')
  t.same(p, {
    id: p.id,
    stream: 'radio-1',
    kind: 'monitor',
    trackId: 7,
    title: 'Song',
    artist: 'Band',
    album: 'Record',
    startedAt: '2024-03-01T23:50:00.000Z',
    endedAt: null,
    startStreamSeconds: 100,
    endStreamSeconds: null,
    startOffsetSeconds: 12.5,
    endOffsetSeconds: null,
    peakConfidence: 0.4,
    lastSeenAt: '2024-03-01T23:50:00.000Z',
    lastStreamSeconds: 100,
    open: true,
    speed: 1,
  })
  t.same(log.get(p.id), p)
  t.same(log.openPlays().map((x) => x.id), [p.id])

  log.touch(p.id, { lastStreamSeconds: 130, lastSeenAt: '2024-03-01T23:50:30.000Z', peakConfidence: 0.9 })
  log.touch(p.id, { lastStreamSeconds: 131, lastSeenAt: '2024-03-01T23:50:31.000Z', peakConfidence: 0.7 })
  t.match(log.get(p.id), { lastStreamSeconds: 131, lastSeenAt: '2024-03-01T23:50:31.000Z', peakConfidence: 0.9, open: true }, 'touches are seen at once, the peak is kept')
  await log.flushed()
  t.match(log.openPlays()[0], { lastStreamSeconds: 131, peakConfidence: 0.9 })

  const closed = log.close(p.id, { endedAt: '2024-03-01T23:53:20.000Z', endStreamSeconds: 300, endOffsetSeconds: 212.5, peakConfidence: 0.95 })
  t.match(closed, { id: p.id, open: false, endedAt: '2024-03-01T23:53:20.000Z', endStreamSeconds: 300, endOffsetSeconds: 212.5, peakConfidence: 0.95, lastStreamSeconds: 131, startStreamSeconds: 100 })
  t.same(log.get(p.id), closed)
  t.same(log.openPlays(), [], 'no open play left')

  // Closing again changes nothing; touching a closed play is ignored.
  t.same(log.close(p.id, { endedAt: '2024-03-02T00:00:00.000Z', endStreamSeconds: 999, endOffsetSeconds: 999 }), closed)
  log.touch(p.id, { lastStreamSeconds: 500, lastSeenAt: '2024-03-02T00:00:00.000Z', peakConfidence: 1 })
  await log.flushed()
  t.same(log.get(p.id), closed)
  t.same(log.openPlays(), [])

  t.equal(log.get('1709337000000-9999999999'), undefined)
  t.equal(log.get('nonsense'), undefined)
  t.equal(log.close('nonsense', { endedAt: '2024-03-02T00:00:00.000Z', endStreamSeconds: 1, endOffsetSeconds: 1 }), undefined)
  log.touch('nonsense', { lastStreamSeconds: 1, lastSeenAt: '2024-03-02T00:00:00.000Z', peakConfidence: 1 })
  t.same(log.openPlays(), [])
})

t.test('close can correct the start; an end before the start is held at the start', async (t) => {
  const { log } = fresh(t).env
  const p = log.open(newPlay())
  const closed = log.close(p.id, { endedAt: '2024-03-01T23:51:00.000Z', endStreamSeconds: 160, endOffsetSeconds: 70.5, startStreamSeconds: 98 })
  t.match(closed, { id: p.id, startStreamSeconds: 98, startOffsetSeconds: 10.5, startedAt: '2024-03-01T23:49:58.000Z' }, 'start moved by -2 s, the id kept')
  const q = log.open(newPlay({ startStreamSeconds: 200 }))
  t.equal(log.close(q.id, { endedAt: '2024-03-01T23:51:00.000Z', endStreamSeconds: 199.99, endOffsetSeconds: 12.5 })?.endStreamSeconds, 200)
  t.throws(() => log.open(newPlay({ startedAt: 'yesterday' })), TypeError, 'a start that is not a date is refused')
})

t.test('rows survive closing and reopening the environment', async (t) => {
  const f = fresh(t)
  let { log } = f.env
  const a = log.open(newPlay())
  const b = log.open(newPlay({ stream: 'radio-2', trackId: 8, startedAt: new Date(T0 + 5000).toISOString() }))
  log.touch(a.id, { lastStreamSeconds: 150, lastSeenAt: '2024-03-01T23:50:50.000Z', peakConfidence: 0.8 })
  await log.flushed()
  log = (await f.reopen()).log
  t.match(log.get(a.id), { open: true, lastStreamSeconds: 150, peakConfidence: 0.8 }, 'the touch is on disk')
  t.same(log.openPlays().map((p) => p.id), [a.id, b.id])

  const closedB = log.close(b.id, { endedAt: '2024-03-01T23:52:05.000Z', endStreamSeconds: 220, endOffsetSeconds: 132.5 })
  log = (await f.reopen()).log
  t.same(log.get(b.id), closedB, 'a close is durable without waiting')
  t.same(log.openPlays().map((p) => p.id), [a.id])
  const c = log.open(newPlay({ startedAt: new Date(T0 + 10000).toISOString() }))
  t.ok(c.id > b.id && c.id.slice(-10) > b.id.slice(-10), 'the sequence goes on after a reopen')
})

t.test('a touch queued just before close does not reopen the play', async (t) => {
  const f = fresh(t)
  let { log } = f.env
  const p = log.open(newPlay())
  log.touch(p.id, { lastStreamSeconds: 120, lastSeenAt: '2024-03-01T23:50:20.000Z', peakConfidence: 0.5 })
  const closed = log.close(p.id, { endedAt: '2024-03-01T23:50:21.000Z', endStreamSeconds: 121, endOffsetSeconds: 33.5 })
  await log.flushed()
  log = (await f.reopen()).log
  t.same(log.get(p.id), closed)
  t.same(log.openPlays(), [])
  t.same(log.recover(), [], 'nothing to recover')
  t.same(log.get(p.id), closed)
})

t.test('recover closes open plays where they were last heard, once', async (t) => {
  const f = fresh(t)
  let { log } = f.env
  const a = log.open(newPlay())
  const b = log.open(newPlay({ stream: 'radio-2', startedAt: new Date(T0 + 1000).toISOString(), startStreamSeconds: 10, startOffsetSeconds: 0 }))
  const done = log.open(newPlay({ stream: 'radio-3', startedAt: new Date(T0 + 2000).toISOString() }))
  log.touch(a.id, { lastStreamSeconds: 145.5, lastSeenAt: '2024-03-01T23:50:45.500Z', peakConfidence: 0.7 })
  const doneClosed = log.close(done.id, { endedAt: '2024-03-01T23:50:10.000Z', endStreamSeconds: 108, endOffsetSeconds: 20.5 })
  await log.flushed()
  // A crash: the environment goes away with two plays open.
  log = (await f.reopen()).log
  const recovered = log.recover()
  t.same(recovered.map((p) => p.id), [a.id, b.id])
  t.match(recovered[0], { open: false, endedAt: '2024-03-01T23:50:45.500Z', endStreamSeconds: 145.5, endOffsetSeconds: 58, peakConfidence: 0.7 }, 'a: at its last touch; offset 12.5 + 45.5')
  t.match(recovered[1], { open: false, endedAt: '2024-03-01T23:50:01.000Z', endStreamSeconds: 10, endOffsetSeconds: 0 }, 'b: never touched, closed at its start')
  t.same(log.get(a.id), recovered[0])
  t.same(log.get(done.id), doneClosed, 'a closed play is left alone')
  t.same(log.openPlays(), [])
  t.same(log.recover(), [], 'a second recover finds nothing')
  log = (await f.reopen()).log
  t.same(log.recover(), [], 'nor after another restart')
  t.same(log.query({}).plays.map((p) => p.id), [done.id, b.id, a.id], 'no duplicate rows')
})

t.test('speed: kept at open, updated by touch and close; the start correction and recover move offsets by speed', async (t) => {
  const f = fresh(t)
  let { log } = f.env
  const p = log.open(newPlay({ speed: 1.05 }))
  t.equal(p.speed, 1.05)
  log.touch(p.id, { lastStreamSeconds: 110, lastSeenAt: '2024-03-01T23:50:10.000Z', peakConfidence: 0.5, speed: 1.04 })
  t.equal(log.get(p.id)?.speed, 1.04, 'a touch carries the latest estimate')
  log.touch(p.id, { lastStreamSeconds: 111, lastSeenAt: '2024-03-01T23:50:11.000Z', peakConfidence: 0.5 })
  t.equal(log.get(p.id)?.speed, 1.04, 'a touch without one keeps it')
  const closed = log.close(p.id, { endedAt: '2024-03-01T23:51:00.000Z', endStreamSeconds: 160, endOffsetSeconds: 72.9, startStreamSeconds: 98, speed: 1.02 })
  t.match(closed, { speed: 1.02, startStreamSeconds: 98, startOffsetSeconds: 10.46, startedAt: '2024-03-01T23:49:58.000Z' }, 'start moved by -2 s of stream, -2.04 s of track')

  const q = log.open(newPlay({ stream: 'radio-2', speed: 0.98 }))
  log.touch(q.id, { lastStreamSeconds: 150, lastSeenAt: '2024-03-01T23:50:50.000Z', peakConfidence: 0.6, speed: 0.97 })
  await log.flushed()
  log = (await f.reopen()).log
  t.match(log.recover(), [{ id: q.id, speed: 0.97, endStreamSeconds: 150, endOffsetSeconds: 61 }], 'recovered at its last touch: 12.5 + 0.97 × 50 s')
  t.equal(log.get(p.id)?.speed, 1.02)
  const csv = playsToCsv([log.get(p.id) as Play]).split('\r\n')
  t.same(csv[0].split(',').slice(-4), ['speed', 'isrc', 'externalId', 'labels'], 'the CSV has speed after the older columns, then the track\'s metadata (older columns keep their place)')
  t.equal(csv[1].split(',').at(-4), '1.02')
})

t.test('a format 2 log is moved over on open: its plays read speed 1', async (t) => {
  const f = fresh(t)
  let { log } = f.env
  const closed = log.open(newPlay())
  log.close(closed.id, { endedAt: '2024-03-01T23:51:00.000Z', endStreamSeconds: 160, endOffsetSeconds: 72.5 })
  const open = log.open(newPlay({ stream: 'radio-2', startedAt: new Date(T0 + 1000).toISOString() }))
  log.touch(open.id, { lastStreamSeconds: 130, lastSeenAt: '2024-03-01T23:50:31.000Z', peakConfidence: 0.8 })
  await log.flushed()
  // Write both as format 2 did: no speed in the rows nor in the open play's live record.
  const { root } = f.env
  const plays = root.openDB<Record<string, unknown>, string>('playlog.plays', { encoding: 'msgpack' })
  const live = root.openDB<Record<string, unknown>, string>('playlog.open', { encoding: 'msgpack' })
  root.transactionSync(() => {
    for (const { key, value } of plays.getRange()) { const { speed: _, ...row } = value; plays.putSync(key, row) }
    for (const { key, value } of live.getRange()) { const { speed: _, ...rest } = value; live.putSync(key, rest) }
    root.openDB('playlog.index', { encoding: 'msgpack' }).putSync(['meta', 'formatVersion'], 2)
  })
  t.equal(plays.get(closed.id)?.speed, undefined, 'format 2 rows have no speed')

  log = (await f.reopen()).log
  t.equal(f.env.root.openDB('playlog.index', { encoding: 'msgpack' }).get(['meta', 'formatVersion']), PLAYLOG_FORMAT_VERSION, 'now the current format')
  t.equal(PLAYLOG_FORMAT_VERSION, 3)
  t.match(log.get(closed.id), { speed: 1, startOffsetSeconds: 12.5, endOffsetSeconds: 72.5 }, 'a closed play reads speed 1, its offsets unchanged')
  t.match(log.get(open.id), { speed: 1, open: true, lastStreamSeconds: 130, peakConfidence: 0.8 }, 'an open play too, its live values kept')
  t.same(log.query({}).plays.map((p) => p.speed), [1, 1])
  log.touch(open.id, { lastStreamSeconds: 140, lastSeenAt: '2024-03-01T23:50:41.000Z', peakConfidence: 0.8 })
  t.equal(log.get(open.id)?.speed, 1, 'a touch of a format 2 live record keeps the row\'s speed')
  t.match(log.recover(), [{ id: open.id, speed: 1, endStreamSeconds: 140, endOffsetSeconds: 52.5 }])
})

t.test('a log with another format version is refused', async (t) => {
  const dir = path.join(t.testdir(), 'db')
  const root = open({ path: dir, maxDbs: 8 })
  t.teardown(() => root.close())
  root.openDB('playlog.index', { encoding: 'msgpack' }).putSync(['meta', 'formatVersion'], PLAYLOG_FORMAT_VERSION + 1)
  throwsCode(t, () => new PlayLog(root), 'EAR_ERR_STATE_FORMAT', 'format version')
  t.throws(() => new PlayLog(root, { maxPageSize: 0 }), TypeError, 'a bad option fails fast')
})

t.test('monitors and client streams are separate namespaces; a format 1 log is moved over on open, losing nothing', async (t) => {
  const f = fresh(t)
  let log = f.env.log
  const monitor = log.open(newPlay({ stream: 'same-id', kind: 'monitor', trackId: 1 }))
  const client = log.open(newPlay({ stream: 'same-id', kind: 'client', trackId: 2, startedAt: new Date(T0 + 1000).toISOString() }))
  const namespaces = (l: PlayLog): unknown => ({
    monitor: l.query({ stream: 'same-id' }).plays.map((p) => p.id),
    client: l.query({ stream: 'same-id', kind: 'client' }).plays.map((p) => p.id),
    clientTrack: l.query({ stream: 'same-id', kind: 'client', trackId: 2 }).plays.map((p) => p.id),
    monitorTrack: l.query({ stream: 'same-id', trackId: 2 }).plays.map((p) => p.id),
    daily: l.perTrackPerDay({ from: T0 - 1000, to: T0 + 86_400_000, stream: 'same-id', kind: 'client' }).map((d) => d.trackId),
  })
  const expected = { monitor: [monitor.id], client: [client.id], clientTrack: [client.id], monitorTrack: [], daily: [2] }
  t.same(namespaces(log), expected, 'a streamId equal to a monitor\'s id stays apart (kind defaults to monitor)')

  // Format 1 kept every stream under 's' and 'st': write the client play's keys that way, as an older earshot did.
  const index = f.env.root.openDB<unknown, Array<string | number>>('playlog.index', { encoding: 'msgpack' })
  index.transactionSync(() => {
    index.removeSync(['cs', 'same-id', client.id])
    index.removeSync(['cst', 'same-id', 2, client.id])
    index.putSync(['s', 'same-id', client.id], 1)
    index.putSync(['st', 'same-id', 2, client.id], 1)
    index.putSync(['meta', 'formatVersion'], 1)
  })
  log = (await f.reopen()).log
  t.equal(f.env.root.openDB('playlog.index', { encoding: 'msgpack' }).get(['meta', 'formatVersion']), PLAYLOG_FORMAT_VERSION, 'now the current format')
  t.same(namespaces(log), expected, 'the client play moved to its namespace; both plays are kept')
  t.same(log.query({}).plays.map((p) => p.id), [client.id, monitor.id], 'every row is still there')
})

/** Open `n` plays over 3 streams and 4 tracks, 37 s apart, some sharing a millisecond; returns them. */
function populate (log: PlayLog, n: number): Play[] {
  const out: Play[] = []
  for (let i = 0; i < n; i++) {
    const ms = T0 + Math.floor(i / 3) * 37_000 + (i % 3 === 2 ? 0 : i % 3) // i = 3k+2 shares the millisecond of i = 3k
    out.push(log.open(newPlay({ stream: `radio-${i % 3}`, trackId: i % 4, title: `t${i}`, startedAt: new Date(ms).toISOString(), startStreamSeconds: i })))
  }
  return out
}

/** What a query should return: filtered and sorted newest first by id, by brute force. */
function expected (all: readonly Play[], q: PlayQuery): string[] {
  return all
    .filter((p) => (q.stream === undefined || p.stream === q.stream) && (q.trackId === undefined || p.trackId === q.trackId))
    .filter((p) => (q.from === undefined || Date.parse(p.startedAt) >= q.from) && (q.to === undefined || Date.parse(p.startedAt) < q.to))
    .map((p) => p.id)
    .sort()
    .reverse()
}

/** Every page of a query, concatenated. */
function allPages (t: Test, log: PlayLog, q: PlayQuery): string[] {
  const ids: string[] = []
  let cursor: string | undefined
  for (let pages = 0; pages < 1000; pages++) {
    const page = log.query({ ...q, cursor })
    t.ok(page.plays.length <= (q.limit ?? 100), 'page within its limit')
    ids.push(...page.plays.map((p) => p.id))
    if (page.nextCursor === null) return ids
    t.equal(page.plays.length, q.limit ?? 100, 'a page with a next cursor is full')
    cursor = page.nextCursor
  }
  t.fail('paging did not end')
  return ids
}

t.test('query filters by stream, track and time, newest first', async (t) => {
  const { log } = fresh(t).env
  const all = populate(log, 60)
  const mid = Date.parse(all[20].startedAt)
  const late = Date.parse(all[45].startedAt)
  const queries: PlayQuery[] = [
    {},
    { stream: 'radio-1' },
    { trackId: 2 },
    { stream: 'radio-2', trackId: 1 },
    { stream: 'radio-2', trackId: 0 },
    { from: mid },
    { to: mid },
    { from: mid, to: late },
    { from: mid + 1, to: late + 1 },
    { stream: 'radio-0', from: mid, to: late },
    { trackId: 3, from: mid },
    { stream: 'radio-1', trackId: 1, to: late },
    { stream: 'nobody' },
    { trackId: 99 },
    { from: late, to: mid },
  ]
  for (const q of queries) {
    const page = log.query({ ...q, limit: 1000 })
    t.same(page.plays.map((p) => p.id), expected(all, q), `query ${JSON.stringify(q)}`)
    t.equal(page.nextCursor, null)
  }
  t.ok(expected(all, { stream: 'radio-1' }).length > 0 && expected(all, { from: mid, to: late }).length > 0, 'the filters select something')
  t.equal(log.query({ stream: 'radio-0' }).plays[0].stream, 'radio-0')
  // all[18] and all[20] share a millisecond; all[19] starts 1 ms later.
  t.same(log.query({ from: mid, to: mid + 1 }).plays.map((p) => p.id), [all[20].id, all[18].id], 'from inclusive, to exclusive')
})

t.test('paging with the cursor: no duplicates, no gaps, stable under inserts', async (t) => {
  const { log } = fresh(t).env
  const all = populate(log, 250)
  for (const q of [{ limit: 7 }, { limit: 1 }, { stream: 'radio-1', limit: 9 }, { trackId: 1, limit: 10 }, { stream: 'radio-0', trackId: 0, limit: 4 }, { from: Date.parse(all[100].startedAt), limit: 13 }] as PlayQuery[]) {
    const ids = allPages(t, log, q)
    t.same(ids, expected(all, q), `paged ${JSON.stringify(q)}`)
  }
  t.same(allPages(t, log, {}), expected(all, {}), 'default limit 100: three pages')
  t.equal(log.query({}).plays.length, 100)

  // Insert newer and older rows between pages: every original row is still seen exactly once, in order.
  const seen: string[] = []
  let cursor: string | undefined
  let inserted = 0
  do {
    const page = log.query({ limit: 20, cursor })
    seen.push(...page.plays.map((p) => p.id))
    cursor = page.nextCursor ?? undefined
    log.open(newPlay({ startedAt: new Date(T0 + 10_000_000 + inserted * 1000).toISOString() })) // newer than everything
    log.open(newPlay({ startedAt: new Date(T0 - 1000 - inserted * 1000).toISOString() })) // older than everything
    inserted++
  } while (cursor !== undefined)
  t.same(seen.filter((id) => all.some((p) => p.id === id)), expected(all, {}), 'the original rows, once each, in order')
  t.equal(new Set(seen).size, seen.length, 'no duplicates')
})

t.test('limit bounds', async (t) => {
  const { log, root } = fresh(t, { maxPageSize: 5, defaultPageSize: 3 }).env
  populate(log, 8)
  t.equal(log.query({}).plays.length, 3, 'default page size')
  t.equal(log.query({ limit: 5 }).plays.length, 5, 'at the maximum')
  t.equal(log.query({ limit: 6 }).plays.length, 5, 'one past it is cut to the maximum')
  t.equal(log.query({ limit: 1 }).plays.length, 1)
  for (const limit of [0, -1, 1.5, Number.NaN]) throwsCode(t, () => log.query({ limit }), 'EAR_ERR_BAD_REQUEST', `limit ${limit}`)
  throwsCode(t, () => log.query({ from: Number.NaN }), 'EAR_ERR_BAD_REQUEST', 'from NaN')
  throwsCode(t, () => log.query({ trackId: 1.5 }), 'EAR_ERR_BAD_REQUEST', 'trackId 1.5')
  t.throws(() => new PlayLog(root, { defaultPageSize: 10, maxPageSize: 5 }), TypeError, 'a default over the maximum fails fast')
})

t.test('a bad cursor is refused with EAR_ERR_BAD_CURSOR', async (t) => {
  const { log } = fresh(t).env
  const all = populate(log, 10)
  const good = log.query({ limit: 3 }).nextCursor as string
  t.type(good, 'string')
  const b64 = (s: string): string => Buffer.from(s).toString('base64url')
  for (const bad of ['', 'garbage!', 'x'.repeat(65), b64('hello'), b64('c1:123'), b64('c2:1709337000000-0000000001'), good.slice(0, -2), `${good}AAAA`]) {
    throwsCode(t, () => log.query({ cursor: bad }), 'EAR_ERR_BAD_CURSOR', `cursor ${JSON.stringify(bad)}`)
  }
  try {
    log.query({ cursor: 'garbage!' })
  } catch (err) {
    t.ok(err instanceof Error && /cursor/.test(err.message), 'the message says what is wrong')
  }
  // A well-formed cursor naming a row that is not there still pages from that point.
  const mid = all[5].id
  t.same(log.query({ cursor: b64(`c1:${mid}`), limit: 100 }).plays.map((p) => p.id), expected(all, {}).filter((id) => id < mid))
})

t.test('perTrackPerDay groups by UTC day of the start, across midnight', async (t) => {
  const { log } = fresh(t, { maxReportPlays: 4 }).env
  const at = (ms: number): string => new Date(ms).toISOString()
  const play = (stream: string, trackId: number, startMs: number, seconds: number | undefined): void => {
    const p = log.open(newPlay({ stream, trackId, title: `title ${trackId}`, artist: `artist ${trackId}`, startedAt: at(startMs), startStreamSeconds: 1000 }))
    if (seconds !== undefined) log.close(p.id, { endedAt: at(startMs + seconds * 1000), endStreamSeconds: 1000 + seconds, endOffsetSeconds: seconds })
    else log.touch(p.id, { lastStreamSeconds: 1030, lastSeenAt: at(startMs + 30_000), peakConfidence: 0.5 })
  }
  const midnight = Date.UTC(2024, 2, 2)
  play('a', 1, midnight - 300_000, 600) // 23:55 on the 1st, runs past midnight: counts on the 1st
  play('a', 1, midnight + 600_000, 180.5)
  play('b', 1, midnight + 900_000, 200)
  play('a', 2, midnight + 1_200_000, undefined) // open: up to its last touch
  const rows = log.perTrackPerDay({ from: midnight - 86_400_000, to: midnight + 86_400_000 })
  t.same(rows, [
    { day: '2024-03-01', trackId: 1, title: 'title 1', artist: 'artist 1', plays: 1, seconds: 600 },
    { day: '2024-03-02', trackId: 1, title: 'title 1', artist: 'artist 1', plays: 2, seconds: 380.5 },
    { day: '2024-03-02', trackId: 2, title: 'title 2', artist: 'artist 2', plays: 1, seconds: 30 },
  ])
  t.same(log.perTrackPerDay({ from: midnight, to: midnight + 86_400_000, stream: 'a' }).map((r) => [r.day, r.trackId, r.plays, r.seconds]),
    [['2024-03-02', 1, 1, 180.5], ['2024-03-02', 2, 1, 30]], 'one stream, from midnight')
  t.same(log.perTrackPerDay({ from: midnight - 86_400_000, to: midnight }).map((r) => r.day), ['2024-03-01'], 'to is exclusive')
  t.same(log.perTrackPerDay({ from: midnight, to: midnight, stream: 'nobody' }), [])

  play('b', 3, midnight + 1_500_000, 10)
  throwsCode(t, () => log.perTrackPerDay({ from: 0, to: midnight + 86_400_000 }), 'EAR_ERR_BAD_REQUEST', 'past maxReportPlays')
  t.equal(log.perTrackPerDay({ from: midnight, to: midnight + 86_400_000 }).length, 3, 'at the limit it answers')
  throwsCode(t, () => log.perTrackPerDay({ from: Number.NaN, to: 0 }), 'EAR_ERR_BAD_REQUEST', 'from NaN')
})

/** A strict RFC 4180 parser: rows of fields. */
function parseCsv (text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let i = 0
  let quoted = false
  while (i < text.length) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue }
      if (c === '"') { quoted = false; i++; continue }
      field += c
      i++
      continue
    }
    if (c === '"' && field === '') { quoted = true; i++; continue }
    if (c === ',') { row.push(field); field = ''; i++; continue }
    if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i += 2; continue }
    if (c === '"' || c === '\r' || c === '\n') throw new Error(`bare ${JSON.stringify(c)} at ${i}`)
    field += c
    i++
  }
  if (field !== '' || row.length > 0) throw new Error('no line end after the last row')
  return rows
}

t.test('CSV: header and one row per play, RFC 4180 quoting', async (t) => {
  const { log } = fresh(t).env
  const titles = ['plain', 'a, b', 'say "hi"', 'two\nlines', 'crlf\r\nin it', '"', ',', '']
  const plays = titles.map((title, i) => log.open(newPlay({ title, artist: i === 1 ? 'x,"y"' : 'z', startedAt: new Date(T0 + i).toISOString() })))
  const closed = log.close(plays[0].id, { endedAt: new Date(T0 + 60_000).toISOString(), endStreamSeconds: 160.25, endOffsetSeconds: 72.75 }) as Play
  const rows = [closed, ...plays.slice(1)]
  const csv = playsToCsv(rows)
  const parsed = parseCsv(csv)
  t.equal(parsed.length, rows.length + 1)
  const header = parsed[0]
  t.same(header.slice(0, 7), ['id', 'stream', 'kind', 'trackId', 'title', 'artist', 'album'])
  for (let r = 0; r < rows.length; r++) {
    const got = Object.fromEntries(header.map((h, i) => [h, parsed[r + 1][i]]))
    const want = Object.fromEntries(header.map((h) => {
      const v = rows[r][h as keyof Play]
      return [h, v === null || v === undefined ? '' : String(v)]
    }))
    t.same(got, want, `row ${r} (${JSON.stringify(rows[r].title)})`)
  }
  t.equal(parsed[1][header.indexOf('endStreamSeconds')], '160.25')
  t.equal(parsed[2][header.indexOf('endedAt')], '', 'null is an empty field')
  t.equal(playsToCsv([]), `${header.join(',')}\r\n`, 'no plays: the header alone')
  const tagged = log.open(newPlay({ isrc: 'USRC17607839', externalId: 'cat, "7"', labels: { genre: 'jazz', mood: 'calm' }, startedAt: new Date(T0 + 99).toISOString() }))
  const [head, row] = parseCsv(playsToCsv([tagged]))
  const cell = (name: string): string => row[head.indexOf(name)]
  t.equal(cell('isrc'), 'USRC17607839')
  t.equal(cell('externalId'), 'cat, "7"', 'an external id quoted as any text')
  t.same(JSON.parse(cell('labels')), { genre: 'jazz', mood: 'calm' }, 'labels: one cell, a JSON object')
})

t.test('a play keeps its track\'s catalog metadata through open, close, reopen, recover, and a cluster\'s copy (apply)', async (t) => {
  const f = fresh(t)
  const meta = { isrc: 'USRC17607839', externalId: 'cat-7', labels: { genre: 'jazz' } }
  const p = f.env.log.open(newPlay(meta))
  t.match(p, meta, 'at open')
  const q = f.env.log.open(newPlay({ stream: 'radio-2' }))
  t.notOk('isrc' in q || 'externalId' in q || 'labels' in q, 'a track without metadata: no such fields')
  t.match(f.env.log.close(p.id, { endedAt: new Date(T0 + 60_000).toISOString(), endStreamSeconds: 160, endOffsetSeconds: 60 }), meta, 'at close')
  const { log } = await f.reopen()
  t.match(log.recover(), [{ id: q.id }], 'the open one recovered')
  t.match(log.get(p.id), meta, 'after a reopen')
  // A cluster's nodes copy rows as JSON (cluster/play-replication.ts): the metadata goes with them.
  const other = new PlayLog(open({ path: path.join(t.testdir(), 'other'), maxDbs: 8 }), { ids: 'shared' })
  const copy = JSON.parse(JSON.stringify(log.get(p.id))) as Play
  t.equal(other.apply(copy), true)
  t.match(other.get(p.id), meta, 'in another node\'s copy')
  t.same(other.query({ trackId: 7 }).plays.map((x) => x.labels), [meta.labels])
})

t.test('a shared log (a cluster): ids from the stream, rows of other nodes applied, stale plays closed', async (t) => {
  const written: Array<[string, string, boolean]> = []
  const roots = ['here', 'there'].map((name) => open({ path: path.join(t.testdir(), name), maxDbs: 8 }))
  t.teardown(() => Promise.all(roots.map((r) => r.close())))
  const here = new PlayLog(roots[0], { ids: 'shared', onWrite: (p, change) => written.push([p.id, change, p.open]) })
  const there = new PlayLog(roots[1], { ids: 'shared' })
  const start = Date.UTC(2025, 0, 2, 3, 4, 5)
  const newPlay = { stream: 'm-1', kind: 'monitor' as const, trackId: 3, title: 't', artist: 'a', album: '', startedAt: new Date(start).toISOString(), startStreamSeconds: 0, startOffsetSeconds: 5, peakConfidence: 0.7 }
  const a = here.open(newPlay)
  t.equal(there.open(newPlay).id, a.id, 'the same play gets the same id on another node')
  t.equal(there.apply({ ...a, lastSeenAt: new Date(start + 5000).toISOString(), lastStreamSeconds: 5 }), true, 'a later touch of an open play is applied')
  t.match(there.get(a.id), { open: true, lastStreamSeconds: 5 })
  t.equal(there.apply({ ...a }), false, 'an earlier one is not')
  t.not(here.open({ ...newPlay, stream: 'm-2' }).id, a.id, 'another stream, another id')
  t.not(here.open({ ...newPlay, kind: 'client' }).id, a.id, 'a client stream of the same name, another id')
  here.touch(a.id, { lastStreamSeconds: 8, lastSeenAt: new Date(start + 8000).toISOString(), peakConfidence: 0.9 })
  const closed = here.close(a.id, { endedAt: new Date(start + 9000).toISOString(), endStreamSeconds: 9, endOffsetSeconds: 14 })!
  t.same(written.filter((w) => w[0] === a.id).map((w) => w[1]), ['open', 'touch', 'close'], 'onWrite hears every change')

  // Applied on the other node: the closed row wins, a late copy of the open one changes nothing.
  t.equal(there.apply(closed), true)
  t.match(there.get(a.id), { open: false, endStreamSeconds: 9, peakConfidence: 0.9 })
  t.equal(there.apply({ ...a }), false, 'an open copy does not reopen a closed play')
  t.equal(there.apply(closed), false, 'the same row twice changes nothing')
  t.same(there.query({ stream: 'm-1' }).plays.map((p) => p.id), [a.id], 'found through its stream')
  t.same(there.query({ trackId: 3, limit: 10 }).plays.filter((p) => p.id === a.id).length, 1, 'and through its track, once')
  t.equal(there.openPlays().some((p) => p.id === a.id), false)

  // A row only another node had: filed with its index keys, open.
  const other = { ...a, id: `${start + 60_000}-0000000042`, stream: 'm-9', startedAt: new Date(start + 60_000).toISOString(), lastSeenAt: new Date(start + 61_000).toISOString() }
  t.equal(here.apply(other), true)
  t.same(here.query({ stream: 'm-9' }).plays.map((p) => p.id), [other.id])
  t.equal(written.some((w) => w[0] === other.id), false, 'an applied row is not written out again')

  // Stale: open plays last heard before the bound are closed where they were last heard, unless kept.
  const stale = here.closeStale(start + 120_000, (p) => p.stream === 'm-2')
  t.same(stale.map((p) => `${p.kind}:${p.stream}`).sort(), ['client:m-1', 'monitor:m-9'], 'the stale plays are closed, the kept one is not')
  t.match(here.get(other.id), { open: false, endedAt: other.lastSeenAt, endStreamSeconds: 0 })
  t.equal(here.openPlays().map((p) => p.stream).includes('m-2'), true, 'a kept play stays open')
})
