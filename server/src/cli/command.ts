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
  run (values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>
}
