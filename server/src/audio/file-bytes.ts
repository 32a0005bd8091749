/**
 * Reading an audio file from disk: a path in, its bytes out, or a catalogued error. Only regular files are read, and
 * only up to a size limit: a path to /dev/zero would read without end, and a FIFO would block its reader forever.
 *
 * The file is opened with O_NONBLOCK, so opening a FIFO returns at once instead of waiting for a writer, and the type
 * is checked on the open descriptor (fstat), not on the path, so a path swapped between a check and the open cannot
 * slip a device in. nginx opens the files it serves the same way.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import { earshotError, wrapError, type EarshotError } from '../errors.js'

/** The catalogued error for a failed stat, open or readdir of `file`, by its errno code. */
export function fileError (err: unknown, file: string): EarshotError {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
    case 'ENOTDIR': return earshotError('EAR_ERR_FILE_NOT_FOUND', file)
    case 'ELOOP': return earshotError('EAR_ERR_FILE_LOOP', file)
    case 'EACCES':
    case 'EPERM': return earshotError('EAR_ERR_FILE_DENIED', file)
    case 'ENXIO': return earshotError('EAR_ERR_FILE_NOT_REGULAR', file, 'a socket or a device') // what open() says of them
    default: return wrapError('EAR_ERR_FILE_UNREADABLE', err, file)
  }
}

/** What a stat says a path is, for messages about what is not a regular file. */
export function fileKind (stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a folder'
  if (stat.isFIFO()) return 'a FIFO'
  if (stat.isSocket()) return 'a socket'
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device'
  return stat.isFile() ? 'a regular file' : 'not a regular file'
}

/**
 * The bytes of a regular file.
 * @param maxBytes larger files are refused with EAR_ERR_FILE_TOO_LARGE before anything is read
 */
export async function readFileBytes (file: string, maxBytes: number): Promise<Uint8Array> {
  let handle: fsp.FileHandle
  try {
    handle = await fsp.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
  } catch (err) {
    throw fileError(err, file)
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) {
      if (stat.isDirectory()) throw earshotError('EAR_ERR_FILE_UNREADABLE', `${file}: a folder, not a file`)
      throw earshotError('EAR_ERR_FILE_NOT_REGULAR', file, fileKind(stat))
    }
    if (stat.size > maxBytes) throw earshotError('EAR_ERR_FILE_TOO_LARGE', file, stat.size, maxBytes)
    // Read what the stat said: a file that grows while it is read (still being copied) is not followed.
    const bytes = Buffer.allocUnsafe(stat.size)
    let got = 0
    while (got < bytes.length) {
      const { bytesRead } = await handle.read(bytes, got, bytes.length - got, got)
      if (bytesRead === 0) break
      got += bytesRead
    }
    return got === bytes.length ? bytes : bytes.subarray(0, got)
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('EAR_ERR_')) throw err
    throw fileError(err, file)
  } finally {
    await handle.close()
  }
}
