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
