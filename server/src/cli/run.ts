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
import { didYouMean } from './suggest.js'
import { errLine, outText, terminal } from './terminal-text.js'

function helpText (): string {
  const lines = ['earshot: real-time audio recognition', '', 'Usage: earshot <command> [options]', '', 'Commands:']
  const width = Math.max(...Object.keys(commands).map((n) => n.length)) + 2
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(width)}${c.summary}`)
  lines.push('', 'Every command takes --help; those that read the index take --db DIR (or EARSHOT_DB; default ./data), those',
    'that talk to a server take --server URL (or EARSHOT_SERVER; default http://127.0.0.1:8080).')
  return lines.join('\n')
}

function commandHelp (name: string, c: Command): string {
  const lines = [`Usage: earshot ${name} ${c.usage}`.trimEnd(), '', c.summary, '', 'Options:']
  const flags: Array<[string, string]> = Object.entries(c.options).map(([flag, o]) => [`--${flag}${o.type === 'string' ? ' VALUE' : ''}`, o.description])
  flags.push(['--help', 'Show this help'])
  // The descriptions start in one column, two spaces after the longest flag.
  const width = Math.max(...flags.map(([f]) => f.length)) + 4
  for (const [flag, description] of flags) lines.push(`  ${flag}`.padEnd(width) + description)
  if (c.notes) lines.push('', ...c.notes)
  return lines.join('\n')
}

const see = (name: string): string => `(see earshot ${name} --help)`

/**
 * Check the flags before node:util parseArgs sees them, so that a usage error says what is wrong in our words (and
 * suggests the flag meant) rather than in the parser's.
 */
function checkFlags (name: string, command: Command, args: readonly string[]): string[] {
  const flags = Object.keys(command.options)
  const checked: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    if (arg === '--') return checked.concat(args.slice(i)) // the rest are positionals
    if (!arg.startsWith('-') || arg === '-') { checked.push(arg); continue }
    if (!arg.startsWith('--')) {
      throw earshotError('EAR_ERR_USAGE', `unknown option '${arg}'; options are written --name ${see(name)}`)
    }
    const eq = arg.indexOf('=')
    const flag = arg.slice(2, eq < 0 ? undefined : eq)
    const option = Object.hasOwn(command.options, flag) ? command.options[flag] : undefined
    if (!option) {
      throw earshotError('EAR_ERR_USAGE', `earshot ${name} has no option --${flag}${didYouMean(flag, flags, (f) => `--${f}`)} ${see(name)}`)
    }
    if (option.type === 'boolean' && eq >= 0) throw earshotError('EAR_ERR_USAGE', `--${flag} takes no value ${see(name)}`)
    if (option.type === 'string' && eq < 0) {
      const value = args[i + 1]
      if (value === undefined || (value.startsWith('--') && value !== '--')) {
        throw earshotError('EAR_ERR_USAGE', `--${flag} needs a value ${see(name)}`)
      }
      // As --flag=value, which the parser takes even when the value starts with a dash (--min-confidence -1).
      checked.push(`--${flag}=${value}`)
      i++
      continue
    }
    checked.push(arg)
  }
  return checked
}

export async function main (argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === 'help' && rest.length === 1 && Object.hasOwn(commands, rest[0])) {
    outText(commandHelp(rest[0], commands[rest[0]]) + '\n') // earshot help identify
    return 0
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    outText(helpText() + '\n')
    return name === undefined ? 2 : 0
  }
  if (name === '--version') {
    outText('earshot 0.1.0\n')
    return 0
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined
  if (!command) throw earshotError('EAR_ERR_USAGE', `unknown command '${name}'${didYouMean(name, Object.keys(commands))} (see earshot --help)`)
  if (rest.includes('--help') || rest.includes('-h')) {
    outText(commandHelp(name, command) + '\n')
    return 0
  }
  const args = checkFlags(name, command, rest)
  let parsed
  try {
    const options: NonNullable<ParseArgsConfig['options']> = {}
    for (const [flag, o] of Object.entries(command.options)) options[flag] = { type: o.type, multiple: o.multiple === true }
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch {
    // checkFlags has said what it could; the parser's own text names Node's internals, not ours.
    throw earshotError('EAR_ERR_USAGE', `earshot ${name} ${command.usage} ${see(name)}`)
  }
  const [min, max] = command.positionals
  const [action] = parsed.positionals
  if (command.actions && action !== undefined && !command.actions.includes(action)) {
    throw earshotError('EAR_ERR_USAGE', `earshot ${name} has no action '${action}'${didYouMean(action, command.actions)}: earshot ${name} ${command.usage}`)
  }
  if (parsed.positionals.length < min || parsed.positionals.length > max) {
    throw earshotError('EAR_ERR_USAGE', `earshot ${name} ${command.usage} ${see(name)}`)
  }
  const values = { ...parsed.values } as Record<string, string | boolean | string[] | undefined>
  const lists: Record<string, string[]> = {}
  for (const [flag, o] of Object.entries(command.options)) {
    if (o.multiple !== true) continue
    lists[flag] = (values[flag] as string[] | undefined) ?? []
    delete values[flag]
  }
  return command.run(values as Record<string, string | boolean | undefined>, parsed.positionals, lists)
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
