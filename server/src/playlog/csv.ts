/**
 * The one CSV writer of the server and the CLI: rows of cells in, RFC 4180 text out (CRLF line ends, a cell holding
 * a comma, a quote or a line break quoted with its quotes doubled, null and undefined as empty cells).
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
