/**
 * The AudioWorklet processor of the browser SDK: microphone audio in (render quanta of Float32 per channel, at the
 * AudioContext's rate), chunks of mono s16le PCM out to the main thread, each with the chunk's level.
 *
 * It runs on the audio rendering thread, so it allocates nothing per render quantum: samples go into the current
 * chunk's buffer, which is transferred (not copied) to the main thread when full, and a new one is allocated per
 * chunk (a few dozen a second). Built as its own bundle and loaded by `audioWorklet.addModule` (see listener.ts).
 */
import { PROCESSOR_NAME, type PcmChunk, type ProcessorOptions } from './pcm-chunk.js'

// The AudioWorkletGlobalScope, which lib.dom does not describe.
declare abstract class AudioWorkletProcessor {
  readonly port: MessagePort
  constructor (options?: { processorOptions?: unknown })
  abstract process (inputs: Float32Array[][], outputs: Float32Array[][], parameters: Record<string, Float32Array>): boolean
}
declare function registerProcessor (name: string, ctor: new (options: { processorOptions?: unknown }) => AudioWorkletProcessor): void

/** Chunk length bounds in sample frames: 128 (one render quantum) to 2 s at 96 kHz. */
const MIN_CHUNK_FRAMES = 128
const MAX_CHUNK_FRAMES = 192_000

class PcmProcessor extends AudioWorkletProcessor {
  readonly #chunkFrames: number
  #chunk: Int16Array
  #filled = 0
  #sumSquares = 0
  #peak = 0

  constructor (options: { processorOptions?: unknown }) {
    super(options)
    const asked = Number((options.processorOptions as Partial<ProcessorOptions> | undefined)?.chunkFrames)
    this.#chunkFrames = Number.isFinite(asked) ? Math.min(MAX_CHUNK_FRAMES, Math.max(MIN_CHUNK_FRAMES, Math.round(asked))) : 2048
    this.#chunk = new Int16Array(this.#chunkFrames)
  }

  process (inputs: Float32Array[][]): boolean {
    const channels = inputs[0]
    // No input connected yet (or the track ended): keep the node alive, produce nothing.
    if (channels === undefined || channels.length === 0) return true
    const frames = channels[0].length
    const gain = 1 / channels.length
    for (let i = 0; i < frames; i++) {
      let v = 0
      for (let c = 0; c < channels.length; c++) v += channels[c][i]
      v *= gain
      const a = v < 0 ? -v : v
      if (a > this.#peak) this.#peak = a
      this.#sumSquares += v * v
      // Clip, then scale to 16 bits; Math.round keeps silence at exactly 0. Typed arrays use the platform's byte
      // order, little-endian on every platform browsers run on: the chunk is s16le as it stands.
      this.#chunk[this.#filled++] = Math.round((v >= 1 ? 1 : v <= -1 ? -1 : v) * 32767)
      if (this.#filled === this.#chunkFrames) this.#post()
    }
    return true
  }

  #post (): void {
    const pcm = this.#chunk.buffer as ArrayBuffer
    const message: PcmChunk = { pcm, rms: Math.sqrt(this.#sumSquares / this.#filled), peak: Math.min(1, this.#peak) }
    this.port.postMessage(message, [pcm])
    this.#chunk = new Int16Array(this.#chunkFrames)
    this.#filled = 0
    this.#sumSquares = 0
    this.#peak = 0
  }
}

registerProcessor(PROCESSOR_NAME, PcmProcessor)
