#!/usr/bin/env node
/** The `earshot` program: runs the command line (run.ts) and exits with its code. */
import { runCli } from './run.js'

// A reader that goes away (`earshot stream --json | head`) is the end of the output, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw err
})

runCli(process.argv.slice(2)).then((code) => { process.exitCode = code })
