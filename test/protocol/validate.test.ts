import t from 'tap'
import {
  MAX_LABEL_LENGTH, MAX_SAMPLE_RATE, MAX_STREAM_ID_LENGTH, MAX_TOKEN_LENGTH, MIN_SAMPLE_RATE, PROTOCOL_VERSION,
  protocolErrors, validateClientMessage, type Validated,
} from '../../protocol/src/index.js'

const hello = (fields: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ type: 'hello', v: 1, sampleRate: 44100, encoding: 's16le', channels: 1, ...fields })

/** The code of a refusal, or 'ok'. */
const codeOf = (v: Validated): string => v.ok ? 'ok' : v.code

t.test('a good hello is accepted and copied field by field', async (t) => {
  t.equal(PROTOCOL_VERSION, 1)
  t.strictSame(validateClientMessage(hello()),
    { ok: true, message: { type: 'hello', v: 1, sampleRate: 44100, encoding: 's16le', channels: 1 } })
  const full = validateClientMessage(hello({ encoding: 'f32le', channels: 2, sampleRate: 48000, streamId: 'radio-1', label: 'Radio One', token: 'secret' }))
  t.strictSame(full, {
    ok: true,
    message: { type: 'hello', v: 1, sampleRate: 48000, encoding: 'f32le', channels: 2, streamId: 'radio-1', label: 'Radio One', token: 'secret' },
  })
  const extra = validateClientMessage(hello({ colour: 'blue', label: null }))
  t.strictSame(extra, { ok: true, message: { type: 'hello', v: 1, sampleRate: 44100, encoding: 's16le', channels: 1 } },
    'unknown fields are dropped, a null optional field is absent')
})

t.test('a hello of another protocol version is EAR_ERR_PROTOCOL_VERSION', async (t) => {
  for (const v of [2, 0, '1', undefined, 1.5]) {
    const r = validateClientMessage(hello({ v }))
    t.equal(codeOf(r), 'EAR_ERR_PROTOCOL_VERSION', `v ${JSON.stringify(v)}`)
  }
  const r = validateClientMessage(hello({ v: 2 }))
  t.match(r, { ok: false, detail: /v1.*v2/ }, 'the detail names both versions')
  t.equal(protocolErrors.EAR_ERR_PROTOCOL_VERSION.close, 1008)
})

t.test('sample rates: 8000 and 96000 are the limits, integers only', async (t) => {
  t.equal(MIN_SAMPLE_RATE, 8000)
  t.equal(MAX_SAMPLE_RATE, 96000)
  for (const rate of [8000, 11025, 44100, 96000]) t.equal(codeOf(validateClientMessage(hello({ sampleRate: rate }))), 'ok', `${rate}`)
  for (const rate of [7999, 96001, 44100.5, 0, -44100, NaN, Infinity, '44100', undefined]) {
    t.equal(codeOf(validateClientMessage(hello({ sampleRate: rate }))), 'EAR_ERR_BAD_HELLO', `${String(rate)}`)
  }
})

t.test('encodings and channel counts', async (t) => {
  for (const encoding of ['mp3', 'S16LE', 's16be', 'f64le', '', undefined, 1]) {
    t.equal(codeOf(validateClientMessage(hello({ encoding }))), 'EAR_ERR_BAD_HELLO', `encoding ${JSON.stringify(encoding)}`)
  }
  for (const channels of [0, 3, 1.5, '1', undefined]) {
    t.equal(codeOf(validateClientMessage(hello({ channels }))), 'EAR_ERR_BAD_HELLO', `channels ${JSON.stringify(channels)}`)
  }
  t.equal(codeOf(validateClientMessage(hello({ channels: 2 }))), 'ok')
})

t.test('string fields: at the length limit and one past it', async (t) => {
  const limits: Array<[string, number]> = [['label', MAX_LABEL_LENGTH], ['streamId', MAX_STREAM_ID_LENGTH], ['token', MAX_TOKEN_LENGTH]]
  t.same(limits.map(([, n]) => n), [200, 200, 1024])
  for (const [key, max] of limits) {
    t.equal(codeOf(validateClientMessage(hello({ [key]: 'x'.repeat(max) }))), 'ok', `${key} of ${max}`)
    const over = validateClientMessage(hello({ [key]: 'x'.repeat(max + 1) }))
    t.equal(codeOf(over), 'EAR_ERR_BAD_HELLO', `${key} of ${max + 1}`)
    t.match(over, { detail: new RegExp(`^${key} must be a string of at most ${max} characters`) })
    t.equal(codeOf(validateClientMessage(hello({ [key]: 42 }))), 'EAR_ERR_BAD_HELLO', `${key} not a string`)
  }
})

t.test('flush and ping', async (t) => {
  t.strictSame(validateClientMessage({ type: 'flush', extra: 1 }), { ok: true, message: { type: 'flush' } })
  t.strictSame(validateClientMessage({ type: 'ping' }), { ok: true, message: { type: 'ping' } })
  t.strictSame(validateClientMessage({ type: 'ping', id: 12.5 }), { ok: true, message: { type: 'ping', id: 12.5 } })
  for (const id of ['7', NaN, Infinity, null, {}]) {
    t.equal(codeOf(validateClientMessage({ type: 'ping', id })), 'EAR_ERR_BAD_MESSAGE', `ping id ${String(id)}`)
  }
})

t.test('an unknown or missing type is EAR_ERR_BAD_MESSAGE, and the detail stays short', async (t) => {
  for (const type of ['pong', 'HELLO', '', undefined, 3, 'ready']) {
    t.equal(codeOf(validateClientMessage({ type })), 'EAR_ERR_BAD_MESSAGE', `type ${JSON.stringify(type)}`)
  }
  t.equal(codeOf(validateClientMessage({})), 'EAR_ERR_BAD_MESSAGE', 'no type')
  const long = validateClientMessage({ type: 'x'.repeat(10_000) })
  t.ok(!long.ok && long.detail.length < 100, 'a huge type name is not echoed back whole')
  t.equal(protocolErrors.EAR_ERR_BAD_MESSAGE.close, 0, 'the session goes on')
})

t.test('validation never calls a method of the data: values with toString/valueOf of the wrong kind get a reason', async (t) => {
  const hostile = [{ toString: 0 }, { valueOf: 0, toString: 0 }, { toString: {} }, Object.create(null), [1, 2], new Uint8Array(3)]
  for (const v of hostile) {
    let r: Validated | undefined
    t.doesNotThrow(() => { r = validateClientMessage({ type: v }) }, `type ${JSON.stringify(v)}`)
    t.equal(r && codeOf(r), 'EAR_ERR_BAD_MESSAGE')
    t.doesNotThrow(() => { r = validateClientMessage(hello({ v })) }, `hello.v ${JSON.stringify(v)}`)
    t.equal(r && codeOf(r), 'EAR_ERR_PROTOCOL_VERSION')
  }
  const r = validateClientMessage({ type: { toString: 0 } })
  t.match(!r.ok && r.detail, 'unknown message type a map', 'the value is described by its kind')
  const long = validateClientMessage({ type: 'x'.repeat(500) })
  t.ok(!long.ok && long.detail.length < 80, 'a long string is cut')
})
