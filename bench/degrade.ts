// Degradations for the accuracy bench: what a phone mic, a lossy codec, a
// phone line or a radio station does to a clip before it reaches the server.
// Mono Float32Array PCM in, new Float32Array out; deterministic for a given
// seed (noise, voice-over) and ffmpeg/sox/espeak-ng build (codec, filters,
// effects, speech). Bench-only: the server never shells out to these tools.

import { spawn } from 'node:child_process';
import { endianness } from 'node:os';

const FFMPEG = process.env.FFMPEG ?? 'ffmpeg';
const SOX = process.env.SOX ?? 'sox';
const ESPEAK = process.env.ESPEAK_NG ?? 'espeak-ng';

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

// ---------------------------------------------------------------- tool glue (ffmpeg, sox, espeak-ng)

interface Tool {
  /** Binary to run. */
  bin: string;
  /** Name in messages. */
  name: string;
  /** Debian package that provides it, and the variable that overrides the binary. */
  pkg: string;
  envVar: string;
  /** Arguments always passed first. */
  pre: string[];
}

const FFMPEG_TOOL: Tool = { bin: FFMPEG, name: 'ffmpeg', pkg: 'ffmpeg', envVar: 'FFMPEG', pre: ['-hide_banner', '-nostats', '-loglevel', 'error'] };
// -D: no dither (sox would only dither an output of fewer than 24 bits anyway).
const SOX_TOOL: Tool = { bin: SOX, name: 'sox', pkg: 'sox', envVar: 'SOX', pre: ['-D'] };
const ESPEAK_TOOL: Tool = { bin: ESPEAK, name: 'espeak-ng', pkg: 'espeak-ng', envVar: 'ESPEAK_NG', pre: [] };

function missing(t: Tool): Error {
  return new Error(
    `${t.name} not found (tried "${t.bin}"): bench/degrade needs it on PATH ` +
      `(Debian: apt-get install ${t.pkg}), or set ${t.envVar} to its path`,
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

/** Runs a tool, feeds `input` on stdin (if any), collects stdout. */
function run(t: Tool, args: string[], input?: Buffer): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const child = spawn(t.bin, [...t.pre, ...args], {
      stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let err = '';
    let failed = false;
    child.on('error', (e: NodeJS.ErrnoException) => {
      failed = true;
      reject(e.code === 'ENOENT' ? missing(t) : e);
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
      else reject(new Error(`${t.name} ${args.join(' ')} failed (${code ?? signal}): ${err.trim()}`));
    });
    if (input) {
      // The tool may exit before reading everything (it reports why on stderr).
      child.stdin!.on('error', () => {});
      child.stdin!.end(input);
    }
  });
}

/** Runs ffmpeg, feeds `input` on stdin (if any), collects stdout. */
function ffmpeg(args: string[], input?: Buffer): Promise<Collected> {
  return run(FFMPEG_TOOL, args, input);
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

// ---------------------------------------------------------------- sox glue

/**
 * sox format options of raw mono float32 little-endian PCM at `sampleRate`, for
 * the file name ("-", a pipe) that follows them. Spelled out: `-t f32` alone
 * would not pin the byte order.
 */
function soxRaw(sampleRate: number): string[] {
  return ['-t', 'raw', '-e', 'floating-point', '-b', '32', '-L', '-r', String(sampleRate), '-c', '1'];
}

/**
 * Runs a sox effects chain over mono f32 PCM, stdin to stdout. sox works in
 * 32-bit integers inside: input samples beyond ±1 are clipped (it warns on
 * stderr, which is only shown if sox fails), as is the output of every effect.
 * An output rate other than the input's makes sox append its `rate` effect.
 */
async function soxPcm(x: Float32Array, sampleRate: number, effects: string[], outRate = sampleRate): Promise<Float32Array> {
  if (x.length === 0) return new Float32Array(0);
  const r = await run(SOX_TOOL, [...soxRaw(sampleRate), '-', ...soxRaw(outRate), '-', ...effects], bytesOf(x));
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

/**
 * Resamples mono PCM from `fromRate` to `toRate` (ffmpeg's soxr, as changeSpeed
 * uses). Output length is round(n * toRate / fromRate).
 */
export async function resample(x: Float32Array, fromRate: number, toRate: number): Promise<Float32Array> {
  const n = Math.round((x.length * toRate) / fromRate);
  if (x.length === 0 || fromRate === toRate) return fitLength(x.slice(), n);
  return fitLength(await filterPcm(x, fromRate, `aresample=${toRate}:resampler=soxr:precision=28`, toRate), n);
}

/**
 * Writes mono PCM to `file` with ffmpeg, encoded by `codec` (ffmpeg output
 * options, e.g. ['-c:a', 'pcm_s16le'] or ['-c:a', 'libmp3lame', '-b:a', '128k']);
 * the container follows the file's extension. An MP3 written to a file gets its
 * LAME header, unlike the piped ones of mp3RoundTrip.
 */
export async function writeAudioFile(x: Float32Array, sampleRate: number, file: string, codec: string[]): Promise<void> {
  await ffmpeg([...rawIn(sampleRate), ...codec, '-y', file], bytesOf(x));
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

// ---------------------------------------------------------------- tempo, pitch

/**
 * Tempo change with the pitch kept (factor 1.03 = 3% faster, same key): sox
 * `tempo -m` (WSOLA, segment sizes tuned for music). Output length is
 * round(n / factor), as for changeSpeed.
 */
export async function changeTempo(x: Float32Array, sampleRate: number, factor: number): Promise<Float32Array> {
  if (!(factor > 0)) throw new Error(`changeTempo: factor must be > 0, got ${factor}`);
  const n = Math.round(x.length / factor);
  if (x.length === 0 || factor === 1) return fitLength(x.slice(), n);
  const y = await soxPcm(x, sampleRate, ['tempo', '-m', String(factor)]);
  return fitLength(y, n);
}

/**
 * Pitch shift by `semitones` with the tempo kept: sox `pitch` (WSOLA tempo
 * change, then resampled back to the input rate). Same length as the input.
 */
export async function changePitch(x: Float32Array, sampleRate: number, semitones: number): Promise<Float32Array> {
  if (x.length === 0 || semitones === 0) return x.slice();
  const cents = Math.round(semitones * 100 * 1000) / 1000;
  const y = await soxPcm(x, sampleRate, ['pitch', String(cents)]);
  return fitLength(y, x.length);
}

// ---------------------------------------------------------------- voice-over

/** Generic radio-presenter lines for voiceOver. */
export const DJ_LINES: readonly string[] = [
  "You're listening to the afternoon show, and we've got plenty more music coming up.",
  'That was a listener request, and a great one. Keep those messages coming.',
  'Traffic is slow on the ring road this evening, so take it easy out there.',
  'Coming up after the news, the top ten at ten. Stay with us.',
  "It's a bright and breezy one today, with a high of twenty one degrees.",
  'Good morning and welcome back. Grab a coffee, we have a long set ahead.',
  "Don't forget, the phone lines are open right now for the competition.",
  'Here is one from a few years back that still fills the dance floor.',
  'Thanks for all your texts this morning, we read every single one of them.',
  "We'll be live from the town square this weekend, so come and say hello.",
  "Right, let's keep the music going. This next one is a real favourite.",
  'Your drive time soundtrack continues, nonstop hits until seven.',
];

/**
 * espeak-ng English voices (Debian's espeak-ng-data, no mbrola) and voice variants voiceOver picks from. British
 * English is "en": "en-gb+f3" would silently drop the variant.
 */
const VOICES = ['en-us', 'en', 'en-gb-x-rp', 'en-gb-scotland', 'en-us-nyc', 'en-029'];
const VARIANTS = ['m1', 'm2', 'm3', 'm7', 'f1', 'f2', 'f3', 'f4'];

export interface SpeechChoice {
  /** espeak-ng voice name with variant, e.g. "en-gb+f3". */
  voice: string;
  /** Words per minute (espeak-ng -s). */
  wpm: number;
  /** espeak-ng pitch, 0-99 (-p). */
  pitch: number;
  /** The sentences, in order. */
  text: string[];
}

/**
 * Picks voice, speed, pitch and enough sentences for about `seconds` of
 * speech (a quarter more, by the words-per-minute rate), all from `rng`.
 */
export function chooseSpeech(seconds: number, rng: () => number): SpeechChoice {
  const pick = <T>(xs: readonly T[]): T => xs[Math.min(xs.length - 1, Math.floor(rng() * xs.length))];
  const voice = `${pick(VOICES)}+${pick(VARIANTS)}`;
  const wpm = 150 + Math.floor(rng() * 51); // espeak-ng's default is 175
  const pitch = 35 + Math.floor(rng() * 31); // default 50
  const want = (seconds * wpm * 1.25) / 60;
  const text: string[] = [];
  let words = 0;
  while (words < want) {
    const line = pick(DJ_LINES);
    text.push(line);
    words += line.split(/\s+/).length;
  }
  return { voice, wpm, pitch, text };
}

/**
 * Speech synthesised by espeak-ng (WAV on stdout), resampled by sox to
 * `sampleRate`, as mono f32 PCM.
 */
export async function synthesiseSpeech(choice: SpeechChoice, sampleRate: number): Promise<Float32Array> {
  const wav = await run(ESPEAK_TOOL, [
    '-v', choice.voice, '-s', String(choice.wpm), '-p', String(choice.pitch), '--stdout', choice.text.join(' '),
  ]);
  // espeak-ng cannot seek back into a pipe to fill in the WAV sizes; sox reads to end of stream regardless.
  const r = await run(SOX_TOOL, ['-V1', '-t', 'wav', '-', ...soxRaw(sampleRate), '-'], Buffer.concat(wav.chunks, wav.bytes));
  return toFloat32(r.chunks, r.bytes);
}

/**
 * A presenter talking over the music for the whole clip: radio-style English
 * sentences, voice, speed and pitch chosen by `rng` (chooseSpeech), the speech
 * looped if it ends early and cut to the clip, scaled to the clip's RMS and
 * added. Not clipped (like addWhiteNoise). Same length as the input; a silent
 * clip comes back unchanged (no level to match).
 */
export async function voiceOver(x: Float32Array, sampleRate: number, rng: () => number): Promise<Float32Array> {
  const n = x.length;
  const out = new Float32Array(n);
  const px = power(x);
  if (n === 0 || px === 0) {
    out.set(x);
    return out;
  }
  const speech = await synthesiseSpeech(chooseSpeech(n / sampleRate, rng), sampleRate);
  if (speech.length === 0) throw new Error('voiceOver: espeak-ng produced no audio');
  // Loop the speech over the clip, parked in `out`, then level-match it.
  for (let i = 0; i < n; i += speech.length) out.set(speech.subarray(0, Math.min(speech.length, n - i)), i);
  const ps = power(out);
  const g = ps > 0 ? Math.sqrt(px / ps) : 0;
  for (let i = 0; i < n; i++) out[i] = x[i] + g * out[i];
  return out;
}

// ---------------------------------------------------------------- radio processing

/** Peak ceiling of radioProcess's limiter, in dBFS. */
export const RADIO_CEILING_DB = -1;

// A broadcast-style 4-band compressor (sox mcompand). Bands split by
// Linkwitz-Riley crossovers at 200 Hz (bass | low mids), 1.5 kHz (low mids |
// presence) and 6 kHz (presence | air). Each band: "attack,decay" in seconds
// (bass slowest, so it does not pump or distort low notes; treble fastest, to
// catch transients), then the same transfer curve in band dB, input,output
// pairs with a 6 dB soft knee:
//   below -70 dB  unchanged (silence and hiss are not pumped up);
//   -70 to -50    rises to +10 dB of gain (quiet passages brought up);
//   -50 to -20    3:1 compression (-40 to -30 out);
//   -20 to 0      about 3.3:1 (-30 to -24 out), a dense, even level;
// then 8 dB of make-up gain, and -20 dB as the level assumed at the start of
// the clip (a station's processor has been running long before any clip).
// A crossover at or above 0.45 of the sample rate (6 kHz below 13.3 kHz) is
// dropped: the bands on either side of it are merged.
const BAND = '6:-70,-70,-50,-40,-20,-30,0,-24 8 -20';
const CROSSOVERS_HZ = [200, 1500, 6000];
const BAND_TIMES = ['0.005,0.15', '0.003,0.08', '0.001,0.03', '0.0005,0.02'];

function mcompand(sampleRate: number): string[] {
  const k = CROSSOVERS_HZ.filter((f) => f < 0.45 * sampleRate).length;
  const args = ['mcompand'];
  for (let i = 0; i < k; i++) args.push(`${BAND_TIMES[i]} ${BAND}`, String(CROSSOVERS_HZ[i]));
  args.push(`${BAND_TIMES[k]} ${BAND}`);
  return args;
}
// The final limiter (sox compand): instant attack (0 s), 100 ms release, hard
// knee: unity gain up to -9 dBFS, flat above it, then +8 dB: a peak ceiling of
// -1 dBFS. With a zero attack the gain is computed from the very sample it is
// applied to, so no peak passes the ceiling.
const LIMIT_FROM_DB = -9;
const LIMITER = [
  'compand', '0,0.1', `-90,-90,${LIMIT_FROM_DB},${LIMIT_FROM_DB},0,${LIMIT_FROM_DB}`, String(RADIO_CEILING_DB - LIMIT_FROM_DB),
];

/**
 * A station's on-air processing without the codec: the 4-band compressor and
 * the limiter above, in one sox run. An RMS of -12 to -13 dBFS on
 * music; peaks at most RADIO_CEILING_DB. Same length as the input.
 */
export async function radioProcess(x: Float32Array, sampleRate: number): Promise<Float32Array> {
  if (x.length === 0) return new Float32Array(0);
  return fitLength(await soxPcm(x, sampleRate, [...mcompand(sampleRate), ...LIMITER]), x.length);
}

/** Radio: radioProcess, then an MP3 round trip at 128 kbit/s (a stream or the station's playout). Same length as the input. */
export async function radio(x: Float32Array, sampleRate: number): Promise<Float32Array> {
  return mp3RoundTrip(await radioProcess(x, sampleRate), sampleRate, 128);
}
