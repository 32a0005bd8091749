/**
 * Validation of incoming control messages: plain data in, a typed message or a reason out. Never throws: the data
 * comes from anyone, and a map such as {type: {toString: 0}} throws from String() or a template literal; reasons
 * describe such values through `describeValue`, which never calls a method of theirs.
 */
import {
  ENCODINGS, MAX_LABEL_LENGTH, MAX_SAMPLE_RATE, MAX_STREAM_ID_LENGTH, MAX_TOKEN_LENGTH, MIN_SAMPLE_RATE,
  PROTOCOL_VERSION, type ClientMessage, type Encoding, type Hello,
} from './messages.js'
import type { ProtocolErrorCode } from './errors.js'

export type Validated = { ok: true, message: ClientMessage } | { ok: false, code: ProtocolErrorCode, detail: string }

function optionalString (m: Record<string, unknown>, key: string, max: number): string | undefined | Error {
  const v = m[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string' || v.length > max) return new Error(`${key} must be a string of at most ${max} characters`)
  return v
}

/** A short, safe description of any decoded value for an error text: strings quoted and cut, others by kind. */
export function describeValue (v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v)
  return Array.isArray(v) ? 'an array' : v instanceof Uint8Array ? 'binary data' : typeof v === 'object' ? 'a map' : `a ${typeof v}`
}

export function validateClientMessage (m: Record<string, unknown>): Validated {
  switch (m.type) {
    case 'hello': return validateHello(m)
    case 'flush': return { ok: true, message: { type: 'flush' } }
    case 'ping': {
      if (m.id !== undefined && (typeof m.id !== 'number' || !Number.isFinite(m.id))) {
        return { ok: false, code: 'EAR_ERR_BAD_MESSAGE', detail: 'ping id must be a number' }
      }
      return { ok: true, message: m.id === undefined ? { type: 'ping' } : { type: 'ping', id: m.id } }
    }
    default:
      return { ok: false, code: 'EAR_ERR_BAD_MESSAGE', detail: `unknown message type ${describeValue(m.type)}` }
  }
}

function validateHello (m: Record<string, unknown>): Validated {
  const bad = (detail: string): Validated => ({ ok: false, code: 'EAR_ERR_BAD_HELLO', detail })
  if (m.v !== PROTOCOL_VERSION) {
    return { ok: false, code: 'EAR_ERR_PROTOCOL_VERSION', detail: `this server speaks v${PROTOCOL_VERSION}, the client sent v${describeValue(m.v)}` }
  }
  const rate = m.sampleRate
  if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE) {
    return bad(`sampleRate must be an integer from ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE}`)
  }
  if (!ENCODINGS.includes(m.encoding as Encoding)) return bad(`encoding must be one of ${ENCODINGS.join(', ')}`)
  if (m.channels !== 1 && m.channels !== 2) return bad('channels must be 1 or 2')
  const streamId = optionalString(m, 'streamId', MAX_STREAM_ID_LENGTH)
  const label = optionalString(m, 'label', MAX_LABEL_LENGTH)
  const token = optionalString(m, 'token', MAX_TOKEN_LENGTH)
  for (const v of [streamId, label, token]) if (v instanceof Error) return bad(v.message)
  const hello: Hello = { type: 'hello', v: PROTOCOL_VERSION, sampleRate: rate, encoding: m.encoding as Encoding, channels: m.channels }
  if (typeof streamId === 'string') hello.streamId = streamId
  if (typeof label === 'string') hello.label = label
  if (typeof token === 'string') hello.token = token
  if (m.playLog !== undefined) {
    if (typeof m.playLog !== 'boolean') return bad('playLog must be a boolean')
    if (m.playLog && hello.streamId === undefined) return bad('playLog needs a streamId to file the plays under')
    hello.playLog = m.playLog
  }
  return { ok: true, message: hello }
}
