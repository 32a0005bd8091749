/**
 * What the CLI prints, made safe for a terminal. Much of it comes from tags and clients (titles, artists, albums,
 * monitor labels, stream ids, a server's error messages), and a terminal acts on escape sequences in text: it can
 * retitle the window, move the cursor and rewrite earlier lines, clear the screen, plant hyperlinks, or on some
 * terminals answer back into the input. Every CLI printer writes through this file, which removes escape sequences
 * (ESC and 8-bit C1 forms, with their parameters) and every other control character, keeping tabs and line breaks.
 *
 * JSON output stays exact: JSON.stringify escapes C0 controls already, and `jsonText` escapes DEL and C1 as \u00XX,
 * so a program reading --json gets every character back and a terminal showing it gets none it would act on.
 */

import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * ESC sequences (CSI `ESC [ … final`, OSC/DCS/SOS/PM/APC strings up to their terminator, two-character escapes)
 * and their 8-bit C1 forms (CSI 0x9B, OSC 0x9D, DCS 0x90, SOS 0x98, PM 0x9E, APC 0x9F). An unterminated string
 * runs to the end of the text: nothing after an opener is shown.
 */
const ESCAPE_SEQUENCE = /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[ -/]*[0-~]?/g
/** Control characters left after the sequences: C0 but tab and line feed, a CR not ending a line, DEL, C1. */
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)/g
/** What JSON.stringify leaves unescaped that a terminal may act on. */
const JSON_UNSAFE = /[\x7f-\x9f]/g

/** `text` without escape sequences and control characters (tabs, LF and CRLF line ends are kept). */
export function terminalText (text: string): string {
  return text.replace(ESCAPE_SEQUENCE, '').replace(CONTROL, '')
}

/** One JSON document on one line, with DEL and C1 characters escaped as \u00XX (still the same JSON value). */
export function jsonText (value: unknown): string {
  return JSON.stringify(value).replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Where the CLI prints: the process's standard output and error, or a caller's pair (tests run commands in-process). */
export interface Terminal {
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
}

/**
 * Made on the first `withTerminal` only: the program never calls it, and an AsyncLocalStorage makes Node track every
 * promise of the process (the server's too).
 */
let terminals: AsyncLocalStorage<Terminal> | undefined

/** The terminal of the command running now (its async context), or the process's. */
export function terminal (): Terminal {
  return terminals?.getStore() ?? { stdout: process.stdout, stderr: process.stderr }
}

/** Run `fn` (a command) printing to `t`: everything it prints, in every callback it starts, goes there. */
export function withTerminal<T> (t: Terminal, fn: () => T): T {
  terminals ??= new AsyncLocalStorage<Terminal>()
  return terminals.run(t, fn)
}

/** Print a line on standard output. */
export function out (line: string): void {
  terminal().stdout.write(terminalText(line) + '\n')
}

/** Print a value as one JSON line on standard output. */
export function outJson (value: unknown): void {
  terminal().stdout.write(jsonText(value) + '\n')
}

/** Print text that brings its own line ends (CSV) on standard output. */
export function outText (text: string): void {
  terminal().stdout.write(terminalText(text))
}

/** Print a line on standard error. */
export function errLine (line: string): void {
  terminal().stderr.write(terminalText(line) + '\n')
}
