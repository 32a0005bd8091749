/**
 * The HTTP API's dispatcher: screens the request's Host and Origin, finds its route, checks its access level and rate limit, runs the handler
 * and turns every error into the documented error body. Routes are plain data (method, path pattern, access, body
 * limit, handler), so /openapi.json and its test read the same table the server serves.
 */
import type { Settings } from '../config/defaults.js'
import { earshotError, type EarshotError } from '../errors.js'
import { requestToken, type AccessLevel, type Limited } from './access.js'
import { errorReply, replyForError, type HttpReply, type HttpRequest } from './request.js'
import type { Services } from './services.js'

export type Method = 'GET' | 'POST' | 'DELETE'

export interface RouteCall {
  readonly services: Services
  readonly req: HttpRequest
  /** Path parameters by name (`/v1/tracks/:id` → id). */
  readonly params: Readonly<Record<string, string>>
  readonly token: string | undefined
}

export interface Route {
  readonly method: Method
  /** A path with `:name` segments. */
  readonly path: string
  readonly access: AccessLevel
  /** Counted against a rate limit per token and per address. */
  readonly limited?: Limited
  /** Largest body accepted, in bytes; routes without it take no body. */
  readonly bodyLimit?: (s: Settings) => number
  /** One line for /openapi.json. */
  readonly summary: string
  handle (call: RouteCall): HttpReply | Promise<HttpReply>
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
      const denied = services.access.check(route.access, token, services.access.peerOf(req.remoteAddress, req.header))
      if (denied) throw denied
      if (route.limited) {
        const wait = services.access.limit(route.limited, token, req.remoteAddress)
        if (wait > 0) throw withHeaders(earshotError('EAR_ERR_RATE_LIMITED', wait), { 'retry-after': String(wait) })
      }
      return await route.handle({ services, req, params, token })
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
