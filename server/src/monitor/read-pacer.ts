/**
 * Reading a finite source at real-time pace. A file on a web server read as fast as it comes would be heard in a
 * second: a 68 s song filed as a 1 s play, and filed again on every reconnect. So reading pauses while the audio
 * handed on runs more than PACE_LEAD_MS ahead of the wall clock since its first audio. Apart from the connection,
 * which paces only a finite source's PCM (a body piped into ffmpeg is paced by ffmpeg itself, `-re`).
 */
import { performance } from 'node:perf_hooks'

/** How far the audio may run ahead of the wall clock before reading pauses, in ms. */
const PACE_LEAD_MS = 500

export class ReadPacer {
  readonly #from: NodeJS.ReadableStream
  readonly #bytesPerSecond: number
  readonly #onWait: () => void
  /** performance.now() of the first audio, and the bytes handed on since. */
  #since = 0
  #bytes = 0
  #timer: NodeJS.Timeout | undefined

  /**
   * @param from the stream read, paused and resumed here
   * @param bytesPerSecond of the audio read from it
   * @param onWait told when reading pauses and when it resumes (a pause is not a stall)
   */
  constructor (from: NodeJS.ReadableStream, bytesPerSecond: number, onWait: () => void) {
    this.#from = from
    this.#bytesPerSecond = bytesPerSecond
    this.#onWait = onWait
  }

  /** `bytes` of audio were handed on: pause reading if they ran too far ahead. */
  handedOn (bytes: number): void {
    const now = performance.now()
    if (this.#bytes === 0) this.#since = now
    this.#bytes += bytes
    const aheadMs = (this.#bytes / this.#bytesPerSecond) * 1000 - (now - this.#since)
    if (aheadMs <= PACE_LEAD_MS || this.#timer !== undefined) return
    this.#from.pause()
    this.#onWait()
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#onWait()
      this.#from.resume()
    }, aheadMs - PACE_LEAD_MS / 2)
  }

  /** Resume nothing any more (the connection closed). */
  close (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
