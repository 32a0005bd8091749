/**
 * Settings from a JSON configuration file and EARSHOT_* variables, spread over the defaults, checked once against
 * the one schema (schema.ts) and frozen: a bad value stops the server with EAR_ERR_CONFIG naming it, before anything
 * listens.
 *
 *   file (--config or EARSHOT_CONFIG): any part of the settings, e.g. { "minConfidence": 0.6, "stream": {...}, "matcher": {...} }
 *   variables: every setting has one, EARSHOT_ and its path in capitals (stream.maxSessions: EARSHOT_STREAM_MAX_SESSIONS);
 *     a few have the shorter names they always had (ENV_NAMES). Lists are comma-separated, flags true or false.
 *
 * The variables win over the file, so a secret can stay out of it.
 */
import fs from 'node:fs'
import type { TSchema } from '@sinclair/typebox'
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors'
import { Value } from '@sinclair/typebox/value'
import { earshotError, wrapError } from '../errors.js'
import type { Settings } from './defaults.js'
import { deepFreeze } from './freeze.js'
import { settingsFileSchema } from './schema.js'

/** Tokens shorter than this are guessable. */
export const MIN_TOKEN_LENGTH = 16

/** Settings whose variables keep their established short names. */
const ENV_NAMES: Readonly<Record<string, string>> = Object.freeze({
  'access.adminTokens': 'EARSHOT_ADMIN_TOKENS',
  'access.clientTokens': 'EARSHOT_CLIENT_TOKENS',
  'access.playLogTokens': 'EARSHOT_PLAY_LOG_TOKENS',
  'access.publicNames': 'EARSHOT_PUBLIC_NAMES',
  'access.loopbackIsAdmin': 'EARSHOT_LOOPBACK_IS_ADMIN',
  'webhooks.urls': 'EARSHOT_WEBHOOK_URLS',
  'webhooks.secret': 'EARSHOT_WEBHOOK_SECRET',
  'network.allowedAddresses': 'EARSHOT_ALLOWED_ADDRESSES',
})

/** One setting of the schema: its dotted path, its schema and its variable. */
export interface SettingSpec { path: string, schema: TSchema, env: string }

/** Every setting, in the schema's order. */
export const SETTINGS: readonly SettingSpec[] = Object.freeze(leaves(settingsFileSchema, ''))

function leaves (schema: TSchema, prefix: string): SettingSpec[] {
  const out: SettingSpec[] = []
  for (const [key, property] of Object.entries(schema.properties as Record<string, TSchema>)) {
    const path = prefix ? `${prefix}.${key}` : key
    if (property.type === 'object') out.push(...leaves(property, path))
    else out.push({ path, schema: property, env: ENV_NAMES[path] ?? `EARSHOT_${path.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/\./g, '_').toUpperCase()}` })
  }
  return out
}

/** The setting at a dotted path; throws for a path the schema does not have (a programming error). */
export function settingAt (path: string): SettingSpec {
  const spec = SETTINGS.find((s) => s.path === path)
  if (!spec) throw new TypeError(`no setting ${path}`)
  return spec
}

/** What a setting accepts, in words: "an integer from 1 to 1000000". */
export function expected (schema: TSchema): string {
  const range = schema.minimum !== undefined ? ` from ${String(schema.minimum)} to ${String(schema.maximum)}` : ''
  switch (schema.type) {
    case 'integer': return `an integer${range}`
    case 'number': return `a number${range}`
    case 'boolean': return 'true or false'
    case 'array': return 'a list of strings'
    default: return schema.minLength !== undefined && schema.minLength > 0 ? 'a non-empty string' : 'a string'
  }
}

/**
 * A setting's value from text (a variable or a command-line flag), checked against its schema; `name` says where the
 * text came from in the error (code EAR_ERR_CONFIG, or EAR_ERR_USAGE for a flag).
 */
export function settingFromText (spec: SettingSpec, text: string, name: string, code: 'EAR_ERR_CONFIG' | 'EAR_ERR_USAGE' = 'EAR_ERR_CONFIG'): unknown {
  const s = spec.schema
  const value = s.type === 'array'
    ? text.split(',').map((x) => x.trim()).filter(Boolean)
    : s.type === 'boolean'
      ? (text === 'true' ? true : text === 'false' ? false : text)
      : s.type === 'integer' || s.type === 'number' ? (text.trim() === '' ? Number.NaN : Number(text)) : text
  if (!Value.Check(s, value)) throw earshotError(code, `${name} must be ${expected(s)}, got ${JSON.stringify(text.slice(0, 80))}`)
  return value
}

/**
 * The server's settings: `base`, then the file, then the variables, then `flags` (command-line values by dotted
 * path, already checked with settingFromText), checked together and frozen.
 */
export function loadSettings (base: Settings, file: string | undefined, env: NodeJS.ProcessEnv = process.env, flags: Readonly<Record<string, unknown>> = {}): Settings {
  const path = file ?? (env.EARSHOT_CONFIG || undefined)
  let settings = base
  if (path) settings = spread(settings, readFile(path))
  settings = spread(settings, fromEnv(env))
  settings = spread(settings, nest(flags))
  check(settings)
  return deepFreeze(settings)
}

function readFile (path: string): Record<string, unknown> {
  let text: string
  try {
    text = fs.readFileSync(path, 'utf8')
  } catch (err) {
    throw wrapError('EAR_ERR_CONFIG', err, `cannot read ${path}`)
  }
  let given: unknown
  try {
    given = JSON.parse(text)
  } catch (err) {
    throw wrapError('EAR_ERR_CONFIG', err, `${path} is not JSON`)
  }
  if (!isObject(given)) throw earshotError('EAR_ERR_CONFIG', `${path} must hold a JSON object`)
  const error = Value.Errors(settingsFileSchema, given).First()
  if (error) throw earshotError('EAR_ERR_CONFIG', `${path}: ${describe(error)}`)
  return given
}

/** An error of the file as a sentence naming the setting. */
function describe (error: ValueError): string {
  const path = error.path.slice(1).replace(/\//g, '.')
  if (error.type === ValueErrorType.ObjectAdditionalProperties) {
    const parent = path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : ''
    const known = SETTINGS.filter((s) => parent === '' || s.path.startsWith(`${parent}.`)).map((s) => s.path.slice(parent ? parent.length + 1 : 0).split('.')[0])
    return `unknown setting ${path}; known: ${[...new Set(known)].join(', ')}`
  }
  const spec = SETTINGS.find((s) => s.path === path)
  if (spec === undefined) return `"${path}" must be an object`
  return `${path} must be ${expected(spec.schema)}, got ${JSON.stringify(error.value)?.slice(0, 80)}`
}

/** The settings the variables give, as a partial settings object. */
function fromEnv (env: NodeJS.ProcessEnv): Record<string, unknown> {
  const values: Record<string, unknown> = {}
  for (const spec of SETTINGS) {
    const text = env[spec.env]
    if (text !== undefined && text !== '') values[spec.path] = settingFromText(spec, text, `${spec.env} (${spec.path})`)
  }
  return nest(values)
}

/** Values by dotted path as a partial settings object: { 'stream.maxSessions': 5 } gives { stream: { maxSessions: 5 } }. */
function nest (values: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [path, value] of Object.entries(values)) {
    const keys = path.split('.')
    let at = out
    for (const k of keys.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>
    at[keys[keys.length - 1]] = value
  }
  return out
}

/** `given` spread over `base`, section by section. */
function spread (base: Settings, given: Record<string, unknown>): Settings {
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(given)) {
    out[key] = isObject(value) ? { ...(out[key] as Record<string, unknown>), ...value } : value
  }
  return out as unknown as Settings
}

/** What a schema cannot say: the formats of tokens, URLs, origins and names, and settings that need each other. */
function check (s: Settings): void {
  for (const [name, tokens] of [['admin', s.access.adminTokens], ['client', s.access.clientTokens], ['play log', s.access.playLogTokens]] as const) {
    for (const token of tokens) {
      if (token.length < MIN_TOKEN_LENGTH) throw earshotError('EAR_ERR_CONFIG', `a ${name} token is shorter than ${MIN_TOKEN_LENGTH} characters`)
    }
  }
  for (const url of s.webhooks.urls) {
    let u: URL | undefined
    try { u = new URL(url) } catch {}
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw earshotError('EAR_ERR_CONFIG', `webhook URL ${JSON.stringify(url)} is not an http(s) URL`)
  }
  for (const origin of s.access.allowedOrigins) {
    let u: URL | undefined
    try { u = new URL(origin) } catch {}
    if (!u || u.origin !== origin) throw earshotError('EAR_ERR_CONFIG', `access.allowedOrigins: ${JSON.stringify(origin)} is not an origin (scheme://host[:port], nothing after)`)
  }
  for (const name of s.access.publicNames) {
    if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(name)) throw earshotError('EAR_ERR_CONFIG', `access.publicNames: ${JSON.stringify(name)} is not a host name (no scheme, no port)`)
  }
  if (s.webhooks.urls.length > 0 && !s.webhooks.secret) {
    throw earshotError('EAR_ERR_CONFIG', 'webhook URLs need a secret to sign with (EARSHOT_WEBHOOK_SECRET or webhooks.secret)')
  }
  if (s.monitors.initialBackoffMs > s.monitors.maxBackoffMs) throw earshotError('EAR_ERR_CONFIG', 'monitors.initialBackoffMs is more than monitors.maxBackoffMs')
  if (s.webhooks.initialBackoffMs > s.webhooks.maxBackoffMs) throw earshotError('EAR_ERR_CONFIG', 'webhooks.initialBackoffMs is more than webhooks.maxBackoffMs')
  if (s.matcher.tentativeConfidence > s.minConfidence) throw earshotError('EAR_ERR_CONFIG', 'matcher.tentativeConfidence is more than minConfidence (where a match is confirmed)')
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
