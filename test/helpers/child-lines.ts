/** Reading a child process's stdout line by line, and waiting for a line. */
import readline from 'node:readline'
import type { ChildProcess } from 'node:child_process'

export function lines (child: ChildProcess): AsyncIterator<string> {
  return readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
}

/** The first line that `want` accepts; throws when the output ends before it. */
export async function until (it: AsyncIterator<string>, want: (line: string) => boolean): Promise<string> {
  for (;;) {
    const { value, done } = await it.next()
    if (done === true) throw new Error('child output ended early')
    if (want(value as string)) return value as string
  }
}
