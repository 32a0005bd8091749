/**
 * Which addresses the server itself may connect to (monitor sources, webhooks): public unicast addresses, plus the
 * ranges and host names the operator allows. Everything else (loopback, private, link-local, carrier-grade NAT,
 * unique-local, multicast, reserved, and IPv6 forms that embed an IPv4 address) is refused, so a URL given to the API
 * cannot reach the server's own machine or network (SSRF) or scan its ports through a monitor's lastError.
 *
 * A host name is checked twice: when the URL is given (`checkUrl`: every address it resolves to), and on every
 * connection (`lookup` for node:http, `dispatcher` for fetch), because DNS can answer differently the second time
 * (rebinding). The connection uses exactly the addresses that were checked.
 *
 *   allowed entries   '192.168.1.0/24', '127.0.0.1/32', '::1/128' (ranges), '10.0.0.7' (one address),
 *                     'radio.lan' (a host name: any address it resolves to)
 */
import dns from 'node:dns'
import type { LookupFunction } from 'node:net'
import ipaddr from 'ipaddr.js'
import type { Agent } from 'undici'
import { earshotError, type EarshotError } from '../errors.js'

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number]

export class AddressPolicy {
  readonly #ranges: Range[] = []
  readonly #names = new Set<string>()
  #dispatcher: Promise<Agent> | undefined

  /**
   * @param allowed ranges, addresses and host names that may be connected to although they are not public
   * @throws EAR_ERR_CONFIG for an entry that is none of these
   */
  constructor (allowed: readonly string[]) {
    for (const entry of allowed) {
      const e = entry.trim().toLowerCase()
      if (ipaddr.isValidCIDR(e)) {
        this.#ranges.push(ipaddr.parseCIDR(e))
      } else if (ipaddr.isValid(e)) {
        const a = ipaddr.parse(e)
        this.#ranges.push([a, a.kind() === 'ipv4' ? 32 : 128])
      } else if (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(e) && !e.includes('..')) {
        this.#names.add(e)
      } else {
        throw earshotError('EAR_ERR_CONFIG', `network.allowedAddresses: ${JSON.stringify(entry)} is not an address, a range (a.b.c.d/n) or a host name`)
      }
    }
  }

  /** Why `address` (an IP address as text) may not be connected to for `host`; undefined when it may. */
  refusal (address: string, host: string = address): EarshotError | undefined {
    if (this.#names.has(bare(host))) return undefined
    if (!ipaddr.isValid(address)) return earshotError('EAR_ERR_ADDRESS_NOT_ALLOWED', host, `${address} is not an IP address`)
    const a = ipaddr.process(address) // an IPv4-mapped IPv6 address is checked as the IPv4 address it is
    const range = a.range()
    if (range === 'unicast') return undefined
    if (this.#ranges.some(([net, bits]) => net.kind() === a.kind() && a.match(net, bits))) return undefined
    return earshotError('EAR_ERR_ADDRESS_NOT_ALLOWED', host, `${a.toString()} is ${range}`)
  }

  /** For a URL's hostname at connect time: the refusal of an IP address; undefined for a name (`lookup` checks it). */
  literalRefusal (hostname: string): EarshotError | undefined {
    const host = bare(hostname)
    return ipaddr.isValid(host) ? this.refusal(host) : undefined
  }

  /**
   * When a URL is given: resolve its host and check every address. A name that does not resolve now is left to
   * connect time (a source may be down for a while). @throws EAR_ERR_ADDRESS_NOT_ALLOWED
   */
  async checkUrl (url: string): Promise<void> {
    const host = bare(new URL(url).hostname)
    if (this.#names.has(host)) return
    if (ipaddr.isValid(host)) { throwIf(this.literalRefusal(host)); return }
    let addresses: dns.LookupAddress[]
    try {
      addresses = await dns.promises.lookup(host, { all: true })
    } catch {
      return
    }
    for (const { address } of addresses) throwIf(this.refusal(address, host))
  }

  /**
   * dns.lookup for net.connect and node:http's `lookup` option: fails with EAR_ERR_ADDRESS_NOT_ALLOWED when any
   * address of the name is refused. node does not call it for an IP literal: check those with `refusal` first.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) { callback(err, '', 0); return }
      for (const { address } of addresses) {
        const refused = this.refusal(address, hostname)
        if (refused) { callback(refused, '', 0); return }
      }
      if (options.all) (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses)
      else callback(null, addresses[0].address, addresses[0].family)
    })
  }

  /**
   * An undici dispatcher (for fetch's `dispatcher` option) whose every connection goes through this policy. undici is
   * loaded on first use: it is a tenth of a server's start-up, and a server without webhooks never needs it.
   */
  async dispatcher (): Promise<Agent> {
    this.#dispatcher ??= import('undici').then(({ Agent, buildConnector }) => {
      const connect = buildConnector({ lookup: this.lookup })
      return new Agent({
        connect: (options, callback) => {
          const refused = this.literalRefusal(options.hostname)
          if (refused) callback(refused, null)
          else connect(options, callback)
        },
      })
    })
    return await this.#dispatcher
  }
}

/** A URL's hostname without the brackets of an IPv6 literal and without a trailing dot. */
function bare (hostname: string): string {
  return hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase()
}

function throwIf (err: EarshotError | undefined): void {
  if (err) throw err
}
