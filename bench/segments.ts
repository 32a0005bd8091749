/**
 * Segments of a long recording: `npm run bench:segments -- --db DIR`.
 *
 * Builds an hour of a station's air from the corpus (bench/air.ts: excerpts of known and unknown tracks, crossfaded,
 * some talk), writes it as each condition's file, lists its segments with findSegments in this process (the path
 * `earshot identify --segments` takes, from the file's bytes: decoding included) and scores them against the truth
 * (bench/segments-score.ts). Prints a markdown table; the missed excerpts and false segments go to stderr.
 *
 * Options:
 *   --db DIR        an index of the corpus's known tracks (bench:accuracy builds one with EARSHOT_BENCH_DB=DIR); opened
 *                   read-only. Excerpts of known tracks are drawn from those it holds.
 *   --seed 1        the air's draws
 *   --minutes 60    the air is at least this long
 *   --conditions    a comma-separated subset of: clean, mp3, radio, speed +3%
 *   --json FILE     raw figures, the truth and every segment
 *   --keep          keep the folder of audio files (its path is printed)
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { buildAir, type Air } from './air.js'
import { packageOf, pct } from './accuracy-rules.js'
import { loadCorpus } from './corpus.js'
import { changeSpeed, radioProcess, writeAudioFile } from './degrade.js'
import { quantile } from './figures.js'
import { scoreSegments, type Score, type TruthPiece } from './segments-score.js'
import { defaults } from '../server/src/config/defaults.js'
import { LmdbIndex } from '../server/src/index/lmdb-index.js'
import { findSegments, type SegmentResult } from '../server/src/recordings/segments.js'

const log = (s: string): void => { process.stderr.write(s + '\n') }

const WAV = ['-c:a', 'pcm_s16le']
const MP3 = ['-c:a', 'libmp3lame', '-b:a', '128k']
const RATE = 22050
/** asetrate takes whole Hz, so changeSpeed's factor is this one (1.030023 at 22050 Hz). */
const FAST = Math.round(RATE * 1.03) / RATE

interface Condition {
  name: string
  file: string
  /** Track seconds per second of this condition's recording. */
  speed: number
  /** Writes the condition's file from the air. */
  write: (air: Air, file: string) => Promise<void>
}

const CONDITIONS: readonly Condition[] = [
  { name: 'clean', file: 'air.wav', speed: 1, write: (a, f) => writeAudioFile(a.samples, a.sampleRate, f, WAV) },
  { name: 'mp3', file: 'air.mp3', speed: 1, write: (a, f) => writeAudioFile(a.samples, a.sampleRate, f, MP3) },
  // bench:accuracy's radio condition, with the MP3 as the file itself rather than decoded back.
  { name: 'radio', file: 'air-radio.mp3', speed: 1, write: async (a, f) => writeAudioFile(await radioProcess(a.samples, a.sampleRate), a.sampleRate, f, MP3) },
  { name: 'speed +3%', file: 'air-fast.wav', speed: FAST, write: async (a, f) => writeAudioFile(await changeSpeed(a.samples, a.sampleRate, 1.03), a.sampleRate, f, WAV) },
]

interface Run {
  condition: string
  bytes: number
  result: SegmentResult
  wallSeconds: number
  cpuSeconds: number
  score: Score
}

/** Figures of one condition, for the table and the JSON. */
function figures (r: Run): Record<string, number> {
  const { found, known, falseSegments } = r.score
  const hours = r.result.audioSeconds / 3600
  const abs = (xs: number[]): number[] => xs.map(Math.abs)
  const start = found.map((f) => f.startError)
  const end = found.map((f) => f.endError)
  return {
    audioSeconds: r.result.audioSeconds,
    segments: r.result.segments.length,
    known,
    found: found.length,
    covered: r.score.covered,
    falseSegments: falseSegments.length,
    falsePerHour: falseSegments.length / hours,
    startErrorMedian: quantile(abs(start), 0.5),
    startErrorP90: quantile(abs(start), 0.9),
    startErrorSignedMedian: quantile(start, 0.5),
    endErrorMedian: quantile(abs(end), 0.5),
    endErrorP90: quantile(abs(end), 0.9),
    endErrorSignedMedian: quantile(end, 0.5),
    offsetErrorMedian: quantile(abs(found.map((f) => f.offsetError)), 0.5),
    split: found.filter((f) => f.segments.length > 1).length,
    overlapping: r.score.overlapping,
    speedMedian: quantile(found.map((f) => f.speed), 0.5),
    wallSeconds: r.wallSeconds,
    cpuSeconds: r.cpuSeconds,
    realTime: r.result.audioSeconds / r.wallSeconds,
    cpuSecondsPerHour: r.cpuSeconds / hours,
  }
}

const s1 = (x: number): string => Number.isFinite(x) ? x.toFixed(1) : 'n/a'

function table (runs: readonly Run[]): string[] {
  const lines = [
    '| condition | recall | covered ≥ half, in pieces too | false segments (per hour) | start error median / p90 | end error median / p90 | offset error median | split | same-track overlaps | speed median | × real time | CPU s per hour |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const r of runs) {
    const f = figures(r)
    lines.push(`| ${r.condition} | ${pct(f.found, f.known)} (${f.found}/${f.known}) | ${pct(f.covered, f.known)} | ${f.falseSegments} (${s1(f.falsePerHour)}) | ` +
      `${s1(f.startErrorMedian)} / ${s1(f.startErrorP90)} s | ${s1(f.endErrorMedian)} / ${s1(f.endErrorP90)} s | ${Number.isFinite(f.offsetErrorMedian) ? f.offsetErrorMedian.toFixed(2) : 'n/a'} s | ` +
      `${pct(f.split, f.found)} | ${f.overlapping} | ${Number.isFinite(f.speedMedian) ? f.speedMedian.toFixed(3) : 'n/a'} | ${f.realTime.toFixed(0)} | ${f.cpuSecondsPerHour.toFixed(0)} |`)
  }
  return lines
}

/** The truth of the air as a condition plays it: times over its speed, track offsets unchanged. */
function truthOf (air: Air, speed: number, corpusDir: string): TruthPiece[] {
  return air.pieces.map((p) => ({
    kind: p.kind,
    trackId: p.trackId,
    startSeconds: p.startSeconds / speed,
    endSeconds: p.endSeconds / speed,
    offsetSeconds: p.offsetSeconds,
    label: p.file === undefined ? 'talk' : `${packageOf(corpusDir, p.file)}/${path.basename(p.file)}`,
  }))
}

const span = (a: number, b: number): string => `${a.toFixed(1)}–${b.toFixed(1)} s`

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      db: { type: 'string' },
      seed: { type: 'string', default: '1' },
      minutes: { type: 'string', default: '60' },
      conditions: { type: 'string' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  })
  if (values.db === undefined) throw new Error('--db DIR: an index of the corpus\'s known tracks (npm run bench:accuracy with EARSHOT_BENCH_DB=DIR builds one)')
  const seed = Number(values.seed)
  const minutes = Number(values.minutes)
  const names = values.conditions?.split(',').map((s) => s.trim())
  const conditions = names === undefined ? CONDITIONS : CONDITIONS.filter((c) => names.includes(c.name))
  if (names !== undefined && conditions.length !== names.length) throw new Error(`--conditions: choose among ${CONDITIONS.map((c) => c.name).join(', ')}`)

  const corpus = await loadCorpus()
  const index = LmdbIndex.open(values.db, defaults.fingerprint, { readOnly: true })
  const bySource = new Map([...index.listTracks()].map((t) => [t.source, t.id]))
  const known = corpus.known.filter((f) => bySource.has(f)).map((file) => ({ file, trackId: bySource.get(file) }))
  const unknown = corpus.unknown.filter((f) => !bySource.has(f)).map((file) => ({ file, trackId: undefined }))
  if (known.length < 20) throw new Error(`${values.db} holds ${known.length} of the corpus's ${corpus.known.length} known tracks: index them first`)
  log(`index: ${bySource.size} tracks, ${known.length} of the corpus's ${corpus.known.length} known; ${unknown.length} unknown tracks`)

  const made = performance.now()
  const air = await buildAir({ known, unknown, seconds: minutes * 60, seed, sampleRate: RATE, log })
  const count = (kind: string): number => air.pieces.filter((p) => p.kind === kind).length
  const airSeconds = air.samples.length / air.sampleRate
  log(`air: ${(airSeconds / 60).toFixed(1)} min, ${count('known')} known and ${count('unknown')} unknown excerpts, ${count('talk')} talk, made in ${((performance.now() - made) / 1000).toFixed(0)} s`)

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'earshot-segbench-'))
  const runs: Run[] = []
  try {
    for (const c of conditions) {
      const file = path.join(dir, c.file)
      await c.write(air, file)
      const bytes = fs.readFileSync(file)
      const cpu = process.cpuUsage()
      const t0 = performance.now()
      const result = await findSegments(index, defaults, { bytes, name: c.file }, defaults.http.maxRecordingSeconds)
      const wallSeconds = (performance.now() - t0) / 1000
      const used = process.cpuUsage(cpu)
      const score = scoreSegments(truthOf(air, c.speed, corpus.dir), result.segments, c.speed)
      const run: Run = { condition: c.name, bytes: bytes.length, result, wallSeconds, cpuSeconds: (used.user + used.system) / 1e6, score }
      runs.push(run)
      const f = figures(run)
      log(`${c.name}: ${result.segments.length} segments in ${wallSeconds.toFixed(0)} s (${f.cpuSeconds.toFixed(0)} s of CPU), recall ${pct(f.found, f.known)}, ${f.falseSegments} false`)
      for (const m of score.missed) {
        const p = m.piece
        const others = m.overlapping.map((s) => `${s.title} ${span(s.startSeconds, s.endSeconds)}`).join('; ') || 'nothing'
        log(`  missed ${p.label} ${span(p.startSeconds, p.endSeconds)}, ` +
          `${(p.endSeconds - p.startSeconds).toFixed(1)} s from ${p.offsetSeconds.toFixed(1)} s: its track covers ${m.covered.toFixed(1)} s; heard: ${others}`)
      }
      for (const x of score.falseSegments) {
        const s = x.segment
        log(`  false ${s.title} (track ${s.trackId}) ${span(s.startSeconds, s.endSeconds)} at ${s.offsetSeconds} s, confidence ${s.confidence}, on ${x.on === undefined ? 'nothing' : `${x.on.kind} ${x.on.label}`}`)
      }
    }
  } finally {
    if (values.keep) log(`audio kept in ${dir}`)
    else fs.rmSync(dir, { recursive: true, force: true })
  }
  await index.close()

  const out = [
    `Air: ${(airSeconds / 60).toFixed(1)} min at ${air.sampleRate} Hz, seed ${seed}: ${count('known')} known excerpts, ${count('unknown')} unknown, ${count('talk')} talk; ` +
      `index of ${bySource.size} tracks.`,
    '',
    ...table(runs),
  ]
  process.stdout.write(out.join('\n') + '\n')
  if (values.json !== undefined) {
    fs.writeFileSync(values.json, JSON.stringify({
      seed,
      minutes,
      airSeconds,
      sampleRate: air.sampleRate,
      talk: air.talk,
      pieces: air.pieces.map((p) => ({ ...p, file: p.file === undefined ? undefined : path.relative(corpus.dir, p.file) })),
      conditions: runs.map((r) => ({
        name: r.condition,
        fileBytes: r.bytes,
        figures: figures(r),
        segments: r.result.segments,
        missed: r.score.missed.map((m) => ({ ...m.piece, covered: m.covered })),
        falseSegments: r.score.falseSegments.map((x) => ({ ...x.segment, on: x.on?.label })),
      })),
    }, null, 1))
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:segments failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 1
})
