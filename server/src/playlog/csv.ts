/**
 * The one CSV writer of the server and the CLI: rows of cells in, RFC 4180 text out (CRLF line ends, a cell holding
 * a comma, a quote or a line break quoted with its quotes doubled, null and undefined as empty cells); and its reader
 * (metadata files of `earshot index --metadata`): the same rules back, LF line ends too, a leading BOM dropped.
 *
 * Cells come from tags and from clients (titles, stream ids), and a spreadsheet runs a cell that starts with `=`,
 * `+`, `-` or `@` as a formula (tab and carriage return can lead one in). Such a text cell is neutralised as OWASP
 * advises for CSV injection: a single quote is put before it and the cell is quoted, so it reads as text. Numbers
 * are written as they are: a negative number is data, not a formula, and only text can carry one.
 */

/** The first characters a spreadsheet takes as the start of a formula. */
const FORMULA_START = /^[=+\-@\t\r]/
const NEEDS_QUOTES = /[",\r\n]/

/** One cell: neutralised when it is text that would start a formula, quoted when it must be. */
export function csvCell (v: unknown): string {
  if (v === null || v === undefined) return ''
  if (typeof v !== 'string') return String(v)
  if (FORMULA_START.test(v)) return `"'${v.replace(/"/g, '""')}"`
  return NEEDS_QUOTES.test(v) ? `"${v.replace(/"/g, '""')}"` : v
}

/** A whole document: the header line, then one line per row, each ended by CRLF. */
export function toCsv (header: readonly string[], rows: Iterable<readonly unknown[]>): string {
  const lines = [header.map(csvCell).join(',')]
  for (const row of rows) lines.push(row.map(csvCell).join(','))
  return lines.join('\r\n') + '\r\n'
}

/** One record of a CSV text: its cells, and the line it starts on (1: the first line). */
export interface CsvRecord { line: number, cells: string[] }

/**
 * Records of a CSV text, as spreadsheets write them: RFC 4180 quoting (a quoted cell may hold commas, doubled quotes
 * and line breaks), CRLF or LF line ends, a UTF-8 byte order mark dropped, blank lines skipped.
 * @throws TypeError naming the line of a quote that is not closed, or of text after a closing quote
 */
export function parseCsv (text: string): CsvRecord[] {
  const records: CsvRecord[] = []
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  let line = 1
  let start = 1
  let cells: string[] = []
  let cell = ''
  let quoted = false
  let i = 0
  const endRecord = (): void => {
    cells.push(cell)
    if (cells.length > 1 || cells[0] !== '') records.push({ line: start, cells })
    cells = []
    cell = ''
  }
  while (i < s.length) {
    const c = s[i]
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') { cell += '"'; i += 2; continue }
        quoted = false
        i++
        const next = s[i]
        if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') throw new TypeError(`line ${line}: text after a closing quote`)
        continue
      }
      if (c === '\n') line++
      cell += c
      i++
      continue
    }
    if (c === '"' && cell === '') { quoted = true; i++; continue }
    if (c === ',') { cells.push(cell); cell = ''; i++; continue }
    if (c === '\r' || c === '\n') {
      endRecord()
      i += c === '\r' && s[i + 1] === '\n' ? 2 : 1
      line++
      start = line
      continue
    }
    cell += c
    i++
  }
  if (quoted) throw new TypeError(`line ${start}: a quote that is never closed`)
  if (cell !== '' || cells.length > 0) endRecord()
  return records
}

/** A row's cells in `columns` order, its labels (a key/value object) as one JSON cell, so that every row has the same columns. */
export function rowCells<R extends { labels?: Record<string, string> }> (columns: ReadonlyArray<keyof R>, row: R): unknown[] {
  return columns.map((c) => c === 'labels' ? (row.labels === undefined ? '' : JSON.stringify(row.labels)) : row[c])
}
