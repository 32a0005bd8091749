/**
 * Tags: title, artist and album from the file's metadata, falling back to the file name without its extension, and
 * the length the headers declare (for the truncation check).
 */
import path from 'node:path'
import { parseBuffer } from 'music-metadata'

export interface Tags {
  title: string
  artist: string
  album: string
}

export interface Headers {
  tags: Tags
  /** Seconds of audio the headers declare, when they say (music-metadata's format.duration, read without a scan). */
  declaredSeconds: number | undefined
}

export async function readHeaders (bytes: Uint8Array | undefined, file: string): Promise<Headers> {
  const fallback = path.basename(file, path.extname(file))
  let common: { title?: string, artist?: string, album?: string } = {}
  let declaredSeconds: number | undefined
  if (bytes) {
    try {
      const meta = await parseBuffer(bytes, { path: file }, { duration: false, skipCovers: true })
      common = meta.common
      declaredSeconds = meta.format.duration
    } catch {
      // Unreadable tags are not an error: the file name stands in.
    }
  }
  return {
    tags: {
      title: common.title?.trim() || fallback,
      artist: common.artist?.trim() ?? '',
      album: common.album?.trim() ?? '',
    },
    declaredSeconds,
  }
}
