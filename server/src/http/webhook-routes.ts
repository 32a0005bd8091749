/**
 * Webhooks: replay the play log's events of a time range to the webhook URLs (after the queue dropped events, or a
 * receiver lost them). Replayed events carry their original ids, so receivers de-duplicate them.
 */
import { earshotError } from '../errors.js'
import { replayPlays } from '../webhooks/play-events.js'
import { readJson } from './body.js'
import { onlyFields, timeField } from './params.js'
import { json } from './request.js'
import type { Route } from './router.js'

export const webhookRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/webhooks/replay',
    access: 'admin',
    bodyLimit: (s) => s.http.maxJsonBytes,
    summary: 'Queue again the webhook events of the plays in a time range (same event and delivery ids as the first time)',
    async handle ({ services, req }) {
      const body = await readJson(req)
      onlyFields(body, ['from', 'to'])
      const from = timeField(body, 'from')
      if (from === undefined) throw earshotError('EAR_ERR_BAD_REQUEST', 'from is required')
      const to = timeField(body, 'to') ?? Date.now()
      if (from >= to) throw earshotError('EAR_ERR_BAD_REQUEST', 'from must be before to')
      const webhooks = services.webhooks
      if (webhooks === undefined) throw earshotError('EAR_ERR_BAD_REQUEST', 'no webhook URL is configured: there is nothing to replay to')
      return json(202, replayPlays(services.plays, webhooks, from, to))
    },
  },
]
