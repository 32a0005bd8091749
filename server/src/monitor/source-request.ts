/**
 * The HTTP client of a monitored stream: one GET, its redirects, and the answer of a SHOUTcast v1 server, up to a
 * 2xx response whose body the connection then reads. Apart from the connection because none of this depends on
 * what the body holds.
 *
 * node:http, so the body streams with backpressure; `Icy-MetaData: 0` keeps in-band title blocks out of the audio;
 * up to 5 redirects, each URL checked as the first was (source-url.ts) and every address by the address policy. An
 * `ICY 200 OK` answer (SHOUTcast v1) is one node's parser refuses, and ffmpeg reads: it is reported as such.
 */
import http from 'node:http'
import https from 'node:https'
import { oneLine } from '../errors.js'
import type { AddressPolicy } from '../net/address-policy.js'
import { validateSourceUrl } from './source-url.js'

/** What a request reports, once: one of these, and nothing after close(). */
export interface SourceRequestHandlers {
  /** A 2xx answer, after any redirects: its body is the receiver's to read and to destroy. */
  response (res: http.IncomingMessage): void
  /** A SHOUTcast v1 server answered (`ICY 200 OK`): ffmpeg must fetch the URL itself. The request is closed. */
  icy (): void
  /** No usable answer: why, one line. */
  failed (reason: string): void
}

export interface SourceRequestOptions {
  /** From the request to the response headers, redirects included. */
  connectTimeoutMs: number
  /** Checks the address of the first connection and of every redirect; null: any address. */
  addressPolicy: AddressPolicy | null
}

const MAX_REDIRECTS = 5
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])
const USER_AGENT = 'earshot'
/** A status message from a remote server goes into messages at most this long. */
const MAX_STATUS_MESSAGE_CHARS = 60

export class SourceRequest {
  readonly #options: SourceRequestOptions
  readonly #handlers: SourceRequestHandlers
  #url: URL
  #req: http.ClientRequest | undefined
  #timer: NodeJS.Timeout | undefined
  #closed = false

  constructor (url: URL, options: SourceRequestOptions, handlers: SourceRequestHandlers) {
    this.#url = url
    this.#options = options
    this.#handlers = handlers
  }

  /** The URL asked last: the first one, or where the redirects led. */
  get url (): URL { return this.#url }

  start (): void {
    this.#timer = setTimeout(() => this.#fail(`no response within ${this.#options.connectTimeoutMs} ms`), this.#options.connectTimeoutMs)
    this.#request(0)
  }

  /** Abort the request, and report nothing more. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#timer)
    const req = this.#req
    this.#req = undefined
    req?.destroy()
  }

  #fail (reason: string): void {
    if (this.#closed) return
    this.close()
    this.#handlers.failed(reason)
  }

  #request (redirects: number): void {
    const url = this.#url
    const get = url.protocol === 'https:' ? https.get : http.get
    const policy = this.#options.addressPolicy // an address here; a name in its lookup, as it resolves
    const refused = policy?.literalRefusal(url.hostname)
    if (refused) { this.#fail(`cannot connect: ${refused.message}`); return }
    const req = get(url, { agent: false, lookup: policy?.lookup, headers: { 'Icy-MetaData': '0', 'User-Agent': USER_AGENT, Accept: '*/*' } })
    this.#req = req
    req.on('error', (err) => {
      if (req !== this.#req) return
      if (isIcyAnswer(err)) {
        this.close()
        this.#handlers.icy()
      } else {
        this.#fail(`cannot connect: ${err.message}`)
      }
    })
    req.on('response', (res) => {
      if (req !== this.#req) { res.destroy(); return }
      this.#onResponse(res, redirects)
    })
  }

  #onResponse (res: http.IncomingMessage, redirects: number): void {
    const status = res.statusCode ?? 0
    const location = res.headers.location
    if (REDIRECT_STATUSES.has(status) && location) {
      res.on('error', () => {}) // its body is not wanted
      res.destroy()
      if (redirects >= MAX_REDIRECTS) { this.#fail(`more than ${MAX_REDIRECTS} redirects`); return }
      let next: URL
      try {
        next = new URL(location, this.#url)
      } catch {
        this.#fail(`HTTP ${status} redirects to an invalid URL`)
        return
      }
      const invalid = validateSourceUrl(next.href)
      if (invalid) { this.#fail(`HTTP ${status} redirects to a URL that cannot be monitored: ${invalid}`); return }
      this.#url = next
      this.#request(redirects + 1)
      return
    }
    clearTimeout(this.#timer)
    if (status < 200 || status >= 300) { // 4xx and 5xx, and a 3xx without a Location
      res.on('error', () => {}) // its body is not wanted
      res.destroy()
      this.#fail(`HTTP ${status}${res.statusMessage ? ` ${oneLine(res.statusMessage).slice(0, MAX_STATUS_MESSAGE_CHARS)}` : ''}`)
      return
    }
    this.#handlers.response(res)
  }
}

/** node's HTTP parser failing on a SHOUTcast v1 answer (`ICY 200 OK` instead of `HTTP/1.0 200 OK`). */
function isIcyAnswer (err: Error): boolean {
  const raw = (err as { rawPacket?: unknown }).rawPacket
  return (err as NodeJS.ErrnoException).code === 'HPE_INVALID_CONSTANT' && Buffer.isBuffer(raw) && raw.toString('latin1', 0, 4) === 'ICY '
}
