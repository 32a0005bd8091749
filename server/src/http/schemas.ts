/**
 * What the route schemas are built of, and the check of a request against them. A route declares its path
 * parameters, query and JSON body as TypeBox schemas (router.ts, `route`): the one schema gives the handler's types,
 * this check and conversion, and the OpenAPI document (openapi.ts). A failed check is EAR_ERR_BAD_REQUEST with a
 * message naming the field ("limit must be an integer from 1 to 1000", "unknown field "x"; known: url, label").
 *
 * Path parameters and query values are text: numbers are converted here (a path id only from decimal digits), an
 * empty number or time is absent, and unknown query parameters (`token`) are ignored. In a JSON body a null field is
 * absent and an unknown one refused. Special formats are named formats, each one check: `uuid` (then lower-cased)
 * and `time-or-ms` (converted to ms since 1970).
 */
import { FormatRegistry, TransformKind, Type, type StaticDecode, type TLiteral, type TObject, type TSchema, type TUnion } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors'
import { Value } from '@sinclair/typebox/value'
import { earshotError, type EarshotError } from '../errors.js'
import { LIMITS_TEXT } from '../index/track-metadata.js'

/** The latest time a parameter may name: the end of year 9999 UTC, in ms since 1970. */
const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)
/** ISO 8601 as Date.parse reads it reliably: a date, optionally a time, optionally a zone. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** ms since 1970 of an ISO 8601 time or a count of ms, from 1970 to 9999; undefined otherwise (Date.parse alone takes "-5" as May 2001 and "1e3" as the year 1000). */
function parseTime (raw: string): number | undefined {
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : ISO_TIME.test(raw) ? Date.parse(raw) : Number.NaN
  return Number.isFinite(n) && n >= 0 && n <= MAX_TIME_MS ? n : undefined
}

const TIME_TEXT = 'an ISO 8601 time or milliseconds since 1970, from 1970 to 9999'

/** The formats the schemas use: a check each, and for request formats what an error message says is expected. */
const FORMATS: Record<string, { test: (s: string) => boolean, text?: string }> = {
  uuid: { test: (s) => UUID.test(s), text: 'a UUID' },
  'time-or-ms': { test: (s) => parseTime(s) !== undefined, text: TIME_TEXT },
  // Of answers (their schemas are checked in tests).
  'date-time': { test: (s) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(s) },
  date: { test: (s) => /^\d{4}-\d\d-\d\d$/.test(s) },
}
for (const [name, f] of Object.entries(FORMATS)) if (!FormatRegistry.Has(name)) FormatRegistry.Set(name, f.test)

// ---- request fields ---------------------------------------------------------------------------------------------

const TIME_DOC = 'An ISO 8601 time (`2026-11-21T08:00:00Z`) or milliseconds since 1970'

/** A time parameter, ISO 8601 or ms since 1970, converted to ms since 1970. */
export const time = (description: string, example?: string) =>
  Type.Transform(Type.String({ format: 'time-or-ms', description: `${description}. ${TIME_DOC}`, ...(example ? { example } : {}) }))
    .Decode((s) => parseTime(s) as number).Encode((ms) => String(ms))

/** A time field of a JSON body: the same text, or ms since 1970 as a number. */
export const timeField = (description: string, example: string) =>
  Type.Transform(Type.Union([Type.String({ format: 'time-or-ms' }), Type.Integer({ minimum: 0, maximum: MAX_TIME_MS })], { description: `${description}. ${TIME_DOC}`, example }))
    .Decode((v) => typeof v === 'number' ? v : parseTime(v) as number).Encode((ms) => ms)

/** A UUID (monitor and index job ids), lower-cased: anything else is a malformed id, not an unknown one. */
export const uuid = (description: string) =>
  Type.Transform(Type.String({ format: 'uuid', description })).Decode((s) => s.toLowerCase()).Encode((s) => s)

/** A positive integer id. */
export const positiveId = (description: string) => Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description })

/** Text of at most `max` characters. */
export const text = (max: number, description: string, extra: Record<string, unknown> = {}) => Type.String({ maxLength: max, description, ...extra })

/** Text with at least one character that is not a space. */
export const nonBlank = (max: number, description: string, extra: Record<string, unknown> = {}) =>
  Type.String({ minLength: 1, pattern: '\\S', maxLength: max, description, ...extra })

// ---- answer fields ----------------------------------------------------------------------------------------------

export const int = (description?: string, extra: Record<string, unknown> = {}) => Type.Integer({ ...(description ? { description } : {}), ...extra })
export const num = (description?: string, extra: Record<string, unknown> = {}) => Type.Number({ ...(description ? { description } : {}), ...extra })
export const str = (description?: string, extra: Record<string, unknown> = {}) => Type.String({ ...(description ? { description } : {}), ...extra })
export const dateTime = (description: string) => Type.String({ format: 'date-time', description })
export const nullable = <T extends TSchema> (schema: T, description?: string) => Type.Union([schema, Type.Null()], description ? { description } : {})
/** One of a few strings. */
export const oneOf = <const V extends string[]> (values: V, description?: string): TUnion<{ [K in keyof V]: TLiteral<V[K]> }> =>
  Type.Union(values.map((v) => Type.Literal(v)), description ? { description } : {}) as never

/** A match's playback speed: `per` is what the track's seconds are counted against (clip or stream seconds). */
/** A track's catalog fields as answers carry them (a track's, a match's, a segment's): each only when the track has it. */
export const catalogProperties = {
  isrc: Type.Optional(str(`${LIMITS_TEXT.isrc}. Absent when the track has none`, { pattern: '^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$', example: 'USRC17607839' })),
  externalId: Type.Optional(str(`${LIMITS_TEXT.externalId}. Absent when the track has none`)),
  labels: Type.Optional(Type.Record(Type.String(), Type.String(), { description: `${LIMITS_TEXT.labels}; in key order. Absent when the track has none`, example: { genre: 'jazz' } })),
}

export const speed = (per: string, extra = '') =>
  num(`Playback speed against the track, rounded to 0.001: track seconds per ${per} second (1.021: played 2.1 % fast; 0.982: 1.8 % slow)${extra}`, { minimum: 0, example: 1.021 })

// ---- checking a request -----------------------------------------------------------------------------------------

/** A check of values against an object schema: defaults filled in, checked, converted; EAR_ERR_BAD_REQUEST naming the field. */
export function decoder<T extends TObject> (schema: T): (value: Record<string, unknown>) => StaticDecode<T> {
  const compiled = TypeCompiler.Compile(schema)
  return (value) => {
    const filled = Value.Default(schema, value)
    if (!compiled.Check(filled)) throw badField(schema, filled as Record<string, unknown>, [...compiled.Errors(filled)])
    return compiled.Decode(filled)
  }
}

/** Query values or path segments as the object their schema checks. `strict`: numbers from decimal digits only (ids). */
export function fromText (schema: TObject, get: (name: string) => string | null | undefined, strict: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, s] of Object.entries<TSchema>(schema.properties)) {
    const raw = get(name)
    if (raw === null || raw === undefined) continue
    const numeric = s.type === 'integer' || s.type === 'number'
    if (raw === '' && (numeric || TransformKind in s)) continue
    const n = !numeric ? Number.NaN : strict ? (/^\d+$/.test(raw) ? Number(raw) : Number.NaN) : Number(raw)
    out[name] = Number.isNaN(n) ? raw : n
  }
  return out
}

/** A JSON body's fields without those that are null: null is as good as absent. */
export function withoutNulls (body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== null))
}

function badField (schema: TObject, value: Record<string, unknown>, errors: ValueError[]): EarshotError {
  const nameOf = (e: ValueError): string => e.path.split('/')[1].replace(/~1/g, '/').replace(/~0/g, '~')
  // An unknown field first: a typo must be named as one, not as the field it failed to set.
  const unknown = errors.find((e) => e.type === ValueErrorType.ObjectAdditionalProperties)
  if (unknown) return earshotError('EAR_ERR_BAD_REQUEST', `unknown field ${JSON.stringify(nameOf(unknown)).slice(0, 60)}; known: ${Object.keys(schema.properties).join(', ')}`)
  const e = errors[0]
  const name = nameOf(e)
  if (e.type === ValueErrorType.ObjectRequiredProperty) return earshotError('EAR_ERR_BAD_REQUEST', `${name} is required`)
  return earshotError('EAR_ERR_BAD_REQUEST', `${name} ${expected(schema.properties[name], value[name])}`)
}

/** What a field must be, from its schema: the end of an error message. */
function expected (s: TSchema, v: unknown): string {
  const format = [s, ...(s.anyOf as TSchema[] | undefined ?? [])].map((x) => FORMATS[x.format as string]?.text).find(Boolean)
  if (format) return `must be ${format}`
  switch (s.type) {
    case 'integer': return s.minimum === 1 && s.maximum === Number.MAX_SAFE_INTEGER ? 'must be a positive integer' : `must be an integer from ${String(s.minimum)} to ${String(s.maximum)}`
    case 'string': return typeof v !== 'string' ? 'must be a string' : v.length > (s.maxLength as number) ? `is longer than ${String(s.maxLength)} characters` : 'must not be empty'
    case 'array': return `must be a list of ${String(s.minItems)} to ${String(s.maxItems)} ${(s.items as TSchema).minLength ? 'non-empty ' : ''}strings`
    default: return 'is not valid'
  }
}
