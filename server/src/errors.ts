/**
 * The server's side of the error catalogue (protocol/src/errors.ts, shared with the SDKs): how an error reads for a
 * user, in one line.
 */
import { EarshotError } from '../../protocol/src/errors.js'

export { EarshotError, earshotError, errorCatalogue, errorMessage, httpStatus, wrapError, type ErrorCode } from '../../protocol/src/errors.js'

/** The one-line text a user sees for any error. */
export function describeError (err: unknown): string {
  if (err instanceof EarshotError) {
    const inner = err.cause
    const cause = inner instanceof EarshotError ? `: ${inner.code}: ${inner.message}` : inner instanceof Error ? `: ${inner.message}` : ''
    return `${err.code}: ${err.message}${cause}`
  }
  return `EAR_ERR_INTERNAL: ${err instanceof Error ? err.message : String(err)}`
}

/** Reasons longer than this are cut, so that a status line (a monitor's lastError) stays one readable line. */
const MAX_REASON_CHARS = 300

/** `s` as one line of at most MAX_REASON_CHARS: runs of white space (line breaks too) become one space. */
export function oneLine (s: string): string {
  const line = s.replace(/\s+/g, ' ').trim()
  return line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS - 1)}…` : line
}
