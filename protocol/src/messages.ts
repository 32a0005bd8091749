/**
 * earshot wire protocol, version 1: the message shapes shared by the server and the client SDKs.
 *
 * Every WebSocket message is a binary frame whose first byte says what follows:
 *   0x01 CONTROL  a msgpack map with a `type` field (the messages below)
 *   0x02 AUDIO    raw PCM in the encoding and channel count announced in `hello`, interleaved, little-endian
 * Text frames are refused. See protocol/README.md for the sequence of a session.
 */

export const PROTOCOL_VERSION = 1

/** First byte of every frame. */
export const FrameTag = Object.freeze({ CONTROL: 0x01, AUDIO: 0x02 })

export type Encoding = 's16le' | 'f32le'
export const ENCODINGS: readonly Encoding[] = ['s16le', 'f32le']
export const BYTES_PER_SAMPLE: Readonly<Record<Encoding, number>> = { s16le: 2, f32le: 4 }
export const MIN_SAMPLE_RATE = 8000
export const MAX_SAMPLE_RATE = 96000
export const MAX_LABEL_LENGTH = 200
export const MAX_STREAM_ID_LENGTH = 200
export const MAX_TOKEN_LENGTH = 1024
/** Where a server takes stream connections (a WebSocket upgrade). */
export const STREAM_PATH = '/v1/stream'

/** Raw PCM as a stream carries it: interleaved, little-endian. */
export interface PcmFormat {
  /** Samples per second per channel, MIN_SAMPLE_RATE..MAX_SAMPLE_RATE. */
  sampleRate: number
  encoding: Encoding
  channels: 1 | 2
}

// Client -> server

export interface Hello extends PcmFormat {
  type: 'hello'
  v: number
  /** The caller's name for the stream (kept across reconnects). */
  streamId?: string
  label?: string
  token?: string
  /** Write this stream's confirmed matches to the server's play log under streamId (needs streamId). */
  playLog?: boolean
}

/** End of input: finish pending hashes and emit final results, then `flushed`. */
export interface Flush { type: 'flush' }

export interface Ping { type: 'ping', id?: number }

export type ClientMessage = Hello | Flush | Ping

// Server -> client

/** Limits in force for the session; units in the names. */
export interface Limits {
  maxFrameBytes: number
  maxSessionSeconds: number
  idleTimeoutMs: number
  helloTimeoutMs: number
  /** Audio bytes the server buffers for a session before it stops reading from the socket. */
  maxBufferedBytes: number
}

export interface Ready { type: 'ready', v: number, sessionId: string, limits: Limits }

export type MatchState = 'tentative' | 'confirmed'

export interface Match {
  type: 'match'
  state: MatchState
  id: number
  title: string
  artist: string
  album: string
  source: string
  /** The track's ISRC (12 characters, upper case, no dashes), when it has one. */
  isrc?: string
  /** The catalog's own id for the track, when it has one. */
  externalId?: string
  /** The track's labels, key to value, when it has any. */
  labels?: Record<string, string>
  /** 0..1 */
  confidence: number
  /** Position in the track now, in seconds. */
  offsetSeconds: number
  /**
   * Playback speed of the stream against the track, rounded to 0.001: track seconds per stream second (1.021: played
   * 2.1 % fast, as radio often does; 0.982: 1.8 % slow). The track position moves on by `speed` seconds per second of
   * stream: `offsetSeconds + speed * (later streamSeconds - streamSeconds)`.
   */
  speed: number
  /** Position in the stream now, in seconds of audio received. */
  streamSeconds: number
  /** Where in the stream this match began: its first evidence, in seconds of audio received. */
  startedAtStreamSeconds: number
}

export interface MatchEnd {
  type: 'match-end'
  id: number
  startedAtStreamSeconds: number
  endedAtStreamSeconds: number
}

/** Every result of the input before `flush` has been sent. */
export interface Flushed { type: 'flushed', streamSeconds: number }

export interface ErrorMessage { type: 'error', code: string, message: string }

export interface Pong { type: 'pong', id?: number }

export type ServerMessage = Ready | Match | MatchEnd | Flushed | ErrorMessage | Pong
