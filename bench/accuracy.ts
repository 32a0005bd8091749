/**
 * Recognition accuracy on real music: `npm run bench:accuracy`.
 *
 * Builds (or reuses) the corpus of Debian game soundtracks (bench/corpus.ts), indexes the "known" set into a fresh
 * temporary index, cuts clips of 3, 5 and 10 s at seeded random offsets, degrades them (bench/degrade.ts) and
 * identifies each one. Clips of the held-out "unknown" set measure false positives. Prints a markdown table.
 *
 * Options (environment): EARSHOT_BENCH_TRACKS (known tracks to query, default 100), EARSHOT_BENCH_UNKNOWN (unknown
 * clips per length and condition, default 100), EARSHOT_BENCH_SEED (default 1), EARSHOT_BENCH_JSON (write raw
 * figures to this file), EARSHOT_BENCH_DB (keep the index in this folder and reuse it on the next run),
 * EARSHOT_BENCH_VERBOSE=1 (one line per miss and per false positive), EARSHOT_BENCH_CONDITIONS (a comma-separated
 * list of condition names from bench/accuracy-rules.ts to run, e.g. `clean,speed +2%,tempo +3%`; default all).
 *
 * Unknown clips get the first five conditions (clean, mp3 64k, noise 10/5/0 dB) that EARSHOT_BENCH_CONDITIONS keeps;
 * when it keeps none of them the false-positive part is skipped. Clip offsets and each condition's random draws (noise,
 * voice-over) do not depend on which conditions run, so a restricted run measures the same clips as a full one. The
 * identify time is measured on clean 10 s clips, so it needs `clean`.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadCorpus } from './corpus.js'
import { env, quantile } from './figures.js'
import { makeRng } from './degrade.js'
import { conditionRng, conditions, isCorrect, isFalsePositive, packageOf, pct, selectConditions, unknownConditionCount } from './accuracy-rules.js'
import { defaults } from '../server/src/config/defaults.js'
import { LmdbIndex } from '../server/src/index/lmdb-index.js'
import { indexFiles } from '../server/src/catalog/indexer.js'
import { Identifier } from '../server/src/match/identify.js'
import { decodeFile } from '../server/src/audio/decode.js'
import { fingerprint } from '../server/src/dsp/pipeline.js'
import type { ClipMatch } from '../server/src/match/clip-matcher.js'

const lengths = [3, 5, 10]

async function main (): Promise<void> {
  const seed = env('EARSHOT_BENCH_SEED', 1)
  const nTracks = env('EARSHOT_BENCH_TRACKS', 100)
  const nUnknown = env('EARSHOT_BENCH_UNKNOWN', 100)
  const selected = selectConditions(process.env.EARSHOT_BENCH_CONDITIONS)
  // Each condition with its place in the full list, which seeds its random draws.
  const runConditions = [...conditions.entries()].filter(([, [name]]) => selected.has(name))
  const unknownConditions = runConditions.filter(([i]) => i < unknownConditionCount)
  const corpus = await loadCorpus()
  const params = defaults.fingerprint
  const keepDb = process.env.EARSHOT_BENCH_DB
  const dbDir = keepDb ?? fs.mkdtempSync(path.join(os.tmpdir(), 'earshot-bench-'))
  const verbose = process.env.EARSHOT_BENCH_VERBOSE === '1'
  const log = (s: string): void => { process.stderr.write(s + '\n') }
  log(`corpus: ${corpus.known.length} known, ${corpus.unknown.length} unknown tracks; index in ${dbDir}`)
  log(`conditions: ${runConditions.map(([, [name]]) => name).join(', ')}`)

  // Index the known set on every core.
  const index = LmdbIndex.open(dbDir, params)
  const already = new Set([...index.listTracks()].map((t) => t.source))
  const summary = await indexFiles(index, corpus.known.filter((f) => !already.has(f)), {
    params,
    limits: defaults.catalog,
    onEvent: (e) => { if (e.type === 'skipped') log(`skipped ${e.file}: ${e.reason}`) },
  })
  if (summary.indexed === 0 && already.size > 0) log(`reusing the index in ${dbDir}: indexing figures below are from this run only`)
  log(`indexed ${summary.indexed} tracks, ${(summary.audioSeconds / 3600).toFixed(2)} h in ${summary.seconds.toFixed(1)} s (${summary.skipped} skipped)`)
  const stats = index.stats()
  const tracks = [...index.listTracks()]
  const bySource = new Map(tracks.map((t) => [t.source, t]))

  // Fingerprinting speed on one core, decode counted apart: a sample of tracks, in this thread, warm.
  let fpAudio = 0; let fpMs = 0; let decMs = 0
  const rng0 = makeRng(seed)
  const speedSample = tracks.slice().sort(() => rng0() - 0.5).slice(0, 12)
  for (const [i, t] of speedSample.entries()) {
    const t0 = performance.now()
    const a = await decodeFile(t.source)
    const t1 = performance.now()
    fingerprint(params, a.samples, a.sampleRate)
    const t2 = performance.now()
    if (i < 2) continue // JIT warm-up
    fpAudio += a.durationSeconds; fpMs += t2 - t1; decMs += t1 - t0
  }

  const identifier = new Identifier(index, { ...defaults, maxMatches: 5 })
  const rng = makeRng(seed + 1)
  const pick = tracks.slice().sort(() => rng() - 0.5).slice(0, nTracks)
  const hits = new Map<string, { ok: number, n: number, offsetErr: number[] }>()
  const queryMs: number[] = []
  let silentClips = 0
  const trueConf: number[] = []
  // The evidence (score, runner-up, votes cast) behind the best candidate: of clips whose true track ranks first, and
  // of unknown clips. Written to EARSHOT_BENCH_JSON, to study a confidence rule on both sides at once.
  const trueEvidence: Array<[string, number, number, number]> = []
  const unknownEvidence: Array<[string, number, number, number]> = []
  for (const [k, t] of pick.entries()) {
    const audio = await decodeFile(t.source)
    for (const len of lengths) {
      const clipLen = Math.round(len * audio.sampleRate)
      if (audio.samples.length < clipLen + audio.sampleRate) continue
      const start = Math.floor(rng() * (audio.samples.length - clipLen))
      const clip = audio.samples.slice(start, start + clipLen)
      const clipSeed = Math.floor(rng() * 2 ** 32)
      // A clip with no fingerprint at all (silence between movements, a fade) cannot be identified by anyone.
      if (fingerprint(params, clip, audio.sampleRate).count === 0) { silentClips++; continue }
      for (const [ci, [name, degrade]] of runConditions) {
        const x = await degrade(clip, audio.sampleRate, conditionRng(clipSeed, ci))
        let ev: ClipMatch | undefined
        const r = identifier.identify(x, audio.sampleRate, (m) => { ev = m })
        const key = `${name}|${len}`
        const h = hits.get(key) ?? { ok: 0, n: 0, offsetErr: [] }
        h.n++
        if (isCorrect(r, t.id)) {
          h.ok++
          h.offsetErr.push(Math.abs(r.matches[0].offsetSeconds - start / audio.sampleRate))
        } else if (verbose) {
          const c = ev?.candidates ?? []
          const truth = c.find((x) => x.trackId === t.id)
          log(`miss ${key} ${path.basename(t.source)}@${(start / audio.sampleRate).toFixed(1)}: got ${r.matches[0] ? `${path.basename(r.matches[0].source)}@${r.matches[0].offsetSeconds}` : 'nothing'}; ` +
            `best score ${c[0]?.score ?? 0} conf ${c[0]?.confidence.toFixed(3) ?? 0}, truth score ${truth?.score ?? 0} conf ${truth?.confidence.toFixed(3) ?? '-'}, votes ${ev?.evidence.votes}`)
        }
        hits.set(key, h)
        if (len === 10 && name === 'clean') queryMs.push(r.processingTimeMs)
        if (ev?.candidates[0]?.trackId === t.id) {
          trueConf.push(ev.candidates[0].confidence)
          trueEvidence.push([key, ev.evidence.score, ev.evidence.runnerUp, ev.evidence.votes])
        }
      }
    }
    if ((k + 1) % 10 === 0) log(`queried ${k + 1}/${pick.length} tracks`)
  }

  // False positives: clips of music that is not indexed, clean and noisy.
  const fp = new Map<string, { fp: number, n: number }>()
  // Held-out tracks of an indexed soundtrack may share recorded material (loops, samples, re-arrangements) with its
  // indexed tracks; clips from a soundtrack with nothing indexed are unknown through and through. Counted apart.
  const indexedPackages = new Set(corpus.known.map((f) => packageOf(corpus.dir, f)))
  const fpSplit = { samePackage: { fp: 0, n: 0 }, otherPackage: { fp: 0, n: 0 } }
  const unknownConf: number[] = []
  const rngU = makeRng(seed + 2)
  const unknownFiles = corpus.unknown.filter((f) => !bySource.has(f))
  let u = 0
  for (let i = 0; i < (unknownConditions.length > 0 ? nUnknown : 0); i++) {
    const file = unknownFiles[i % unknownFiles.length]
    const audio = await decodeFile(file).catch(() => undefined)
    if (!audio) continue
    for (const len of lengths) {
      const clipLen = Math.round(len * audio.sampleRate)
      if (audio.samples.length < clipLen) continue
      const start = Math.floor(rngU() * (audio.samples.length - clipLen))
      const clip = audio.samples.slice(start, start + clipLen)
      const clipSeed = Math.floor(rngU() * 2 ** 32)
      for (const [ci, [name, degrade]] of unknownConditions) {
        const x = await degrade(clip, audio.sampleRate, conditionRng(clipSeed, ci))
        let ev: ClipMatch | undefined
        const r = identifier.identify(x, audio.sampleRate, (m) => { ev = m })
        const key = `${name}|${len}`
        const f = fp.get(key) ?? { fp: 0, n: 0 }
        f.n++
        if (isFalsePositive(r)) {
          f.fp++
          if (verbose) {
            const c = ev!.candidates
            log(`false positive ${key} ${path.basename(file)}@${(start / audio.sampleRate).toFixed(1)} -> ${path.basename(r.matches[0].source)}@${r.matches[0].offsetSeconds}: score ${c[0].score} runner-up ${ev!.evidence.runnerUp} conf ${c[0].confidence.toFixed(3)} votes ${ev!.evidence.votes}`)
          }
        }
        fp.set(key, f)
        const split = indexedPackages.has(packageOf(corpus.dir, file)) ? fpSplit.samePackage : fpSplit.otherPackage
        split.n++
        if (isFalsePositive(r)) split.fp++
        if (ev?.candidates[0]) {
          unknownConf.push(ev.candidates[0].confidence)
          unknownEvidence.push([key, ev.evidence.score, ev.evidence.runnerUp, ev.evidence.votes])
        }
        u++
      }
    }
  }

  const lines: string[] = []
  lines.push(`Corpus: ${tracks.length} indexed tracks (${(stats.audioSeconds / 3600).toFixed(2)} h), ${unknownFiles.length} unknown tracks; ${pick.length} tracks queried, seed ${seed}.`)
  lines.push('')
  lines.push('| condition | ' + lengths.map((l) => `${l} s`).join(' | ') + ' |')
  lines.push('|---|' + lengths.map(() => '---:').join('|') + '|')
  for (const [, [name]] of runConditions) {
    lines.push(`| ${name} | ` + lengths.map((l) => { const h = hits.get(`${name}|${l}`); return h ? pct(h.ok, h.n) : 'n/a' }).join(' | ') + ' |')
  }
  lines.push('')
  lines.push('False positives on unknown music (any match reported at the default threshold):')
  lines.push('')
  lines.push('| condition | ' + lengths.map((l) => `${l} s`).join(' | ') + ' |')
  lines.push('|---|' + lengths.map(() => '---:').join('|') + '|')
  let fpTotal = 0; let fpN = 0
  if (unknownConditions.length === 0) lines.push('| (none of clean, mp3 64k, noise 10/5/0 dB selected) | ' + lengths.map(() => 'n/a').join(' | ') + ' |')
  for (const [, [name]] of unknownConditions) {
    lines.push(`| ${name} | ` + lengths.map((l) => { const f = fp.get(`${name}|${l}`); if (f) { fpTotal += f.fp; fpN += f.n } return f ? `${f.fp}/${f.n}` : 'n/a' }).join(' | ') + ' |')
  }
  lines.push('')
  const offErr = [...hits.values()].flatMap((h) => h.offsetErr)
  lines.push(`| figure | value |`)
  lines.push(`|---|---:|`)
  lines.push(`| false-positive rate, all unknown clips | ${pct(fpTotal, fpN)} (${fpTotal}/${fpN}) |`)
  lines.push(`| of which: clips of soundtracks with nothing indexed | ${pct(fpSplit.otherPackage.fp, fpSplit.otherPackage.n)} (${fpSplit.otherPackage.fp}/${fpSplit.otherPackage.n}) |`)
  lines.push(`| of which: held-out tracks of indexed soundtracks | ${pct(fpSplit.samePackage.fp, fpSplit.samePackage.n)} (${fpSplit.samePackage.fp}/${fpSplit.samePackage.n}) |`)
  lines.push(`| known clips skipped as silent (no hashes when clean) | ${silentClips} |`)
  lines.push(`| fingerprinting speed, one core (decode apart) | ${(fpAudio / (fpMs / 1000)).toFixed(0)}x real time |`)
  lines.push(`| decoding speed, one core | ${(fpAudio / (decMs / 1000)).toFixed(0)}x real time |`)
  lines.push(`| indexing wall time, all cores (decode + fingerprint + write) | ${summary.indexed > 0 ? `${(summary.audioSeconds / summary.seconds).toFixed(0)}x real time (${summary.seconds.toFixed(0)} s for ${(summary.audioSeconds / 3600).toFixed(2)} h)` : 'n/a (index reused)'} |`)
  lines.push(`| identify, 10 s clip, median / p95 | ${quantile(queryMs, 0.5).toFixed(1)} / ${quantile(queryMs, 0.95).toFixed(1)} ms |`)
  lines.push(`| index size | ${(stats.bytesOnDisk / 1e6).toFixed(1)} MB, ${stats.bytesPerAudioSecond.toFixed(0)} bytes per second of audio |`)
  lines.push(`| postings | ${stats.postings} (${(stats.postings / stats.audioSeconds).toFixed(0)} hashes per second of audio) |`)
  lines.push(`| offset error of correct answers, median / max | ${quantile(offErr, 0.5).toFixed(3)} / ${Math.max(0, ...offErr).toFixed(3)} s |`)
  lines.push(`| confidence of the true track, p5 / median | ${quantile(trueConf, 0.05).toFixed(3)} / ${quantile(trueConf, 0.5).toFixed(3)} |`)
  lines.push(`| confidence of the best candidate on unknown clips, median / p99 / max | ${quantile(unknownConf, 0.5).toFixed(3)} / ${quantile(unknownConf, 0.99).toFixed(3)} / ${Math.max(0, ...unknownConf).toFixed(3)} |`)
  process.stdout.write(lines.join('\n') + '\n')
  if (process.env.EARSHOT_BENCH_JSON) {
    fs.writeFileSync(process.env.EARSHOT_BENCH_JSON, JSON.stringify({ hits: [...hits], fp: [...fp], queryMs, trueConf, unknownConf, trueEvidence, unknownEvidence, stats, summary, u }, null, 1))
  }
  await index.close()
  if (!keepDb) fs.rmSync(dbDir, { recursive: true, force: true })
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:accuracy failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 1
})
