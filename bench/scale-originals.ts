/**
 * The originals of bench:scale: the corpus's known tracks in, their hash lists out, fingerprinted once.
 *
 * The first run fingerprints every known track on every core (the same walk and workers as `earshot fingerprint`)
 * into a fingerprint file (docs/FINGERPRINTS.md) under the cache folder; later runs read that file and skip the
 * decoding. The file's name carries a digest of the fingerprint parameters and of the list of tracks, so another
 * corpus or other parameters make a new file rather than reuse a stale one.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createHash } from 'node:crypto'
import type { FingerprintParams } from '../server/src/config/fingerprint.js'
import { defaults } from '../server/src/config/defaults.js'
import { indexFiles } from '../server/src/catalog/indexer.js'
import { FingerprintWriter, readFingerprintFile, type FingerprintRecord } from '../server/src/index/fingerprint-file.js'

/** Where the cached fingerprint files live: `$XDG_CACHE_HOME/earshot-scale`, else `~/.cache/earshot-scale`. */
export function scaleCacheDir (): string {
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'earshot-scale')
}

/**
 * The hash lists of `files`, in the order of their paths (whatever order the workers finish in).
 * Files that cannot be analysed are left out (reported through `log`).
 */
export async function loadOriginals (files: readonly string[], params: FingerprintParams, log: (line: string) => void): Promise<FingerprintRecord[]> {
  const sorted = [...files].sort()
  const key = createHash('sha256').update(JSON.stringify({ params, sorted })).digest('hex').slice(0, 16)
  const dir = scaleCacheDir()
  const file = path.join(dir, `originals-${key}.fp`)
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true })
    // Written beside its final name and renamed when complete: an interrupted run leaves no half file to reuse.
    const partial = `${file}.partial-${process.pid}`
    const writer = new FingerprintWriter(partial, params)
    try {
      const summary = await indexFiles(undefined, sorted, {
        params,
        limits: defaults.catalog,
        keep: (meta, hashes) => { writer.write(meta, hashes) },
        onEvent: (e) => { if (e.type === 'skipped') log(`skipped ${e.file}: ${e.reason}`) },
      })
      writer.close()
      log(`fingerprinted ${summary.indexed} originals (${(summary.audioSeconds / 3600).toFixed(2)} h) in ${summary.seconds.toFixed(0)} s into ${file}`)
    } catch (err) {
      writer.close()
      fs.rmSync(partial, { force: true })
      throw err
    }
    fs.renameSync(partial, file)
  }
  const records = [...readFingerprintFile(file, params)]
  return records.sort((a, b) => (a.meta.source < b.meta.source ? -1 : a.meta.source > b.meta.source ? 1 : 0))
}
