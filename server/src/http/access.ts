/**
 * Who may do what: tokens (admin, client, play log) and the loopback rule, plus the rate limits of identify, stream
 * opens and client plays.
 *
 *   admin routes   an admin token; with no admin token configured, only a local peer (below)
 *   client routes  any configured token; open when no token is configured at all
 *   public routes  anyone (/health, /ping, /openapi.json, /metrics)
 *   the play log   a client stream writes plays with an admin or play-log token, or as a local peer
 *
 * A local peer is the administrator while no admin token is configured: a request from a loopback address, unless
 * access.loopbackIsAdmin is false, it came through a proxy (Forwarded, X-Forwarded-For, X-Real-IP), or a page of
 * another site sent it (origin-policy.ts). Before any of this, `screen` refuses a Host the server does not answer to
 * and a write from another site's page, whatever the token.
 *
 * A token comes as `Authorization: Bearer TOKEN` or `?token=` (browsers cannot set headers on a WebSocket or a link).
 *
 * Behind a reverse proxy every request comes from the proxy's address. When that address is one of
 * access.trustedProxies, the client is the last address of X-Forwarded-For that is not a trusted proxy (read from the
 * right: only the proxies' own additions can be believed, a client may send any header it likes). That address is
 * the peer's for the limits per address and for the logs; it never makes a request local.
 */
import { timingSafeEqual, createHash } from 'node:crypto'
import ipaddr from 'ipaddr.js'
import type { AccessSettings } from '../config/defaults.js'
import { earshotError, type EarshotError } from '../errors.js'
import type { Peer } from '../stream/connection.js'
import { OriginPolicy, type HeaderOf } from './origin-policy.js'
import { RateLimiter } from './rate-limit.js'

export type AccessLevel = 'public' | 'client' | 'admin'
export type Role = 'admin' | 'client' | 'anonymous'

export type Limited = 'identify' | 'stream' | 'play'

/** Methods that change nothing: any page may send them (it cannot read the answer without CORS, which is not sent). */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS'])
/** Headers a reverse proxy adds: a request bearing one was forwarded, so its loopback address says nothing. */
const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'] as const

export class Access {
  readonly #admin: Buffer[]
  readonly #client: Buffer[]
  readonly #playLog: Buffer[]
  readonly #limits: Record<Limited, RateLimiter>
  readonly #origins: OriginPolicy
  readonly #loopbackIsAdmin: boolean
  readonly #proxies: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>

  /** @throws EAR_ERR_CONFIG for a trusted proxy that is neither an address nor a range */
  constructor (settings: AccessSettings) {
    this.#admin = settings.adminTokens.map(digest)
    this.#client = settings.clientTokens.map(digest)
    this.#playLog = settings.playLogTokens.map(digest)
    this.#limits = {
      identify: new RateLimiter(settings.identifyPerMinute),
      stream: new RateLimiter(settings.streamOpensPerMinute),
      play: new RateLimiter(settings.playsPerMinute),
    }
    this.#origins = new OriginPolicy(settings)
    this.#loopbackIsAdmin = settings.loopbackIsAdmin
    this.#proxies = settings.trustedProxies.map((entry) => {
      const e = entry.trim()
      if (ipaddr.isValidCIDR(e)) return ipaddr.parseCIDR(e)
      if (ipaddr.isValid(e)) { const a = ipaddr.process(e); return [a, a.kind() === 'ipv4' ? 32 : 128] }
      throw earshotError('EAR_ERR_CONFIG', `access.trustedProxies: ${JSON.stringify(entry)} is not an address or a range (a.b.c.d/n)`)
    })
  }

  /** True when any token is configured. */
  get guarded (): boolean { return this.#admin.length + this.#client.length + this.#playLog.length > 0 }

  /** The role a token gives; undefined for a token that is given but unknown. Play-log tokens are client tokens. */
  roleOf (token: string | undefined): Role | undefined {
    if (token === undefined || token === '') return 'anonymous'
    const d = digest(token)
    if (holds(this.#admin, d)) return 'admin'
    if (holds(this.#client, d) || holds(this.#playLog, d)) return 'client'
    return undefined
  }

  /** The peer of a request from `address`: the client's address, and whether it is local (the header comment says when). */
  peerOf (address: string, header: HeaderOf): Peer {
    const local = this.#loopbackIsAdmin && isLoopback(address) && PROXY_HEADERS.every((h) => header(h) === undefined) &&
      this.#origins.foreign(header) === undefined
    return { address: this.#clientOf(address, header), local }
  }

  /** The client behind trusted proxies: X-Forwarded-For read from the right, past every trusted hop (header comment). */
  #clientOf (address: string, header: HeaderOf): string {
    if (this.#proxies.length === 0 || !this.#trusted(address)) return address
    const hops = (header('x-forwarded-for') ?? '').split(',').map((h) => h.trim()).filter((h) => h !== '')
    let client = address
    for (let i = hops.length - 1; i >= 0; i--) {
      // An entry that is not an address ends the chain: the hop that added it is the last one known.
      if (!ipaddr.isValid(hops[i])) break
      client = ipaddr.process(hops[i]).toString()
      if (!this.#trusted(client)) break
    }
    return client
  }

  #trusted (address: string): boolean {
    if (!ipaddr.isValid(address)) return false
    const a = ipaddr.process(address) // an IPv4-mapped IPv6 address is the IPv4 address it is
    return this.#proxies.some(([net, bits]) => net.kind() === a.kind() && a.match(net, bits))
  }

  /** Refusals before tokens: a Host the server does not answer to; a write sent by a page of another site. */
  screen (method: string, header: HeaderOf): EarshotError | undefined {
    const host = this.#origins.checkHost(header('host'))
    if (host || SAFE_METHODS.has(method)) return host
    const foreign = this.#origins.foreign(header)
    return foreign === undefined ? undefined : earshotError('EAR_ERR_CROSS_ORIGIN', foreign)
  }

  /**
   * A WebSocket upgrade: its peer, or the error to refuse it with. A page of another site may stream only where
   * tokens are configured (its token then decides, and it is never local): on a server without tokens a stream
   * needs nothing, and another site's page must not use the server through its visitor's browser.
   */
  admit (address: string, header: HeaderOf): Peer | EarshotError {
    const host = this.#origins.checkHost(header('host'))
    if (host) return host
    const foreign = this.#origins.foreign(header)
    if (foreign !== undefined && !this.guarded) return earshotError('EAR_ERR_CROSS_ORIGIN', `${foreign}; this server has no tokens`)
    return this.peerOf(address, header)
  }

  /** Undefined when a request with `token` from `peer` may use a route of `level`; else the error to answer. */
  check (level: AccessLevel, token: string | undefined, peer: Peer): EarshotError | undefined {
    if (level === 'public') return undefined
    const role = this.roleOf(token)
    if (role === undefined) return earshotError('EAR_ERR_UNAUTHORIZED', 'the token is not one this server knows')
    if (level === 'client') {
      if (!this.guarded || role !== 'anonymous') return undefined
      // With no admin token, a local peer is the administrator (below), and an administrator may do what a client may.
      if (this.#admin.length === 0 && peer.local) return undefined
      return earshotError('EAR_ERR_UNAUTHORIZED', 'send Authorization: Bearer TOKEN')
    }
    if (role === 'admin') return undefined
    if (this.#admin.length === 0) {
      if (peer.local) return undefined
      return earshotError('EAR_ERR_FORBIDDEN', this.#loopbackIsAdmin
        ? 'no admin token is configured, so writes are accepted only from this machine (not through a proxy, nor from a page of another site)'
        : 'no admin token is configured and access.loopbackIsAdmin is false: configure an admin token')
    }
    if (role === 'anonymous') return earshotError('EAR_ERR_UNAUTHORIZED', 'this needs an admin token')
    return earshotError('EAR_ERR_FORBIDDEN', 'this needs an admin token; a client token may stream, identify and read')
  }

  /** Whether a stream with `token` from `peer` may write the play log: an admin (token or local) or a play-log token. */
  mayLogPlays (token: string | undefined, peer: Peer): boolean {
    if (token === undefined || token === '') return this.#admin.length === 0 && peer.local
    const d = digest(token)
    return holds(this.#admin, d) || holds(this.#playLog, d)
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

/** Whether `digests` holds `d`, compared in constant time. */
function holds (digests: readonly Buffer[], d: Buffer): boolean {
  return digests.some((x) => timingSafeEqual(x, d))
}

// Compare fixed-length digests, so timingSafeEqual works and the comparison leaks nothing about length.
function digest (token: string): Buffer {
  return createHash('sha256').update(token).digest()
}
