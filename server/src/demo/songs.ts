/**
 * Synthesised songs: music-like audio from a seed, for `earshot demo` (a first run with something to recognise) and
 * for the tests. A song is a random melody of harmonic notes with decaying envelopes over a chord per bar and a
 * rhythm of noise bursts. Tempo, key, start phase, drum sounds and every note come from the seed, so two seeds share
 * neither pitches nor timing; the composition does not depend on the sample rate, so one seed rendered at two rates
 * is the same song. Chords, melody and rhythm each draw from their own generator, so a shorter render is the
 * beginning of a longer one (but for notes due just after its end whose timing jitter starts them up to 15 ms
 * before it).
 */

/** mulberry32: a small, fast, seedable PRNG giving floats in [0, 1). */
export function prng (seed: number): () => number {
  let a = (seed ^ 0x9e3779b9) >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A standard normal variate (Box–Muller) from a uniform source. */
export function gaussian (rand: () => number): number {
  const u = 1 - rand()
  const v = rand()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

function midiToHz (note: number): number {
  return 440 * 2 ** ((note - 69) / 12)
}

/** Add one harmonic note with an attack and an exponential decay into `out`. */
function addNote (out: Float32Array, rate: number, start: number, length: number, freq: number, amp: number,
  decay: number, harmonics: number, rand: () => number): void {
  const from = Math.max(0, Math.round(start * rate))
  const to = Math.min(out.length, Math.round((start + length) * rate))
  const attack = 0.008 * rate
  const nyquist = rate / 2
  for (let h = 1; h <= harmonics; h++) {
    const phase = rand() * 2 * Math.PI // drawn even for a skipped harmonic: the same draws at every rate
    const f = freq * h * (1 + 0.0007 * (h - 1)) // slight inharmonicity, as in strings
    if (f >= nyquist * 0.95) continue
    const a = amp / h ** 1.2
    const w = (2 * Math.PI * f) / rate
    const k = Math.exp(-1 / (decay * rate / Math.sqrt(h)))
    // Recursive oscillator: sin(w*n + phase) from the two previous values, far cheaper than Math.sin per sample.
    const c2 = 2 * Math.cos(w)
    let s1 = Math.sin(phase - w)
    let s0 = Math.sin(phase - 2 * w)
    let env = 1
    for (let i = from; i < to; i++) {
      const n = i - from
      const s = c2 * s1 - s0
      s0 = s1
      s1 = s
      const rise = n < attack ? n / attack : 1
      out[i] += a * rise * env * s
      env *= k
    }
  }
}

/** Add a percussive burst of filtered noise into `out`. */
function addHit (out: Float32Array, rate: number, start: number, amp: number, decay: number, brightness: number,
  seed: number): void {
  const rand = prng(seed) // its own generator: the song's choices must not depend on the sample rate
  const from = Math.max(0, Math.round(start * rate))
  const to = Math.min(out.length, from + Math.round(decay * 6 * rate))
  const k = Math.exp(-1 / (decay * rate))
  let env = amp
  let lp = 0
  const coef = 1 - (1 - brightness) ** (44100 / rate) // brightness is given at 44.1 kHz
  for (let i = from; i < to; i++) {
    const white = rand() * 2 - 1
    lp += coef * (white - lp) // one-pole low-pass: small brightness, dull thud; near 1, a hiss
    out[i] += env * lp
    env *= k
  }
}

const SCALES = [
  [0, 2, 4, 5, 7, 9, 11], // major
  [0, 2, 3, 5, 7, 8, 10], // natural minor
  [0, 2, 4, 7, 9], // major pentatonic
  [0, 3, 5, 7, 10], // minor pentatonic
  [0, 2, 3, 5, 7, 9, 10], // dorian
]

/** Gain applied to the mixed song: peaks stay under about 0.7 (measured over 300 seeds), RMS about 0.06 to 0.15. */
const SONG_GAIN = 0.4

/** How a song is played: tempo and pitch factors (1.03: 3 % faster, or 3 % higher), as radio and DJs change them. */
export interface Playing {
  tempo?: number
  pitch?: number
}

/** Render song `seed`: `seconds` of mono audio at `sampleRate`, peaks under about 0.7. */
export function renderSong (seed: number, seconds: number, sampleRate: number, playing: Playing): Float32Array {
  const tempo = playing.tempo ?? 1
  const pitchFactor = playing.pitch ?? 1
  const rand = prng(seed * 7919 + 17)
  const out = new Float32Array(Math.round(seconds * sampleRate))
  const bpm = (72 + rand() * 90) * tempo
  const beat = 60 / bpm
  const phase = rand() * beat // the first beat falls at a random time
  const hz = (note: number): number => midiToHz(note) * pitchFactor
  const scale = SCALES[Math.floor(rand() * SCALES.length)]
  const root = 45 + Math.floor(rand() * 12)
  const pitch = (degree: number): number => {
    const octave = Math.floor(degree / scale.length)
    const d = ((degree % scale.length) + scale.length) % scale.length
    return root + 12 * octave + scale[d]
  }
  // Percussion pattern over 8 eighth notes: a low hit, a bright hit, or nothing.
  const pattern = Array.from({ length: 8 }, (_, i) => (i === 0 ? 1 : rand() < 0.35 ? 1 : rand() < 0.5 ? 2 : 0))
  const bar = 4 * beat
  // The drum kit's sound is the seed's too: a pitched low drum and a hi-hat of its own brightness.
  const kickPitch = (110 + rand() * 140) * pitchFactor
  const kickDecay = (0.02 + rand() * 0.03) / tempo
  const hatBrightness = 0.5 + rand() * 0.45
  // Human timing: every event lands up to ±15 ms off the grid, so songs of related tempos do not stay in step.
  const jitter = (r: () => number): number => ((r() - 0.5) * 0.03) / tempo

  // Chords: one per bar, three notes of the scale, long and soft.
  const chords = prng(rand() * 2 ** 32)
  for (let t = phase - bar; t < seconds; t += bar) {
    const degree = Math.floor(chords() * scale.length)
    for (const step of [0, 2, 4]) {
      addNote(out, sampleRate, t + jitter(chords), bar * 1.1, hz(pitch(degree + step)), 0.12, 0.9 / tempo, 6, chords)
    }
  }
  // Melody: notes of one to four eighths, wandering over two octaves above the chords.
  const melody = prng(rand() * 2 ** 32)
  let degree = 7 + Math.floor(melody() * 5)
  for (let t = phase; t < seconds;) {
    const eighths = 1 + Math.floor(melody() * melody() * 4)
    const length = (eighths * beat) / 2
    if (melody() > 0.12) { // a rest now and then
      degree = Math.max(4, Math.min(17, degree + Math.round(gaussian(melody) * 2)))
      addNote(out, sampleRate, t + jitter(melody), length * 1.3, hz(pitch(degree)), 0.3 + 0.2 * melody(), (0.15 + 0.4 * melody()) / tempo, 8, melody)
    }
    t += length
  }
  // Rhythm.
  const drums = prng(rand() * 2 ** 32)
  let eighth = 0
  for (let t = phase; t < seconds; t += beat / 2, eighth++) {
    const kind = pattern[eighth % 8]
    const at = t + jitter(drums)
    if (kind === 1) {
      addHit(out, sampleRate, at, 0.35, kickDecay, 0.08, drums() * 2 ** 32)
      addNote(out, sampleRate, at, 0.25, kickPitch, 0.35, kickDecay * 2, 2, drums)
    } else if (kind === 2) {
      addHit(out, sampleRate, at, 0.2, 0.012 / tempo, hatBrightness, drums() * 2 ** 32)
    }
  }
  for (let i = 0; i < out.length; i++) out[i] *= SONG_GAIN
  return out
}
