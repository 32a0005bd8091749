/**
 * Webhook signatures: consumes a shared secret and the raw body bytes of a webhook request, produces the
 * `x-earshot-signature` header value, `sha256=` + lowercase hex HMAC-SHA256(secret, body), and checks one.
 * Receivers verify the bytes they received, before parsing them: re-serialised JSON may differ from what was signed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

/** The request header that carries the signature. */
export const SIGNATURE_HEADER = 'x-earshot-signature'

const SIGNATURE_PREFIX = 'sha256='
/** A well-formed header: the prefix and 32 bytes as hex (either case). */
const SIGNATURE_PATTERN = /^sha256=[0-9a-fA-F]{64}$/

function hmac (secret: string, body: string | Uint8Array): Buffer {
  // A string body is hashed as its UTF-8 bytes, which is what fetch sends for it.
  return createHmac('sha256', secret).update(body).digest()
}

/** The signature header value of a body: `sha256=` + lowercase hex HMAC-SHA256(secret, body). */
export function signBody (secret: string, body: string | Uint8Array): string {
  return SIGNATURE_PREFIX + hmac(secret, body).toString('hex')
}

/**
 * Whether `header` is the signature of `body` under `secret`. A missing or malformed header is false, never an
 * exception. The digests are compared in constant time, so the time taken says nothing about how much matched.
 */
export function verifySignature (secret: string, body: string | Uint8Array, header: string | undefined): boolean {
  if (typeof header !== 'string' || !SIGNATURE_PATTERN.test(header)) return false
  const given = Buffer.from(header.slice(SIGNATURE_PREFIX.length), 'hex')
  return timingSafeEqual(given, hmac(secret, body))
}
