/**
 * Progress of a long command: a bar with ETA on a terminal (cli-progress), one plain line per file otherwise.
 */
import cliProgress from 'cli-progress'

export interface Progress {
  start (total: number): void
  tick (line: string): void
  skip (line: string): void
  stop (): void
}

export function createProgress (stream: NodeJS.WriteStream): Progress {
  if (!stream.isTTY) {
    return {
      start: (total) => stream.write(`found ${total} audio files\n`),
      tick: (line) => stream.write(line + '\n'),
      skip: (line) => stream.write(line + '\n'),
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
  return {
    start: (total) => { if (total > 0) { bar.start(total, 0); running = true } },
    tick: () => { if (running) bar.increment() },
    // Skips stay on screen above the bar: each is one clear line the user may need to act on.
    skip: (line) => { if (running) { bar.increment(); bar.stop(); stream.write(line + '\n'); bar.start(bar.getTotal(), bar.getProgress() * bar.getTotal()) } else stream.write(line + '\n') },
    stop: () => { if (running) { bar.stop(); running = false } },
  }
}
