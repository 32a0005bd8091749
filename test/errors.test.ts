import t from 'tap'
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describeError, EarshotError, earshotError, errorCatalogue, errorMessage, httpStatus, wrapError, type ErrorCode } from '../server/src/errors.js'
import { errorFromServer, protocolErrors } from '../protocol/src/errors.js'

const ERRORS_MD = fileURLToPath(new URL('../../docs/ERRORS.md', import.meta.url))

t.test('docs/ERRORS.md lists every code but the stream\'s own (protocol/README.md has those), and only those', async (t) => {
  const documented = [...fs.readFileSync(ERRORS_MD, 'utf8').matchAll(/^\| `(EAR_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1])
  const streamOnly = (code: string): boolean => {
    const spec = errorCatalogue[code as ErrorCode] as { status?: number, close?: number }
    return spec.close !== undefined && spec.status === undefined
  }
  t.same([...documented].sort(), Object.keys(errorCatalogue).filter((c) => !streamOnly(c)).sort())
  t.equal(new Set(documented).size, documented.length, 'no code twice')
  t.ok(Object.keys(protocolErrors).length > 15 && Object.keys(protocolErrors).every(streamOnly) === false, 'some codes are in both tables')
})

t.test('an EarshotError carries its code, message and name', async (t) => {
  const err = earshotError('EAR_ERR_TRACK_NOT_FOUND', 42)
  t.ok(err instanceof EarshotError)
  t.ok(err instanceof Error)
  t.equal(err.code, 'EAR_ERR_TRACK_NOT_FOUND')
  t.equal(err.message, 'No track with id 42')
  t.equal(err.name, 'RangeError [EAR_ERR_TRACK_NOT_FOUND]', 'the name gives the built-in class and the code')
  t.ok(err instanceof RangeError, 'an instance of its built-in class')
  t.notOk(err instanceof TypeError)
  t.ok(new EarshotError('EAR_ERR_BAD_JSON', ['x']) instanceof TypeError, 'new EarshotError gives the code\'s class too')
  t.equal(new EarshotError('EAR_ERR_BAD_JSON', ['x']).message, 'The body is not valid JSON: x')
  t.notOk(new Error('x') instanceof EarshotError, 'a plain Error is not one')
  t.notOk(Object.assign(new Error('x'), { code: 'EAR_ERR_INTERNAL' }) instanceof EarshotError, 'nor one with a code')
  t.equal(earshotError('EAR_ERR_INDEX_FORMAT', '/db', 2, 1, 'index the music again').message, 'The index at /db has format version 2; this earshot reads version 1: index the music again')
  t.equal(earshotError('EAR_ERR_INDEX_FORMAT', '/db').message, 'The index at /db has format version ; this earshot reads version ', 'missing arguments are empty, a final ": %s" without one is left out')
  t.equal(errorMessage('EAR_ERR_INTERNAL'), 'Internal error')
  t.equal(errorMessage('EAR_ERR_INTERNAL', 'boom'), 'Internal error: boom')
  t.equal(errorMessage('EAR_ERR_RATE_LIMITED', 3), 'Too many requests; retry in 3 s')
})

t.test('every catalogued message fills its placeholders', async (t) => {
  for (const code of Object.keys(errorCatalogue) as ErrorCode[]) {
    const err = earshotError(code, 'A', 'B', 'C')
    t.notMatch(err.message, '%s', code)
    const spec = errorCatalogue[code] as { class: string, status?: number, close?: number }
    t.equal(err.name, `${spec.class} [${code}]`)
    t.ok(err instanceof (globalThis as unknown as Record<string, ErrorConstructor>)[spec.class], `${code} is a ${spec.class}`)
    t.ok(err instanceof EarshotError)
    t.ok(spec.status !== undefined || spec.close !== undefined || code.startsWith('EAR_ERR_MIC_'), `${code}: an HTTP status, a close code, or the browser SDK's own`)
    t.equal(httpStatus(code), spec.status ?? 500)
  }
})

t.test('protocolErrors: the stream\'s codes, with close codes and messages from the catalogue', async (t) => {
  for (const [code, spec] of Object.entries(errorCatalogue)) {
    const p = (protocolErrors as Record<string, { close: number, message: string }>)[code]
    if ('close' in spec) t.same(p, { close: spec.close, message: errorMessage(code as ErrorCode) }, code)
    else t.equal(p, undefined, `${code} is not a stream code`)
  }
})

t.test('errorFromServer: the code\'s class with the server\'s message; an unknown code gives an Error', async (t) => {
  const err = errorFromServer('EAR_ERR_TOO_MANY_SESSIONS', 'The server holds its maximum number of sessions: limit 2')
  t.ok(err instanceof RangeError)
  t.ok(err instanceof EarshotError)
  t.equal(err.code, 'EAR_ERR_TOO_MANY_SESSIONS')
  t.equal(err.message, 'The server holds its maximum number of sessions: limit 2')
  const newer = errorFromServer('EAR_ERR_FROM_THE_FUTURE', 'something new')
  t.ok(newer instanceof Error)
  t.notOk(newer instanceof EarshotError)
  t.same([newer.code, newer.message, newer.name], ['EAR_ERR_FROM_THE_FUTURE', 'something new', 'Error [EAR_ERR_FROM_THE_FUTURE]'])
})

t.test('describeError: one line, code first, with the cause', async (t) => {
  t.equal(describeError(earshotError('EAR_ERR_FILE_EMPTY', 'a.wav')), 'EAR_ERR_FILE_EMPTY: File is empty: a.wav')
  const wrapped = wrapError('EAR_ERR_NOT_AUDIO', new Error('Unknown audio format'), 'x.mp3')
  t.equal(wrapped.cause instanceof Error && wrapped.cause.message, 'Unknown audio format')
  t.equal(describeError(wrapped), 'EAR_ERR_NOT_AUDIO: Not audio, or a format earshot cannot decode: x.mp3: Unknown audio format')
  t.equal(describeError(new TypeError('boom')), 'EAR_ERR_INTERNAL: boom', 'anything else is internal')
  t.equal(describeError('just a string'), 'EAR_ERR_INTERNAL: just a string')
})
