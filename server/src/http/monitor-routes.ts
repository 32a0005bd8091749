/**
 * Monitored streams: register, list, show, remove.
 */
import { Type } from '@sinclair/typebox'
import { defaults } from '../config/defaults.js'
import { earshotError } from '../errors.js'
import { answer, route } from './router.js'
import { dateTime, int, nonBlank, nullable, num, oneOf, speed, str, text, uuid } from './schemas.js'

const CurrentMatch = Type.Object({
  state: oneOf(['tentative', 'confirmed']),
  trackId: int(), title: str(), artist: str(),
  confidence: num(undefined, { minimum: 0, maximum: 1 }),
  offsetSeconds: num('Position in the track when the latest match message came'),
  speed: speed('stream', '; the track moves on this many seconds per second of stream'),
}, { $id: 'CurrentMatch', description: 'What a monitor hears now' })

const Monitor = Type.Object({
  id: str('Monitor id', { format: 'uuid' }),
  url: str('The stream pulled (http or https)'),
  label: str(),
  createdAt: dateTime('When it was registered'),
  state: oneOf(['connecting', 'listening', 'down', 'finished'], 'connecting → listening (audio arrives) → down (failed; reconnects with backoff); finished: a file (a response with a Content-Length, not a radio stream or HLS) was heard to its end at real-time pace, and is not pulled again'),
  since: dateTime('When it entered its state ("down since" when down)'),
  reconnects: int('Attempts after the first since the server started'),
  lastError: nullable(str(), 'The latest failure, kept after recovery'),
  streamSeconds: num('Seconds of audio heard since the server started'),
  unmatchedSeconds: num('Seconds of that audio in which no track was confirmed'),
  current: nullable(CurrentMatch, 'The track playing now; null when none'),
  finishedAt: Type.Optional(dateTime('Only once finished: when its file was heard to the end')),
  node: Type.Optional(nullable(str(), 'In a cluster only: the node that runs it now; null between a node\'s death and the takeover')),
}, { $id: 'Monitor' })

const monitorIdParams = Type.Object({ id: uuid('Monitor id') })

export const monitorRoutes = [
  route({
    method: 'POST',
    path: '/v1/monitors',
    access: 'admin',
    operationId: 'addMonitor',
    tag: 'monitors',
    summary: 'Register a stream for the server to pull and monitor',
    description: 'The server pulls the stream (WAV and raw PCM as audio/pcm or audio/L16 directly; MP3, AAC, Ogg, HLS playlists and the rest through ffmpeg), reconnects with backoff when it drops, ' +
      'and writes every confirmed song to the play log. Monitors are stored and resume when the server restarts.',
    body: Type.Object({
      url: nonBlank(2048, 'An http or https stream URL, without a user name or password', { example: 'https://radio.example.org/live.mp3' }),
      label: text(200, 'A name for people', { default: '', example: 'Radio Example' }),
    }, { additionalProperties: false }),
    responses: { 201: { description: 'Registered and started', json: Monitor, headers: { Location: 'The monitor\'s path' } } },
    errors: {
      400: 'EAR_ERR_BAD_REQUEST: a URL that is not http(s) or holds credentials',
      409: `EAR_ERR_MONITOR_EXISTS: the URL is monitored already; EAR_ERR_TOO_MANY_MONITORS: ${defaults.monitors.maxMonitors} monitors exist (setting monitors.maxMonitors)`,
      422: 'EAR_ERR_ADDRESS_NOT_ALLOWED: the host is or resolves to a loopback, private, link-local or other non-public address (setting network.allowedAddresses)',
      507: 'EAR_ERR_DISK_FULL: the disk of the server state is full; nothing was stored',
    },
    async handle ({ services, body: { url, label } }) {
      const monitor = await services.monitors.add(url, label)
      return answer(201, monitor, { location: `/v1/monitors/${monitor.id}` })
    },
  }),
  route({
    method: 'GET',
    path: '/v1/monitors',
    access: 'client',
    operationId: 'listMonitors',
    tag: 'monitors',
    summary: 'Every monitor with its state and current match',
    responses: {
      200: { description: 'Every monitor, oldest first', json: Type.Object({ monitors: Type.Array(Monitor, { description: 'Oldest first' }) }, { $id: 'MonitorList' }) },
    },
    handle: ({ services }) => answer(200, { monitors: services.monitors.list() }),
  }),
  route({
    method: 'GET',
    path: '/v1/monitors/:id',
    access: 'client',
    operationId: 'getMonitor',
    tag: 'monitors',
    summary: 'One monitor',
    params: monitorIdParams,
    responses: { 200: { description: 'The monitor', json: Monitor } },
    errors: { 404: 'EAR_ERR_MONITOR_NOT_FOUND' },
    handle ({ services, params: { id } }) {
      const m = services.monitors.get(id)
      if (!m) throw earshotError('EAR_ERR_MONITOR_NOT_FOUND', id)
      return answer(200, m)
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/monitors/:id',
    access: 'admin',
    operationId: 'removeMonitor',
    tag: 'monitors',
    summary: 'Stop and remove a monitor (its plays stay in the log)',
    params: monitorIdParams,
    responses: { 204: { description: 'Done; no body' } },
    errors: { 404: 'EAR_ERR_MONITOR_NOT_FOUND', 507: 'EAR_ERR_DISK_FULL: the disk of the server state is full; the monitor stays' },
    async handle ({ services, params: { id } }) {
      if (!await services.monitors.remove(id)) throw earshotError('EAR_ERR_MONITOR_NOT_FOUND', id)
      return { status: 204, type: 'text/plain', body: '' }
    },
  }),
]
