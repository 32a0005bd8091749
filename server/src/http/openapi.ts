/**
 * The OpenAPI 3.1 description of the HTTP API, served at /openapi.json, generated from the route table: each route's
 * parameters, body and answers are the TypeBox schemas the server checks requests with and types its handlers by.
 * OpenAPI 3.1 takes JSON Schema (2020-12) as it is, so TypeBox's schemas go in unchanged (nullable is
 * `anyOf [..., {type: null}]`); only a nested schema with an `$id` becomes a reference to a shared component.
 *
 * Access levels travel as `security` (public: `[]`; client and admin: a bearer token or `?token=`) and, since
 * OpenAPI has no scopes for bearer tokens, as the extension `x-earshot-access` ('public' | 'client' | 'admin').
 * Every error answer has the body `{"error": {"code", "message"}}` (schema Error); each status lists the codes
 * behind it: those of the access level, the body, the rate limit and the parameter checks are added here, the
 * handler's own come with the route. Any route may also answer 500 EAR_ERR_INTERNAL (a bug); the router answers 404
 * EAR_ERR_NOT_FOUND for an unknown path and 405 EAR_ERR_METHOD (with Allow) for a known path with another method:
 * those are not repeated per operation.
 */
import { Type, type TObject, type TSchema } from '@sinclair/typebox'
import { defaults } from '../config/defaults.js'
import type { AccessLevel, Limited } from './access.js'
import type { Route } from './router.js'
import { str } from './schemas.js'

type Json = Record<string, unknown>

export function mib (bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${Math.round(bytes / 1024)} KiB`
}

const ErrorSchema = Type.Object({
  error: Type.Object({
    code: str('A stable code, listed in docs/ERRORS.md', { pattern: '^EAR_ERR_[A-Z_]+$', example: 'EAR_ERR_TRACK_NOT_FOUND' }),
    message: str('One line for people', { example: 'No track with id 99' }),
  }),
}, { $id: 'Error', description: 'Every error answer' })

/** The error statuses an access level brings, with the codes behind them. */
const ACCESS_ERRORS: Readonly<Record<AccessLevel, Readonly<Record<number, string>>>> = {
  public: {},
  client: {
    401: 'EAR_ERR_UNAUTHORIZED: tokens are configured and the request carries none, or the token is unknown',
  },
  admin: {
    401: 'EAR_ERR_UNAUTHORIZED: the token is unknown, or admin tokens are configured and the request carries none',
    403: 'EAR_ERR_FORBIDDEN: a client token; or no admin token is configured and the request is not from the server\'s own machine (loopback, not through a proxy, not from another site\'s page; setting access.loopbackIsAdmin)',
  },
}

const RATE_LIMITS: Readonly<Record<Limited, string>> = {
  identify: `more than ${defaults.access.identifyPerMinute} identifies a minute from this token or this address (setting access.identifyPerMinute)`,
  stream: `more than ${defaults.access.streamOpensPerMinute} stream opens a minute from this token or this address (setting access.streamOpensPerMinute)`,
  play: `more than ${defaults.access.playsPerMinute} plays a minute from this token or this address (setting access.playsPerMinute)`,
}

/** Shared schemas by `$id`, as the document's components. */
class Components {
  readonly schemas: Record<string, Json> = {}
  readonly #text = new Map<string, string>()

  /** `schema` for the document: every nested schema with an `$id` (this one included) becomes a reference. */
  use (schema: TSchema): Json {
    return this.#walk(schema, false) as Json
  }

  #walk (value: unknown, inside: boolean): unknown {
    if (Array.isArray(value)) return value.map((v) => this.#walk(v, false))
    if (typeof value !== 'object' || value === null) return value
    const o = value as Json
    if (typeof o.$id === 'string' && !inside) return this.#ref(o.$id, o)
    // Symbol keys (TypeBox's kinds and transforms) are not entries, so they stay behind.
    const out: Json = {}
    for (const [k, v] of Object.entries(o)) if (k !== '$id') out[k] = this.#walk(v, false)
    // A field with a default may be left out.
    if (Array.isArray(out.required) && out.properties) {
      const props = out.properties as Record<string, Json>
      const required = out.required.filter((k: string) => props[k]?.default === undefined)
      if (required.length > 0) out.required = required
      else delete out.required
    }
    return out
  }

  #ref (id: string, schema: Json): Json {
    const text = JSON.stringify(schema)
    const known = this.#text.get(id)
    if (known === undefined) {
      this.#text.set(id, text)
      this.schemas[id] = this.#walk(schema, true) as Json
    } else if (known !== text) {
      throw new Error(`two schemas have the $id ${id}`)
    }
    return { $ref: `#/components/schemas/${id}` }
  }
}

/** The path and query parameters of a route from its schemas. */
function parameters (r: Route, c: Components): Json[] {
  const of = (schema: TObject | undefined, where: 'path' | 'query'): Json[] => Object.entries<TSchema>(schema?.properties ?? {}).map(([name, s]) => {
    const { description, ...rest } = c.use(s)
    const required = where === 'path' || (schema?.required?.includes(name) === true && s.default === undefined)
    return { name, in: where, required, ...(description ? { description } : {}), schema: rest }
  })
  return [...of(r.params, 'path'), ...of(r.query, 'query')]
}

/** An operation: the route's answers plus the errors its access level, inputs, body and rate limit bring. */
function operation (r: Route, c: Components): Json {
  const errors = new Map<number, string[]>()
  const add = (status: number, why: string): void => { errors.set(status, [...(errors.get(status) ?? []), why]) }
  for (const [status, why] of Object.entries(ACCESS_ERRORS[r.access])) add(Number(status), why)
  if (r.body) {
    add(400, 'EAR_ERR_BAD_JSON: not a JSON object')
    add(415, `EAR_ERR_CONTENT_TYPE: not application/json${r.mergePatch === true ? ' nor application/merge-patch+json' : ''}`)
  }
  if (r.params || r.query || r.body) add(400, `EAR_ERR_BAD_REQUEST: a ${r.body ? 'field' : 'parameter'} missing, unknown, out of range or unreadable (the message names it)`)
  if (r.bodySetting) {
    add(408, `EAR_ERR_BODY_TIMEOUT: the body did not arrive within ${defaults.http.bodyTimeoutMs} ms (setting http.bodyTimeoutMs)`)
    add(413, `EAR_ERR_BODY_TOO_LARGE: the body is over ${mib(defaults.http[r.bodySetting])} (setting http.${r.bodySetting})`)
  }
  if (r.limited) add(429, `EAR_ERR_RATE_LIMITED: ${RATE_LIMITS[r.limited]}; wait Retry-After seconds`)
  for (const [status, why] of Object.entries(r.errors ?? {})) add(Number(status), why)

  const responses: Json = {}
  for (const [status, spec] of Object.entries(r.responses)) {
    const content: Json = {}
    if (spec.json) content['application/json'] = { schema: c.use(spec.json) }
    for (const [type, schema] of Object.entries(spec.content ?? {})) content[type] = { schema: c.use(schema) }
    const headers = Object.fromEntries(Object.entries(spec.headers ?? {}).map(([name, description]) => [name, { description, schema: { type: 'string' } }]))
    responses[status] = { description: spec.description, ...(spec.headers ? { headers } : {}), ...(Object.keys(content).length > 0 ? { content } : {}) }
  }
  const retryAfter = { 'Retry-After': { description: 'Seconds to wait before the next request counts', schema: { type: 'integer', minimum: 1 } } }
  for (const status of [...errors.keys()].sort((a, b) => a - b)) {
    responses[status] = {
      description: (errors.get(status) ?? []).join('; '),
      ...(status === 429 ? { headers: retryAfter } : {}),
      content: { 'application/json': { schema: c.use(ErrorSchema) } },
    }
  }
  const upload = r.upload && JSON.parse(JSON.stringify(r.upload)) as Json
  const params = parameters(r, c)
  return {
    operationId: r.operationId,
    summary: r.summary,
    ...(r.description ? { description: r.description } : {}),
    tags: [r.tag],
    'x-earshot-access': r.access,
    security: r.access === 'public' ? [] : [{ bearer: [] }, { tokenQuery: [] }],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(r.body ? { requestBody: { required: true, content: bodyContent(r, c) } } : {}),
    ...(upload ? { requestBody: upload } : {}),
    responses,
  }
}

/** The media types of a JSON body: one schema, and a merge patch's own type beside application/json. */
function bodyContent (r: Route, c: Components): Json {
  const schema = { schema: c.use(r.body as TObject) }
  return r.mergePatch === true ? { 'application/json': schema, 'application/merge-patch+json': schema } : { 'application/json': schema }
}

const documents = new WeakMap<readonly Route[], Json>()

/** The OpenAPI document of a route table (made once per table). */
export function openApiDocument (routes: readonly Route[]): Json {
  const known = documents.get(routes)
  if (known) return known
  const c = new Components()
  const paths: Record<string, Json> = {}
  for (const r of routes) {
    const p = r.path.replace(/:([a-zA-Z]+)/g, '{$1}')
    paths[p] = { ...paths[p], [r.method.toLowerCase()]: operation(r, c) }
  }
  const doc: Json = {
    openapi: '3.1.0',
    info: {
      title: 'earshot',
      version: '1',
      description: 'Real-time audio recognition: identify clips, manage the catalog, monitor radio streams and read their play log. ' +
        'A guide with examples is docs/API.md; error codes are in docs/ERRORS.md; the WebSocket stream protocol is protocol/README.md. ' +
        'Every error answer is `{"error": {"code": "EAR_ERR_...", "message": "..."}}`. Any route may answer 500 EAR_ERR_INTERNAL (a bug to report); ' +
        'an unknown path answers 404 EAR_ERR_NOT_FOUND, a known path with another method 405 EAR_ERR_METHOD with an Allow header. ' +
        'Any route answers 403 EAR_ERR_HOST_NOT_ALLOWED to a Host the server does not answer to (setting access.publicNames), and a POST, PATCH or DELETE ' +
        'sent by a page of another site 403 EAR_ERR_CROSS_ORIGIN (setting access.allowedOrigins). ' +
        'HEAD is answered like GET, without a body.',
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'system', description: 'Health, statistics, this document, the stream endpoint' },
      { name: 'catalog', description: 'Identify, tracks, index jobs' },
      { name: 'monitors', description: 'Radio streams the server pulls and listens to' },
      { name: 'plays', description: 'The play log: what was heard, where and when' },
      { name: 'webhooks', description: 'Replaying the play log\'s events to the webhook URLs' },
      { name: 'web', description: 'The web page and the browser SDK' },
    ],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'An admin or client token (EARSHOT_ADMIN_TOKENS, EARSHOT_CLIENT_TOKENS). Client routes are open to all when no token is configured; ' +
            'admin routes need an admin token, or, when no admin token is configured, a request from loopback.',
        },
        tokenQuery: { type: 'apiKey', in: 'query', name: 'token', description: 'The same token as `?token=`, for links and browsers' },
      },
      schemas: c.schemas,
    },
  }
  documents.set(routes, doc)
  return doc
}
