/**
 * The report of bench:scale: measured figures in, markdown out (a table per catalog size, then a comparison of the
 * sizes with the issue's targets and an extrapolation to the next decade).
 */
import { pct } from './accuracy-rules.js'
import { quantile } from './figures.js'
import { SCALE_CONDITIONS, SCALE_LENGTHS } from './scale-clips.js'
import type { DepthSummary } from './bucket-depths.js'

/** Identify times of one pass over the clips, in ms, by clip length: whole identify, and its lookups and voting. */
export interface PassFigures {
  totalMs: Record<number, number[]>
  matchMs: Record<number, number[]>
}

export interface SizeFigures {
  tracks: number
  audioSeconds: number
  /** Postings of the tracks stored (before any cap of the index). */
  postings: number
  store: { api: string, tracks: number, added: number, compactSeconds: number, compactCpuSeconds: number, fileBefore?: number, fileAfter?: number, wallSeconds: number, cpuSeconds: number, makeSeconds: number }
  disk: { statsBytes: number, inUseBytes: number, duBytes: number, storedPostings: number, distinctHashes: number, segments: number }
  single: { bigMs: number[], emptyMs: number[], bigCpu: number, emptyCpu: number, audioSeconds: number }
  endToEnd: { files: number, audioSeconds: number, seconds: number }
  /** Undefined when the page cache could not be dropped. */
  cold?: PassFigures
  warm: PassFigures
  correct: Record<string, { ok: number, n: number }>
  falsePositives: Record<string, { fp: number, n: number }>
  falsePositiveSplit: { samePackage: { fp: number, n: number }, otherPackage: { fp: number, n: number } }
  /** Seconds to open the index with a cold page cache (the open check reads the file); undefined without root. */
  openSeconds?: number
  /** Best candidate's aligned votes on each unknown clip; best wrong track's on each known clip. */
  chanceScores: number[]
  /** The same on clips of soundtracks with nothing in the catalog (absent in figures of older runs). */
  chanceScoresOther?: number[]
  wrongKnownScores: number[]
  memory: { clipBytes: number, rssAfterBuild: number, rssAfterQueries: number, maxRss: number, pageCacheBeforeCold: number, pageCacheAfterCold: number, pageCacheAfterWarm: number, meminfoCachedDelta: number }
  depths: DepthSummary
  postingsPerQuery: Array<{ read: number, skipped: number, hashes: number, limit?: number }>
}

const mb = (b: number): string => (Number.isFinite(b) ? `${(b / 1e6).toFixed(0)} MB` : 'n/a')
const ms = (xs: readonly number[] | undefined): string => (xs && xs.length > 0 ? `${quantile(xs, 0.5).toFixed(1)} / ${quantile(xs, 0.95).toFixed(1)} ms` : 'not measured')
const median = (xs: readonly number[]): number => quantile(xs, 0.5)

/** Store throughput in × real time per core: audio seconds per CPU second, the copies' making taken out. */
export function storeSpeed (f: SizeFigures, withCompaction = true): number {
  const cpu = f.store.cpuSeconds - f.store.makeSeconds - (withCompaction ? 0 : f.store.compactCpuSeconds)
  return f.audioSeconds / Math.max(1e-9, cpu)
}

function accuracyTotals (f: SizeFigures): { ok: number, n: number, fp: number, fn: number } {
  const c = Object.values(f.correct); const u = Object.values(f.falsePositives)
  return {
    ok: c.reduce((a, x) => a + x.ok, 0),
    n: c.reduce((a, x) => a + x.n, 0),
    fp: u.reduce((a, x) => a + x.fp, 0),
    fn: u.reduce((a, x) => a + x.n, 0),
  }
}

export function formatSize (f: SizeFigures): string {
  const L: string[] = []
  const perSec = f.postings / f.audioSeconds
  const d = f.depths
  const s = f.single
  const ratio = median(s.bigMs) / median(s.emptyMs)
  const q = f.postingsPerQuery
  L.push(`## ${f.tracks.toLocaleString('en')} tracks`)
  L.push('')
  L.push('| figure | value |')
  L.push('|---|---:|')
  L.push(`| catalog | ${f.store.added} tracks stored of ${f.tracks}, ${(f.audioSeconds / 3600).toFixed(0)} h of audio, ${f.postings.toLocaleString('en')} postings (${perSec.toFixed(1)} per second) |`)
  L.push(`| index: pages in use / file (du) | ${mb(f.disk.inUseBytes)} / ${mb(f.disk.duBytes)} (the file was ${mb(f.store.fileBefore ?? NaN)} before its rewrite) |`)
  L.push(`| bytes per second of audio, in use / file | ${(f.disk.inUseBytes / f.audioSeconds).toFixed(0)} / ${(f.disk.duBytes / f.audioSeconds).toFixed(0)} |`)
  L.push(`| bytes per posting, in use / file | ${(f.disk.inUseBytes / f.postings).toFixed(2)} / ${(f.disk.duBytes / f.postings).toFixed(2)} |`)
  L.push(`| postings the index holds / distinct hashes / segments | ${f.disk.storedPostings.toLocaleString('en')} / ${f.disk.distinctHashes.toLocaleString('en')} / ${f.disk.segments} |`)
  L.push(`| bulk store (${f.store.api}) | ${f.store.wallSeconds.toFixed(1)} s wall, ${f.store.cpuSeconds.toFixed(1)} s CPU (${f.store.makeSeconds.toFixed(1)} s of it making copies, left out; ${f.store.compactCpuSeconds.toFixed(1)} s compacting and rewriting the file) |`)
  L.push(`| bulk store throughput, with / without the compaction | ${storeSpeed(f).toFixed(0)}× / ${storeSpeed(f, false).toFixed(0)}× real time per core |`)
  L.push(`| one track at a time (${s.bigMs.length} tracks), median into this index / into an empty one | ${median(s.bigMs).toFixed(1)} / ${median(s.emptyMs).toFixed(1)} ms (ratio ${ratio.toFixed(2)}) |`)
  L.push(`| one track at a time, × real time per core, this index / empty | ${(s.audioSeconds / s.bigCpu).toFixed(0)}× / ${(s.audioSeconds / s.emptyCpu).toFixed(0)}× |`)
  L.push(`| end-to-end indexing of ${f.endToEnd.files} real files into this index (decode, fingerprint, duplicate check, write; all cores) | ${(f.endToEnd.audioSeconds / f.endToEnd.seconds).toFixed(0)}× real time |`)
  for (const len of [...SCALE_LENGTHS].reverse()) {
    L.push(`| identify ${len} s clip p50 / p95, warm | ${ms(f.warm.totalMs[len])} |`)
    L.push(`| identify ${len} s clip p50 / p95, cold page cache | ${ms(f.cold?.totalMs[len])} |`)
    L.push(`| of which lookups and voting, warm / cold p95 | ${quantile(f.warm.matchMs[len] ?? [], 0.95).toFixed(1)} / ${f.cold ? quantile(f.cold.matchMs[len] ?? [], 0.95).toFixed(1) : 'n/a'} ms |`)
  }
  const a = accuracyTotals(f)
  L.push(`| accuracy, all known clips | ${pct(a.ok, a.n)} (${a.ok}/${a.n}) |`)
  const sp = f.falsePositiveSplit
  L.push(`| false positives, all unknown clips | ${pct(a.fp, a.fn)} (${a.fp}/${a.fn}) |`)
  L.push(`| of which: clips of soundtracks with nothing indexed | ${pct(sp.otherPackage.fp, sp.otherPackage.n)} (${sp.otherPackage.fp}/${sp.otherPackage.n}) |`)
  L.push(`| of which: held-out tracks of indexed soundtracks | ${pct(sp.samePackage.fp, sp.samePackage.n)} (${sp.samePackage.fp}/${sp.samePackage.n}) |`)
  L.push(`| opening the index, cold page cache (with the open-time check of lmdb-check.ts) | ${f.openSeconds !== undefined ? `${f.openSeconds.toFixed(1)} s` : 'not measured'} |`)
  L.push(`| RSS after build / after queries / peak (with the clips' PCM, ${mb(f.memory.clipBytes)}) | ${mb(f.memory.rssAfterBuild)} / ${mb(f.memory.rssAfterQueries)} / ${mb(f.memory.maxRss)} |`)
  L.push(`| page cache of the index after the cold pass / after the warm pass (fincore) | ${mb(f.memory.pageCacheAfterCold - f.memory.pageCacheBeforeCold)} / ${mb(f.memory.pageCacheAfterWarm)} |`)
  L.push(`| growth of Cached: in /proc/meminfo over the cold pass (whole machine) | ${mb(f.memory.meminfoCachedDelta)} |`)
  L.push(`| bucket depth: used hashes (share of the hash space) | ${d.distinctHashes.toLocaleString('en')} (${(100 * d.usedShare).toFixed(1)}%) |`)
  L.push(`| bucket depth: mean / p50 / p99 / p99.9 / max | ${d.mean.toFixed(1)} / ${d.p50} / ${d.p99} / ${d.p999} / ${d.max} |`)
  L.push(`| bucket depth seen by a random posting (Σd²/Σd) | ${d.postingWeightedMean.toFixed(0)} |`)
  for (const o of d.over) L.push(`| buckets over ${o.limit} postings (share of postings) | ${o.buckets} (${(100 * o.postingShare).toFixed(2)}%) |`)
  L.push(`| postings read per 10 s clean query, p50 / p95 (distinct hashes p50) | ${quantile(q.map((x) => x.read), 0.5)} / ${quantile(q.map((x) => x.read), 0.95)} (${quantile(q.map((x) => x.hashes), 0.5)}) |`)
  L.push(`| postings in skipped buckets per query, p50 / p95 (deepest bucket read) | ${quantile(q.map((x) => x.skipped), 0.5)} / ${quantile(q.map((x) => x.skipped), 0.95)} (${q[0]?.limit ?? 'maxBucket'}) |`)
  L.push(`| chance votes: best score on unknown clips, p50 / p99 / max | ${quantile(f.chanceScores, 0.5)} / ${quantile(f.chanceScores, 0.99)} / ${Math.max(0, ...f.chanceScores)} |`)
  const other = f.chanceScoresOther ?? []
  L.push(`| of which clips of soundtracks with nothing indexed (chance alone), p50 / p99 / max | ${other.length === 0 ? 'n/a' : `${quantile(other, 0.5)} / ${quantile(other, 0.99)} / ${Math.max(...other)}`} |`)
  L.push(`| best wrong-track score on known clips, p50 / p99 / max | ${quantile(f.wrongKnownScores, 0.5)} / ${quantile(f.wrongKnownScores, 0.99)} / ${Math.max(0, ...f.wrongKnownScores)} |`)
  L.push('')
  L.push('| condition | ' + SCALE_LENGTHS.map((l) => `${l} s correct`).join(' | ') + ' | ' + SCALE_LENGTHS.map((l) => `${l} s false positives`).join(' | ') + ' |')
  L.push('|---|' + SCALE_LENGTHS.map(() => '---:').join('|') + '|' + SCALE_LENGTHS.map(() => '---:').join('|') + '|')
  for (const c of SCALE_CONDITIONS) {
    const hit = SCALE_LENGTHS.map((l) => { const h = f.correct[`${c}|${l}`]; return h ? `${pct(h.ok, h.n)} (${h.ok}/${h.n})` : 'n/a' })
    const fp = SCALE_LENGTHS.map((l) => { const x = f.falsePositives[`${c}|${l}`]; return x ? `${x.fp}/${x.n}` : 'n/a' })
    L.push(`| ${c} | ${hit.join(' | ')} | ${fp.join(' | ')} |`)
  }
  L.push('')
  return L.join('\n')
}

/** Growth exponent of y between two sizes: y ∝ n^α. */
function exponent (n0: number, y0: number, n1: number, y1: number): number {
  return Math.log(y1 / y0) / Math.log(n1 / n0)
}

/** The sizes side by side, the targets checked at the largest, and an extrapolation ten times beyond it. */
export function formatSummary (all: readonly SizeFigures[]): string {
  if (all.length === 0) return 'No catalog measured.'
  const L: string[] = []
  const p95 = (f: SizeFigures, cold = false): number => quantile((cold ? f.cold?.totalMs[10] : f.warm.totalMs[10]) ?? [], 0.95)
  const row = (name: string, fn: (f: SizeFigures) => string): void => { L.push(`| ${name} | ${all.map(fn).join(' | ')} |`) }
  L.push('## Sizes side by side')
  L.push('')
  L.push('| figure | ' + all.map((f) => `${f.tracks.toLocaleString('en')}`).join(' | ') + ' |')
  L.push('|---|' + all.map(() => '---:').join('|') + '|')
  row('bytes per second of audio, in use / file', (f) => `${(f.disk.inUseBytes / f.audioSeconds).toFixed(0)} / ${(f.disk.duBytes / f.audioSeconds).toFixed(0)}`)
  row('bytes per posting, in use', (f) => (f.disk.inUseBytes / f.postings).toFixed(2))
  row('opening the index, cold, s', (f) => (f.openSeconds !== undefined ? f.openSeconds.toFixed(1) : 'n/a'))
  row('bulk store, × real time per core', (f) => storeSpeed(f).toFixed(0))
  row('one track: this index / empty', (f) => (median(f.single.bigMs) / median(f.single.emptyMs)).toFixed(2))
  row('end-to-end indexing, × real time', (f) => (f.endToEnd.audioSeconds / f.endToEnd.seconds).toFixed(0))
  row('identify 10 s p95 warm, ms', (f) => p95(f).toFixed(1))
  row('identify 10 s p95 cold, ms', (f) => (f.cold ? p95(f, true).toFixed(1) : 'n/a'))
  row('accuracy', (f) => { const a = accuracyTotals(f); return pct(a.ok, a.n) })
  row('false positives', (f) => { const a = accuracyTotals(f); return pct(a.fp, a.fn) })
  row('bucket depth mean / max', (f) => `${f.depths.mean.toFixed(1)} / ${f.depths.max}`)
  row('postings read per 10 s query, p50', (f) => String(quantile(f.postingsPerQuery.map((x) => x.read), 0.5)))
  row('chance votes on unknown clips, p99 / max', (f) => `${quantile(f.chanceScores, 0.99)} / ${Math.max(0, ...f.chanceScores)}`)
  row('page cache after the cold pass', (f) => mb(f.memory.pageCacheAfterCold - f.memory.pageCacheBeforeCold))
  L.push('')
  const big = all[all.length - 1]
  const small = all[0]
  const a = accuracyTotals(big); const a0 = accuracyTotals(small)
  L.push(`Targets at ${big.tracks.toLocaleString('en')} tracks (the issue states them at 100,000):`)
  L.push('')
  L.push('| target | measured | met |')
  L.push('|---|---:|---|')
  const bps = big.disk.inUseBytes / big.audioSeconds
  const ratio = median(big.single.bigMs) / median(big.single.emptyMs)
  const growth = p95(big) / p95(small)
  L.push(`| index ≤ 600 bytes per second of audio (pages in use) | ${bps.toFixed(0)} | ${bps <= 600 ? 'yes' : 'no'} |`)
  L.push(`| bulk store ≥ 3,000× real time per core | ${storeSpeed(big).toFixed(0)}× | ${storeSpeed(big) >= 3000 ? 'yes' : 'no'} |`)
  L.push(`| one track into the catalog ≤ 2× into an empty index | ${ratio.toFixed(2)}× | ${ratio <= 2 ? 'yes' : 'no'} |`)
  L.push(`| identify 10 s p95 ≤ 30 ms warm | ${p95(big).toFixed(1)} ms | ${p95(big) <= 30 ? 'yes' : 'no'} |`)
  L.push(`| identify 10 s p95 ≤ 2× the ${small.tracks.toLocaleString('en')}-track figure | ${growth.toFixed(2)}× | ${all.length > 1 ? (growth <= 2 ? 'yes' : 'no') : 'one size only'} |`)
  L.push(`| accuracy unchanged (vs ${small.tracks.toLocaleString('en')} tracks) | ${pct(a.ok, a.n)} vs ${pct(a0.ok, a0.n)} | ${a.ok === a0.ok ? 'yes' : 'no'} |`)
  L.push(`| false positives on unknown music ≤ 0.2 % | ${pct(a.fp, a.fn)} (${a.fp}/${a.fn}) | ${a.fp / Math.max(1, a.fn) <= 0.002 ? 'yes' : 'no'} |`)
  if (all.length > 1) {
    const prev = all[all.length - 2]
    const n = big.tracks * 10
    const k = n / big.tracks
    const ap = exponent(prev.tracks, p95(prev), big.tracks, p95(big))
    const ad = exponent(prev.tracks, prev.depths.mean, big.tracks, big.depths.mean)
    const ac = exponent(prev.tracks, Math.max(1, quantile(prev.chanceScores, 0.99)), big.tracks, Math.max(1, quantile(big.chanceScores, 0.99)))
    L.push('')
    L.push(`Extrapolated to ${n.toLocaleString('en')} tracks (not measured: power laws through the two largest sizes):`)
    L.push('')
    L.push('| figure | extrapolated |')
    L.push('|---|---:|')
    L.push(`| index on disk, pages in use | ${(big.disk.inUseBytes * k / 1e9).toFixed(0)} GB (bytes per posting as at ${big.tracks.toLocaleString('en')}) |`)
    L.push(`| bulk store at ${storeSpeed(big).toFixed(0)}× per core | ${(big.audioSeconds * k / storeSpeed(big) / 3600).toFixed(1)} CPU hours |`)
    L.push(`| identify 10 s p95 warm (∝ n^${ap.toFixed(2)}) | ${(p95(big) * k ** ap).toFixed(0)} ms |`)
    L.push(`| bucket depth mean (∝ n^${ad.toFixed(2)}) | ${(big.depths.mean * k ** ad).toFixed(0)} |`)
    L.push(`| chance votes on unknown clips, p99 (∝ n^${ac.toFixed(2)}) | ${(Math.max(1, quantile(big.chanceScores, 0.99)) * k ** ac).toFixed(1)} |`)
  }
  return L.join('\n')
}
