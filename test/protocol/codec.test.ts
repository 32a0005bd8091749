import t from 'tap'
import { decodeControl, encodeAudio, encodeControl, FrameTag } from '../../protocol/src/index.js'

// Golden frames, written out by hand from the msgpack spec, so the wire format cannot drift with the msgpack
// library's defaults. msgpackr writes every map with a map16 header (0xde and a two-byte count) where the shortest
// form would be a fixmap (0x8N): valid msgpack, two bytes longer. Keys and strings are fixstr (0xaN), small integers
// positive fixint, 300 a uint16 (0xcd), 4.5 a float64 (0xcb).
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

const TYPE = 'a4 74797065' // "type"
const golden: Array<[string, Record<string, unknown>, string]> = [
  ['ping', { type: 'ping' }, `01 de0001 ${TYPE} a4 70696e67`],
  ['ping with id', { type: 'ping', id: 7 }, `01 de0002 ${TYPE} a4 70696e67 a2 6964 07`],
  ['flush', { type: 'flush' }, `01 de0001 ${TYPE} a5 666c757368`],
  ['hello', { type: 'hello', v: 1, sampleRate: 44100, encoding: 's16le', channels: 1 },
    `01 de0005 ${TYPE} a5 68656c6c6f  a1 76 01  aa 73616d706c6552617465 cd ac44  a8 656e636f64696e67 a5 7331366c65 ` +
    'a8 6368616e6e656c73 01'],
  ['pong with id', { type: 'pong', id: 300 }, `01 de0002 ${TYPE} a4 706f6e67 a2 6964 cd 012c`],
  // 4.5 = 1.125 * 2^2: exponent 1023 + 2 = 0x401, mantissa 0x2000000000000.
  ['flushed', { type: 'flushed', streamSeconds: 4.5 }, `01 de0002 ${TYPE} a7 666c7573686564 ad 73747265616d5365636f6e6473 cb 4012000000000000`],
]

t.test('encodeControl writes the golden frames', async (t) => {
  for (const [name, message, frame] of golden) {
    t.equal(toHex(encodeControl(message as never)), toHex(hex(frame)), name)
  }
})

t.test('decodeControl reads the golden frames back', async (t) => {
  for (const [name, message, frame] of golden) {
    t.same(decodeControl(hex(frame)), message, name)
    t.strictSame(decodeControl(encodeControl(message as never)), message, `${name}: round trip`)
  }
})

t.test('decodeControl reads the same messages written with the shortest map header (fixmap 0x8N)', async (t) => {
  for (const [name, message, frame] of golden) {
    const fixmap = frame.replace(/^01 de000(\d)/, '01 8$1')
    t.not(fixmap, frame)
    t.same(decodeControl(hex(fixmap)), message, name)
  }
})

t.test('decodeControl reads a frame inside a larger buffer (a view at an offset, as uWS and ws hand them)', async (t) => {
  const frame = hex(golden[1][2])
  const big = new Uint8Array(frame.length + 10).fill(0xff)
  big.set(frame, 3)
  t.same(decodeControl(big.subarray(3, 3 + frame.length)), { type: 'ping', id: 7 })
})

t.test('decodeControl takes the other encodings another msgpack library may choose', async (t) => {
  // map16 header, str8 keys and values, 44100 as uint32 and as float64, 1 as uint64: all plain msgpack.
  const hello = hex('01 de 0005 d9 04 74797065 d9 05 68656c6c6f a1 76 cf 0000000000000001 ' +
    'aa 73616d706c6552617465 ce 0000ac44 a8 656e636f64696e67 a5 7331366c65 a8 6368616e6e656c73 cb 3ff0000000000000')
  t.strictSame(decodeControl(hello), { type: 'hello', v: 1, sampleRate: 44100, encoding: 's16le', channels: 1 })
  const rateAsDouble = hex(`01 82 ${TYPE} a5 68656c6c6f aa 73616d706c6552617465 cb 40e5888000000000`)
  t.strictSame(decodeControl(rateAsDouble), { type: 'hello', sampleRate: 44100 })
})

t.test('malformed msgpack throws', async (t) => {
  const bad: Array<[string, string]> = [
    ['no body at all', '01'],
    ['a map cut short in a key', `01 81 a4 7479`],
    ['a map missing its last value', `01 82 ${TYPE} a4 70696e67 a2 6964`],
    ['a map followed by trailing bytes', `01 de0001 ${TYPE} a4 70696e67 00`],
  ]
  for (const [name, frame] of bad) t.throws(() => decodeControl(hex(frame)), name)
})

t.test('a body that is not a map throws a TypeError', async (t) => {
  const notMaps: Array<[string, string]> = [
    ['a string', '01 a4 70696e67'],
    ['an array', '01 93 01 02 03'],
    ['nil', '01 c0'],
    ['a number', '01 07'],
    ['true', '01 c3'],
    ['binary', '01 c4 02 0001'],
  ]
  for (const [name, frame] of notMaps) {
    t.throws(() => decodeControl(hex(frame)), new TypeError('control message is not a map'), name)
  }
})

// msgpackr decodes 0xc1 to an internal marker object and the timestamp and error extensions to a Date and an Error:
// none of them is a plain map, so none is a control message.
t.test('0xc1 and msgpack extension values are not control messages', async (t) => {
  const frames: Array<[string, string]> = [
    ['0xc1, the byte msgpack never uses', '01 c1'],
    ['a timestamp extension (a Date)', '01 d6 ff 00000000'],
    ['msgpackr error extension (an Error)', '01 d4 65 00 00'],
  ]
  for (const [name, frame] of frames) t.throws(() => decodeControl(hex(frame)), name)
})

t.test('encodeAudio puts the audio tag before the PCM bytes', async (t) => {
  t.equal(FrameTag.CONTROL, 0x01)
  t.equal(FrameTag.AUDIO, 0x02)
  t.equal(toHex(encodeAudio(hex('0100 ff7f 0080'))), '02' + '0100ff7f0080')
  t.equal(toHex(encodeAudio(new Uint8Array(0))), '02', 'no samples: the tag alone')
})

t.test('encodeAudio writes into a buffer that is large enough, and allocates when it is not', async (t) => {
  const pcm = hex('0a0b0c0d')
  const exact = new Uint8Array(5)
  const frame = encodeAudio(pcm, exact)
  t.equal(frame.buffer, exact.buffer, 'pcm.length + 1 bytes: the given buffer')
  t.equal(frame.length, 5)
  t.equal(toHex(exact), '020a0b0c0d')
  const roomy = new Uint8Array(64).fill(0xee)
  const view = encodeAudio(pcm, roomy)
  t.equal(view.buffer, roomy.buffer)
  t.equal(view.length, 5, 'the view covers the frame only')
  t.equal(roomy[5], 0xee, 'bytes past the frame are untouched')
  const small = new Uint8Array(4)
  const fresh = encodeAudio(pcm, small)
  t.not(fresh.buffer, small.buffer, 'too small: a new buffer')
  t.equal(toHex(fresh), '020a0b0c0d')
  t.equal(toHex(small), '00000000', 'the small buffer is not written')
})
