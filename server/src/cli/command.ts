/** What every `earshot` command declares: main.ts parses its flags and positionals from this, then runs it. */
export interface Command {
  summary: string
  usage: string
  options: Record<string, { type: 'string' | 'boolean', description: string }>
  /** Positional arguments: [min, max]. */
  positionals: [number, number]
  run (values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>
}
