// Self-check of bench/degrade.ts (not a test: needs ffmpeg, sox and espeak-ng, prints figures).
//   node dist/bench/degrade-check.js [audio-file]
// Without a file it uses a synthetic music-like clip; exit code 1 if a check fails.

import { pathToFileURL } from 'node:url';
import {
  addWhiteNoise,
  bestLag,
  changePitch,
  changeSpeed,
  changeTempo,
  chooseSpeech,
  decodeToMono,
  makeRng,
  mp3RoundTripWithDelay,
  power,
  radio,
  radioProcess,
  RADIO_CEILING_DB,
  snrDb,
  telephone,
  voiceOver,
} from './degrade.js';

const SR = 44100;

/** Notes with harmonics and decay, a bass line and hi-hat noise bursts: broadband like music. */
function synthClip(seconds: number, sampleRate: number, seed: number): Float32Array {
  const n = Math.round(seconds * sampleRate);
  const x = new Float32Array(n);
  const rng = makeRng(seed);
  const beat = Math.round(sampleRate * 0.25);
  for (let s = 0; s < n; s += beat) {
    const f0 = 110 * Math.pow(2, Math.floor(rng() * 36) / 12);
    const len = Math.min(beat * 2, n - s);
    for (let i = 0; i < len; i++) {
      const t = i / sampleRate;
      const env = Math.exp(-t * 4);
      let v = 0;
      for (let h = 1; h <= 8; h++) v += Math.sin(2 * Math.PI * f0 * h * t) / h;
      x[s + i] += 0.15 * env * v;
    }
    const hat = Math.min(Math.round(sampleRate * 0.03), n - s);
    for (let i = 0; i < hat; i++) x[s + i] += 0.1 * (rng() * 2 - 1) * (1 - i / hat);
  }
  return x;
}

/** In-place iterative radix-2 FFT on (re, im). */
function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i]; re[i] = re[j]; re[j] = t;
      t = im[i]; im[i] = im[j]; im[j] = t;
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < len >> 1; k++) {
        const a = i + k;
        const b = a + (len >> 1);
        const xr = re[b] * cr - im[b] * ci;
        const xi = re[b] * ci + im[b] * cr;
        re[b] = re[a] - xr; im[b] = im[a] - xi;
        re[a] += xr; im[a] += xi;
        const t = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = t;
      }
    }
  }
}

/** Fraction of (Hann-windowed, frame-averaged) energy at or above `hz`. */
function energyAbove(x: Float32Array, sampleRate: number, hz: number): number {
  const N = 4096;
  const re = new Float64Array(N);
  const im = new Float64Array(N);
  const win = new Float64Array(N);
  for (let i = 0; i < N; i++) win[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / N);
  const kCut = Math.ceil((hz * N) / sampleRate);
  let hi = 0;
  let all = 0;
  for (let s = 0; s + N <= x.length; s += N >> 1) {
    for (let i = 0; i < N; i++) {
      re[i] = x[s + i] * win[i];
      im[i] = 0;
    }
    fft(re, im);
    for (let k = 1; k < N >> 1; k++) {
      const p = re[k] * re[k] + im[k] * im[k];
      all += p;
      if (k >= kCut) hi += p;
    }
  }
  return all > 0 ? hi / all : 0;
}

/** Pearson correlation over the common length. */
function correlation(a: Float32Array, b: Float32Array): number {
  const n = Math.min(a.length, b.length);
  let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (let i = 0; i < n; i++) {
    sa += a[i]; sb += b[i];
    saa += a[i] * a[i]; sbb += b[i] * b[i]; sab += a[i] * b[i];
  }
  const cov = sab - (sa * sb) / n;
  return cov / Math.sqrt((saa - (sa * sa) / n) * (sbb - (sb * sb) / n));
}

/** Reference speed change by linear interpolation: only to check ffmpeg's alignment. */
function naiveSpeed(x: Float32Array, factor: number, n: number): Float32Array {
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i * factor;
    const k = Math.floor(t);
    const f = t - k;
    y[i] = k + 1 < x.length ? x[k] * (1 - f) + x[k + 1] * f : 0;
  }
  return y;
}

/** RMS envelope in frames of `hop` samples. */
function envelope(x: Float32Array, hop: number): Float32Array {
  const m = Math.floor(x.length / hop);
  const e = new Float32Array(m);
  for (let f = 0; f < m; f++) {
    let s = 0;
    for (let i = f * hop; i < (f + 1) * hop; i++) s += x[i] * x[i];
    e[f] = Math.sqrt(s / hop);
  }
  return e;
}

/**
 * Lag in frames (within ±maxLag) of `y`'s RMS envelope against `ref`'s, and the correlation there: a timing check for
 * effects that keep no waveform (tempo, pitch).
 */
function envelopeLag(ref: Float32Array, y: Float32Array, hop: number, maxLag: number): { lag: number; corr: number } {
  const a = envelope(ref, hop);
  const b = envelope(y, hop);
  let best = { lag: 0, corr: -Infinity };
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    const lo = Math.max(0, -lag);
    const hi = Math.min(a.length, b.length - lag);
    if (hi - lo < 2) continue;
    const c = correlation(a.subarray(lo, hi), b.subarray(lo + lag, hi + lag));
    if (c > best.corr) best = { lag, corr: c };
  }
  return best;
}

/** Frequency of a tone from its interpolated upward zero crossings, over the middle half of `x`. */
function toneHz(x: Float32Array, sampleRate: number): number {
  const from = x.length >> 2;
  const to = from + (x.length >> 1);
  let first = -1;
  let last = -1;
  let count = 0;
  for (let i = from; i < to; i++) {
    if (x[i - 1] < 0 && x[i] >= 0) {
      const t = i - 1 + x[i - 1] / (x[i - 1] - x[i]);
      if (first < 0) first = t;
      else count++;
      last = t;
    }
  }
  return count > 0 ? (count * sampleRate) / (last - first) : 0;
}

function sine(hz: number, seconds: number, sampleRate: number): Float32Array {
  const x = new Float32Array(Math.round(seconds * sampleRate));
  for (let i = 0; i < x.length; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * hz * i) / sampleRate);
  return x;
}

const rms = (x: Float32Array): number => Math.sqrt(power(x));

export async function main(argv: string[]): Promise<number> {
  const file = argv[0];
  const x = file ? (await decodeToMono(file, SR)).subarray(30 * SR, 60 * SR) : synthClip(20, SR, 7);
  const source = file ? `${file} (30-60 s)` : 'synthetic 20 s clip';
  console.log(`source: ${source}, ${x.length} samples at ${SR} Hz`);
  let ok = true;
  const check = (name: string, pass: boolean, detail: string): void => {
    ok &&= pass;
    console.log(`${pass ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  };

  // Noise: realised SNR vs requested, several levels and seeds.
  let worst = 0;
  const parts: string[] = [];
  for (const target of [-5, 0, 5, 10, 20]) {
    for (const seed of [1, 2, 3]) {
      const y = addWhiteNoise(x, target, makeRng(seed));
      const got = snrDb(x, y);
      worst = Math.max(worst, Math.abs(got - target));
      if (seed === 1) parts.push(`${target}->${got.toFixed(3)}`);
    }
  }
  const again = addWhiteNoise(x, 5, makeRng(1));
  const same = addWhiteNoise(x, 5, makeRng(1));
  let identical = true;
  for (let i = 0; i < again.length; i++) if (again[i] !== same[i]) identical = false;
  check('white noise SNR', worst < 0.2, `worst error ${worst.toExponential(2)} dB; ${parts.join(', ')} dB`);
  check('white noise deterministic', identical, 'same seed gives the same samples');

  // MP3: measured codec delay and correlation after alignment.
  for (const kbps of [128, 64, 32]) {
    const t0 = performance.now();
    const r = await mp3RoundTripWithDelay(x, SR, kbps);
    const ms = performance.now() - t0;
    const c = correlation(x, r.pcm);
    // Residual misalignment after the trim (should be 0 samples).
    const residual = bestLag(x, r.pcm, 64, 1 << 15).lag;
    check(
      `mp3 ${kbps} kbps`,
      c > 0.9 && r.pcm.length === x.length && residual <= 44,
      `delay trimmed ${r.delay} samples (${((r.delay / SR) * 1000).toFixed(1)} ms, xcorr ${r.corr.toFixed(4)}), ` +
        `residual lag ${residual}, corr ${c.toFixed(4)}, SNR ${snrDb(x, r.pcm).toFixed(1)} dB, ${ms.toFixed(0)} ms`,
    );
  }

  // Speed: length and alignment against a naive reference.
  for (const f of [1.03, 0.97, 1.05, 0.95, 1.1]) {
    const y = await changeSpeed(x, SR, f);
    const want = Math.round(x.length / f);
    const ref = naiveSpeed(x, f, want);
    const lagFwd = bestLag(ref, y, 32, 1 << 15);
    const lagBack = bestLag(y, ref, 32, 1 << 15);
    const lag = lagFwd.corr >= lagBack.corr ? lagFwd.lag : -lagBack.lag;
    const c = correlation(ref, y);
    check(
      `speed x${f}`,
      y.length === want && Math.abs(lag) <= 2 && c > 0.9,
      `length ${y.length} (want ${want}), lag vs reference ${lag}, corr vs reference ${c.toFixed(4)}`,
    );
  }

  // Telephone: energy above 3.6 kHz, on the clip and on white noise.
  const noise = addWhiteNoise(new Float32Array(x.length).fill(0.001), -40, makeRng(9));
  for (const [name, sig] of [['clip', x], ['white noise', noise]] as const) {
    for (const mulaw of [false, true]) {
      const y = await telephone(sig, SR, { mulaw });
      const before = energyAbove(sig, SR, 3600);
      const after = energyAbove(y, SR, 3600);
      const low = energyAbove(y, SR, 0) - energyAbove(y, SR, 250);
      check(
        `telephone${mulaw ? '+mulaw' : ''} (${name})`,
        after < 0.01 && y.length === sig.length,
        `energy >= 3.6 kHz ${(before * 100).toFixed(2)}% -> ${(after * 100).toFixed(3)}%` +
          `, < 250 Hz ${(low * 100).toFixed(3)}%, SNR vs input ${snrDb(sig, y).toFixed(1)} dB`,
      );
    }
  }

  // Tempo (pitch kept) and pitch (tempo kept): length, timing of the loudness envelope (10 ms frames) against a naive
  // speed change of the clip (same timing, other pitch) or the clip itself, and the frequency of a 1 kHz tone.
  const HOP = Math.round(SR / 100);
  const tone = sine(1000, 5, SR);
  for (const f of [1.03, 0.97]) {
    const y = await changeTempo(x, SR, f);
    const want = Math.round(x.length / f);
    const env = envelopeLag(naiveSpeed(x, f, want), y, HOP, 20);
    const hz = toneHz(await changeTempo(tone, SR, f), SR);
    check(
      `tempo x${f}`,
      y.length === want && Math.abs(env.lag) <= 1 && env.corr > 0.75 && Math.abs(hz - 1000) < 2,
      `length ${y.length} (want ${want}), envelope lag vs reference ${env.lag * 10} ms (corr ${env.corr.toFixed(4)}), ` +
        `1 kHz tone -> ${hz.toFixed(2)} Hz`,
    );
  }
  for (const st of [0.5, -0.5]) {
    const y = await changePitch(x, SR, st);
    const env = envelopeLag(x, y, HOP, 20);
    const wantHz = 1000 * Math.pow(2, st / 12);
    const hz = toneHz(await changePitch(tone, SR, st), SR);
    check(
      `pitch ${st > 0 ? '+' : ''}${st} st`,
      y.length === x.length && Math.abs(env.lag) <= 1 && env.corr > 0.75 && Math.abs(hz - wantHz) < 2,
      `length ${y.length} (want ${x.length}), envelope lag ${env.lag * 10} ms (corr ${env.corr.toFixed(4)}), ` +
        `1 kHz tone -> ${hz.toFixed(2)} Hz (want ${wantHz.toFixed(2)})`,
    );
  }

  // Voice-over: speech level equal to the music's, speech over the whole clip, same seed same result.
  {
    const y = await voiceOver(x, SR, makeRng(5));
    const speech = y.map((v, i) => v - x[i]);
    const ratio = rms(speech) / rms(x);
    // Speech in every 2 s window (the synthesised text is looped if it ends early).
    let quietest = Infinity;
    for (let s = 0; s + 2 * SR <= speech.length; s += 2 * SR) quietest = Math.min(quietest, rms(speech.subarray(s, s + 2 * SR)) / rms(speech));
    const again = await voiceOver(x, SR, makeRng(5));
    let identical = again.length === y.length;
    for (let i = 0; identical && i < y.length; i++) if (again[i] !== y[i]) identical = false;
    const c = chooseSpeech(x.length / SR, makeRng(5));
    check(
      'voice-over',
      y.length === x.length && Math.abs(ratio - 1) < 0.01 && quietest > 0.2 && identical,
      `speech/music RMS ${ratio.toFixed(4)}, quietest 2 s window of speech at ${(quietest * 100).toFixed(0)}% of its RMS, ` +
        `${identical ? 'deterministic' : 'NOT deterministic'}; ${c.voice} at ${c.wpm} wpm, pitch ${c.pitch}, ${c.text.length} sentences`,
    );
  }

  // Radio: the limiter's ceiling holds, timing kept; then the 128 kbit/s MP3 round trip.
  {
    const p = await radioProcess(x, SR);
    let peak = 0;
    for (let i = 0; i < p.length; i++) peak = Math.max(peak, Math.abs(p[i]));
    const ceiling = Math.pow(10, RADIO_CEILING_DB / 20);
    const env = envelopeLag(x, p, HOP, 20);
    const y = await radio(x, SR);
    const c = correlation(p, y);
    check(
      'radio',
      p.length === x.length && peak <= ceiling + 1e-6 && Math.abs(env.lag) <= 1 && y.length === x.length && c > 0.9,
      `peak ${(20 * Math.log10(peak)).toFixed(2)} dBFS (ceiling ${RADIO_CEILING_DB}), RMS ${(10 * Math.log10(power(x))).toFixed(1)} -> ` +
        `${(10 * Math.log10(power(p))).toFixed(1)} dBFS, envelope lag ${env.lag * 10} ms (corr ${env.corr.toFixed(4)}), ` +
        `corr after mp3 128k ${c.toFixed(4)}`,
    );
  }

  console.log(ok ? 'all checks passed' : 'some checks FAILED');
  return ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(2);
    },
  );
}
