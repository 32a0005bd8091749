/**
 * What the main thread and the AudioWorklet processor (pcm-worklet.ts) tell each other. Kept apart from the
 * processor so that importing these names does not pull `registerProcessor` into the main bundle.
 */

/** The name the processor is registered under. */
export const PROCESSOR_NAME = 'earshot-pcm'

export interface ProcessorOptions {
  /** Sample frames per chunk posted to the main thread. */
  chunkFrames: number
}

/** What the processor posts per chunk: the PCM bytes (transferred) and their level, all of the mono mix. */
export interface PcmChunk {
  /** Mono s16le: chunkFrames × 2 bytes. */
  pcm: ArrayBuffer
  /** Root mean square of the chunk, 0..1 of full scale. */
  rms: number
  /** Largest absolute sample of the chunk, 0..1. */
  peak: number
}
