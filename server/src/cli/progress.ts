/**
 * Progress of a long command: a bar with ETA on a terminal (cli-progress), one plain line per file otherwise. Lines
 * name files and titles, so they go through terminalText like every other line the CLI prints.
 */
import cliProgress from 'cli-progress'
import { count } from './format.js'
import { terminalText, type Terminal } from './terminal-text.js'

export interface Progress {
  start (total: number): void
  tick (line: string): void
  skip (line: string): void
  /** A line that stays on screen and counts no file (a warning about one). */
  note (line: string): void
  stop (): void
}

export function createProgress (stream: Terminal['stderr']): Progress {
  if (!stream.isTTY) {
    return {
      start: (total) => stream.write(`found ${count(total, 'audio file')}\n`),
      tick: (line) => stream.write(terminalText(line) + '\n'),
      skip: (line) => stream.write(terminalText(line) + '\n'),
      note: (line) => stream.write(terminalText(line) + '\n'),
      stop: () => {},
    }
  }
  const bar = new cliProgress.SingleBar({
    stream,
    format: '{bar} {percentage}% | {value}/{total} files | ETA {eta_formatted}',
    hideCursor: true,
    clearOnComplete: true,
  }, cliProgress.Presets.shades_classic)
  let running = false
  /** A line written above the bar, which is drawn again below it. */
  const above = (line: string): void => {
    if (!running) { stream.write(terminalText(line) + '\n'); return }
    bar.stop()
    stream.write(terminalText(line) + '\n')
    bar.start(bar.getTotal(), bar.getProgress() * bar.getTotal())
  }
  return {
    start: (total) => { if (total > 0) { bar.start(total, 0); running = true } },
    tick: () => { if (running) bar.increment() },
    // Skips stay on screen above the bar: each is one clear line the user may need to act on.
    skip: (line) => { if (running) bar.increment(); above(line) },
    note: (line) => above(line),
    stop: () => { if (running) { bar.stop(); running = false } },
  }
}
