import t from 'tap'
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describeError, EarshotError, earshotError, errorCatalogue, wrapError, type ErrorCode } from '../server/src/errors.js'

const ERRORS_MD = fileURLToPath(new URL('../../docs/ERRORS.md', import.meta.url))

t.test('docs/ERRORS.md lists every code, and only those', async (t) => {
  const documented = [...fs.readFileSync(ERRORS_MD, 'utf8').matchAll(/^\| `(EAR_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1])
  t.same([...documented].sort(), Object.keys(errorCatalogue).sort())
  t.equal(new Set(documented).size, documented.length, 'no code twice')
})

t.test('an EarshotError carries its code, message and name', async (t) => {
  const err = earshotError('EAR_ERR_TRACK_NOT_FOUND', 42)
  t.ok(err instanceof EarshotError)
  t.ok(err instanceof Error)
  t.equal(err.code, 'EAR_ERR_TRACK_NOT_FOUND')
  t.equal(err.message, 'No track with id 42')
  t.equal(err.name, 'RangeError [EAR_ERR_TRACK_NOT_FOUND]', 'the name gives the built-in class and the code')
  t.equal(earshotError('EAR_ERR_INDEX_FORMAT', '/db', 2, 1, 'index the music again').message, 'The index at /db has format version 2; this earshot reads version 1: index the music again')
  t.equal(earshotError('EAR_ERR_INDEX_FORMAT', '/db').message, 'The index at /db has format version ; this earshot reads version : ', 'missing arguments are empty')
})

t.test('every catalogued message fills its placeholders', async (t) => {
  for (const code of Object.keys(errorCatalogue) as ErrorCode[]) {
    const err = earshotError(code, 'A', 'B', 'C')
    t.notMatch(err.message, '%s', code)
    t.equal(err.name, `${errorCatalogue[code].Base.name} [${code}]`)
  }
})

t.test('describeError: one line, code first, with the cause', async (t) => {
  t.equal(describeError(earshotError('EAR_ERR_FILE_EMPTY', 'a.wav')), 'EAR_ERR_FILE_EMPTY: File is empty: a.wav')
  const wrapped = wrapError('EAR_ERR_NOT_AUDIO', new Error('Unknown audio format'), 'x.mp3')
  t.equal(wrapped.cause instanceof Error && wrapped.cause.message, 'Unknown audio format')
  t.equal(describeError(wrapped), 'EAR_ERR_NOT_AUDIO: Not audio, or a format earshot cannot decode: x.mp3: Unknown audio format')
  t.equal(describeError(new TypeError('boom')), 'EAR_ERR_INTERNAL: boom', 'anything else is internal')
  t.equal(describeError('just a string'), 'EAR_ERR_INTERNAL: just a string')
})
