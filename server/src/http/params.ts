/**
 * Query, path and JSON field readers that answer bad input with EAR_ERR_BAD_REQUEST naming the field.
 */
import { earshotError } from '../errors.js'

/** An integer query parameter within [min, max]; `fallback` when absent. */
export function intParam (query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = query.get(name)
  if (raw === null || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) throw earshotError('EAR_ERR_BAD_REQUEST', `${name} must be an integer from ${min} to ${max}`)
  return n
}

/** The latest time a parameter may name: the end of year 9999 UTC, in ms since 1970. */
const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)
/** ISO 8601 as Date.parse reads it reliably: a date, optionally a time, optionally a zone. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/

/**
 * A time query parameter: ISO 8601 or ms since the epoch, from 1970 to the year 9999; undefined when absent. Anything
 * else is EAR_ERR_BAD_REQUEST: Date.parse alone takes "-5" as May 2001 and "1e3" as the year 1000.
 */
export function timeParam (query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name)
  return raw === null || raw === '' ? undefined : parseTime(raw, name)
}

/** A time field of a JSON body: an ISO 8601 string or ms since the epoch; undefined when absent. */
export function timeField (body: Record<string, unknown>, name: string): number | undefined {
  const v = body[name]
  if (v === undefined || v === null) return undefined
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= MAX_TIME_MS) return v
  return parseTime(typeof v === 'string' ? v : '', name)
}

function parseTime (raw: string, name: string): number {
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : ISO_TIME.test(raw) ? Date.parse(raw) : Number.NaN
  if (!Number.isFinite(n) || n < 0 || n > MAX_TIME_MS) throw earshotError('EAR_ERR_BAD_REQUEST', `${name} must be an ISO 8601 time or milliseconds since 1970, from 1970 to 9999`)
  return n
}

/** A positive integer id from the path. */
export function idParam (raw: string | undefined, what: string): number {
  const n = Number(raw)
  if (!raw || !/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) throw earshotError('EAR_ERR_BAD_REQUEST', `${what} must be a positive integer`)
  return n
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A UUID from the path (monitor and index job ids): anything else is a malformed id, not an unknown one. */
export function uuidParam (raw: string | undefined, what: string): string {
  if (!raw || !UUID.test(raw)) throw earshotError('EAR_ERR_BAD_REQUEST', `${what} must be a UUID`)
  return raw.toLowerCase()
}

/** A string field of a JSON body; `max` characters at most. */
export function stringField (body: Record<string, unknown>, name: string, options: { required?: boolean, max?: number } = {}): string | undefined {
  const v = body[name]
  if (v === undefined || v === null) {
    if (options.required) throw earshotError('EAR_ERR_BAD_REQUEST', `${name} is required`)
    return undefined
  }
  if (typeof v !== 'string') throw earshotError('EAR_ERR_BAD_REQUEST', `${name} must be a string`)
  if (options.required && v.trim() === '') throw earshotError('EAR_ERR_BAD_REQUEST', `${name} must not be empty`)
  if (v.length > (options.max ?? 1000)) throw earshotError('EAR_ERR_BAD_REQUEST', `${name} is longer than ${options.max ?? 1000} characters`)
  return v
}

/** Reject JSON fields the route does not know (a typo must not pass silently). */
export function onlyFields (body: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (!known.includes(key)) throw earshotError('EAR_ERR_BAD_REQUEST', `unknown field ${JSON.stringify(key).slice(0, 60)}; known: ${known.join(', ')}`)
  }
}
