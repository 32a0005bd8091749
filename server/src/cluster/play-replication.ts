/**
 * One play log for the whole cluster: every node files its own streams' plays in its local log (PlayLog, as a lone
 * server does) and copies each change into the shared plays bucket; every node copies the bucket's changes back into
 * its local log. So any node answers play-log queries and exports, and a play is one row everywhere: its id is made
 * from its stream and start (PlayLog's `ids: 'shared'`), and a row is a key of the bucket.
 *
 *   PlayLog.onWrite ──> outbox (latest row per id) ──> <name>_plays KV ──> watcher on every node ──> PlayLog.apply
 *
 * Opens and closes go out at once; touches (once a second per open play) at most every TOUCH_EVERY_MS, which is how
 * far behind another node's copy of an open play may be. Rows that cannot be sent (NATS away) wait in the outbox, one
 * per play, and go when NATS is back. Where the watcher got to is stored beside the log, so a node that restarts
 * reads only what changed while it was away.
 */
import type { KvEntry } from '@nats-io/kv'
import type { RootDatabase, Database } from 'lmdb'
import type { Logger } from '../log.js'
import type { Play, PlayChange, PlayLog } from '../playlog/play-log.js'
import { decodeJson, encodeJson, type ClusterLink } from './link.js'

/** How often the outbox sends the touches of open plays, in ms. */
const TOUCH_EVERY_MS = 2000
/** How long the first copy of the shared log may take before the node serves anyway, in ms. */
const CATCH_UP_MS = 30_000

export class PlayReplication {
  readonly #link: ClusterLink
  readonly #log: Logger
  readonly #meta: Database<number, string>
  #plays: PlayLog | undefined
  /** Rows waiting to be sent, by id (a later change replaces an earlier one). */
  readonly #outbox = new Map<string, Play>()
  #sending = false
  #timer: NodeJS.Timeout | undefined
  #watcher: { stop: () => void } | undefined
  #closed = false
  /** Rows copied in from other nodes since start. */
  applied = 0

  constructor (link: ClusterLink, root: RootDatabase, log: Logger) {
    this.#link = link
    this.#log = log
    this.#meta = root.openDB<number, string>('cluster.meta', { encoding: 'msgpack' })
  }

  /** The PlayLog option that feeds the outbox. */
  readonly onWrite = (play: Play, change: PlayChange): void => {
    this.#outbox.set(play.id, play)
    if (change !== 'touch') void this.#send() // a touch waits for the timer
  }

  /** Start copying the shared log into `plays`; resolves once what was there at start is in (or after CATCH_UP_MS). */
  async start (plays: PlayLog): Promise<void> {
    this.#plays = plays
    this.#timer = setInterval(() => { void this.#send() }, TOUCH_EVERY_MS)
    this.#timer.unref()
    const from = this.#meta.get('playsRevision') ?? 0
    const watcher = await this.#link.plays.watch({ key: '>', ...(from > 0 ? { resumeFromRevision: from + 1 } : {}) })
    this.#watcher = watcher
    let caughtUp: () => void = () => {}
    const ready = new Promise<void>((resolve) => { caughtUp = resolve })
    const timeout = setTimeout(caughtUp, CATCH_UP_MS)
    void (async () => {
      for await (const e of watcher) {
        this.#copy(e)
        if (e.delta === 0) caughtUp()
      }
    })().catch((err: unknown) => this.#log.error({ err }, 'cluster: the shared play log could not be read'))
    // An empty bucket has nothing to deliver: the watcher has caught up at once.
    const status = await this.#link.plays.status()
    if (status.values === 0 || status.streamInfo.state.last_seq <= from) caughtUp()
    await ready
    clearTimeout(timeout)
  }

  #copy (e: KvEntry): void {
    if (this.#plays === undefined || e.operation !== 'PUT') return
    try {
      if (this.#plays.apply(decodeJson<Play>(e.value))) this.applied++
      this.#meta.put('playsRevision', e.revision)
    } catch (err) {
      this.#log.error({ err, key: e.key }, 'cluster: a play of another node could not be filed')
    }
  }

  async #send (): Promise<void> {
    if (this.#sending || this.#outbox.size === 0) return
    this.#sending = true
    try {
      for (const [id, play] of this.#outbox) {
        try {
          await this.#link.plays.put(id, encodeJson(play))
        } catch (err) {
          if (!this.#closed) this.#log.warn({ err, play: id }, 'cluster: a play could not be shared yet; it is sent again')
          return
        }
        // A newer change that came meanwhile stays for the next round.
        if (this.#outbox.get(id) === play) this.#outbox.delete(id)
      }
    } finally {
      this.#sending = false
    }
  }

  /** Send what waits, and stop. */
  async close (): Promise<void> {
    clearInterval(this.#timer)
    await this.#send()
    this.#closed = true
    this.#watcher?.stop()
  }
}
