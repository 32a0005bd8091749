/**
 * Query-side peak and target designs against an existing index: `node dist/bench/voice-study.js DB`.
 *
 * The index is read as it is; only the query's fingerprint changes (peak neighbourhood, peaks a block, targets an
 * anchor takes). Each clip is degraded once and identified under every design, so the designs see the same audio.
 * For each design and condition: top-1 at the default threshold, the true track's score, the best wrong track's
 * score, votes cast, identify time; on clips of unknown music: reported matches and the best confidence.
 *
 * Options (environment): NK known tracks (default 30), NU unknown clips per length (default 40), SEED, LENGTHS
 * (default 5,10), CONDS (default voice-over,clean,noise 0 dB), DESIGNS (JSON array of {name, peaks: fingerprint
 * parameters to override on the query side, stream: a stream's query instead of a clip's}),
 * DUMP (write every answer's candidates to this JSON file).
 */
import fs from 'node:fs'
import path from 'node:path'
import { loadCorpus } from './corpus.js'
import { makeRng } from './degrade.js'
import { conditions, conditionRng } from './accuracy-rules.js'
import { defaults } from '../server/src/config/defaults.js'
import { LmdbIndex } from '../server/src/index/lmdb-index.js'
import { decodeFile } from '../server/src/audio/decode.js'
import { Fingerprinter, HashCollector } from '../server/src/dsp/pipeline.js'
import { ClipMatcher } from '../server/src/match/clip-matcher.js'
import { quantile } from './figures.js'

interface Design { name: string, peaks?: Record<string, number>, stream?: boolean }

const P = defaults.fingerprint
const DESIGNS: Design[] = process.env.DESIGNS ? JSON.parse(process.env.DESIGNS) : [
  { name: "a stream's query (the index's peaks, 4 targets)", stream: true },
  { name: 'clip query (defaults)' },
]

interface Stat { ok: number, n: number, trueScore: number[], wrongScore: number[], votes: number[], ms: number[], fp: number, conf: number[] }
const blank = (): Stat => ({ ok: 0, n: 0, trueScore: [], wrongScore: [], votes: [], ms: [], fp: 0, conf: [] })

async function main (): Promise<void> {
  const db = process.argv[2]
  if (!db) throw new Error('usage: voice-study.js DB')
  const index = LmdbIndex.open(db, P, { readOnly: true })
  const matcher = new ClipMatcher(index, P)
  const corpus = await loadCorpus()
  const seed = Number(process.env.SEED ?? 3)
  const nk = Number(process.env.NK ?? 30)
  const nu = Number(process.env.NU ?? 40)
  const lengths = (process.env.LENGTHS ?? '5,10').split(',').map(Number)
  const condNames = (process.env.CONDS ?? 'voice-over,clean,noise 0 dB').split(',')
  const conds = condNames.map((n) => { const i = conditions.findIndex(([c]) => c === n); if (i < 0) throw new Error(`no condition ${n}`); return [i, conditions[i]] as const })
  const stats = new Map<string, Stat>()
  const stat = (k: string): Stat => { let s = stats.get(k); if (!s) stats.set(k, s = blank()); return s }

  const run = (d: Design, x: Float32Array, rate: number): { top: number, conf: number, score: number, byTrack: Map<number, number>, votes: number, ms: number } => {
    const t0 = performance.now()
    const params = { ...P, ...d.peaks }
    const hashes = new HashCollector(4096)
    const fp = new Fingerprinter(params, rate, hashes.add, { query: d.stream === true ? true : 'clip' })
    fp.write(x); fp.end()
    const list = hashes.list(fp.frames)
    const m = matcher.match(list, { maxCandidates: 10 })
    dump.push({ d: d.name, c: cur.c, len: cur.len, truth: cur.truth, scores: m.candidates.map((c) => [c.trackId, c.score, c.confidence, c.sameAs?.length ?? 0]), ev: m.evidence })
    const ms = performance.now() - t0
    const byTrack = new Map(m.candidates.map((c) => [c.trackId, c.score]))
    const c0 = m.candidates[0]
    return { top: c0?.trackId ?? -1, conf: c0?.confidence ?? 0, score: c0?.score ?? 0, byTrack, votes: m.evidence.votes, ms }
  }

  const tracks = [...index.listTracks()]
  const dump: unknown[] = []
  const cur = { c: '', len: 0, truth: -1 }
  const rng = makeRng(seed)
  const pick = tracks.slice().sort(() => rng() - 0.5).slice(0, nk)
  for (const [k, t] of pick.entries()) {
    const audio = await decodeFile(t.source)
    for (const len of lengths) {
      const n = Math.round(len * audio.sampleRate)
      if (audio.samples.length < n + audio.sampleRate) continue
      const start = Math.floor(rng() * (audio.samples.length - n))
      const clip = audio.samples.slice(start, start + n)
      const clipSeed = Math.floor(rng() * 2 ** 32)
      for (const [ci, [name, degrade]] of conds) {
        const x = await degrade(clip, audio.sampleRate, conditionRng(clipSeed, ci))
        cur.c = name; cur.len = len; cur.truth = t.id
        for (const d of DESIGNS) {
          const r = run(d, x, audio.sampleRate)
          const s = stat(`${d.name}|${name}|${len}`)
          s.n++
          if (r.top === t.id && r.conf >= defaults.minConfidence) s.ok++
          s.trueScore.push(r.byTrack.get(t.id) ?? 0)
          let wrong = 0
          for (const [id, sc] of r.byTrack) if (id !== t.id && sc > wrong) wrong = sc
          s.wrongScore.push(wrong)
          s.votes.push(r.votes); s.ms.push(r.ms)
          if (r.top === t.id) s.conf.push(r.conf)
        }
      }
    }
    process.stderr.write(`known ${k + 1}/${pick.length}\n`)
  }
  const known = new Set(tracks.map((t) => t.source))
  const unknown = corpus.unknown.filter((f) => !known.has(f))
  const rngU = makeRng(seed + 1)
  for (let i = 0; i < nu; i++) {
    const file = unknown[i % unknown.length]
    const audio = await decodeFile(file).catch(() => undefined)
    if (!audio) continue
    for (const len of lengths) {
      const n = Math.round(len * audio.sampleRate)
      if (audio.samples.length < n) continue
      const start = Math.floor(rngU() * (audio.samples.length - n))
      const x = audio.samples.slice(start, start + n)
      cur.c = 'unknown'; cur.len = len; cur.truth = -1
      for (const d of DESIGNS) {
        const r = run(d, x, audio.sampleRate)
        const s = stat(`${d.name}|unknown|${len}`)
        s.n++
        if (r.conf >= defaults.minConfidence) { s.fp++; process.stderr.write(`fp ${d.name} ${path.basename(file)}@${(start / audio.sampleRate).toFixed(1)} conf ${r.conf.toFixed(3)} score ${r.score}\n`) }
        s.conf.push(r.conf)
        s.wrongScore.push(r.score)
        s.ms.push(r.ms)
      }
    }
  }
  const med = (a: number[]): string => quantile(a, 0.5).toFixed(1)
  const out: string[] = []
  out.push('| design | condition | len | top-1 | true score med | wrong score med / p95 | votes med | ms med | conf p5 |')
  out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|')
  for (const d of DESIGNS) {
    for (const c of condNames) {
      for (const len of lengths) {
        const s = stats.get(`${d.name}|${c}|${len}`)
        if (!s) continue
        out.push(`| ${d.name} | ${c} | ${len} | ${s.ok}/${s.n} | ${med(s.trueScore)} | ${med(s.wrongScore)} / ${quantile(s.wrongScore, 0.95).toFixed(0)} | ${med(s.votes)} | ${med(s.ms)} | ${quantile(s.conf, 0.05).toFixed(3)} |`)
      }
    }
  }
  out.push('')
  out.push('| design | len | unknown reported | best conf p90 / p99 / max | best score med / max | ms med |')
  out.push('|---|---:|---:|---:|---:|---:|')
  for (const d of DESIGNS) {
    for (const len of lengths) {
      const s = stats.get(`${d.name}|unknown|${len}`)
      if (!s) continue
      out.push(`| ${d.name} | ${len} | ${s.fp}/${s.n} | ${quantile(s.conf, 0.9).toFixed(3)} / ${quantile(s.conf, 0.99).toFixed(3)} / ${Math.max(...s.conf).toFixed(3)} | ${med(s.wrongScore)} / ${Math.max(...s.wrongScore)} | ${med(s.ms)} |`)
    }
  }
  console.log(out.join('\n'))
  if (process.env.DUMP) fs.writeFileSync(process.env.DUMP, JSON.stringify(dump))
  await index.close()
}
main().catch((e) => { console.error(e); process.exit(1) })
