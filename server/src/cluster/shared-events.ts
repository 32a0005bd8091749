/**
 * Webhook events of a cluster, sent once whichever node filed them: a node publishes each play event to the events
 * stream with the event's own stable id (play-events.ts) as JetStream's message id, so a repeated publication (a retry,
 * two nodes closing the same stale play) is dropped by JetStream; the stream is a work queue read by one durable
 * consumer that every node pulls from, so each event is taken by one node, which puts it in its webhook queue
 * (persisted, retried as on a lone server) and then acknowledges it. An event taken by a node that dies before it
 * acknowledges goes to another node after the consumer's ack wait.
 */
import type { ConsumerMessages } from '@nats-io/jetstream'
import type { Logger } from '../log.js'
import type { WebhookDispatcher, WebhookEvent } from '../webhooks/webhooks.js'
import { decodeJson, encodeJson, type ClusterLink } from './link.js'

/** How often events that could not be published are tried again, in ms. */
const RETRY_MS = 2000

export class SharedEvents {
  readonly #link: ClusterLink
  readonly #log: Logger
  /** Events not yet published (NATS away), oldest first. */
  readonly #waiting: WebhookEvent[] = []
  #timer: NodeJS.Timeout | undefined
  #messages: ConsumerMessages | undefined
  #publishing = false

  constructor (link: ClusterLink, log: Logger) {
    this.#link = link
    this.#log = log
  }

  /** Publish an event for the cluster's webhooks. */
  publish (event: WebhookEvent): void {
    this.#waiting.push(event)
    void this.#flush()
  }

  async #flush (): Promise<void> {
    if (this.#publishing) return
    this.#publishing = true
    try {
      while (this.#waiting.length > 0) {
        const event = this.#waiting[0]
        try {
          await this.#link.js.publish(`${this.#link.eventsSubject}.${event.type}`, encodeJson(event), { msgID: event.id })
        } catch (err) {
          this.#log.warn({ err, event: event.id }, 'cluster: an event could not be published yet; it is tried again')
          return
        }
        this.#waiting.shift()
      }
    } finally {
      this.#publishing = false
    }
  }

  /** Take events from the cluster into this node's webhook queue. */
  async start (webhooks: WebhookDispatcher | undefined): Promise<void> {
    this.#timer = setInterval(() => { void this.#flush() }, RETRY_MS)
    this.#timer.unref()
    if (webhooks === undefined) return // a node without webhook URLs takes none: those with them deliver
    const consumer = await this.#link.js.consumers.get(this.#link.eventsStream, 'webhooks')
    const messages = await consumer.consume({ max_messages: 100 })
    this.#messages = messages
    void (async () => {
      for await (const m of messages) {
        try {
          webhooks.enqueue(decodeJson<WebhookEvent>(m.data))
          m.ack()
        } catch (err) {
          this.#log.error({ err }, 'cluster: an event could not be queued here; another node gets it')
          m.nak(RETRY_MS)
        }
      }
    })()
  }

  async close (): Promise<void> {
    clearInterval(this.#timer)
    await this.#flush()
    await this.#messages?.close()
  }
}
