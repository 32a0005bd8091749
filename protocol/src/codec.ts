/**
 * The one msgpackr setup, and frame encoding and decoding. Pure functions over bytes: no sockets here.
 */
import { Packr, Unpackr } from 'msgpackr'
import { FrameTag, type ClientMessage, type ServerMessage } from './messages.js'

// Plain maps on the wire (no records or structured clone), so any msgpack library can speak the protocol.
const packr = new Packr({ useRecords: false, moreTypes: false })
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' })

/** Encode a control message as a frame. */
export function encodeControl (message: ClientMessage | ServerMessage): Uint8Array {
  const body = packr.pack(message)
  const frame = new Uint8Array(body.length + 1)
  frame[0] = FrameTag.CONTROL
  frame.set(body, 1)
  return frame
}

/** Decode a control frame's body (after the tag byte); throws on malformed msgpack or a non-map value. */
export function decodeControl (frame: Uint8Array): Record<string, unknown> {
  const value: unknown = unpackr.unpack(frame.subarray(1))
  // Plain maps only: msgpackr also yields Dates, Errors and its own marker objects for extension types.
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) {
    throw new TypeError('control message is not a map')
  }
  return value as Record<string, unknown>
}

/**
 * Write an audio frame around PCM bytes. `into` may be a preallocated buffer of at least pcm.length + 1 bytes; the
 * returned view covers the frame.
 */
export function encodeAudio (pcm: Uint8Array, into?: Uint8Array): Uint8Array {
  const frame = into && into.length > pcm.length ? into.subarray(0, pcm.length + 1) : new Uint8Array(pcm.length + 1)
  frame[0] = FrameTag.AUDIO
  frame.set(pcm, 1)
  return frame
}
