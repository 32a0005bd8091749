/**
 * Who may do what: tokens (admin, client) and the loopback rule, plus the rate limits of identify and stream opens.
 *
 *   admin routes   an admin token; with no admin token configured, only requests from loopback
 *   client routes  any configured token (admin or client); open when no token is configured at all
 *   public routes  anyone (/health, /ping, /openapi.json, /metrics)
 *
 * A token comes as `Authorization: Bearer TOKEN` or `?token=` (browsers cannot set headers on a WebSocket or a link).
 */
import { timingSafeEqual, createHash } from 'node:crypto'
import type { AccessSettings } from '../config/defaults.js'
import { earshotError, type EarshotError } from '../errors.js'
import { RateLimiter } from './rate-limit.js'

export type AccessLevel = 'public' | 'client' | 'admin'
export type Role = 'admin' | 'client' | 'anonymous'

export type Limited = 'identify' | 'stream'

export class Access {
  readonly #admin: Buffer[]
  readonly #client: Buffer[]
  readonly #limits: Record<Limited, RateLimiter>

  constructor (settings: AccessSettings) {
    this.#admin = settings.adminTokens.map(digest)
    this.#client = settings.clientTokens.map(digest)
    this.#limits = { identify: new RateLimiter(settings.identifyPerMinute), stream: new RateLimiter(settings.streamOpensPerMinute) }
  }

  /** True when any token is configured. */
  get guarded (): boolean { return this.#admin.length + this.#client.length > 0 }

  /** The role a token gives; undefined for a token that is given but unknown. */
  roleOf (token: string | undefined): Role | undefined {
    if (token === undefined || token === '') return 'anonymous'
    const d = digest(token)
    if (this.#admin.some((a) => timingSafeEqual(a, d))) return 'admin'
    if (this.#client.some((c) => timingSafeEqual(c, d))) return 'client'
    return undefined
  }

  /** Undefined when a request with `token` from `address` may use a route of `level`; else the error to answer. */
  check (level: AccessLevel, token: string | undefined, address: string): EarshotError | undefined {
    if (level === 'public') return undefined
    const role = this.roleOf(token)
    if (role === undefined) return earshotError('EAR_ERR_UNAUTHORIZED', ': the token is not one this server knows')
    if (level === 'client') {
      if (!this.guarded || role !== 'anonymous') return undefined
      // With no admin token, loopback is the administrator (below), and an administrator may do what a client may.
      if (this.#admin.length === 0 && isLoopback(address)) return undefined
      return earshotError('EAR_ERR_UNAUTHORIZED', ': send Authorization: Bearer TOKEN')
    }
    if (role === 'admin') return undefined
    if (this.#admin.length === 0) {
      if (isLoopback(address)) return undefined
      return earshotError('EAR_ERR_FORBIDDEN', 'no admin token is configured, so writes are accepted from loopback only')
    }
    if (role === 'anonymous') return earshotError('EAR_ERR_UNAUTHORIZED', ': this needs an admin token')
    return earshotError('EAR_ERR_FORBIDDEN', 'this needs an admin token; a client token may stream, identify and read')
  }

  /**
   * Count one `what` for the token and for the address apart (a client cannot escape its address's limit by
   * rotating tokens, nor a shared NAT exhaust a token's). Returns 0, or the seconds to wait.
   */
  limit (what: Limited, token: string | undefined, address: string, now = Date.now()): number {
    const l = this.#limits[what]
    const addressKey = `ip:${address}`
    const byAddress = l.take(addressKey, now)
    if (byAddress > 0 || !token) return byAddress // a refused request costs the token nothing
    const byToken = l.take(`token:${createHash('sha256').update(token).digest('hex')}`, now)
    if (byToken > 0) l.refund(addressKey) // nor the address
    return byToken
  }
}

/** The token of a request: the bearer token, else `?token=`. */
export function requestToken (authorization: string | undefined, query: URLSearchParams): string | undefined {
  if (authorization) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    return m ? m[1] : authorization // a malformed header counts as a wrong token, not a missing one
  }
  return query.get('token') ?? undefined
}

export function isLoopback (address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}

// Compare fixed-length digests, so timingSafeEqual works and the comparison leaks nothing about length.
function digest (token: string): Buffer {
  return createHash('sha256').update(token).digest()
}
