/**
 * Metadata files (catalog/sidecar.ts) on a real disk: CSV as spreadsheets write it and JSON, paths relative to the
 * file's folder; every bad row refused whole with EAR_ERR_BAD_METADATA naming its line or entry and its column.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { EarshotError } from '../../server/src/errors.js'
import { readSidecar } from '../../server/src/catalog/sidecar.js'
import { parseCsv, toCsv } from '../../server/src/playlog/csv.js'

/** A folder with two audio files (their bytes do not matter here) and `music/` in it. */
function library (t: Test): string {
  const dir = t.testdir()
  fs.mkdirSync(path.join(dir, 'music', 'low tide'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'music', 'low tide', '03 Harbour Lights.flac'), 'x')
  fs.writeFileSync(path.join(dir, 'music', 'b.wav'), 'x')
  return dir
}

async function refused (t: Test, file: string, pattern: RegExp, what: string): Promise<void> {
  try {
    await readSidecar(file)
    t.fail(`${what}: refused`)
  } catch (err) {
    t.ok(err instanceof EarshotError, `${what}: an EarshotError`)
    t.equal((err as EarshotError).code, 'EAR_ERR_BAD_METADATA', `${what}: EAR_ERR_BAD_METADATA`)
    t.match((err as Error).message, pattern, `${what}: ${(err as Error).message}`)
  }
}

t.test('parseCsv reads what toCsv writes, and what spreadsheets write', async (t) => {
  const rows = [['path', 'title'], ['a, b.wav', 'say "hi"'], ['c.wav', 'two\nlines'], ['d.wav', '']]
  t.same(parseCsv(toCsv(rows[0], rows.slice(1))).map((r) => r.cells), rows, 'a round trip through the writer')
  t.same(parseCsv('\ufeffpath,isrc\n\nx.wav,US\r\n"y.wav",\n').map((r) => [r.line, r.cells]), [[1, ['path', 'isrc']], [3, ['x.wav', 'US']], [4, ['y.wav', '']]],
    'a BOM dropped, LF and CRLF, blank lines skipped, lines counted')
  t.same(parseCsv('a,"b\nc"\nd,e').map((r) => r.line), [1, 3], 'a record starts on its own line, after a quoted line break')
  t.throws(() => parseCsv('a,"b\nc'), /line 1: a quote that is never closed/)
  t.throws(() => parseCsv('a,"b"c'), /line 1: text after a closing quote/)
})

t.test('CSV: paths relative to the file, label columns, empty cells saying nothing', async (t) => {
  const dir = library(t)
  const file = path.join(dir, 'music', 'meta.csv')
  fs.writeFileSync(file, [
    'path,isrc,externalId,label:genre,label:Mood,title',
    '"low tide/03 Harbour Lights.flac",us-rc1-76-07839,cat-0087,jazz,calm,',
    `${path.join(dir, 'music', 'b.wav')},,,,bright,B side`,
  ].join('\r\n'))
  const meta = await readSidecar(file)
  t.same([...meta.keys()], [path.join(dir, 'music', 'low tide', '03 Harbour Lights.flac'), path.join(dir, 'music', 'b.wav')], 'by resolved path; an absolute path as it is')
  t.same(meta.get(path.join(dir, 'music', 'low tide', '03 Harbour Lights.flac')), { isrc: 'USRC17607839', externalId: 'cat-0087', labels: { genre: 'jazz', mood: 'calm' } }, 'checked and normalised')
  t.same(meta.get(path.join(dir, 'music', 'b.wav')), { title: 'B side', labels: { mood: 'bright' } }, 'only what the row gives')
})

t.test('JSON: an array of objects', async (t) => {
  const dir = library(t)
  const file = path.join(dir, 'meta.json')
  fs.writeFileSync(file, JSON.stringify([
    { path: 'music/low tide/03 Harbour Lights.flac', isrc: 'USRC17607839', labels: { Genre: 'jazz' } },
    { path: 'music/b.wav', externalId: 'cat-2', artist: 'Someone' },
  ]))
  const meta = await readSidecar(file)
  t.same(meta.get(path.join(dir, 'music', 'low tide', '03 Harbour Lights.flac')), { isrc: 'USRC17607839', labels: { genre: 'jazz' } })
  t.same(meta.get(path.join(dir, 'music', 'b.wav')), { artist: 'Someone', externalId: 'cat-2' })
})

t.test('bad metadata files are refused whole, naming the line or entry and the column', async (t) => {
  const dir = library(t)
  const csv = async (name: string, lines: string[], pattern: RegExp, what: string): Promise<void> => {
    const file = path.join(dir, name)
    fs.writeFileSync(file, lines.join('\n'))
    await refused(t, file, pattern, what)
  }
  await csv('a.csv', ['path,isrc', 'music/b.wav,USRC17607839', 'music/low tide/03 Harbour Lights.flac,US-RC1-76'], /a\.csv line 3, isrc: "US-RC1-76" is not an ISRC/, 'a bad ISRC in the third line')
  await csv('b.csv', ['path,isrc,label:genre', 'music/b.wav,,x'.replace('x', 'y'.repeat(257))], /b\.csv line 2, label genre: the value is longer than 256/, 'a label value too long')
  await csv('c.csv', ['path,isrc,year', 'music/b.wav,,1999'], /c\.csv line 1, column 3: unknown column "year"; known: path, title/, 'an unknown column')
  await csv('d.csv', ['isrc', 'USRC17607839'], /d\.csv line 1: no path column/, 'no path column')
  await csv('e.csv', ['path,label:a b'], /e\.csv line 1, column 2: the label key "a b"/, 'a label column with a bad key')
  await csv('f.csv', ['path,isrc', 'music/b.wav,USRC17607839,extra'], /f\.csv line 2: 3 cells, but the header names 2 columns/, 'a row too long')
  await csv('g.csv', ['path,isrc', ',USRC17607839'], /g\.csv line 2, column 1: the path is empty/, 'a row without a path')
  await csv('h.csv', ['path', 'music/b.wav', 'music/../music/b.wav'], /h\.csv line 3: "music\/\.\.\/music\/b\.wav" is named already \(.*h\.csv line 2\)/, 'one file named twice')
  await csv('i.csv', ['path', 'music/c.wav'], /i\.csv line 2, path: .*c\.wav: no such file/, 'a path that names no file')
  await csv('j.csv', ['path', 'music'], /j\.csv line 2, path: .*music: a folder/, 'a path that names a folder')
  await csv('k.csv', ['path,isrc', 'music/b.wav,"US'], /k\.csv line 2: a quote that is never closed/, 'a quote never closed')
  await csv('l.csv', ['path,path'], /the column path is there twice/, 'a column twice')
  await csv('m.csv', [], /m\.csv: empty/, 'an empty file')
  const json = async (name: string, value: string, pattern: RegExp, what: string): Promise<void> => {
    const file = path.join(dir, name)
    fs.writeFileSync(file, value)
    await refused(t, file, pattern, what)
  }
  await json('a.json', '{"path": "music/b.wav"}', /a\.json: not a JSON array/, 'an object, not an array')
  await json('b.json', '[{"path": "music/b.wav"}, {"path": "music/b.wav", "isrc": "x"}]', /b\.json entry 2: "music\/b\.wav" is named already/, 'a path twice')
  await json('c.json', '[{"path": "music/b.wav", "isrc": "nope"}]', /c\.json entry 1, isrc: "nope" is not an ISRC/, 'a bad ISRC')
  await json('d.json', '[{"file": "music/b.wav"}]', /d\.json entry 1: unknown field "file"; known: path, title/, 'an unknown field')
  await json('e.json', '[{"path": "music/b.wav", "labels": {"genre": 5}}]', /e\.json entry 1, labels: not an object of strings/, 'a label that is not a string')
  await json('f.json', '[{"path": "music/b.wav", "externalId": 5}]', /f\.json entry 1, externalId: not a string/, 'an external id that is a number')
  await json('g.json', '[{"isrc": "USRC17607839"}]', /g\.json entry 1, path: a file's path is required/, 'an entry without a path')
  await json('h.json', '[{"path": ', /h\.json: not JSON/, 'not JSON')
  await refused(t, path.join(dir, 'music', 'b.wav'), /a metadata file is \.csv or \.json/, 'another extension')
  try {
    await readSidecar(path.join(dir, 'missing.csv'))
    t.fail('a missing file')
  } catch (err) {
    t.equal((err as EarshotError).code, 'EAR_ERR_FILE_NOT_FOUND', 'a missing file: EAR_ERR_FILE_NOT_FOUND')
  }
})
