/**
 * The digest that tells one recording's fingerprint from another: a file indexed twice is stored once. Apart from the
 * LMDB index so that the analysis workers, which only compute it, do not load the LMDB binding.
 */
import { createHash } from 'node:crypto'
import type { HashList } from '../dsp/pipeline.js'

/** Digest of a fingerprint: same audio, same digest, whatever the file's container or tags. */
export function fingerprintDigest (list: HashList): string {
  const h = createHash('sha256')
  h.update(Buffer.from(list.hashes.buffer, list.hashes.byteOffset, list.count * 4))
  h.update(Buffer.from(list.frames.buffer, list.frames.byteOffset, list.count * 4))
  return h.digest('hex').slice(0, 32)
}
