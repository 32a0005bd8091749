/**
 * A cluster's catalog, built once and shipped to every node: `earshot publish` puts a consistent copy of an index
 * (the file `earshot export` writes) into the cluster's object store (`<name>_index`, object `index`) as an
 * immutable version named by its SHA-256 digest. Every node follows the store: on a new version it downloads the
 * file beside its index while it serves, checks that it opens as an index of this earshot's parameters, and then,
 * one node at a time (a key in the nodes bucket, created by the node whose turn it is), swaps it in:
 *
 *   download to <db>/data.mdb.next ──> check ──> wait for the turn ──> server closes (draining first, its monitors
 *   handed over) ──> data.mdb replaced ──> server built again on it, same port ──> turn given back
 *
 * A node is out of HAProxy's rotation for the few seconds of its swap; the others serve meanwhile, and track ids are
 * the same on every node once all have swapped, since they all load the same file. The version a node serves is
 * kept in <db>/index-version (index-version.ts) and shown by /health.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createHash } from 'node:crypto'
import { Objm, type ObjectStore } from '@nats-io/obj'
import type { FingerprintParams } from '../config/fingerprint.js'
import { LmdbIndex } from '../index/lmdb-index.js'
import type { Logger } from '../log.js'
import type { ClusterLink } from './link.js'
import { indexVersionOf } from './index-version.js'

const OBJECT = 'index'
/** The key of the nodes bucket held by the node that swaps its index now. */
const TURN_KEY = 'turn.index-swap'
/** How often a node waiting for its turn asks again, in ms. */
const TURN_RETRY_MS = 1000

async function store (link: ClusterLink): Promise<ObjectStore> {
  return await new Objm(link.nc).create(`${link.settings.name}_index`)
}

/** Upload the backup `file` as the cluster's index; returns its version. */
export async function publishIndex (link: ClusterLink, file: string, tracks: number): Promise<string> {
  const hash = createHash('sha256')
  await pipeline(fs.createReadStream(file), hash)
  const version = hash.digest('hex').slice(0, 16)
  const os = await store(link)
  const body = Readable.toWeb(fs.createReadStream(file)) as ReadableStream<Uint8Array>
  await os.put({ name: OBJECT, description: `earshot index, ${tracks} tracks`, metadata: { version, tracks: String(tracks) } }, body)
  return version
}

export class IndexArtifacts {
  readonly #link: ClusterLink
  readonly #dir: string
  readonly #params: FingerprintParams
  readonly #log: Logger
  readonly #swap: (file: string, version: string) => void
  #watcher: { stop: () => void } | undefined
  #closed = false
  #busy = false

  /**
   * @param dir the node's index folder
   * @param swap called once a new version is downloaded, checked, and this node's turn has come: the caller closes the
   *   server and calls `installIndexVersion` (index-version.ts) before it builds the next one
   */
  constructor (link: ClusterLink, dir: string, params: FingerprintParams, log: Logger, swap: (file: string, version: string) => void) {
    this.#link = link
    this.#dir = dir
    this.#params = params
    this.#log = log
    this.#swap = swap
  }

  async start (): Promise<void> {
    const current = indexVersionOf(this.#dir)
    // A node that comes back from its swap gives the turn back.
    try {
      const turn = await this.#link.nodes.get(TURN_KEY)
      if (turn?.operation === 'PUT' && turn.string() === this.#link.node) await this.#link.nodes.delete(TURN_KEY)
    } catch {}
    const os = await store(this.#link)
    const watcher = await os.watch({ ignoreDeletes: true })
    this.#watcher = watcher
    void (async () => {
      for await (const info of watcher) {
        if (info === null || info.name !== OBJECT || info.deleted) continue
        const version = info.metadata?.version
        if (version === undefined || version === current || this.#busy || this.#closed) continue
        this.#busy = true
        void this.#follow(os, version).finally(() => { this.#busy = false })
      }
    })()
  }

  async #follow (os: ObjectStore, version: string): Promise<void> {
    const file = path.join(this.#dir, 'data.mdb.next')
    try {
      const started = performance.now()
      const result = await os.get(OBJECT)
      if (result === null) return
      if (result.info.metadata?.version !== version) return // replaced meanwhile: the watcher brings the newer one
      await pipeline(Readable.fromWeb(result.data as import('node:stream/web').ReadableStream<Uint8Array>), fs.createWriteStream(file))
      if (!await result.error) {
        // A file that does not open as an index with this earshot's parameters is never swapped in.
        const check = LmdbIndex.openBackup(file, this.#params)
        const tracks = check.stats().tracks
        await check.close()
        this.#log.info({ version, tracks, seconds: Math.round(performance.now() - started) / 1000 }, 'cluster: a new index version is downloaded; waiting for this node\'s turn to load it')
      }
      while (!this.#closed) {
        try {
          await this.#link.nodes.create(TURN_KEY, this.#link.node)
          break
        } catch {
          await new Promise((resolve) => setTimeout(resolve, TURN_RETRY_MS))
        }
      }
      if (!this.#closed) this.#swap(file, version)
    } catch (err) {
      fs.rmSync(file, { force: true })
      this.#log.error({ err, version }, 'cluster: the published index could not be loaded; this node keeps its own')
    }
  }

  close (): void {
    this.#closed = true
    this.#watcher?.stop()
  }
}
