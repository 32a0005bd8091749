/**
 * What the server and its stream engines (stream/engines.ts, engine-worker.ts) say to each other. Results keep
 * their typed form (SessionMatch, SessionMatchEnd); audio travels as the bytes of the client's frame. Identify
 * requests (a clip's samples) are answered by the same engines, so that a clip's lookups never hold the sockets up.
 */
import type { PcmFormat } from '../../../protocol/src/index.js'
import type { IdentifyResult } from '../match/identify.js'
import type { Settings } from '../config/defaults.js'
import type { SessionMatch, SessionMatchEnd } from './session.js'

export interface EngineWorkerData {
  /** The index folder, opened read-only by each engine. */
  dir: string
  settings: Settings
}

export type EngineRequest =
  | { t: 'open', id: number, format: PcmFormat }
  | { t: 'write', id: number, seq: number, pcm: ArrayBuffer }
  | { t: 'flush', id: number, seq: number }
  | { t: 'close', id: number }
  | { t: 'identify', id: number, samples: Float32Array, sampleRate: number }

export type EngineReply =
  | { t: 'ready', id?: undefined }
  | { t: 'match', id: number, seq: number, e: SessionMatch }
  | { t: 'end', id: number, seq: number, e: SessionMatchEnd }
  | { t: 'tick', id: number, hashes: number, lookups: number, postings: number, seconds: number }
  | { t: 'flushed', id: number }
  | { t: 'closed', id: number }
  | { t: 'fault', id: number, code: string | undefined, message: string, stack: string | undefined }
  | { t: 'identified', id: number, result: IdentifyResult, lookupSeconds: number }
