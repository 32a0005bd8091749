/**
 * Deterministic test signals: music-like songs (server/src/demo/songs.ts, which `earshot demo` plays too), tones,
 * noise and silence, all from a seeded PRNG, and a WAV writer.
 */
import fs from 'node:fs'
import { gaussian, prng, renderSong, type Playing } from '../../server/src/demo/songs.js'

export { prng, type Playing }

/**
 * A distinct piece of "music" per seed. Chords, melody and rhythm each draw from their own generator, so a shorter
 * render is the beginning of a longer one (but for notes due just after its end whose timing jitter starts them up to
 * 15 ms before it: the longer render has them, the shorter does not), and one seed rendered at two rates is the same
 * music.
 * @param seed any integer; equal seeds give identical samples
 * @param playing the same song time-stretched (tempo: every time, note length and decay divided by it) or
 *   pitch-shifted (pitch: every frequency multiplied by it); both together are a change of playback speed
 */
export function song (seed: number, seconds: number, sampleRate: number, playing: Playing = {}): Float32Array {
  const key = `${seed}/${seconds}/${sampleRate}/${playing.tempo ?? 1}/${playing.pitch ?? 1}`
  let pcm = rendered.get(key)
  if (pcm) {
    rendered.delete(key) // kept as the most recently used
  } else {
    pcm = renderSong(seed, seconds, sampleRate, playing)
    renderedBytes += pcm.byteLength
    for (const [k, old] of rendered) {
      if (renderedBytes <= RENDERED_MAX_BYTES) break
      rendered.delete(k)
      renderedBytes -= old.byteLength
    }
  }
  rendered.set(key, pcm)
  return pcm.slice() // the caller's own copy: tests change samples in place
}

/**
 * Songs rendered in this process, by seed, length, rate and playing (a test file often renders one song several
 * times: for its catalog, its clips and its streams). Rendering costs about 9 ms per second of audio at 44.1 kHz,
 * copying a rendered one well under 1 %. Only the same request is answered from here: a shorter render is the
 * beginning of a longer one but for its last notes' jitter, so it is not cut from one.
 */
const rendered = new Map<string, Float32Array>()
let renderedBytes = 0
/** At most this many bytes of rendered songs are kept (the least recently used are dropped first). */
const RENDERED_MAX_BYTES = 128 * 1024 * 1024

/** A pure tone. */
export function sine (freq: number, seconds: number, rate: number, amp = 0.5): Float32Array {
  const out = new Float32Array(Math.round(seconds * rate))
  const w = (2 * Math.PI * freq) / rate
  for (let i = 0; i < out.length; i++) out[i] = amp * Math.sin(w * i)
  return out
}

/** Uniform white noise in [-amp, amp). */
export function whiteNoise (seconds: number, rate: number, amp = 0.5, seed = 1): Float32Array {
  const rand = prng(seed)
  const out = new Float32Array(Math.round(seconds * rate))
  for (let i = 0; i < out.length; i++) out[i] = amp * (rand() * 2 - 1)
  return out
}

/** All zeros. */
export function silence (seconds: number, rate: number): Float32Array {
  return new Float32Array(Math.round(seconds * rate))
}

/** Root mean square. */
export function rms (x: ArrayLike<number>, from = 0, to = x.length): number {
  let s = 0
  for (let i = from; i < to; i++) s += x[i] * x[i]
  return Math.sqrt(s / Math.max(1, to - from))
}

/** A copy of `x` with Gaussian white noise added at the given signal-to-noise ratio (in dB, over the whole clip). */
export function addNoise (x: Float32Array, snrDb: number, seed = 1): Float32Array {
  const rand = prng(seed + 1000003)
  const sigma = rms(x) / 10 ** (snrDb / 20)
  const out = new Float32Array(x.length)
  for (let i = 0; i < x.length; i++) out[i] = x[i] + sigma * gaussian(rand)
  return out
}

/** A slice of `x` from `start` seconds, `seconds` long. */
export function clip (x: Float32Array, rate: number, start: number, seconds: number): Float32Array {
  const from = Math.round(start * rate)
  return x.slice(from, from + Math.round(seconds * rate))
}

/**
 * The bytes of a PCM WAV file. `samples` is mono (copied to every channel) or one array per channel.
 * @param bits 16 or 24 (signed little-endian integer PCM)
 */
export function wavBytes (samples: Float32Array | readonly Float32Array[], rate: number, channels = 1, bits = 16): Buffer {
  if (bits !== 16 && bits !== 24) throw new RangeError(`bits must be 16 or 24, got ${bits}`)
  const chans = Array.isArray(samples) ? samples as readonly Float32Array[] : Array.from({ length: channels }, () => samples as Float32Array)
  if (chans.length !== channels) throw new RangeError(`${chans.length} channel arrays for ${channels} channels`)
  const frames = chans[0].length
  const width = bits / 8
  const dataBytes = frames * channels * width
  const buf = Buffer.alloc(44 + dataBytes)
  buf.write('RIFF', 0, 'ascii')
  buf.writeUInt32LE(36 + dataBytes, 4)
  buf.write('WAVE', 8, 'ascii')
  buf.write('fmt ', 12, 'ascii')
  buf.writeUInt32LE(16, 16) // fmt chunk size
  buf.writeUInt16LE(1, 20) // PCM
  buf.writeUInt16LE(channels, 22)
  buf.writeUInt32LE(rate, 24)
  buf.writeUInt32LE(rate * channels * width, 28) // byte rate
  buf.writeUInt16LE(channels * width, 32) // block align
  buf.writeUInt16LE(bits, 34)
  buf.write('data', 36, 'ascii')
  buf.writeUInt32LE(dataBytes, 40)
  const full = 2 ** (bits - 1)
  let p = 44
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) {
      const v = Math.max(-full, Math.min(full - 1, Math.round(chans[c][i] * full)))
      if (bits === 16) buf.writeInt16LE(v, p)
      else buf.writeIntLE(v, p, 3)
      p += width
    }
  }
  return buf
}

/** Write a PCM WAV file (see wavBytes). */
export function writeWav (file: string, samples: Float32Array | readonly Float32Array[], rate: number, channels = 1, bits = 16): void {
  fs.writeFileSync(file, wavBytes(samples, rate, channels, bits))
}
