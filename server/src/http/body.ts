/**
 * Request bodies: JSON objects, and audio as a file (any container earshot decodes), raw PCM with its format in the
 * content type, or a multipart form. Every failure is a catalogued error with the route's status.
 */
import { PcmFramer } from '../audio/pcm-framer.js'
import { frameBytesOf, hasNonFiniteFloats, pcmToMono } from '../audio/pcm-to-mono.js'
import { earshotError, wrapError } from '../errors.js'
import { parseContentType, rawPcmType, type RawPcmType } from '../net/content-type.js'
import type { HttpRequest } from './request.js'
import { Type, type TObject } from '@sinclair/typebox'

/** The body as a JSON object; `mergePatch`: `application/merge-patch+json` (RFC 7396) is taken too. */
export async function readJson (req: HttpRequest, mergePatch = false): Promise<Record<string, unknown>> {
  const ct = parseContentType(req.header('content-type'))
  if (ct.type !== 'application/json' && !(mergePatch && ct.type === 'application/merge-patch+json')) {
    throw earshotError('EAR_ERR_CONTENT_TYPE', JSON.stringify(ct.type || 'none'), mergePatch ? 'application/json or application/merge-patch+json' : 'application/json')
  }
  const bytes = await req.body()
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw earshotError('EAR_ERR_BAD_JSON', (err as Error).message)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw earshotError('EAR_ERR_BAD_JSON', 'expected an object')
  return value as Record<string, unknown>
}

/** Audio in a request: encoded bytes to decode, or PCM already. */
export type AudioBody =
  | { kind: 'encoded', bytes: Uint8Array, name: string, fields: Record<string, string> }
  | { kind: 'pcm', samples: Float32Array, sampleRate: number, fields: Record<string, string> }

const ACCEPTED = 'an audio file (audio/*, application/octet-stream), raw PCM (audio/pcm;rate=R;encoding=s16le|f32le;channels=C or audio/L16;rate=R) or multipart/form-data with a file'

/** Audio from the body; multipart forms also give their text fields. */
export async function readAudio (req: HttpRequest): Promise<AudioBody> {
  const ct = parseContentType(req.header('content-type'))
  if (ct.type === 'multipart/form-data') return readMultipart(req, req.header('content-type') ?? '')
  const pcm = rawPcmType(ct)
  if (pcm) return readPcm(pcm, await req.body())
  if (ct.type.startsWith('audio/') || ct.type.startsWith('video/') || ct.type === 'application/octet-stream' || ct.type === 'application/ogg') {
    const bytes = await req.body()
    if (bytes.length === 0) throw earshotError('EAR_ERR_FILE_EMPTY', 'the request body')
    return { kind: 'encoded', bytes, name: `upload.${ct.type.split('/')[1] ?? 'bin'}`, fields: {} }
  }
  throw earshotError('EAR_ERR_CONTENT_TYPE', JSON.stringify(ct.type || 'none'), ACCEPTED)
}

function readPcm (pcm: RawPcmType, bytes: Buffer): AudioBody {
  if (pcm.problem !== undefined) throw earshotError('EAR_ERR_BAD_REQUEST', pcm.problem)
  const { format, bigEndian } = pcm
  const frameBytes = frameBytesOf(format)
  if (bytes.length === 0) throw earshotError('EAR_ERR_FILE_EMPTY', 'the request body')
  if (bytes.length % frameBytes !== 0) throw earshotError('EAR_ERR_BAD_REQUEST', `${bytes.length} bytes is not a whole number of ${frameBytes}-byte sample frames`)
  if (format.encoding === 'f32le' && hasNonFiniteFloats(bytes)) throw earshotError('EAR_ERR_BAD_REQUEST', 'the PCM holds NaN or infinite samples')
  const samples = new Float32Array(bytes.length / frameBytes)
  let written = 0
  const framer = new PcmFramer((frames) => { written += pcmToMono(frames, format, samples, written) }) // swaps audio/L16
  framer.reset(frameBytes, bigEndian)
  framer.push(bytes)
  return { kind: 'pcm', samples, sampleRate: format.sampleRate, fields: {} }
}

/**
 * multipart/form-data through the WHATWG Request parser that ships with Node (undici): well kept and already here.
 * The file is the field `audio` or `file`, else the first file.
 */
async function readMultipart (req: HttpRequest, contentType: string): Promise<AudioBody> {
  const bytes = await req.body()
  let form: FormData
  try {
    form = await new Request('http://earshot.invalid/', { method: 'POST', headers: { 'content-type': contentType }, body: new Blob([bytes as Uint8Array<ArrayBuffer>]) }).formData()
  } catch (err) {
    throw wrapError('EAR_ERR_BAD_REQUEST', err, 'the multipart body cannot be parsed')
  }
  const fields: Record<string, string> = {}
  let file: File | undefined
  for (const [name, value] of form.entries()) {
    if (typeof value === 'string') fields[name] = value
    else if (name === 'audio' || name === 'file' || !file) file = value
  }
  if (!file) throw earshotError('EAR_ERR_BAD_REQUEST', 'the form holds no file; send it as the field "audio"')
  const data = new Uint8Array(await file.arrayBuffer())
  if (data.length === 0) throw earshotError('EAR_ERR_FILE_EMPTY', file.name || 'the uploaded file')
  return { kind: 'encoded', bytes: data, name: file.name || 'upload', fields }
}

const ENCODED_AUDIO = 'Audio in any container earshot decodes: WAV, MP3, FLAC, Ogg Vorbis, Opus; with ffmpeg on the server, every other format ffmpeg knows'
const binary = (description: string) => ({ schema: Type.String({ format: 'binary', description }) })

/** The OpenAPI request body of readAudio: files always; raw PCM when `withPcm` (a track keeps its container as its source). */
export function audioUpload (withPcm: boolean, form: TObject): Record<string, unknown> {
  const content: Record<string, unknown> = {
    'audio/*': binary(ENCODED_AUDIO),
    'video/*': binary('A video container; its audio is used (needs ffmpeg for most containers)'),
    'application/ogg': binary('Ogg Vorbis or Opus'),
    'application/octet-stream': binary(`${ENCODED_AUDIO}; the format is read from the bytes`),
  }
  if (withPcm) {
    content['audio/pcm'] = binary('Raw interleaved PCM. Media type parameters: rate=8000..96000 (Hz, required), ' +
      'encoding=s16le (default) or f32le, channels=1 (default) or 2. Example: `audio/pcm; rate=44100; encoding=s16le; channels=2`. ' +
      'The body must hold whole sample frames; f32le samples must be finite. Stereo is mixed to mono.')
    content['audio/L16'] = binary('RFC 2586 linear 16-bit PCM, big-endian (network byte order). Media type parameters: ' +
      'rate=8000..96000 (Hz, required), channels=1 (default) or 2. Example: `audio/L16; rate=16000`.')
  }
  content['multipart/form-data'] = { schema: form, encoding: { audio: { contentType: 'audio/*, video/*, application/ogg, application/octet-stream' } } }
  return { required: true, content }
}
