/**
 * The error catalogue: every error earshot reports has a stable `EAR_ERR_*` code, a message and a built-in class.
 * Users see `code: message`, never a stack trace. The table in docs/ERRORS.md lists every code (a test checks it).
 * EAR_ERR_INTERNAL stands for anything uncatalogued: a bug to report.
 */

interface ErrorSpec {
  readonly message: string
  readonly Base: ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor
  /** The HTTP status the API answers the error with. */
  readonly status: number
}

export const errorCatalogue = {
  EAR_ERR_USAGE: { message: 'Bad command line: %s', Base: TypeError, status: 400 },
  EAR_ERR_CONFIG: { message: 'Bad configuration: %s', Base: TypeError, status: 500 },
  EAR_ERR_FILE_NOT_FOUND: { message: 'No such file or folder: %s', Base: Error, status: 400 },
  EAR_ERR_FILE_UNREADABLE: { message: 'Cannot read %s', Base: Error, status: 400 },
  EAR_ERR_FILE_EMPTY: { message: 'File is empty: %s', Base: Error, status: 400 },
  EAR_ERR_NOT_AUDIO: { message: 'Not audio, or a format earshot cannot decode: %s', Base: TypeError, status: 415 },
  EAR_ERR_AUDIO_TOO_SHORT: { message: 'Too little audio to fingerprint (%s)', Base: RangeError, status: 422 },
  EAR_ERR_AUDIO_TOO_LONG: { message: 'Audio is longer than a track may be (%s)', Base: RangeError, status: 413 },
  EAR_ERR_INDEX_OPEN: { message: 'Cannot open the index at %s', Base: Error, status: 503 },
  EAR_ERR_INDEX_PARAMS: { message: 'The index at %s was built with other fingerprint parameters (%s): hashes cannot be converted, index the audio again into a new folder', Base: Error, status: 500 },
  EAR_ERR_INDEX_FORMAT: { message: 'The index at %s has format version %s; this earshot reads version %s: %s', Base: Error, status: 500 },
  EAR_ERR_STATE_FORMAT: { message: 'The server state (%s) has format version %s; this earshot reads version %s', Base: Error, status: 500 },
  EAR_ERR_TRACK_NOT_FOUND: { message: 'No track with id %s', Base: RangeError, status: 404 },
  EAR_ERR_IMPORT: { message: 'Cannot import %s', Base: Error, status: 400 },
  EAR_ERR_CONNECT: { message: 'Cannot reach the server at %s', Base: Error, status: 502 },
  EAR_ERR_SOURCE: { message: 'Cannot read the audio source %s', Base: Error, status: 502 },
  EAR_ERR_NOT_FOUND: { message: 'No route %s', Base: Error, status: 404 },
  EAR_ERR_METHOD: { message: '%s is not allowed on %s', Base: Error, status: 405 },
  EAR_ERR_UPGRADE_REQUIRED: { message: 'Connect to %s with a WebSocket', Base: Error, status: 426 },
  EAR_ERR_UNAUTHORIZED: { message: 'Missing or unknown token%s', Base: Error, status: 401 },
  EAR_ERR_FORBIDDEN: { message: 'Not allowed: %s', Base: Error, status: 403 },
  EAR_ERR_BAD_JSON: { message: 'The body is not valid JSON: %s', Base: TypeError, status: 400 },
  EAR_ERR_BAD_REQUEST: { message: 'Bad request: %s', Base: TypeError, status: 400 },
  EAR_ERR_CONTENT_TYPE: { message: 'Unsupported content type %s; send %s', Base: TypeError, status: 415 },
  EAR_ERR_BODY_TOO_LARGE: { message: 'The body is larger than the limit of %s bytes', Base: RangeError, status: 413 },
  EAR_ERR_BODY_TIMEOUT: { message: 'The body did not arrive within %s ms', Base: Error, status: 408 },
  EAR_ERR_RATE_LIMITED: { message: 'Too many requests; retry in %s s', Base: RangeError, status: 429 },
  EAR_ERR_BAD_CURSOR: { message: 'The cursor %s is not one this server gave out', Base: TypeError, status: 400 },
  EAR_ERR_MONITOR_NOT_FOUND: { message: 'No monitor with id %s', Base: RangeError, status: 404 },
  EAR_ERR_MONITOR_EXISTS: { message: 'A monitor of %s exists already (id %s)', Base: Error, status: 409 },
  EAR_ERR_TOO_MANY_MONITORS: { message: 'The server holds its maximum of %s monitors', Base: RangeError, status: 409 },
  EAR_ERR_JOB_NOT_FOUND: { message: 'No index job with id %s', Base: RangeError, status: 404 },
  EAR_ERR_API: { message: 'The server answered %s', Base: Error, status: 502 },
  EAR_ERR_INTERNAL: { message: 'Internal error: %s', Base: Error, status: 500 },
  EAR_ERR_DATA_LOCKED: { message: 'The data folder %s is in use by another earshot server (pid %s, port %s, started %s)', Base: Error, status: 409 },
  EAR_ERR_LISTEN: { message: 'Cannot listen on %s: %s', Base: Error, status: 500 },
  EAR_ERR_HEADERS_TOO_LARGE: { message: 'The request headers are larger than the limit of %s bytes', Base: RangeError, status: 431 },
  EAR_ERR_ABORTED: { message: 'The client closed the connection before the whole body arrived', Base: Error, status: 499 },
  EAR_ERR_FILE_NOT_REGULAR: { message: 'Not a regular file: %s is %s', Base: TypeError, status: 400 },
  EAR_ERR_FILE_TOO_LARGE: { message: '%s holds %s bytes, more than the limit of %s', Base: RangeError, status: 413 },
  EAR_ERR_FILE_LOOP: { message: 'Too many levels of symbolic links (a loop?) in %s', Base: Error, status: 400 },
  EAR_ERR_FILE_DENIED: { message: 'Permission denied: %s', Base: Error, status: 400 },
  EAR_ERR_AUDIO_TRUNCATED: { message: 'The audio is truncated or damaged: %s', Base: RangeError, status: 422 },
  EAR_ERR_JOB_QUEUE_FULL: { message: 'The index-job queue holds its maximum of %s waiting jobs; retry when one has run', Base: RangeError, status: 503 },
  EAR_ERR_HOST_NOT_ALLOWED: { message: 'This server does not answer to the name %s; add it to access.publicNames', Base: Error, status: 403 },
  EAR_ERR_CROSS_ORIGIN: { message: 'Not allowed from a page of another site (%s)', Base: Error, status: 403 },
  EAR_ERR_ADDRESS_NOT_ALLOWED: { message: 'The server may not connect to %s: %s (allow it in network.allowedAddresses)', Base: Error, status: 422 },
  EAR_ERR_DISK_FULL: { message: 'No space left to store %s', Base: Error, status: 507 },
  EAR_ERR_INDEX_READ: { message: 'The index could not be read (a damaged page); restore it from an export (earshot import)', Base: Error, status: 503 },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof errorCatalogue

export class EarshotError extends Error {
  readonly code: ErrorCode

  constructor (code: ErrorCode, args: readonly unknown[] = [], options?: { cause?: unknown }) {
    let i = 0
    super(errorCatalogue[code].message.replace(/%s/g, () => String(args[i++] ?? '')), options)
    this.code = code
    this.name = `${errorCatalogue[code].Base.name} [${code}]`
  }
}

/** Create the catalogued error for a code, with the message filled in. */
export function earshotError (code: ErrorCode, ...args: unknown[]): EarshotError {
  return new EarshotError(code, args)
}

/** Wrap a lower-level error, keeping it as `cause`. */
export function wrapError (code: ErrorCode, cause: unknown, ...args: unknown[]): EarshotError {
  return new EarshotError(code, args, { cause })
}

/** The one-line text a user sees for any error. */
export function describeError (err: unknown): string {
  if (err instanceof EarshotError) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : ''
    return `${err.code}: ${err.message}${cause}`
  }
  return `EAR_ERR_INTERNAL: ${err instanceof Error ? err.message : String(err)}`
}
