/**
 * Monitored streams: register, list, show, remove.
 */
import { earshotError } from '../errors.js'
import { readJson } from './body.js'
import { onlyFields, stringField, uuidParam } from './params.js'
import { json } from './request.js'
import type { Route } from './router.js'

export const monitorRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/monitors',
    access: 'admin',
    bodyLimit: (s) => s.http.maxJsonBytes,
    summary: 'Register a stream for the server to pull and monitor',
    async handle ({ services, req }) {
      const body = await readJson(req)
      onlyFields(body, ['url', 'label'])
      const url = stringField(body, 'url', { required: true, max: 2048 }) as string
      const label = stringField(body, 'label', { max: 200 }) ?? ''
      const monitor = await services.monitors.add(url, label)
      return json(201, monitor, { location: `/v1/monitors/${monitor.id}` })
    },
  },
  {
    method: 'GET',
    path: '/v1/monitors',
    access: 'client',
    summary: 'Every monitor with its state and current match',
    handle ({ services }) {
      return json(200, { monitors: services.monitors.list() })
    },
  },
  {
    method: 'GET',
    path: '/v1/monitors/:id',
    access: 'client',
    summary: 'One monitor',
    handle ({ services, params }) {
      const id = uuidParam(params.id, 'monitor id')
      const m = services.monitors.get(id)
      if (!m) throw earshotError('EAR_ERR_MONITOR_NOT_FOUND', id)
      return json(200, m)
    },
  },
  {
    method: 'DELETE',
    path: '/v1/monitors/:id',
    access: 'admin',
    summary: 'Stop and remove a monitor (its plays stay in the log)',
    async handle ({ services, params }) {
      const id = uuidParam(params.id, 'monitor id')
      if (!await services.monitors.remove(id)) throw earshotError('EAR_ERR_MONITOR_NOT_FOUND', id)
      return { status: 204, type: 'text/plain', body: '' }
    },
  },
]
