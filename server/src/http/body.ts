/**
 * Request bodies: JSON objects, and audio as a file (any container earshot decodes), raw PCM with its format in the
 * content type, or a multipart form. Every failure is a catalogued error with the route's status.
 */
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from '../../../protocol/src/index.js'
import { earshotError, wrapError } from '../errors.js'
import type { HttpRequest } from './request.js'

export interface ContentType { type: string, params: Record<string, string> }

/** `audio/pcm; rate=44100; encoding=s16le` → { type: 'audio/pcm', params: { rate: '44100', encoding: 's16le' } } */
export function parseContentType (header: string | undefined): ContentType {
  const [type, ...rest] = (header ?? '').split(';')
  const params: Record<string, string> = {}
  for (const p of rest) {
    const eq = p.indexOf('=')
    if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1')
  }
  return { type: type.trim().toLowerCase(), params }
}

/** The body as a JSON object. */
export async function readJson (req: HttpRequest): Promise<Record<string, unknown>> {
  const ct = parseContentType(req.header('content-type'))
  if (ct.type !== 'application/json') throw earshotError('EAR_ERR_CONTENT_TYPE', JSON.stringify(ct.type || 'none'), 'application/json')
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
  if (ct.type === 'audio/pcm' || ct.type === 'audio/l16') return readPcm(ct, await req.body())
  if (ct.type.startsWith('audio/') || ct.type.startsWith('video/') || ct.type === 'application/octet-stream' || ct.type === 'application/ogg') {
    const bytes = await req.body()
    if (bytes.length === 0) throw earshotError('EAR_ERR_FILE_EMPTY', 'the request body')
    return { kind: 'encoded', bytes, name: `upload.${ct.type.split('/')[1] ?? 'bin'}`, fields: {} }
  }
  throw earshotError('EAR_ERR_CONTENT_TYPE', JSON.stringify(ct.type || 'none'), ACCEPTED)
}

function readPcm (ct: ContentType, bytes: Buffer): AudioBody {
  const rate = Number(ct.params.rate)
  if (!Number.isInteger(rate) || rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE) throw earshotError('EAR_ERR_BAD_REQUEST', `the content type needs rate=${MIN_SAMPLE_RATE}..${MAX_SAMPLE_RATE}`)
  const channels = ct.params.channels === undefined ? 1 : Number(ct.params.channels)
  if (channels !== 1 && channels !== 2) throw earshotError('EAR_ERR_BAD_REQUEST', 'channels must be 1 or 2')
  const bigEndian = ct.type === 'audio/l16' // RFC 2586: network byte order
  const encoding = bigEndian ? 's16be' : (ct.params.encoding ?? 's16le')
  if (encoding !== 's16le' && encoding !== 'f32le' && encoding !== 's16be') throw earshotError('EAR_ERR_BAD_REQUEST', 'encoding must be s16le or f32le')
  const width = encoding === 'f32le' ? 4 : 2
  const frameBytes = width * channels
  if (bytes.length === 0) throw earshotError('EAR_ERR_FILE_EMPTY', 'the request body')
  if (bytes.length % frameBytes !== 0) throw earshotError('EAR_ERR_BAD_REQUEST', `${bytes.length} bytes is not a whole number of ${frameBytes}-byte sample frames`)
  const frames = bytes.length / frameBytes
  const samples = new Float32Array(frames)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let i = 0; i < frames; i++) {
    let sum = 0
    for (let c = 0; c < channels; c++) {
      const at = i * frameBytes + c * width
      const v = encoding === 'f32le' ? view.getFloat32(at, true) : view.getInt16(at, !bigEndian) / 32768
      sum += v
    }
    const v = sum / channels
    if (!Number.isFinite(v)) throw earshotError('EAR_ERR_BAD_REQUEST', 'the PCM holds NaN or infinite samples')
    samples[i] = v
  }
  return { kind: 'pcm', samples, sampleRate: rate, fields: {} }
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
