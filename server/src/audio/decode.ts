/**
 * Decoding: an audio file in, mono float PCM at the file's own rate out.
 *
 * WAV, MP3, FLAC, Ogg Vorbis, Opus and friends decode in WebAssembly through `audio-decode`, so they need nothing but
 * `npm install`. Anything else goes to `ffmpeg` when it is on the PATH.
 */
import fs from 'node:fs/promises'
import { spawn } from 'node:child_process'
import decodeAudio from 'audio-decode'
import { earshotError, wrapError, EarshotError } from '../errors.js'

export interface DecodedAudio {
  /** Mono PCM in -1..1. */
  samples: Float32Array
  sampleRate: number
  durationSeconds: number
}

/** Average the channels into one. */
export function downmix (channels: readonly Float32Array[]): Float32Array {
  if (channels.length === 1) return channels[0]
  const n = channels[0].length
  const out = new Float32Array(n)
  const scale = 1 / channels.length
  for (const ch of channels) for (let i = 0; i < n; i++) out[i] += ch[i] * scale
  return out
}

/** Decode bytes already in memory (an upload, a file's contents). `name` is only for messages and ffmpeg. */
export async function decodeBytes (bytes: Uint8Array, name: string): Promise<DecodedAudio> {
  if (bytes.length === 0) throw earshotError('EAR_ERR_FILE_EMPTY', name)
  let decoded: { channelData: Float32Array[], sampleRate: number } | undefined
  let firstError: unknown
  try {
    decoded = await decodeAudio(bytes)
  } catch (err) {
    firstError = err
  }
  if (!decoded || decoded.channelData.length === 0 || !(decoded.sampleRate > 0)) {
    decoded = await decodeWithFfmpeg(bytes).catch((err: unknown) => {
      if (err instanceof EarshotError) throw err
      throw wrapError('EAR_ERR_NOT_AUDIO', firstError ?? err, name)
    })
  }
  const samples = downmix(decoded.channelData)
  return { samples, sampleRate: decoded.sampleRate, durationSeconds: samples.length / decoded.sampleRate }
}

/** Read a file's bytes, with the catalogued errors for a missing or unreadable file. */
export async function readFileBytes (file: string): Promise<Uint8Array> {
  try {
    return await fs.readFile(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw earshotError('EAR_ERR_FILE_NOT_FOUND', file)
    throw wrapError('EAR_ERR_FILE_UNREADABLE', err, file)
  }
}

/** Decode a file. */
export async function decodeFile (file: string): Promise<DecodedAudio> {
  return decodeBytes(await readFileBytes(file), file)
}

/** Sample rate ffmpeg decodes to when it has to: high enough for any internal rate. */
const FFMPEG_RATE = 44100

/** Decode with ffmpeg to mono f32le, or reject (ffmpeg missing, or not audio). */
export function decodeWithFfmpeg (bytes: Uint8Array): Promise<{ channelData: Float32Array[], sampleRate: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-i', 'pipe:0',
      '-vn', '-ac', '1', '-ar', String(FFMPEG_RATE), '-f', 'f32le', 'pipe:1'], { stdio: ['pipe', 'pipe', 'pipe'] })
    const chunks: Buffer[] = []
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => chunks.push(c))
    child.stderr.on('data', (c: Buffer) => { if (stderr.length < 2000) stderr += c.toString() })
    child.on('error', (err) => reject(err))
    child.stdin.on('error', () => {}) // ffmpeg may close its input early on a bad file; the exit code tells
    child.on('close', (code) => {
      const out = Buffer.concat(chunks)
      if (code === 0 && out.length < 4) {
        // ffmpeg read the container fine and found no samples in it.
        reject(earshotError('EAR_ERR_AUDIO_TOO_SHORT', '0 s of audio'))
        return
      }
      if (code !== 0) {
        reject(new Error(stderr.trim().split('\n').pop() || `ffmpeg exited with ${code}`))
        return
      }
      const samples = new Float32Array(out.buffer, out.byteOffset, out.length >> 2)
      resolve({ channelData: [Float32Array.from(samples)], sampleRate: FFMPEG_RATE })
    })
    child.stdin.end(bytes)
  })
}

