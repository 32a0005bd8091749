/**
 * Catalog scale: `npm run bench:scale`.
 *
 * Builds catalogs of synthetic tracks (bench/synthetic-catalog.ts: the corpus's known tracks, fingerprinted once,
 * then copied with shifted hashes) and measures, per catalog size: bytes on disk per second of audio and per posting,
 * bulk store throughput, adding one track at a time, end-to-end indexing of real files, identify latency with a warm
 * and a cold page cache, accuracy and false positives on real clips, memory, and the hash-width study (bucket
 * depths, postings read per query, chance votes). Prints a markdown table per size (bench/scale-report.ts).
 *
 * Options:
 *   --sizes 1000,10000,100000   catalog sizes, each built in a temporary folder and removed after
 *   --tracks N --db DIR         build one catalog of N tracks into DIR and leave it there (a normal earshot index)
 *   --json FILE                 raw figures
 *   --known 50                  originals clipped for queries
 *   --unknown 50                clips of unknown music per length and condition
 *   --single 20                 tracks added one at a time to the big and to an empty index
 *   --files 4                   real files indexed end to end into the big index (removed after)
 *   --seed 1
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { loadCorpus } from './corpus.js'
import { makeRng } from './degrade.js'
import { isCorrect, isFalsePositive, packageOf } from './accuracy-rules.js'
import { loadOriginals } from './scale-originals.js'
import { makeClips, type Clip } from './scale-clips.js'
import { syntheticTracks, variants, type SyntheticTrack } from './synthetic-catalog.js'
import { BucketDepths } from './bucket-depths.js'
import { formatSize, formatSummary, type SizeFigures, type PassFigures } from './scale-report.js'
import { defaults } from '../server/src/config/defaults.js'
import type { FingerprintParams } from '../server/src/config/fingerprint.js'
import { LmdbIndex } from '../server/src/index/lmdb-index.js'
import { indexFiles } from '../server/src/catalog/indexer.js'
import { Identifier } from '../server/src/match/identify.js'
import { fingerprint } from '../server/src/dsp/pipeline.js'
import type { ClipMatch } from '../server/src/match/clip-matcher.js'

const log = (s: string): void => { process.stderr.write(s + '\n') }

/** What the adapter did: which API it wrote through, and the time its final merge and rewrite took. */
export interface StoreSummary {
  api: string
  tracks: number
  added: number
  /** Wall and CPU seconds of the merge into one segment and of the file's rewrite (part of the store figures too). */
  compactSeconds: number
  compactCpuSeconds: number
  /** The file's size before and after the rewrite without free pages (NaN when another process held it open). */
  fileBefore: number
  fileAfter: number
}

/**
 * Store `tracks` into `index`, then close it: the one place that knows the write API. A bulk writer buffers runs of
 * postings and writes each as a sorted segment; then, as `earshot compact` does, every segment is merged into one
 * (`maintain({ compact: true })`) and the file is rewritten without the pages the merge freed (`shrinkFile`, which
 * closes the index). The shape a catalog loaded once is served in.
 */
export async function storeCatalog (index: LmdbIndex, tracks: Iterable<SyntheticTrack>, onProgress: (stored: number) => void): Promise<StoreSummary> {
  let n = 0; let added = 0
  const bulk = index.bulkWriter()
  for (const t of tracks) {
    if (bulk.add(t.meta, t.hashes).added) added++
    if (++n % 100 === 0) onProgress(n)
  }
  bulk.finish()
  onProgress(n)
  const wall0 = performance.now(); const cpu0 = cpuSeconds()
  index.maintain({ compact: true })
  const shrunk = await index.shrinkFile()
  let fileBefore = NaN; let fileAfter = NaN
  if ('busy' in shrunk) await index.close()
  else ({ before: fileBefore, after: fileAfter } = shrunk)
  return {
    api: 'bulkWriter, maintain({ compact: true }), shrinkFile',
    tracks: n,
    added,
    compactSeconds: (performance.now() - wall0) / 1000,
    compactCpuSeconds: cpuSeconds() - cpu0,
    fileBefore,
    fileAfter,
  }
}

const cpuSeconds = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }

/** Bytes the folder's files occupy (allocated blocks, as du counts them). */
function duBytes (dir: string): number {
  try { return Number(execFileSync('du', ['-s', '--block-size=1', dir], { encoding: 'utf8' }).split('\t')[0]) } catch { return NaN }
}

/** Bytes of the folder's files held in the page cache (fincore from util-linux), or NaN without fincore. */
function cachedBytes (dir: string): number {
  const files = fs.readdirSync(dir).map((f) => path.join(dir, f)).filter((f) => fs.statSync(f).isFile())
  try {
    const out = execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', ...files], { encoding: 'utf8' })
    return out.split('\n').filter((l) => l.trim() !== '').reduce((a, l) => a + Number(l.trim()), 0)
  } catch { return NaN }
}

/** `Cached:` of /proc/meminfo in bytes (the whole machine's page cache). */
function meminfoCached (): number {
  const m = /^Cached:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'))
  return m ? Number(m[1]) * 1024 : NaN
}

/** Drop the machine's clean page cache (root only); false when that is not allowed here. */
function dropPageCache (): boolean {
  try {
    execFileSync('sync')
    fs.writeFileSync('/proc/sys/vm/drop_caches', '1')
    return true
  } catch { return false }
}

function push<K> (m: Map<K, number[]>, k: K, v: number): void {
  const a = m.get(k)
  if (a) a.push(v); else m.set(k, [v])
}

interface PassResult {
  figures: PassFigures
  correct: Map<string, { ok: number, n: number }>
  falsePositives: Map<string, { fp: number, n: number }>
  /** False positives on clips of soundtracks with tracks in the catalog, and of the others. */
  split: { samePackage: { fp: number, n: number }, otherPackage: { fp: number, n: number } }
  chance: number[]
  /** The same, on clips of soundtracks with nothing in the catalog: chance alone, no shared material. */
  chanceOther: number[]
  wrongKnown: number[]
}

/** Identify every clip once, as `earshot identify` does; `truth` maps an original's source to its track id. */
function identifyPass (index: LmdbIndex, clips: readonly Clip[], truth: Map<string, number>, verbose: boolean): PassResult {
  const identifier = new Identifier(index, { ...defaults, maxMatches: 5 })
  let lookupMs = 0
  identifier.onResult = (_r, seconds) => { lookupMs = seconds * 1000 }
  const totalMs = new Map<number, number[]>()
  const matchMs = new Map<number, number[]>()
  const correct = new Map<string, { ok: number, n: number }>()
  const falsePositives = new Map<string, { fp: number, n: number }>()
  const chance: number[] = []
  const chanceOther: number[] = []
  const wrongKnown: number[] = []
  const split = { samePackage: { fp: 0, n: 0 }, otherPackage: { fp: 0, n: 0 } }
  for (const c of clips) {
    let ev: ClipMatch | undefined
    const t0 = performance.now()
    const r = identifier.identify(c.samples, c.sampleRate, (m) => { ev = m })
    const ms = performance.now() - t0
    push(totalMs, c.seconds, ms)
    push(matchMs, c.seconds, lookupMs)
    const key = `${c.condition}|${c.seconds}`
    const candidates = ev?.candidates ?? []
    if (c.source !== undefined) {
      const id = truth.get(c.source) ?? -1
      const h = correct.get(key) ?? { ok: 0, n: 0 }
      h.n++
      if (isCorrect(r, id)) h.ok++
      correct.set(key, h)
      wrongKnown.push(candidates.find((x) => x.trackId !== id)?.score ?? 0)
    } else {
      const f = falsePositives.get(key) ?? { fp: 0, n: 0 }
      const side = c.samePackage === true ? split.samePackage : split.otherPackage
      f.n++; side.n++
      if (isFalsePositive(r)) {
        f.fp++; side.fp++
        if (verbose) log(`false positive ${key} ${path.basename(c.file)}@${c.startSeconds.toFixed(1)} -> #${r.matches[0].id} ${r.matches[0].source}: score ${candidates[0]?.score}, confidence ${r.matches[0].confidence}`)
      }
      falsePositives.set(key, f)
      chance.push(candidates[0]?.score ?? 0)
      if (c.samePackage !== true) chanceOther.push(candidates[0]?.score ?? 0)
    }
  }
  return { figures: { totalMs: Object.fromEntries(totalMs), matchMs: Object.fromEntries(matchMs) }, correct, falsePositives, split, chance, chanceOther, wrongKnown }
}

/**
 * Postings in the buckets of each distinct hash of a clip: read, and skipped (deeper than the limit identify uses:
 * `maxBucket`, or the depth the index gives for `postingsPerLookup`, whichever is smaller).
 */
function postingsOfQuery (index: LmdbIndex, params: FingerprintParams, clip: Clip): { read: number, skipped: number, hashes: number, limit: number } {
  const list = fingerprint(params, clip.samples, clip.sampleRate, { query: true })
  const limit = Math.min(defaults.maxBucket, index.bucketLimit(defaults.postingsPerLookup))
  const seen = new Set<number>()
  let read = 0; let skipped = 0
  const noop = (): void => {}
  for (let i = 0; i < list.count; i++) {
    const h = list.hashes[i]
    if (seen.has(h)) continue
    seen.add(h)
    const n = index.lookup(h, noop, limit)
    if (n > limit) skipped += n
    else read += n
  }
  return { read, skipped, hashes: seen.size, limit }
}

interface Options { dir: string, single: number, files: readonly string[], clips: readonly Clip[] }

async function measureSize (n: number, params: FingerprintParams, originals: Awaited<ReturnType<typeof loadOriginals>>, o: Options): Promise<SizeFigures> {
  log(`--- ${n} tracks into ${o.dir}`)
  const index = LmdbIndex.open(o.dir, params)
  if (index.stats().tracks > 0) throw new Error(`${o.dir} already holds an index; bench:scale builds into an empty folder`)
  const depths = new BucketDepths()
  let audioSeconds = 0; let postings = 0; let makeSeconds = 0
  // Copies are made lazily, one at a time; the time spent making them (and counting depths) is kept apart.
  const counted = function * (): Generator<SyntheticTrack> {
    const it = syntheticTracks(params, originals, n)
    for (;;) {
      const t0 = performance.now()
      const next = it.next()
      if (next.done === true) return
      depths.add(next.value.hashes)
      audioSeconds += next.value.meta.durationSeconds
      postings += next.value.hashes.count
      makeSeconds += (performance.now() - t0) / 1000
      yield next.value
    }
  }
  const wall0 = performance.now(); const cpu0 = cpuSeconds()
  let last = wall0
  const store = await storeCatalog(index, counted(), (k) => {
    const now = performance.now()
    if (now - last > 10_000 || k === n) { last = now; log(`stored ${k}/${n} tracks, ${((now - wall0) / 1000).toFixed(0)} s`) }
  })
  const storeWall = (performance.now() - wall0) / 1000
  const storeCpu = cpuSeconds() - cpu0
  const rssAfterBuild = process.memoryUsage().rss
  const du = duBytes(o.dir)
  const built = LmdbIndex.open(o.dir, params) // the adapter closed it
  const stats = built.stats()

  // Which track each original's clips belong to: copy 0 of it, found by digest whatever ids the writer gave.
  const truth = new Map<string, number>()
  for (const r of originals) { const t = built.findByDigest(r.meta.digest); if (t) truth.set(r.meta.source, t.id) }

  // Opening runs the open-time check (lmdb-check.ts), which reads pages of the file: timed with the cache dropped, as
  // at a cold start.
  await built.close()
  const dropped = dropPageCache()
  const open0 = performance.now()
  const queryIndex = LmdbIndex.open(o.dir, params)
  const openSeconds = (performance.now() - open0) / 1000
  // Identify: a pass with the page cache dropped again (the check read the file without mapping it, so its pages go),
  // then a warm one.
  const droppedAgain = dropped && dropPageCache()
  const cached0 = cachedBytes(o.dir); const meminfo0 = meminfoCached()
  const coldOrWarmup = identifyPass(queryIndex, o.clips, truth, false)
  const pageCacheAfterCold = cachedBytes(o.dir); const meminfoDelta = meminfoCached() - meminfo0
  const cold = droppedAgain ? coldOrWarmup : undefined
  const warm = identifyPass(queryIndex, o.clips, truth, true)
  const pageCacheAfterWarm = cachedBytes(o.dir)
  const rssAfterQueries = process.memoryUsage().rss

  const tenClean = o.clips.filter((c) => c.seconds === 10 && c.condition === 'clean')
  const perQuery = tenClean.map((c) => postingsOfQuery(queryIndex, params, c))

  // One track at a time: new copies (beyond those in the catalog) into the big index and into an empty one.
  const firstFree = Math.ceil(n / originals.length)
  const single = (target: LmdbIndex): { ms: number[], cpu: number, audio: number, ids: number[] } => {
    const ms: number[] = []; const ids: number[] = []; let audio = 0
    const c0 = cpuSeconds()
    for (const t of syntheticTracks(params, originals, o.single, firstFree)) {
      const t0 = performance.now()
      const r = target.addTrack(t.meta, t.hashes)
      ms.push(performance.now() - t0)
      ids.push(r.track.id)
      audio += t.meta.durationSeconds
    }
    return { ms, cpu: cpuSeconds() - c0, audio, ids }
  }
  const emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'earshot-scale-empty-'))
  const empty = LmdbIndex.open(emptyDir, params)
  const intoEmpty = single(empty)
  await empty.close()
  fs.rmSync(emptyDir, { recursive: true, force: true })
  const intoBig = single(queryIndex)

  // End to end: real files (decode, fingerprint, duplicate check, write) into the big index, all cores.
  const e2eIds: number[] = []
  const e2e = await indexFiles(queryIndex, o.files, {
    params,
    limits: defaults.catalog,
    onEvent: (e) => { if (e.type === 'indexed') e2eIds.push(e.track.id); if (e.type === 'skipped') log(`skipped ${e.file}: ${e.reason}`) },
  })
  // Leave the catalog as built: exactly the n synthetic tracks.
  for (const id of [...intoBig.ids, ...e2eIds]) queryIndex.removeTrack(id)
  await queryIndex.close()

  const figures: SizeFigures = {
    tracks: n,
    audioSeconds,
    postings,
    store: { ...store, wallSeconds: storeWall, cpuSeconds: storeCpu, makeSeconds },
    openSeconds: dropped ? openSeconds : undefined,
    disk: { statsBytes: stats.bytesOnDisk, inUseBytes: stats.bytesInUse ?? NaN, duBytes: du, storedPostings: stats.postings, distinctHashes: stats.distinctHashes, segments: stats.segments ?? NaN },
    single: { bigMs: intoBig.ms, emptyMs: intoEmpty.ms, bigCpu: intoBig.cpu, emptyCpu: intoEmpty.cpu, audioSeconds: intoBig.audio },
    endToEnd: { files: e2e.indexed, audioSeconds: e2e.audioSeconds, seconds: e2e.seconds },
    cold: cold?.figures,
    warm: warm.figures,
    correct: Object.fromEntries(warm.correct),
    falsePositives: Object.fromEntries(warm.falsePositives),
    falsePositiveSplit: warm.split,
    chanceScores: warm.chance,
    chanceScoresOther: warm.chanceOther,
    wrongKnownScores: warm.wrongKnown,
    memory: { clipBytes: o.clips.reduce((a, c) => a + c.samples.byteLength, 0), rssAfterBuild, rssAfterQueries, maxRss: process.resourceUsage().maxRSS * 1024, pageCacheBeforeCold: cached0, pageCacheAfterCold, pageCacheAfterWarm, meminfoCachedDelta: meminfoDelta },
    depths: depths.summary([1024, defaults.maxBucket]),
    postingsPerQuery: perQuery,
  }
  return figures
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '1000,10000,100000' },
      tracks: { type: 'string' },
      db: { type: 'string' },
      json: { type: 'string' },
      known: { type: 'string', default: '50' },
      unknown: { type: 'string', default: '50' },
      single: { type: 'string', default: '20' },
      files: { type: 'string', default: '4' },
      seed: { type: 'string', default: '1' },
    },
  })
  if ((values.tracks === undefined) !== (values.db === undefined)) throw new Error('--tracks N and --db DIR go together')
  const sizes = values.tracks !== undefined ? [Number(values.tracks)] : values.sizes.split(',').map(Number)
  if (sizes.some((s) => !Number.isInteger(s) || s < 1)) throw new Error(`bad catalog size in ${values.tracks ?? values.sizes}`)
  const seed = Number(values.seed)
  const params = defaults.fingerprint
  const corpus = await loadCorpus()
  const originals = await loadOriginals(corpus.known, params, log)
  const capacity = originals.length * variants(params).length
  const origSeconds = originals.reduce((a, r) => a + r.meta.durationSeconds, 0)
  const origPostings = originals.reduce((a, r) => a + r.hashes.count, 0)
  log(`${originals.length} originals, ${(origSeconds / 3600).toFixed(2)} h, ${(origPostings / origSeconds).toFixed(1)} postings per second; up to ${capacity} tracks`)

  // Queries: clips of a seeded sample of originals, and of unknown music; unknown files indexed end to end apart.
  const rng = makeRng(seed)
  const pick = originals.map((r) => r.meta.source).sort(() => rng() - 0.5).slice(0, Number(values.known))
  const unknownOrder = corpus.unknown.slice().sort(() => rng() - 0.5)
  const e2eFiles = unknownOrder.slice(0, Number(values.files))
  const unknownForClips = unknownOrder.slice(Number(values.files))
  const clips = await makeClips(params, pick, unknownForClips, Number(values.unknown), seed, log)
  const indexedPackages = new Set(corpus.known.map((f) => packageOf(corpus.dir, f)))
  for (const c of clips) if (c.source === undefined) c.samePackage = indexedPackages.has(packageOf(corpus.dir, c.file))

  const results: SizeFigures[] = []
  for (const n of sizes) {
    if (n > capacity) { log(`skipping ${n}: the shifts give at most ${capacity} tracks`); continue }
    // The disk a catalog needs: about 12 bytes a posting measured at 1,000 tracks, twice while the compaction writes
    // its copy. Refused rather than fill the disk.
    const need = 2 * 13 * n * (origPostings / originals.length)
    const where = values.db !== undefined ? path.dirname(path.resolve(values.db)) : os.tmpdir()
    const free = fs.statfsSync(where).bavail * fs.statfsSync(where).bsize
    if (need > free) { log(`skipping ${n}: about ${(need / 1e9).toFixed(0)} GB needed, ${(free / 1e9).toFixed(0)} GB free`); continue }
    const dir = values.db ?? fs.mkdtempSync(path.join(os.tmpdir(), 'earshot-scale-'))
    fs.mkdirSync(dir, { recursive: true })
    try {
      const f = await measureSize(n, params, originals, { dir, single: Number(values.single), files: e2eFiles, clips })
      results.push(f)
      process.stdout.write(formatSize(f) + '\n')
      // Written after every size: a later size that fails leaves the figures of the earlier ones.
      if (values.json !== undefined) {
        fs.writeFileSync(values.json, JSON.stringify({ originals: { tracks: originals.length, audioSeconds: origSeconds, postings: origPostings }, clips: clips.length, results }, null, 1))
      }
    } finally {
      if (values.db === undefined) fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  process.stdout.write(formatSummary(results) + '\n')
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:scale failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 1
})
