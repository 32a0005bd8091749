import t from 'tap'
import { Type } from '@sinclair/typebox'
import { EarshotError } from '../../server/src/errors.js'
import { decoder, fromText, nonBlank, positiveId, text, time, timeField, uuid, withoutNulls } from '../../server/src/http/schemas.js'

// The checks every route's parameters, query and JSON body go through: conversion from text, defaults, formats, and
// EAR_ERR_BAD_REQUEST messages that name the field.

/** The message of the EAR_ERR_BAD_REQUEST `fn` throws. */
function refusal (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (err instanceof EarshotError && err.code === 'EAR_ERR_BAD_REQUEST') return err.message.replace(/^Bad request: /, '')
    throw err
  }
  throw new Error('not refused')
}

t.test('query values: numbers converted, defaults filled, empty numbers and times absent, unknown names ignored', async (t) => {
  const schema = Type.Object({
    q: Type.String({ default: '' }),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
    from: Type.Optional(time('From')),
  })
  const check = decoder(schema)
  const read = (query: string): unknown => check(fromText(schema, (n) => new URLSearchParams(query).get(n), false))
  t.same(read(''), { q: '', limit: 50 })
  t.same(read('limit=7&q=x&token=secret'), { q: 'x', limit: 7 })
  t.same(read('limit=&from='), { q: '', limit: 50 }, 'an empty number or time is absent')
  t.same(read('from=2024-03-02'), { q: '', limit: 50, from: Date.UTC(2024, 2, 2) }, 'a time is ms since 1970')
  t.same(read('from=1709337000000'), { q: '', limit: 50, from: 1709337000000 })
  t.equal(refusal(() => read('limit=0')), 'limit must be an integer from 1 to 1000')
  t.equal(refusal(() => read('limit=x')), 'limit must be an integer from 1 to 1000')
  t.equal(refusal(() => read('limit=1.5')), 'limit must be an integer from 1 to 1000')
  t.equal(refusal(() => read('from=-5')), 'from must be an ISO 8601 time or milliseconds since 1970, from 1970 to 9999')
  t.equal(refusal(() => read('from=10000-01-01')), 'from must be an ISO 8601 time or milliseconds since 1970, from 1970 to 9999')
})

t.test('path ids: decimal digits only; UUIDs lower-cased', async (t) => {
  const ids = Type.Object({ id: positiveId('Track id') })
  const readId = (raw: string): unknown => decoder(ids)(fromText(ids, () => raw, true))
  t.same(readId('42'), { id: 42 })
  for (const bad of ['0', '-1', '1.5', '1e3', ' 1', '0x10', '99999999999999999999', 'abc']) {
    t.equal(refusal(() => readId(bad)), 'id must be a positive integer', `${JSON.stringify(bad)} is refused`)
  }
  const uuids = Type.Object({ id: uuid('Monitor id') })
  const readUuid = (raw: string): unknown => decoder(uuids)(fromText(uuids, () => raw, true))
  t.same(readUuid('0000000A-0000-4000-8000-00000000000B'), { id: '0000000a-0000-4000-8000-00000000000b' })
  t.equal(refusal(() => readUuid('nope')), 'id must be a UUID')
})

t.test('JSON bodies: unknown fields named first, required, types, lengths, blank text; null is absent', async (t) => {
  const schema = Type.Object({
    url: nonBlank(20, 'A URL'),
    label: text(5, 'A label', { default: '' }),
    paths: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 3 })),
    from: Type.Optional(timeField('From', '2026-11-21T08:00:00Z')),
  }, { additionalProperties: false })
  const check = decoder(schema)
  const read = (body: Record<string, unknown>): unknown => check(withoutNulls(body))
  t.same(read({ url: 'http://x' }), { url: 'http://x', label: '' }, 'the default is filled in')
  t.same(read({ url: 'http://x', label: null, from: 0 }), { url: 'http://x', label: '', from: 0 }, 'null is absent; a time may be ms')
  t.same(read({ url: 'http://x', from: '1970-01-02' }), { url: 'http://x', label: '', from: 86_400_000 })
  t.equal(refusal(() => read({ bogus: 1 })), 'unknown field "bogus"; known: url, label, paths, from', 'an unknown field before a missing one')
  t.equal(refusal(() => read({})), 'url is required')
  t.equal(refusal(() => read({ url: 5 })), 'url must be a string')
  t.equal(refusal(() => read({ url: '   ' })), 'url must not be empty')
  t.equal(refusal(() => read({ url: 'x'.repeat(21) })), 'url is longer than 20 characters')
  t.equal(refusal(() => read({ url: 'x', label: 'longer' })), 'label is longer than 5 characters')
  t.equal(refusal(() => read({ url: 'x', paths: [] })), 'paths must be a list of 1 to 3 non-empty strings')
  t.equal(refusal(() => read({ url: 'x', paths: [''] })), 'paths must be a list of 1 to 3 non-empty strings')
  t.equal(refusal(() => read({ url: 'x', from: 5.5 })), 'from must be an ISO 8601 time or milliseconds since 1970, from 1970 to 9999')
  t.equal(refusal(() => read({ url: 'x', from: 'yesterday' })), 'from must be an ISO 8601 time or milliseconds since 1970, from 1970 to 9999')
})
