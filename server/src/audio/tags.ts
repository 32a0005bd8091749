/**
 * Tags: title, artist and album from the file's metadata, falling back to the file name without its extension, its
 * ISRC (ID3 TSRC, Vorbis comment ISRC, MP4 ----:com.apple.iTunes:ISRC, as music-metadata reads them), and the length
 * the headers declare (for the truncation check).
 */
import path from 'node:path'
import { isrcFromTag } from '../index/track-metadata.js'

export interface Tags {
  title: string
  artist: string
  album: string
  /** Normalised (index/track-metadata.ts); absent when the file has none, or none that is an ISRC. */
  isrc?: string
}

export interface Headers {
  tags: Tags
  /** Seconds of audio the headers declare, when they say (music-metadata's format.duration, read without a scan). */
  declaredSeconds: number | undefined
  /** Tag values that were skipped, with why (an ISRC tag that is not one): the file is indexed without them. */
  warnings: string[]
}

/**
 * Title and artist from a file name, for files without tags, in the common layouts: `NN - Artist - Title`,
 * `Artist - Title`, `NN - Title`, `NN. Title`, `0N Title`, words joined by underscores. A leading number is a track
 * number when a separator follows it, or when it is zero-padded ("99 Luftballons" keeps its number); " - " (spaced)
 * separates the artist from the title, the first one only.
 */
export function namesFromFileName (file: string): { title: string, artist: string } {
  let name = path.basename(file, path.extname(file)).trim()
  if (!name.includes(' ') && name.includes('_')) name = name.replace(/_+/g, ' ').trim()
  const numbered = /^(?:\d{1,3}\s*[-.)]\s*|0\d\s+)(.+)$/.exec(name)
  if (numbered) name = numbered[1].trim()
  const cut = name.indexOf(' - ')
  if (cut > 0 && cut < name.length - 3) return { artist: name.slice(0, cut).trim(), title: name.slice(cut + 3).trim() }
  return { artist: '', title: name }
}

export async function readHeaders (bytes: Uint8Array | undefined, file: string): Promise<Headers> {
  const fallback = namesFromFileName(file)
  let common: { title?: string, artist?: string, album?: string, isrc?: string[] } = {}
  let declaredSeconds: number | undefined
  if (bytes) {
    try {
      // Loaded on first use: the tag parser and its file-type readers are a tenth of a server's start-up.
      const { parseBuffer } = await import('music-metadata')
      const meta = await parseBuffer(bytes, { path: file }, { duration: false, skipCovers: true })
      common = meta.common
      declaredSeconds = meta.format.duration
    } catch {
      // Unreadable tags are not an error: the file name stands in.
    }
  }
  const tags: Tags = {
    title: common.title?.trim() || fallback.title,
    // The file name's artist only with its title: tags that name a title without an artist keep the artist empty.
    artist: common.artist?.trim() || (common.title?.trim() ? '' : fallback.artist),
    album: common.album?.trim() ?? '',
  }
  const warnings: string[] = []
  // The first tag that is an ISRC; one that is not is skipped with a warning, never a reason to refuse the file.
  for (const text of common.isrc ?? []) {
    const read = isrcFromTag(text)
    if ('isrc' in read) { tags.isrc ??= read.isrc; continue }
    warnings.push(read.problem)
  }
  return { tags, declaredSeconds, warnings }
}
