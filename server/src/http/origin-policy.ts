/**
 * Which names the server answers to, and which browser pages count as its own: the defence against other web pages
 * using a server on the same machine or network through the browser of someone who can reach it.
 *
 *   Host    `localhost` (and `*.localhost`, which browsers resolve to loopback themselves), any IP address, or a name
 *           in access.publicNames. Any other name was pointed at this machine by someone else's DNS (rebinding), so
 *           its page would count as same-origin: refused with EAR_ERR_HOST_NOT_ALLOWED. An IP address cannot be
 *           rebound, so it needs no listing (a LAN user may type the server's address).
 *   Origin  a page is the server's own when its origin's host:port is the request's Host, its host is a public name
 *           (behind a reverse proxy the Host may be the proxy's upstream address), or it is listed in
 *           access.allowedOrigins. Without Origin, `Sec-Fetch-Site: cross-site | same-site` says the same. Any other
 *           page is foreign. Programs (the CLI, SDKs, curl) send neither header.
 */
import net from 'node:net'
import type { AccessSettings } from '../config/defaults.js'
import { earshotError, type EarshotError } from '../errors.js'

/** A request header by lower-case name. */
export type HeaderOf = (name: string) => string | undefined

export class OriginPolicy {
  readonly #names: ReadonlySet<string>
  readonly #origins: ReadonlySet<string>

  constructor (settings: Pick<AccessSettings, 'publicNames' | 'allowedOrigins'>) {
    this.#names = new Set(settings.publicNames.map((n) => n.toLowerCase()))
    this.#origins = new Set(settings.allowedOrigins)
  }

  /** Undefined when `host` (a Host header) names this server; a missing Host (HTTP/1.0, no browser) passes. */
  checkHost (host: string | undefined): EarshotError | undefined {
    if (host === undefined) return undefined
    const name = parseHost(host)?.hostname
    if (name !== undefined && (net.isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || this.#names.has(name))) return undefined
    return earshotError('EAR_ERR_HOST_NOT_ALLOWED', JSON.stringify(host.slice(0, 100)))
  }

  /** The page a request comes from when it is not one of the server's own; undefined for own pages and programs. */
  foreign (header: HeaderOf): string | undefined {
    const origin = header('origin')
    if (origin === undefined) {
      const site = header('sec-fetch-site')
      return site === 'cross-site' || site === 'same-site' ? `Sec-Fetch-Site: ${site}` : undefined
    }
    if (this.#origins.has(origin)) return undefined
    let u: URL | undefined
    try { u = new URL(origin) } catch {} // "null": a sandboxed frame, a file, a redirect across sites
    const host = header('host')
    if (u && ((host !== undefined && u.host === parseHost(host)?.host) || this.#names.has(u.hostname))) return undefined
    return `Origin ${origin.slice(0, 100)}`
  }
}

/**
 * A Host header as a URL would hold it: `host` (name:port, as an origin's) and `hostname` (lower case, without port,
 * brackets or a trailing dot); undefined when malformed.
 */
function parseHost (host: string): { host: string, hostname: string } | undefined {
  try {
    const u = new URL(`http://${host}`)
    return { host: u.host, hostname: u.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '') }
  } catch {
    return undefined
  }
}
