/**
 * Webhooks: replay the play log's events of a time range to the webhook URLs (after the queue dropped events, or a
 * receiver lost them). Replayed events carry their original ids, so receivers de-duplicate them.
 */
import { Type } from '@sinclair/typebox'
import { earshotError } from '../errors.js'
import { replayPlays } from '../webhooks/play-events.js'
import { answer, route } from './router.js'
import { dateTime, int, nullable, timeField } from './schemas.js'

export const webhookRoutes = [
  route({
    method: 'POST',
    path: '/v1/webhooks/replay',
    access: 'admin',
    operationId: 'replayWebhooks',
    tag: 'webhooks',
    summary: 'Queue again the webhook events of the plays in a time range (same event and delivery ids as the first time)',
    description: 'Re-enqueues, from the play log, a `match.confirmed` for every play that started in [from, to) and a `match.ended` for every play that ended in it, ' +
      'oldest play first, for every configured URL. Each event carries the id it had the first time, and each delivery the same `x-earshot-delivery`, ' +
      'so a receiver that de-duplicates drops what it already has. The data is the play as the log holds it now. ' +
      'Use it after the queue dropped events (`webhooks.droppingSince` in /health, `earshot_webhook_drops_total`) or a receiver lost some. ' +
      'Replayed events are never dropped: when the queue fills, the replay stops at a whole play and `next` gives the rest of the range to ask for once it drains.',
    body: Type.Object({
      from: timeField('Start of the range', '2026-11-21T08:00:00Z'),
      to: Type.Optional(timeField('End of the range (default: now)', '2026-11-21T09:00:00Z')),
    }, { additionalProperties: false }),
    responses: {
      202: {
        description: 'Queued; delivered in the background',
        json: Type.Object({
          events: int('Events queued (each is one delivery per URL)'),
          complete: Type.Boolean({ description: 'False when the queue filled before the end of the range' }),
          next: nullable(Type.Object({ from: dateTime('Where the rest of the range starts'), to: dateTime('The end of the range') }),
            'The rest of the range to replay once the queue drains; null when complete'),
        }, { $id: 'WebhookReplay' }),
      },
    },
    errors: { 400: 'EAR_ERR_BAD_REQUEST: from not before to, or no webhook URL configured' },
    handle ({ services, body }) {
      const from = body.from
      const to = body.to ?? Date.now()
      if (from >= to) throw earshotError('EAR_ERR_BAD_REQUEST', 'from must be before to')
      const webhooks = services.webhooks
      if (webhooks === undefined) throw earshotError('EAR_ERR_BAD_REQUEST', 'no webhook URL is configured: there is nothing to replay to')
      return answer(202, replayPlays(services.plays, webhooks, from, to))
    },
  }),
]
