// Self-check of bench/degrade.ts (not a test: needs ffmpeg, prints figures).
//   node dist/bench/degrade-check.js [audio-file]
// Without a file it uses a synthetic music-like clip; exit code 1 if a check fails.

import { pathToFileURL } from 'node:url';
import {
  addWhiteNoise,
  bestLag,
  changeSpeed,
  decodeToMono,
  makeRng,
  mp3RoundTripWithDelay,
  snrDb,
  telephone,
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
  for (const f of [1.03, 0.97, 1.1]) {
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
