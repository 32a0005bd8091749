/**
 * A small synthesized catalog in a real LMDB index: songs of distinct seeds, fingerprinted and added as tracks.
 */
import { defaultFingerprint as params } from '../../server/src/config/fingerprint.js'
import { fingerprint } from '../../server/src/dsp/pipeline.js'
import { fingerprintDigest } from '../../server/src/index/digest.js'
import { LmdbIndex } from '../../server/src/index/lmdb-index.js'
import { song } from './signals.js'

export interface Catalog {
  index: LmdbIndex
  /** The songs' PCM, by track id. */
  songs: Map<number, Float32Array>
  rate: number
}

/** Index `seeds` as songs of `seconds` at `rate` into a new index in `dir`; track ids follow the seeds' order. */
export function buildCatalog (dir: string, seeds: readonly number[], seconds = 30, rate = 44100): Catalog {
  const index = LmdbIndex.open(dir, params)
  const songs = new Map<number, Float32Array>()
  for (const seed of seeds) {
    const pcm = song(seed, seconds, rate)
    const list = fingerprint(params, pcm, rate)
    const { track } = index.addTrack({
      title: `song ${seed}`,
      artist: '',
      album: '',
      durationSeconds: seconds,
      source: `song-${seed}.wav`,
      digest: fingerprintDigest(list),
    }, list)
    songs.set(track.id, pcm)
  }
  return { index, songs, rate }
}
