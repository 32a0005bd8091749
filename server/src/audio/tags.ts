/**
 * Tags: title, artist and album from the file's metadata, falling back to the file name without its extension.
 */
import path from 'node:path'
import { parseBuffer } from 'music-metadata'

export interface Tags {
  title: string
  artist: string
  album: string
}

export async function readTags (bytes: Uint8Array | undefined, file: string): Promise<Tags> {
  const fallback = path.basename(file, path.extname(file))
  let common: { title?: string, artist?: string, album?: string } = {}
  if (bytes) {
    try {
      common = (await parseBuffer(bytes, { path: file }, { duration: false, skipCovers: true })).common
    } catch {
      // Unreadable tags are not an error: the file name stands in.
    }
  }
  return {
    title: common.title?.trim() || fallback,
    artist: common.artist?.trim() ?? '',
    album: common.album?.trim() ?? '',
  }
}
