/**
 * Settings from a JSON configuration file and EARSHOT_* variables, spread over the defaults and checked once at
 * startup: a bad value stops the server with EAR_ERR_CONFIG naming it, before anything listens.
 *
 *   file (--config or EARSHOT_CONFIG): { "access": {...}, "webhooks": {...}, "http": {...}, "monitors": {...}, "stream": {...}, "catalog": {...}, "network": {...} }
 *   EARSHOT_ADMIN_TOKENS, EARSHOT_CLIENT_TOKENS, EARSHOT_PLAY_LOG_TOKENS, EARSHOT_PUBLIC_NAMES, EARSHOT_WEBHOOK_URLS,
 *   EARSHOT_ALLOWED_ADDRESSES: comma-separated; EARSHOT_WEBHOOK_SECRET; EARSHOT_LOOPBACK_IS_ADMIN: true or false
 *
 * The variables win over the file, so a secret can stay out of it.
 */
import fs from 'node:fs'
import { earshotError, wrapError } from '../errors.js'
import type { Settings } from './defaults.js'

/** Tokens shorter than this are guessable. */
export const MIN_TOKEN_LENGTH = 16

type Section = 'access' | 'webhooks' | 'http' | 'monitors' | 'stream' | 'catalog' | 'network'
const SECTIONS: readonly Section[] = ['access', 'webhooks', 'http', 'monitors', 'stream', 'catalog', 'network']

export function loadSettings (base: Settings, file: string | undefined, env: NodeJS.ProcessEnv = process.env): Settings {
  const path = file ?? (env.EARSHOT_CONFIG || undefined)
  let fromFile: Record<string, unknown> = {}
  if (path) {
    let text: string
    try {
      text = fs.readFileSync(path, 'utf8')
    } catch (err) {
      throw wrapError('EAR_ERR_CONFIG', err, `cannot read ${path}`)
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>
    } catch (err) {
      throw wrapError('EAR_ERR_CONFIG', err, `${path} is not JSON`)
    }
    if (!isObject(fromFile)) throw earshotError('EAR_ERR_CONFIG', `${path} must hold a JSON object`)
    for (const key of Object.keys(fromFile)) {
      if (!SECTIONS.includes(key as Section)) throw earshotError('EAR_ERR_CONFIG', `unknown section "${key}" in ${path}; known: ${SECTIONS.join(', ')}`)
    }
  }
  const out: Record<string, unknown> = { ...base }
  for (const section of SECTIONS) {
    const given = fromFile[section]
    if (given === undefined) continue
    if (!isObject(given)) throw earshotError('EAR_ERR_CONFIG', `"${section}" must be an object`)
    out[section] = merge(section, base[section] as unknown as Record<string, unknown>, given)
  }
  const settings = out as unknown as Settings
  const list = (name: string): string[] | undefined => env[name] ? env[name].split(',').map((s) => s.trim()).filter(Boolean) : undefined
  const access = { ...settings.access }
  access.adminTokens = list('EARSHOT_ADMIN_TOKENS') ?? access.adminTokens
  access.clientTokens = list('EARSHOT_CLIENT_TOKENS') ?? access.clientTokens
  access.playLogTokens = list('EARSHOT_PLAY_LOG_TOKENS') ?? access.playLogTokens
  access.publicNames = list('EARSHOT_PUBLIC_NAMES') ?? access.publicNames
  const loopbackIsAdmin = env.EARSHOT_LOOPBACK_IS_ADMIN
  if (loopbackIsAdmin) {
    if (loopbackIsAdmin !== 'true' && loopbackIsAdmin !== 'false') throw earshotError('EAR_ERR_CONFIG', 'EARSHOT_LOOPBACK_IS_ADMIN must be true or false')
    access.loopbackIsAdmin = loopbackIsAdmin === 'true'
  }
  const webhooks = { ...settings.webhooks }
  webhooks.urls = list('EARSHOT_WEBHOOK_URLS') ?? webhooks.urls
  webhooks.secret = env.EARSHOT_WEBHOOK_SECRET || webhooks.secret
  const network = { ...settings.network }
  network.allowedAddresses = list('EARSHOT_ALLOWED_ADDRESSES') ?? network.allowedAddresses
  check({ ...settings, access, webhooks, network })
  return { ...settings, access, webhooks, network }
}

/** Spread `given` over `base`, each value of the same type as its default. */
function merge (section: string, base: Record<string, unknown>, given: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base }
  for (const [key, value] of Object.entries(given)) {
    if (!(key in base)) throw earshotError('EAR_ERR_CONFIG', `unknown setting ${section}.${key}; known: ${Object.keys(base).join(', ')}`)
    const d = base[key]
    const ok = Array.isArray(d)
      ? Array.isArray(value) && value.every((v) => typeof v === 'string')
      : typeof d === 'number'
        ? typeof value === 'number' && Number.isFinite(value) && value > 0
        : typeof value === typeof d
    if (!ok) throw earshotError('EAR_ERR_CONFIG', `${section}.${key} must be ${Array.isArray(d) ? 'a list of strings' : typeof d === 'number' ? 'a positive number' : `a ${typeof d}`}`)
    out[key] = value
  }
  return out
}

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
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
