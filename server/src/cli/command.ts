/**
 * What a CLI command is. Its own file because main.ts dispatches to the commands and the commands' files describe
 * themselves with it: declared in main.ts, the type made an import cycle.
 */
export interface Command {
  summary: string
  usage: string
  /** `multiple`: a string option that may be given several times (`--label a=1 --label b=2`). */
  options: Record<string, { type: 'string' | 'boolean', description: string, multiple?: true }>
  /** Positional arguments: [min, max]. */
  positionals: [number, number]
  /** The actions a command takes as its first argument (`tracks list`): a mistyped one is a usage error with a suggestion. */
  actions?: readonly string[]
  /** Lines printed after the options in --help (exit status, output formats). */
  notes?: readonly string[]
  /** `lists`: the values of each `multiple` option given, in order (absent from `values`). */
  run (values: Record<string, string | boolean | undefined>, positionals: string[], lists: Record<string, string[]>): Promise<number>
}

/** Options many commands share. */
export const dbOption = { db: { type: 'string', description: 'Index folder (default: $EARSHOT_DB or ./data)' } } as const
export const jsonOption = { json: { type: 'boolean', description: 'Print one JSON document' } } as const
