/**
 * The `earshot` command line as a function: `runCli(argv)` runs one command and gives its exit code. Each command
 * parses its own flags (node:util parseArgs, strict), opens the index and prints either human lines or, with --json,
 * exactly one JSON document. Errors are one line with a stable code on stderr and a non-zero exit; never a stack
 * trace. main.ts is the program around it; tests call it in-process, printing to a terminal of their own
 * (terminal-text.ts).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { describeError, earshotError, EarshotError } from '../errors.js'
import type { Command } from './command.js'
import { commands } from './commands.js'
import { errLine, outText, terminal } from './terminal-text.js'

function helpText (): string {
  const lines = ['earshot: real-time audio recognition', '', 'Usage: earshot <command> [options]', '', 'Commands:']
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${c.summary}`)
  lines.push('', 'Every command takes --db DIR (or EARSHOT_DB; default ./data) and --help.')
  return lines.join('\n')
}

function commandHelp (name: string, c: Command): string {
  const lines = [`Usage: earshot ${name} ${c.usage}`, '', c.summary, '', 'Options:']
  for (const [flag, o] of Object.entries(c.options)) {
    lines.push(`  --${flag}${o.type === 'string' ? ' VALUE' : ''}`.padEnd(24) + o.description)
  }
  lines.push('  --help'.padEnd(24) + 'Show this help')
  return lines.join('\n')
}

export async function main (argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    outText(helpText() + '\n')
    return name === undefined ? 2 : 0
  }
  if (name === '--version') {
    outText('earshot 0.1.0\n')
    return 0
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined
  if (!command) throw earshotError('EAR_ERR_USAGE', `unknown command '${name}' (see earshot --help)`)
  if (rest.includes('--help') || rest.includes('-h')) {
    outText(commandHelp(name, command) + '\n')
    return 0
  }
  let parsed
  try {
    const options: NonNullable<ParseArgsConfig['options']> = {}
    for (const [flag, o] of Object.entries(command.options)) options[flag] = { type: o.type }
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw earshotError('EAR_ERR_USAGE', `${(err as Error).message.split('\n')[0]} (see earshot ${name} --help)`)
  }
  const [min, max] = command.positionals
  if (parsed.positionals.length < min || parsed.positionals.length > max) {
    throw earshotError('EAR_ERR_USAGE', `earshot ${name} ${command.usage} (see earshot ${name} --help)`)
  }
  return command.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals)
}

/** Run one command line: its exit code (0, 1, or 2 for a usage error), an error printed as one line. */
export async function runCli (argv: string[]): Promise<number> {
  try {
    return await main(argv)
  } catch (err) {
    errLine(`earshot: ${describeError(err)}`)
    if (!(err instanceof EarshotError) && process.env.EARSHOT_DEBUG) terminal().stderr.write(`${(err as Error).stack}\n`)
    return err instanceof EarshotError && err.code === 'EAR_ERR_USAGE' ? 2 : 1
  }
}
