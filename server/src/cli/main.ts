#!/usr/bin/env node
/**
 * The `earshot` command line. Each command parses its own flags (node:util parseArgs, strict), opens the index and
 * prints either human lines or, with --json, exactly one JSON document. Errors are one line with a stable code on
 * stderr and a non-zero exit; never a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { describeError, earshotError, EarshotError } from '../errors.js'
import type { Command } from './command.js'
import { commands } from './commands.js'
import { errLine } from './terminal-text.js'

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
    process.stdout.write(helpText() + '\n')
    return name === undefined ? 2 : 0
  }
  if (name === '--version') {
    process.stdout.write('earshot 0.1.0\n')
    return 0
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined
  if (!command) throw earshotError('EAR_ERR_USAGE', `unknown command '${name}' (see earshot --help)`)
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(commandHelp(name, command) + '\n')
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

// A reader that goes away (`earshot stream --json | head`) is the end of the output, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw err
})

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
}, (err: unknown) => {
  errLine(`earshot: ${describeError(err)}`)
  if (!(err instanceof EarshotError) && process.env.EARSHOT_DEBUG) process.stderr.write(`${(err as Error).stack}\n`)
  process.exitCode = err instanceof EarshotError && err.code === 'EAR_ERR_USAGE' ? 2 : 1
})
