/**
 * What a CLI command is. Its own file because main.ts dispatches to the commands and the commands' files describe
 * themselves with it: declared in main.ts, the type made an import cycle.
 */
export interface Command {
  summary: string
  usage: string
  options: Record<string, { type: 'string' | 'boolean', description: string }>
  /** Positional arguments: [min, max]. */
  positionals: [number, number]
  /** The actions a command takes as its first argument (`tracks list`): a mistyped one is a usage error with a suggestion. */
  actions?: readonly string[]
  /** Lines printed after the options in --help (exit status, output formats). */
  notes?: readonly string[]
  run (values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>
}

/** Options many commands share. */
export const dbOption = { db: { type: 'string', description: 'Index folder (default: $EARSHOT_DB or ./data)' } } as const
export const jsonOption = { json: { type: 'boolean', description: 'Print one JSON document' } } as const
