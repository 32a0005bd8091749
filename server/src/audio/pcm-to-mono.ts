/**
 * PCM bytes (s16le or f32le, 1 or 2 channels) to mono samples in -1..1: the one converter of the server, for streams
 * (stream/session.ts), raw PCM bodies (http/body.ts) and ffmpeg's output (audio/decode.ts).
 *
 * It is on the streaming hot path, so it allocates nothing: bytes may sit at any offset (a view into a socket's
 * buffer), so they are copied piece by piece into one aligned buffer and read through typed-array views of it. One
 * buffer serves every caller, since a piece is copied and converted within one synchronous call.
 */
import { BYTES_PER_SAMPLE, type PcmFormat } from '../../../protocol/src/index.js'
import { MAX_FRAME_BYTES } from './pcm-framer.js'

/** Sample frames converted per piece. */
export const PIECE_FRAMES = 1024

const pieceBuffer = new ArrayBuffer(PIECE_FRAMES * MAX_FRAME_BYTES)
const pieceBytes = new Uint8Array(pieceBuffer)
const pieceS16 = new Int16Array(pieceBuffer)
const pieceF32 = new Float32Array(pieceBuffer)

export type PcmLayout = Pick<PcmFormat, 'encoding' | 'channels'>

/** Bytes of one sample frame. */
export function frameBytesOf (layout: PcmLayout): number {
  return BYTES_PER_SAMPLE[layout.encoding] * layout.channels
}

/**
 * The mono samples of the whole frames in `pcm`, written into `into` from index `at` (stereo is averaged); returns
 * how many were written. `into` must have room for them.
 */
export function pcmToMono (pcm: Uint8Array, layout: PcmLayout, into: Float32Array, at = 0): number {
  const frameBytes = frameBytesOf(layout)
  const frames = Math.floor(pcm.length / frameBytes)
  const stereo = layout.channels === 2
  for (let done = 0; done < frames; done += PIECE_FRAMES) {
    const n = Math.min(PIECE_FRAMES, frames - done)
    pieceBytes.set(pcm.subarray(done * frameBytes, (done + n) * frameBytes))
    const out = at + done
    if (layout.encoding === 'f32le') {
      const x = pieceF32
      if (stereo) for (let i = 0; i < n; i++) into[out + i] = 0.5 * (x[2 * i] + x[2 * i + 1])
      else for (let i = 0; i < n; i++) into[out + i] = x[i]
    } else {
      const x = pieceS16
      if (stereo) for (let i = 0; i < n; i++) into[out + i] = (x[2 * i] + x[2 * i + 1]) / 65536
      else for (let i = 0; i < n; i++) into[out + i] = x[i] / 32768
    }
  }
  return frames
}

/** Whether f32le bytes hold a NaN or an infinity (which would poison every sum they enter). */
export function hasNonFiniteFloats (pcm: Uint8Array): boolean {
  const pieceLength = pieceBytes.length
  for (let from = 0; from < pcm.length; from += pieceLength) {
    const n = Math.min(pieceLength, pcm.length - from)
    pieceBytes.set(pcm.subarray(from, from + n))
    for (let i = 0, m = n >> 2; i < m; i++) if (!Number.isFinite(pieceF32[i])) return true
  }
  return false
}
