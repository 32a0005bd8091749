/**
 * The HTTP API's dispatcher: screens the request's Host and Origin, finds its route, checks its access level and rate
 * limit, runs the handler and turns every error into the documented error body. Routes are data (method, path
 * pattern, access, the schemas of their parameters, body and answers, handler), made with `route`: the schemas check
 * the request and type the handler, and /openapi.json is generated from the same table the server serves.
 */
import type { Static, StaticDecode, TObject, TSchema } from '@sinclair/typebox'
import type { Settings } from '../config/defaults.js'
import { earshotError, type EarshotError } from '../errors.js'
import { requestToken, type AccessLevel, type Limited } from './access.js'
import { readJson } from './body.js'
import { errorReply, json, replyForError, type HttpReply, type HttpRequest } from './request.js'
import { decoder, fromText, withoutNulls } from './schemas.js'
import type { Services } from './services.js'

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'
/** The groups of /openapi.json. */
export type Tag = 'system' | 'catalog' | 'monitors' | 'plays' | 'webhooks' | 'web'

/** What the router hands a route: the request as it came. */
export interface RouteCall {
  readonly services: Services
  readonly req: HttpRequest
  /** Path parameters by name (`/v1/tracks/:id` → id), percent-decoded. */
  readonly params: Readonly<Record<string, string>>
  readonly token: string | undefined
  /** The route table served (for /openapi.json). */
  readonly routes: readonly Route[]
}

/** One answer of a route: what it means, and its body's schema by media type. */
export interface ResponseSpec {
  readonly description: string
  /** The JSON body. */
  readonly json?: TSchema
  /** Bodies of other media types (text, CSV, files): the handler returns their bytes as an HttpReply. */
  readonly content?: Readonly<Record<string, TSchema>>
  /** Headers of the answer by name, with what they say. */
  readonly headers?: Readonly<Record<string, string>>
}
export type Responses = Readonly<Record<number, ResponseSpec>>

/** A JSON answer: one of the route's statuses, with a body of that status's type. */
export type JsonAnswer<R extends Responses> = {
  [S in keyof R]: R[S] extends { json: infer T extends TSchema } ? { status: S, json: Static<T>, headers?: Record<string, string> } : never
}[keyof R]

/** A JSON answer, its status kept as a literal type (the route's responses type its body by status). */
export function answer<S extends number, T> (status: S, json: T, headers?: Record<string, string>): { status: S, json: T, headers?: Record<string, string> } {
  return { status, json, headers }
}

/** The HTTP limits that may bound a request body. */
export type BodySetting = 'maxIdentifyBytes' | 'maxRecordingBytes' | 'maxUploadBytes' | 'maxJsonBytes'

/** The validated, converted input of a handler. */
export interface Call<P extends TObject, Q extends TObject, B extends TObject> extends Omit<RouteCall, 'params'> {
  readonly params: StaticDecode<P>
  readonly query: StaticDecode<Q>
  readonly body: StaticDecode<B>
}

/** A route as written: its inputs and answers as schemas, and a handler typed by them. */
export interface RouteSpec<P extends TObject, Q extends TObject, B extends TObject, R extends Responses> {
  readonly method: Method
  /** A path with `:name` segments. */
  readonly path: string
  readonly access: AccessLevel
  /** Counted against a rate limit per token and per address. */
  readonly limited?: Limited
  readonly operationId: string
  readonly tag: Tag
  /** One line. */
  readonly summary: string
  readonly description?: string
  readonly params?: P
  readonly query?: Q
  /** A JSON object body; the router reads and checks it. */
  readonly body?: B
  /**
   * The body is a JSON merge patch (RFC 7396, PATCH): a null field is kept (it removes what it names) rather than taken
   * for an absent one, and `application/merge-patch+json` is accepted beside `application/json`.
   */
  readonly mergePatch?: boolean
  /** A body the handler reads itself (audio, body.ts): its OpenAPI request body. */
  readonly upload?: Readonly<Record<string, unknown>>
  /** The setting that limits the body (a JSON body: maxJsonBytes); routes without one take no body. */
  readonly bodyLimit?: BodySetting
  readonly responses: R
  /** Error statuses the handler itself gives, with the codes behind each (the router's own are added). */
  readonly errors?: Readonly<Record<number, string>>
  handle (call: Call<P, Q, B>): NoInfer<JsonAnswer<R> | HttpReply | Promise<JsonAnswer<R> | HttpReply>>
}

/** A route of the table: plain data for /openapi.json, and a handler of raw calls. */
export interface Route extends Omit<RouteSpec<TObject, TObject, TObject, Responses>, 'bodyLimit' | 'handle'> {
  /** Largest body accepted, in bytes; routes without it take no body. */
  readonly bodyLimit?: (s: Settings) => number
  readonly bodySetting?: BodySetting
  handle (call: RouteCall): Promise<HttpReply>
}

type Empty = TObject<Record<never, never>>

/** A route whose handler gets its path parameters, query and JSON body checked and converted by their schemas. */
export function route<P extends TObject = Empty, Q extends TObject = Empty, B extends TObject = Empty, R extends Responses = Responses> (spec: RouteSpec<P, Q, B, R>): Route {
  const params = spec.params && decoder(spec.params)
  const query = spec.query && decoder(spec.query)
  const body = spec.body && decoder(spec.body)
  const setting = spec.bodyLimit ?? (spec.body ? 'maxJsonBytes' : undefined)
  const { bodyLimit: _, handle, ...data } = spec
  return {
    ...data,
    bodySetting: setting,
    bodyLimit: setting && ((s) => s.http[setting]),
    async handle (call) {
      const out = await handle({
        ...call,
        params: (params ? params(fromText(spec.params!, (n) => call.params[n], true)) : {}) as StaticDecode<P>,
        query: (query ? query(fromText(spec.query!, (n) => call.req.query.get(n), false)) : {}) as StaticDecode<Q>,
        body: (body ? body(spec.mergePatch === true ? await readJson(call.req, true) : withoutNulls(await readJson(call.req))) : {}) as StaticDecode<B>,
      })
      return 'json' in out ? json(out.status as number, out.json, out.headers) : out
    },
  }
}

interface Compiled { route: Route, re: RegExp, names: string[] }

/** Bodies of routes without a limit are read up to this much and ignored (a stray body must not hang a request). */
const NO_BODY_LIMIT = 64 * 1024

export class Router {
  readonly routes: readonly Route[]
  readonly #compiled: Compiled[]

  constructor (routes: readonly Route[]) {
    this.routes = routes
    this.#compiled = routes.map((route) => {
      const names: string[] = []
      const source = route.path.replace(/:([a-zA-Z]+)/g, (_, name: string) => { names.push(name); return '([^/]+)' })
      return { route, re: new RegExp(`^${source}$`), names }
    })
  }

  /** The body limit of a request, known before it is read (transports size their reading by it). */
  bodyLimit (settings: Settings, method: string, path: string): number {
    const found = this.#find(method, path)
    return found && 'route' in found && found.route.bodyLimit ? found.route.bodyLimit(settings) : NO_BODY_LIMIT
  }

  /** The path template of the route a request goes to (`/v1/tracks/:id`), or undefined. */
  templateOf (method: string, path: string): string | undefined {
    const found = this.#find(method, path)
    return found && 'route' in found ? found.route.path : undefined
  }

  async handle (services: Services, req: HttpRequest): Promise<HttpReply> {
    // Before anything else, routes unknown included: a rebound name must not even learn which routes exist.
    const screened = services.access.screen(req.method, req.header)
    if (screened) {
      services.onHttpError?.(screened, req)
      return replyForError(screened)
    }
    const found = this.#find(req.method, req.path)
    if (!found) return errorReply('EAR_ERR_NOT_FOUND', `No route ${req.path}`)
    if ('malformed' in found) return replyForError(earshotError('EAR_ERR_BAD_REQUEST', `${found.malformed} is not valid percent-encoding`))
    if (!('route' in found)) {
      const allow = found.allow.includes('GET') ? [...found.allow, 'HEAD'] : found.allow
      return errorReply('EAR_ERR_METHOD', `${req.method} is not allowed on ${req.path}`, { allow: allow.join(', ') })
    }
    const { route, params } = found
    try {
      const token = requestToken(req.header('authorization'), req.query)
      const peer = services.access.peerOf(req.remoteAddress, req.header)
      const denied = services.access.check(route.access, token, peer)
      if (denied) throw denied
      if (route.limited) {
        const wait = services.access.limit(route.limited, token, peer.address)
        if (wait > 0) throw withHeaders(earshotError('EAR_ERR_RATE_LIMITED', wait), { 'retry-after': String(wait) })
      }
      return await route.handle({ services, req, params, token, routes: this.routes })
    } catch (err) {
      services.onHttpError?.(err, req)
      return replyForError(err)
    }
  }

  #find (method: string, path: string): { route: Route, params: Record<string, string> } | { allow: string[] } | { malformed: string } | undefined {
    const m = method === 'HEAD' ? 'GET' : method
    const allow: string[] = []
    for (const c of this.#compiled) {
      const hit = c.re.exec(path)
      if (!hit) continue
      if (c.route.method !== m) { allow.push(c.route.method); continue }
      const params: Record<string, string> = {}
      for (const [i, name] of c.names.entries()) {
        // A malformed id (`%ZZ`) is the client's mistake (400), not a missing route (404).
        try { params[name] = decodeURIComponent(hit[i + 1]) } catch { return { malformed: name } }
      }
      return { route: c.route, params }
    }
    return allow.length > 0 ? { allow } : undefined
  }
}

/** Attach reply headers to an error (Retry-After on 429). */
export function withHeaders (err: EarshotError, headers: Record<string, string>): EarshotError {
  (err as EarshotError & { headers?: Record<string, string> }).headers = headers
  return err
}
