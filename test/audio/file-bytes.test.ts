import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileError, readFileBytes } from '../../server/src/audio/file-bytes.js'
import { EarshotError } from '../../server/src/errors.js'

const dir = t.testdir({ 'small.bin': 'twelve bytes', folder: {} })

async function code (p: Promise<unknown>): Promise<string> {
  try { await p; return 'no error' } catch (err) { return err instanceof EarshotError ? err.code : `uncatalogued: ${String(err)}` }
}

t.test('errno codes map to catalogued errors', async (t) => {
  const errno = (c: string): NodeJS.ErrnoException => Object.assign(new Error(c), { code: c })
  const cases: Array<[string, string]> = [['ENOENT', 'EAR_ERR_FILE_NOT_FOUND'], ['ENOTDIR', 'EAR_ERR_FILE_NOT_FOUND'], ['ELOOP', 'EAR_ERR_FILE_LOOP'],
    ['EACCES', 'EAR_ERR_FILE_DENIED'], ['EPERM', 'EAR_ERR_FILE_DENIED'], ['ENXIO', 'EAR_ERR_FILE_NOT_REGULAR'], ['EIO', 'EAR_ERR_FILE_UNREADABLE']]
  for (const [c, expected] of cases) t.equal(fileError(errno(c), 'x').code, expected, `${c} → ${expected}`)
  t.equal(fileError(errno('EIO'), 'x').cause instanceof Error, true, 'an unexpected errno is kept as the cause')
})

t.test('readFileBytes reads regular files only, up to the limit', async (t) => {
  t.equal(Buffer.from(await readFileBytes(path.join(dir, 'small.bin'), 12)).toString(), 'twelve bytes', 'a file at the limit')
  t.equal(await code(readFileBytes(path.join(dir, 'small.bin'), 11)), 'EAR_ERR_FILE_TOO_LARGE', 'one byte over the limit')
  t.equal(await code(readFileBytes('/dev/zero', 1e9)), 'EAR_ERR_FILE_NOT_REGULAR', '/dev/zero')
  t.equal(await code(readFileBytes(path.join(dir, 'folder'), 1e9)), 'EAR_ERR_FILE_UNREADABLE', 'a folder')
  t.equal(await code(readFileBytes(path.join(dir, 'missing'), 1e9)), 'EAR_ERR_FILE_NOT_FOUND', 'a missing file')
  fs.symlinkSync('loop', path.join(dir, 'loop'))
  t.equal(await code(readFileBytes(path.join(dir, 'loop'), 1e9)), 'EAR_ERR_FILE_LOOP', 'a link to itself')
  // A FIFO with no writer: opening it for reading would block forever without O_NONBLOCK.
  spawnSync('mkfifo', [path.join(dir, 'pipe')])
  t.equal(await code(readFileBytes(path.join(dir, 'pipe'), 1e9)), 'EAR_ERR_FILE_NOT_REGULAR', 'a FIFO, at once')
})
