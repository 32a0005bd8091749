/**
 * What every index implementation offers: postings by hash, and the track table.
 */
import type { HashList } from '../dsp/pipeline.js'

/** One row of the track table. */
export interface Track {
  id: number
  title: string
  artist: string
  album: string
  durationSeconds: number
  /** The indexed file's path, or the upload's name. */
  source: string
  /** Digest of the track's fingerprint: the same audio gives the same digest whatever its container or tags. */
  digest: string
  /** ISO 8601 time of indexing. */
  indexedAt: string
  /** Hashes stored for the track. */
  hashCount: number
  /** Spectrum frames the track spans. */
  frameCount: number
  /**
   * The indexed file's size and modification time (ISO 8601) when it was read, for files on disk: indexing the
   * folder again skips the file, before decoding it, while both are the same.
   */
  fileBytes?: number
  fileModified?: string
  /**
   * Catalog metadata (index/track-metadata.ts), absent when unknown: tracks indexed before these fields existed
   * simply lack them. The ISRC is normalised (12 characters, upper case, no dashes).
   */
  isrc?: string
  /** The catalog's own id for the track. */
  externalId?: string
  /** Free labels, key (lower case) to value, in key order. */
  labels?: Record<string, string>
  /** Fields set by hand (PATCH /v1/tracks/:id, earshot tracks edit), in name order: indexing again keeps them. */
  editedFields?: string[]
}

export type NewTrack = Omit<Track, 'id' | 'indexedAt' | 'hashCount' | 'frameCount'>

/** The fields of a track that have a lookup of their own (`Index.tracksWith`). */
export type CodeField = 'isrc' | 'externalId'

export interface AddResult {
  track: Track
  /** False when a track with the same digest, or the same recording, was already there (nothing was written). */
  added: boolean
  /** Set when `track` holds the same recording under another fingerprint (match/duplicate-finder.ts). */
  sameRecording?: SameRecording
}

/** How a new track was found to be another copy of an indexed one. */
export interface SameRecording {
  trackId: number
  /** Where the new track starts in the indexed one, in seconds (negative: before it). */
  offsetSeconds: number
  /** Share of their overlap, in stretches of two seconds, with aligned votes: 0..1. */
  coverage: number
  /** Seconds of audio the indexed track and the new one hold. */
  indexedSeconds: number
  newSeconds: number
}

export interface IndexStats {
  tracks: number
  postings: number
  distinctHashes: number
  /** Seconds of audio indexed. */
  audioSeconds: number
  /** Bytes the index occupies on disk. */
  bytesOnDisk: number
  /** Index bytes per second of indexed audio. */
  bytesPerAudioSecond: number
  /** Segments (immutable sorted parts), postings of the live part, removed tracks awaiting a merge. */
  segments?: number
  livePostings?: number
  tombstones?: number
  /** Bytes of the file in use; the rest is free space LMDB reuses (the file never shrinks by itself). */
  bytesInUse?: number
}

/**
 * Called for each posting of a looked-up hash. `frame` is where the hash occurs in the track.
 */
export type PostingVisitor = (trackId: number, frame: number) => void

/** A read of the index that met a damaged page; it failed one request or session. */
export interface ReadFailure {
  /** ISO 8601 time of the failure. */
  at: string
  /** `EAR_ERR_INDEX_READ: ...` with LMDB's reason. */
  message: string
}

/** A bulk load (lmdb-index.ts): tracks are buffered and written in sorted runs. */
export interface BulkAdder {
  /**
   * Buffer a track; `added` is false when the same audio is indexed or buffered already. `replaces`: a track removed
   * in the transaction that commits this one.
   */
  add (meta: NewTrack, hashes: HashList, replaces?: number): AddResult
  /** Write what is buffered; returns the rows committed. */
  finish (): Track[]
}

export interface Index {
  /** The folder the index lives in, for indexes on disk. */
  readonly dir?: string
  /** Reads that met a damaged page since the index was opened (for /health: the index is degraded). */
  readonly readFailures?: number
  /** The last of them; undefined while every read succeeds. */
  readonly lastReadFailure?: ReadFailure
  /**
   * Add a track and its hashes in one transaction: all in or all out. `replaces`: a track removed in the same
   * transaction once this one is stored (a changed file's old track); left alone when nothing is added.
   */
  addTrack (meta: NewTrack, hashes: HashList, replaces?: number): AddResult
  /**
   * Change a track's row in one transaction: `change` gets the stored row and returns the new one, whose id, digest,
   * durationSeconds, indexedAt, hashCount and frameCount are kept as they were whatever it says. Undefined when there
   * is no such track. `change` may throw: nothing is written then.
   */
  updateTrack (id: number, change: (track: Track) => Track): Track | undefined
  /** Tracks whose ISRC or external id is `value` exactly, in id order. */
  tracksWith (field: CodeField, value: string): Track[]
  /** Start a bulk load, for indexes that have one. */
  bulkWriter? (): BulkAdder
  /** Remove a track and its postings; false when there was no such track. */
  removeTrack (id: number): boolean
  getTrack (id: number): Track | undefined
  findByDigest (digest: string): Track | undefined
  /** Tracks in id order, from the first id above `afterId` (default 0: all). */
  listTracks (afterId?: number): Iterable<Track>
  /** Visit every posting of a hash; returns how many there were. Buckets beyond `limit` are skipped as uninformative. */
  lookup (hash: number, visit: PostingVisitor, limit?: number): number
  /**
   * The deepest bucket worth reading so that lookups read at most `postingsPerLookup` postings on average (the
   * deepest, least telling buckets go first); Infinity when every bucket fits. Cheap: figures kept with the index.
   */
  bucketLimit? (postingsPerLookup: number): number
  /** Frames of all indexed audio: the size of the space a random match could land in. */
  totalFrames (): number
  stats (): IndexStats
  close (): Promise<void>
}
