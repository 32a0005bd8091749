// Degradations for the accuracy bench: what a phone mic, a lossy codec, a
// phone line or a radio station does to a clip before it reaches the server.
// Mono Float32Array PCM in, new Float32Array out; deterministic for a given
// seed (noise) and ffmpeg build (codec/filters). Bench-only: the server never
// shells out to ffmpeg.

import { spawn } from 'node:child_process';
import { endianness } from 'node:os';

const FFMPEG = process.env.FFMPEG ?? 'ffmpeg';

// f32le pipes reinterpret memory directly; a big-endian host would need swaps.
if (endianness() !== 'LE') throw new Error('bench/degrade assumes a little-endian host (f32le pipes)');

/** Small seeded PRNG (mulberry32): uniform in [0, 1). */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mean square of a signal (0 for an empty one). */
export function power(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return x.length > 0 ? s / x.length : 0;
}

/** SNR in dB of `degraded` against `clean`, sample-aligned, over the common length. */
export function snrDb(clean: Float32Array, degraded: Float32Array): number {
  const n = Math.min(clean.length, degraded.length);
  let ps = 0;
  let pn = 0;
  for (let i = 0; i < n; i++) {
    const d = degraded[i] - clean[i];
    ps += clean[i] * clean[i];
    pn += d * d;
  }
  if (pn === 0) return Infinity;
  return 10 * Math.log10(ps / pn);
}

/**
 * Adds gaussian white noise so that power(x) / power(noise) is exactly
 * `snrDb` (the noise is rescaled by its own realised power, so short clips hit
 * the target too). Not clipped: the engine takes floats, and clipping would
 * change the SNR. A silent clip comes back unchanged (no SNR can be defined).
 */
export function addWhiteNoise(x: Float32Array, snrDb: number, rng: () => number): Float32Array {
  const n = x.length;
  const out = new Float32Array(n);
  const ps = power(x);
  if (n === 0 || ps === 0) {
    out.set(x);
    return out;
  }
  // Box-Muller, two normals per pair of uniforms; noise parked in `out` first.
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - rng(); // (0, 1]: log never sees 0
    const u2 = rng();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  // Realised power in float64 from the float32 values actually stored.
  const pn = power(out);
  const g = Math.sqrt(ps / (pn * Math.pow(10, snrDb / 10)));
  for (let i = 0; i < n; i++) out[i] = x[i] + g * out[i];
  return out;
}

// ---------------------------------------------------------------- ffmpeg glue

function missing(): Error {
  return new Error(
    `ffmpeg not found (tried "${FFMPEG}"): bench/degrade needs it on PATH ` +
      '(Debian: apt-get install ffmpeg), or set FFMPEG to its path',
  );
}

/** Bytes of a Float32Array, without a copy. */
function bytesOf(x: Float32Array): Buffer {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}

/** Concatenates chunks straight into one Float32Array (one copy; big tracks stay cheap). */
function toFloat32(chunks: Buffer[], bytes: number): Float32Array {
  const n = Math.floor(bytes / 4);
  const out = new Float32Array(n);
  const view = new Uint8Array(out.buffer);
  let off = 0;
  for (const c of chunks) {
    const take = Math.min(c.length, n * 4 - off);
    if (take <= 0) break;
    view.set(c.subarray(0, take), off);
    off += take;
  }
  return out;
}

interface Collected {
  chunks: Buffer[];
  bytes: number;
}

/** Runs ffmpeg, feeds `input` on stdin (if any), collects stdout. */
function ffmpeg(args: string[], input?: Buffer): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const child = spawn(FFMPEG, ['-hide_banner', '-nostats', '-loglevel', 'error', ...args], {
      stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let err = '';
    let failed = false;
    child.on('error', (e: NodeJS.ErrnoException) => {
      failed = true;
      reject(e.code === 'ENOENT' ? missing() : e);
    });
    child.stdout!.on('data', (c: Buffer) => {
      chunks.push(c);
      bytes += c.length;
    });
    child.stderr!.on('data', (c: Buffer) => {
      if (err.length < 8192) err += c.toString();
    });
    child.on('close', (code, signal) => {
      if (failed) return;
      if (code === 0) resolve({ chunks, bytes });
      else reject(new Error(`ffmpeg ${args.join(' ')} failed (${code ?? signal}): ${err.trim()}`));
    });
    if (input) {
      // ffmpeg may exit before reading everything (it reports why on stderr).
      child.stdin!.on('error', () => {});
      child.stdin!.end(input);
    }
  });
}

function rawIn(sampleRate: number): string[] {
  return ['-f', 'f32le', '-ar', String(sampleRate), '-ac', '1', '-i', 'pipe:0'];
}

function rawOut(sampleRate: number): string[] {
  return ['-f', 'f32le', '-ar', String(sampleRate), '-ac', '1', 'pipe:1'];
}

/** Runs a filter graph over mono f32 PCM. */
async function filterPcm(x: Float32Array, sampleRate: number, af: string, outRate = sampleRate): Promise<Float32Array> {
  if (x.length === 0) return new Float32Array(0);
  const r = await ffmpeg([...rawIn(sampleRate), '-af', af, ...rawOut(outRate)], bytesOf(x));
  return toFloat32(r.chunks, r.bytes);
}

/** Copies into exactly `n` samples (truncating or zero-padding the tail). */
function fitLength(x: Float32Array, n: number): Float32Array {
  if (x.length === n) return x;
  const out = new Float32Array(n);
  out.set(x.length > n ? x.subarray(0, n) : x);
  return out;
}

/** Decodes any file ffmpeg reads to mono float PCM at `sampleRate` (channels averaged). */
export async function decodeToMono(file: string, sampleRate: number): Promise<Float32Array> {
  const r = await ffmpeg(['-nostdin', '-i', file, '-vn', ...rawOut(sampleRate)]);
  return toFloat32(r.chunks, r.bytes);
}

// ---------------------------------------------------------------- mp3

/**
 * Lag (in samples, within [0, maxLag]) at which `y` best matches `x`, by
 * normalised cross-correlation over the loudest second-ish of `x`.
 * Returns the lag and its correlation coefficient.
 */
export function bestLag(x: Float32Array, y: Float32Array, maxLag: number, window: number): { lag: number; corr: number } {
  const w = Math.min(window, x.length, Math.max(0, y.length - maxLag));
  if (w <= 0) return { lag: 0, corr: 0 };
  // Pick the most energetic block of x so silence at the start does not blind us.
  const block = w;
  let start = 0;
  let best = -1;
  for (let s = 0; s + block <= x.length && s + block + maxLag <= y.length; s += block >> 1) {
    let e = 0;
    for (let i = s; i < s + block; i += 4) e += x[i] * x[i];
    if (e > best) {
      best = e;
      start = s;
    }
  }
  let ex = 0;
  for (let i = start; i < start + block; i++) ex += x[i] * x[i];
  let bestLagV = 0;
  let bestCorr = -Infinity;
  for (let lag = 0; lag <= maxLag; lag++) {
    let xy = 0;
    let ey = 0;
    const o = start + lag;
    for (let i = 0; i < block; i++) {
      const v = y[o + i];
      xy += x[start + i] * v;
      ey += v * v;
    }
    const c = ex > 0 && ey > 0 ? xy / Math.sqrt(ex * ey) : 0;
    if (c > bestCorr) {
      bestCorr = c;
      bestLagV = lag;
    }
  }
  return { lag: bestLagV, corr: bestCorr };
}

// LAME's 576-sample encoder delay plus the 529-sample decoder delay; used when
// the clip is too quiet or short to measure the lag.
const MP3_NOMINAL_DELAY = 1105;

export interface Mp3Result {
  pcm: Float32Array;
  /** Leading samples trimmed from the decoded stream to align it with the input. */
  delay: number;
  /** Normalised correlation at that lag (0 when the nominal delay was used). */
  corr: number;
}

/**
 * MP3 round trip (libmp3lame CBR `kbps`), through pipes. Piped MP3 output has
 * no seekable Xing/LAME header, so the decoder cannot drop the codec delay
 * itself: the lag is measured by cross-correlation (falling back to the
 * nominal 1105 samples) and trimmed, and the result is cut/padded to the input
 * length.
 */
export async function mp3RoundTripWithDelay(x: Float32Array, sampleRate: number, kbps: number): Promise<Mp3Result> {
  if (x.length === 0) return { pcm: new Float32Array(0), delay: 0, corr: 0 };
  const enc = await ffmpeg(
    [...rawIn(sampleRate), '-c:a', 'libmp3lame', '-b:a', `${kbps}k`, '-f', 'mp3', 'pipe:1'],
    bytesOf(x),
  );
  const dec = await ffmpeg(['-f', 'mp3', '-i', 'pipe:0', ...rawOut(sampleRate)], Buffer.concat(enc.chunks, enc.bytes));
  const y = toFloat32(dec.chunks, dec.bytes);
  const maxLag = 4096;
  let { lag, corr } = bestLag(x, y, maxLag, Math.min(sampleRate, 1 << 15));
  if (!(corr > 0.5)) {
    lag = Math.min(MP3_NOMINAL_DELAY, y.length);
    corr = 0;
  }
  return { pcm: fitLength(y.subarray(lag), x.length), delay: lag, corr };
}

/** MP3 round trip at `kbps`, aligned to the input; see mp3RoundTripWithDelay. */
export async function mp3RoundTrip(x: Float32Array, sampleRate: number, kbps: number): Promise<Float32Array> {
  return (await mp3RoundTripWithDelay(x, sampleRate, kbps)).pcm;
}

// ---------------------------------------------------------------- phone line

export interface TelephoneOptions {
  /** Also quantise with G.711 mu-law at 8 kHz, as a real PSTN hop does (default false). */
  mulaw?: boolean;
}

/**
 * Telephone band: 300-3400 Hz, through 8 kHz sampling and back to
 * `sampleRate`. The biquads alone are gentle (12 dB/octave), so the 8 kHz
 * resampler's anti-alias filter is pulled down to 3400 Hz (cutoff 0.85 of
 * 4 kHz) with a long kernel for a steep upper edge. Same length as the input.
 */
export async function telephone(x: Float32Array, sampleRate: number, opts: TelephoneOptions = {}): Promise<Float32Array> {
  if (x.length === 0) return new Float32Array(0);
  const down = 'highpass=f=300,highpass=f=300,lowpass=f=3400,aresample=8000:filter_size=128:cutoff=0.85';
  const up = `aresample=${sampleRate}:filter_size=128:cutoff=0.85`;
  let y: Float32Array;
  if (opts.mulaw) {
    const r = await ffmpeg([...rawIn(sampleRate), '-af', down, '-f', 'mulaw', '-ar', '8000', '-ac', '1', 'pipe:1'], bytesOf(x));
    const law = Buffer.concat(r.chunks, r.bytes);
    const u = await ffmpeg(['-f', 'mulaw', '-ar', '8000', '-ac', '1', '-i', 'pipe:0', '-af', up, ...rawOut(sampleRate)], law);
    y = toFloat32(u.chunks, u.bytes);
  } else {
    y = await filterPcm(x, sampleRate, `${down},${up}`);
  }
  return fitLength(y, x.length);
}

// ---------------------------------------------------------------- speed

/**
 * Radio-style speed change: tempo and pitch together (factor 1.03 = 3% faster
 * and 3% higher), i.e. relabel the rate and resample back. Output length is
 * round(n / factor). asetrate takes an integer rate, so the effective factor
 * is round(sampleRate * factor) / sampleRate (error < 0.5 / sampleRate).
 */
export async function changeSpeed(x: Float32Array, sampleRate: number, factor: number): Promise<Float32Array> {
  if (!(factor > 0)) throw new Error(`changeSpeed: factor must be > 0, got ${factor}`);
  const n = Math.round(x.length / factor);
  if (x.length === 0 || factor === 1) return fitLength(x.slice(), n);
  const rate = Math.round(sampleRate * factor);
  // soxr: high quality band-limited resampling, and it keeps the time origin.
  const y = await filterPcm(x, sampleRate, `asetrate=${rate},aresample=${sampleRate}:resampler=soxr:precision=28`);
  return fitLength(y, n);
}
