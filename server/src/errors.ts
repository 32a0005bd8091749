/**
 * The error catalogue: every error earshot reports has a stable `EAR_ERR_*` code, a message and a built-in class.
 * Users see `code: message`, never a stack trace. The table in docs/ERRORS.md lists every code (a test checks it).
 * EAR_ERR_INTERNAL stands for anything uncatalogued: a bug to report.
 */

interface ErrorSpec {
  readonly message: string
  readonly Base: ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor
}

export const errorCatalogue = {
  EAR_ERR_USAGE: { message: 'Bad command line: %s', Base: TypeError },
  EAR_ERR_FILE_NOT_FOUND: { message: 'No such file or folder: %s', Base: Error },
  EAR_ERR_FILE_UNREADABLE: { message: 'Cannot read %s', Base: Error },
  EAR_ERR_FILE_EMPTY: { message: 'File is empty: %s', Base: Error },
  EAR_ERR_NOT_AUDIO: { message: 'Not audio, or a format earshot cannot decode: %s', Base: TypeError },
  EAR_ERR_AUDIO_TOO_SHORT: { message: 'Too little audio to fingerprint (%s)', Base: RangeError },
  EAR_ERR_AUDIO_TOO_LONG: { message: 'Audio is longer than the index can hold (%s)', Base: RangeError },
  EAR_ERR_INDEX_OPEN: { message: 'Cannot open the index at %s', Base: Error },
  EAR_ERR_INDEX_PARAMS: { message: 'The index at %s was built with other fingerprint parameters (%s)', Base: Error },
  EAR_ERR_INDEX_FORMAT: { message: 'The index at %s has format version %s; this earshot reads version %s', Base: Error },
  EAR_ERR_TRACK_NOT_FOUND: { message: 'No track with id %s', Base: RangeError },
  EAR_ERR_IMPORT: { message: 'Cannot import %s', Base: Error },
  EAR_ERR_CONNECT: { message: 'Cannot stream to %s', Base: Error },
  EAR_ERR_SOURCE: { message: 'Cannot read the audio source %s', Base: Error },
  EAR_ERR_INTERNAL: { message: 'Internal error: %s', Base: Error },
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
