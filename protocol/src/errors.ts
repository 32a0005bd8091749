/**
 * The error catalogue of earshot: server, protocol and both SDKs. Every error has a stable `EAR_ERR_*` code, a message
 * template (`%s` filled in order), the built-in class it extends, the HTTP status the API answers it with (`status`)
 * and, for errors sent on a stream, the WebSocket close code that ends the session (`close`; 0: the session goes on).
 * Users see `code: message`, never a stack trace. docs/ERRORS.md lists every code and protocol/README.md the stream's
 * (tests check both tables). EAR_ERR_INTERNAL stands for anything uncatalogued: a bug to report.
 */

export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  UNSUPPORTED_DATA: 1003,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  TRY_AGAIN_LATER: 1013,
})

export type ErrorClass = 'Error' | 'TypeError' | 'RangeError'

interface ErrorSpec {
  readonly message: string
  readonly class: ErrorClass
  /** The HTTP status the API answers the error with; none for errors of a stream or of an SDK only. */
  readonly status?: number
  /** For errors sent on a stream: the close code that ends the session, 0 when it goes on. */
  readonly close?: number
}

export const errorCatalogue = {
  EAR_ERR_USAGE: { message: 'Bad command line: %s', class: 'TypeError', status: 400 },
  EAR_ERR_CONFIG: { message: 'Bad configuration: %s', class: 'TypeError', status: 500 },
  EAR_ERR_FILE_NOT_FOUND: { message: 'No such file or folder: %s', class: 'Error', status: 400 },
  EAR_ERR_FILE_UNREADABLE: { message: 'Cannot read %s', class: 'Error', status: 400 },
  EAR_ERR_FILE_EMPTY: { message: 'File is empty: %s', class: 'Error', status: 400 },
  EAR_ERR_NOT_AUDIO: { message: 'Not audio, or a format earshot cannot decode: %s', class: 'TypeError', status: 415 },
  EAR_ERR_AUDIO_TOO_SHORT: { message: 'Too little audio to fingerprint (%s)', class: 'RangeError', status: 422 },
  EAR_ERR_AUDIO_TOO_LONG: { message: 'Audio is longer than a track may be (%s)', class: 'RangeError', status: 413 },
  EAR_ERR_INDEX_OPEN: { message: 'Cannot open the index at %s', class: 'Error', status: 503 },
  EAR_ERR_INDEX_PARAMS: { message: 'The index at %s was built with other fingerprint parameters (%s): hashes cannot be converted, index the audio again into a new folder', class: 'Error', status: 500 },
  EAR_ERR_INDEX_FORMAT: { message: 'The index at %s has format version %s; this earshot reads version %s: %s', class: 'Error', status: 500 },
  EAR_ERR_STATE_FORMAT: { message: 'The server state (%s) has format version %s; this earshot reads version %s', class: 'Error', status: 500 },
  EAR_ERR_CLUSTER: { message: 'Cluster: %s', class: 'Error', status: 503 },
  EAR_ERR_CATALOG_PUBLISHED: { message: 'This server is a node of a cluster, whose catalog changes only by earshot publish: build the index on one machine, then publish it', class: 'Error', status: 409 },
  EAR_ERR_TRACK_NOT_FOUND: { message: 'No track with id %s', class: 'RangeError', status: 404 },
  EAR_ERR_BAD_METADATA: { message: 'Bad track metadata: %s', class: 'TypeError', status: 400 },
  EAR_ERR_IMPORT: { message: 'Cannot import %s', class: 'Error', status: 400 },
  EAR_ERR_CONNECT: { message: 'Cannot reach the server at %s', class: 'Error', status: 502 },
  EAR_ERR_SOURCE: { message: 'Cannot read the audio source %s', class: 'Error', status: 502 },
  EAR_ERR_NOT_FOUND: { message: 'No route %s', class: 'Error', status: 404 },
  EAR_ERR_METHOD: { message: '%s is not allowed on %s', class: 'Error', status: 405 },
  EAR_ERR_UPGRADE_REQUIRED: { message: 'Connect to %s with a WebSocket', class: 'Error', status: 426 },
  EAR_ERR_UNAUTHORIZED: { message: 'Missing or unknown token: %s', class: 'Error', status: 401, close: CloseCode.POLICY },
  EAR_ERR_FORBIDDEN: { message: 'Not allowed: %s', class: 'Error', status: 403 },
  EAR_ERR_BAD_JSON: { message: 'The body is not valid JSON: %s', class: 'TypeError', status: 400 },
  EAR_ERR_BAD_REQUEST: { message: 'Bad request: %s', class: 'TypeError', status: 400 },
  EAR_ERR_CONTENT_TYPE: { message: 'Unsupported content type %s; send %s', class: 'TypeError', status: 415 },
  EAR_ERR_BODY_TOO_LARGE: { message: 'The body is larger than the limit of %s bytes', class: 'RangeError', status: 413 },
  EAR_ERR_BODY_TIMEOUT: { message: 'The body did not arrive within %s ms', class: 'Error', status: 408 },
  EAR_ERR_RATE_LIMITED: { message: 'Too many requests; retry in %s s', class: 'RangeError', status: 429, close: CloseCode.TRY_AGAIN_LATER },
  EAR_ERR_BAD_CURSOR: { message: 'The cursor %s is not one this server gave out', class: 'TypeError', status: 400 },
  EAR_ERR_MONITOR_NOT_FOUND: { message: 'No monitor with id %s', class: 'RangeError', status: 404 },
  EAR_ERR_MONITOR_EXISTS: { message: 'A monitor of %s exists already (id %s)', class: 'Error', status: 409 },
  EAR_ERR_TOO_MANY_MONITORS: { message: 'The server holds its maximum of %s monitors', class: 'RangeError', status: 409 },
  EAR_ERR_JOB_NOT_FOUND: { message: 'No job with id %s', class: 'RangeError', status: 404 },
  EAR_ERR_API: { message: 'The server answered %s', class: 'Error', status: 502 },
  EAR_ERR_INTERNAL: { message: 'Internal error: %s', class: 'Error', status: 500, close: CloseCode.INTERNAL },
  EAR_ERR_DATA_LOCKED: { message: 'The data folder %s is in use by another earshot server (pid %s, port %s, started %s)', class: 'Error', status: 409 },
  EAR_ERR_LISTEN: { message: 'Cannot listen on %s: %s', class: 'Error', status: 500 },
  EAR_ERR_TLS: { message: 'Cannot serve TLS: %s', class: 'Error', status: 500 },
  EAR_ERR_HEADERS_TOO_LARGE: { message: 'The request headers are larger than the limit of %s bytes', class: 'RangeError', status: 431 },
  EAR_ERR_ABORTED: { message: 'The client closed the connection before the whole body arrived', class: 'Error', status: 499 },
  EAR_ERR_FILE_NOT_REGULAR: { message: 'Not a regular file: %s is %s', class: 'TypeError', status: 400 },
  EAR_ERR_FILE_TOO_LARGE: { message: '%s holds %s bytes, more than the limit of %s', class: 'RangeError', status: 413 },
  EAR_ERR_FILE_LOOP: { message: 'Too many levels of symbolic links (a loop?) in %s', class: 'Error', status: 400 },
  EAR_ERR_FILE_DENIED: { message: 'Permission denied: %s', class: 'Error', status: 400 },
  EAR_ERR_AUDIO_TRUNCATED: { message: 'The audio is truncated or damaged: %s', class: 'RangeError', status: 422 },
  EAR_ERR_JOB_QUEUE_FULL: { message: 'The %s-job queue holds its maximum of %s waiting jobs; retry when one has run', class: 'RangeError', status: 503 },
  EAR_ERR_HOST_NOT_ALLOWED: { message: 'This server does not answer to the name %s; add it to access.publicNames', class: 'Error', status: 403 },
  EAR_ERR_CROSS_ORIGIN: { message: 'Not allowed from a page of another site (%s)', class: 'Error', status: 403 },
  EAR_ERR_ADDRESS_NOT_ALLOWED: { message: 'The server may not connect to %s: %s (allow it in network.allowedAddresses)', class: 'Error', status: 422 },
  EAR_ERR_DISK_FULL: { message: 'No space left to store %s', class: 'Error', status: 507 },
  EAR_ERR_INDEX_READ: { message: 'The index could not be read (a damaged page); restore it from an export (earshot import)', class: 'Error', status: 503 },
  // Sent on a stream: `close` is the WebSocket close code that ends the session (0: the session goes on).
  EAR_ERR_TEXT_FRAME: { message: 'Text frames are not part of the protocol; send binary frames', class: 'TypeError', close: CloseCode.UNSUPPORTED_DATA },
  EAR_ERR_BAD_FRAME: { message: 'A frame must start with 0x01 (control) or 0x02 (audio)', class: 'TypeError', close: 0 },
  EAR_ERR_BAD_MESSAGE: { message: 'The control message is not a valid msgpack map with a known type', class: 'TypeError', close: 0 },
  EAR_ERR_PROTOCOL_VERSION: { message: 'Unsupported protocol version', class: 'RangeError', close: CloseCode.POLICY },
  EAR_ERR_BAD_HELLO: { message: 'The hello message is invalid', class: 'TypeError', close: CloseCode.POLICY },
  EAR_ERR_HELLO_REQUIRED: { message: 'Send hello before audio or other messages', class: 'Error', close: CloseCode.POLICY },
  EAR_ERR_HELLO_TWICE: { message: 'hello was already received', class: 'Error', close: 0 },
  EAR_ERR_HELLO_TIMEOUT: { message: 'No hello in time', class: 'Error', close: CloseCode.POLICY },
  EAR_ERR_AUDIO_ALIGNMENT: { message: 'Audio byte count is not a whole number of sample frames', class: 'RangeError', close: 0 },
  EAR_ERR_AUDIO_INVALID: { message: 'Audio holds NaN or infinite samples', class: 'RangeError', close: 0 },
  EAR_ERR_AUDIO_AFTER_FLUSH: { message: 'Audio after flush is ignored', class: 'Error', close: 0 },
  EAR_ERR_SESSION_TOO_LONG: { message: 'Session reached its maximum length', class: 'RangeError', close: CloseCode.POLICY },
  EAR_ERR_IDLE_TIMEOUT: { message: 'No audio within the idle timeout', class: 'Error', close: CloseCode.POLICY },
  EAR_ERR_TOO_MANY_SESSIONS: { message: 'The server holds its maximum number of sessions', class: 'RangeError', close: CloseCode.TRY_AGAIN_LATER },
  EAR_ERR_SLOW_CONSUMER: { message: 'The client does not read its messages', class: 'Error', close: CloseCode.POLICY },
  EAR_ERR_SHUTTING_DOWN: { message: 'The server is shutting down', class: 'Error', status: 503, close: CloseCode.GOING_AWAY },
  EAR_ERR_TOO_MANY_CONNECTIONS: { message: 'Too many connections from this address', class: 'RangeError', close: CloseCode.TRY_AGAIN_LATER },
  EAR_ERR_PLAY_LOG_FORBIDDEN: { message: 'This token may not write the play log (an admin token or one of access.playLogTokens may)', class: 'Error', close: CloseCode.POLICY },
  EAR_ERR_PLAY_LOG_LIMITED: { message: 'Too many plays; the play log skips this stream\'s plays for now', class: 'RangeError', close: 0 },
  // Raised by the browser SDK itself.
  EAR_ERR_MIC_DENIED: { message: 'The microphone was refused: %s', class: 'Error' },
  EAR_ERR_MIC_UNAVAILABLE: { message: 'No microphone can be used: %s', class: 'Error' },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof errorCatalogue

/** The codes a stream sends: those with a close code. */
export type ProtocolErrorCode = { [C in ErrorCode]: (typeof errorCatalogue)[C] extends { close: number } ? C : never }[ErrorCode]

/** The stream's codes with their close code and message (a view of the catalogue). */
export const protocolErrors = Object.freeze(Object.fromEntries(
  Object.entries(errorCatalogue).flatMap(([code, spec]) => 'close' in spec ? [[code, { close: spec.close, message: errorMessage(code as ErrorCode) }]] : []),
) as Record<ProtocolErrorCode, { readonly close: number, readonly message: string }>)

/**
 * A code's message with `args` in its placeholders, in order. A missing argument is empty, and a final ": %s" without
 * one is left out ("Internal error", not "Internal error: ").
 */
export function errorMessage (code: ErrorCode, ...args: readonly unknown[]): string {
  const template: string = errorCatalogue[code].message
  const last = template.endsWith(': %s') && args.length < template.split('%s').length - 1 ? template.slice(0, -4) : template
  let i = 0
  return last.replace(/%s/g, () => String(args[i++] ?? ''))
}

/** The HTTP status the API answers a code with (500 for a code it never answers with). */
export function httpStatus (code: ErrorCode): number {
  return (errorCatalogue[code] as ErrorSpec).status ?? 500
}

/** Marks earshot's errors, whichever built-in class they extend (Symbol.for: one mark across copies of the code). */
const kEarshot = Symbol.for('earshot.error')

/**
 * An error of the catalogue. `new EarshotError(code, …)` gives an instance of the code's built-in class (a RangeError
 * for EAR_ERR_TRACK_NOT_FOUND: `instanceof RangeError` holds) that is also `instanceof EarshotError`.
 */
export class EarshotError extends Error {
  declare readonly code: ErrorCode

  constructor (code: ErrorCode, args: readonly unknown[] = [], options?: { cause?: unknown }) {
    super()
    return create(code, errorMessage(code, ...args), options)
  }

  static override [Symbol.hasInstance] (x: unknown): x is EarshotError {
    return typeof x === 'object' && x !== null && (x as { [kEarshot]?: boolean })[kEarshot] === true
  }
}

/** One class per built-in class, each marked as earshot's. */
const classes = {
  Error: class extends Error {},
  TypeError: class extends TypeError {},
  RangeError: class extends RangeError {},
} satisfies Record<ErrorClass, new (message?: string, options?: { cause?: unknown }) => Error>
for (const C of Object.values(classes)) Object.defineProperty(C.prototype, kEarshot, { value: true })

function create (code: ErrorCode, message: string, options?: { cause?: unknown }): EarshotError {
  const base = errorCatalogue[code].class
  const err = new classes[base](message, options) as Error & { code: ErrorCode }
  err.code = code
  err.name = `${base} [${code}]`
  return err as EarshotError
}

/** Create the catalogued error for a code, with the message filled in. */
export function earshotError (code: ErrorCode, ...args: unknown[]): EarshotError {
  return create(code, errorMessage(code, ...args))
}

/** Wrap a lower-level error, keeping it as `cause`. */
export function wrapError (code: ErrorCode, cause: unknown, ...args: unknown[]): EarshotError {
  return create(code, errorMessage(code, ...args), { cause })
}

/**
 * The error a client reports for an `error` message of the server: the code's class with the server's own message
 * (an SDK may meet a code newer than itself: an Error then).
 */
export function errorFromServer (code: string, message: string): EarshotError | (Error & { code: string }) {
  if (code in errorCatalogue) return create(code as ErrorCode, message)
  return Object.assign(new Error(message), { code, name: `Error [${code}]` })
}
