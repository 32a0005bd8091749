/**
 * PCM bytes in chunks of any length out as whole sample frames. A socket or ffmpeg's stdout cuts its data anywhere,
 * but a sample must not be split: the bytes of a frame that a chunk leaves incomplete wait in a carry buffer until
 * the next chunk completes it. 16-bit big-endian audio (audio/L16) is swapped to little-endian on the way, so what
 * comes out is always in the protocol's encodings. Per chunk nothing is allocated but views.
 */

/** The largest sample frame: 2 channels of 32-bit float. */
export const MAX_FRAME_BYTES = 8
/** A swap buffer big enough for any chunk node hands over (64 KiB), so that a chunk is swapped in one go. */
export const SWAP_BUFFER_BYTES = 65_536

export class PcmFramer {
  readonly #out: (frames: Uint8Array) => void
  readonly #carryBuffer = new Uint8Array(MAX_FRAME_BYTES)
  #carry = this.#carryBuffer.subarray(0, 1)
  #carryLength = 0
  #frameBytes = 1
  #swap: Uint8Array | undefined
  #bigEndian = false
  #halted = false

  /**
   * @param out receives whole frames: a view valid only during the call
   * @param swap where big-endian audio is swapped (an even number of bytes); one is made when needed if not given,
   *   so that a caller that makes many framers one after another can lend them one
   */
  constructor (out: (frames: Uint8Array) => void, swap?: Uint8Array) {
    this.#out = out
    this.#swap = swap
  }

  /** Frames of `frameBytes` (1..MAX_FRAME_BYTES) from now on, 16-bit big-endian to swap when `bigEndian16`; bytes carried so far are dropped. */
  reset (frameBytes: number, bigEndian16 = false): void {
    this.#frameBytes = frameBytes
    this.#carry = this.#carryBuffer.subarray(0, frameBytes)
    this.#carryLength = 0
    this.#bigEndian = bigEndian16
    this.#halted = false
  }

  /** Hand nothing more on, even from the middle of a chunk (the receiver closed), until the next reset(). */
  halt (): void {
    this.#halted = true
  }

  /** A chunk: its whole frames go out at once (with the carried bytes of the frame it completes), the rest waits. */
  push (chunk: Uint8Array): void {
    const frame = this.#frameBytes
    let from = 0
    if (this.#carryLength > 0) {
      const need = frame - this.#carryLength
      if (chunk.length < need) {
        this.#carry.set(chunk, this.#carryLength)
        this.#carryLength += chunk.length
        return
      }
      this.#carry.set(chunk.subarray(0, need), this.#carryLength)
      this.#carryLength = 0
      from = need
      this.#emit(this.#carry)
      if (this.#halted) return
    }
    const rest = (chunk.length - from) % frame
    const to = chunk.length - rest
    if (to > from) this.#emit(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to))
    if (rest > 0 && !this.#halted) {
      this.#carry.set(chunk.subarray(to))
      this.#carryLength = rest
    }
  }

  /** Whole frames out: as they are, or swapped from big-endian 16-bit into the swap buffer. */
  #emit (frames: Uint8Array): void {
    if (!this.#bigEndian) { this.#out(frames); return }
    const swap = this.#swap ??= new Uint8Array(SWAP_BUFFER_BYTES)
    for (let from = 0; from < frames.length && !this.#halted; from += swap.length) {
      const n = Math.min(swap.length, frames.length - from)
      for (let i = 0; i < n; i += 2) {
        swap[i] = frames[from + i + 1]
        swap[i + 1] = frames[from + i]
      }
      this.#out(n === swap.length ? swap : swap.subarray(0, n))
    }
  }
}
