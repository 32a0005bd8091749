/**
 * The server's structured log: pino, one JSON object a line for log collectors, or human-readable lines when
 * stderr is a terminal (pino-pretty, in this process: no worker thread to start or lose lines on exit).
 * Stacks go to the log, never to a client. Components take a child logger bound once (`log.child({ component })`).
 */
import { pino, type Logger, type LevelWithSilent } from 'pino'
import pinoPretty from 'pino-pretty'

export type { Logger }

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export interface LogOptions {
  /** Least severe level written; default info. */
  level?: LevelWithSilent
  /** Human-readable lines; default: when stderr is a terminal. */
  pretty?: boolean
  /** Where lines go; default stderr (fd 2). */
  destination?: NodeJS.WritableStream
}

/** A logger writing to stderr (or `destination`). */
export function createLogger (options: LogOptions = {}): Logger {
  const level = options.level ?? 'info'
  const pretty = options.pretty ?? (process.stderr.isTTY === true)
  const base = { base: undefined, level, timestamp: pino.stdTimeFunctions.isoTime } // no pid/hostname: one process, one host
  if (pretty) {
    return pino(base, pinoPretty({ sync: true, colorize: true, ignore: 'component', messageFormat: '{if component}[{component}] {end}{msg}', destination: options.destination ?? 2 }))
  }
  return pino(base, options.destination ?? pino.destination({ fd: 2, sync: true }))
}

/** A logger that writes nothing: the default of build() and of tests that do not look at the log. */
export const silentLogger: Logger = pino({ level: 'silent' })

/** The level from a flag, then `EARSHOT_LOG_LEVEL`; undefined means the default. Throws on an unknown level. */
export function resolveLogLevel (flag: string | undefined, env: NodeJS.ProcessEnv = process.env): LevelWithSilent | undefined {
  const value = flag ?? (env.EARSHOT_LOG_LEVEL || undefined)
  if (value === undefined) return undefined
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new RangeError(`unknown log level '${value}' (one of ${LOG_LEVELS.join(', ')})`)
  }
  return value as LevelWithSilent
}
