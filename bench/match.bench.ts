/**
 * Matching cost at catalogue scale: `npm run bench:match`.
 *
 * Fingerprints real tracks of the corpus (bench/corpus.ts) and makes catalogues of 1k, 10k and 100k tracks from
 * copies of them with the same hash statistics (bench/synthetic-index.ts). Cuts 10 s clips of some originals (clean
 * and with white noise at 5 dB SNR) and of unknown tracks, then times ClipMatcher.match on each catalogue, a warm-up
 * round and then several rounds, and a StreamMatcher fed each clean clip tick by tick. Prints markdown tables:
 *  - per catalogue and kind of clip: postings read, match time p50 / p95, and with EARSHOT_BENCH_BASELINE the same
 *    for another build, run alternately in this process, with the count of answers that differ;
 *  - the bucket limit: postings read, time, and what the clips find, under an absolute limit and under limits
 *    relative to the catalogue's mean bucket depth (postings / distinct hashes).
 *
 * Environment: EARSHOT_BENCH_ORIGINALS (corpus tracks copied, default 100), EARSHOT_BENCH_DB (an index of the
 * corpus, as bench:accuracy leaves it: the originals' hashes are read from it instead of fingerprinting every
 * track again; only the clipped ones are decoded), EARSHOT_BENCH_SIZES (catalogue sizes in tracks, default
 * "1000,10000,100000"), EARSHOT_BENCH_QUERIES (originals clipped, default 30),
 * EARSHOT_BENCH_UNKNOWN (unknown clips, default 30), EARSHOT_BENCH_ROUNDS (timed rounds, default 3),
 * EARSHOT_BENCH_FACTORS (relative bucket limits tried, in mean depths, default "16,64,256"),
 * EARSHOT_BENCH_SEED (default 1), EARSHOT_BENCH_BASELINE (a folder of built match modules of another commit,
 * e.g. `<other tree>/dist/server/src/match`: its clip-matcher.js and stream-matcher.js run beside this tree's).
 */
import path from 'node:path'
import { loadCorpus } from './corpus.js'
import { env, quantile } from './figures.js'
import { addWhiteNoise, makeRng } from './degrade.js'
import { Originals, SyntheticIndex, depths } from './synthetic-index.js'
import { defaults } from '../server/src/config/defaults.js'
import { decodeFile } from '../server/src/audio/decode.js'
import { LmdbIndex } from '../server/src/index/lmdb-index.js'
import { hashToPair, isPair, POSITIONS, SPAN_STEP, shapeOf } from '../server/src/dsp/landmarks.js'
import { fingerprint, type HashList } from '../server/src/dsp/pipeline.js'
import { ClipMatcher } from '../server/src/match/clip-matcher.js'
import { StreamMatcher, type StreamMatchEvent } from '../server/src/match/stream-matcher.js'

const params = defaults.fingerprint
const CLIP_SECONDS = 10

interface Query { kind: string, list: HashList, trackId: number }
interface Matchers { clip: typeof ClipMatcher, stream: typeof StreamMatcher }

const log = (s: string): void => { process.stderr.write(s + '\n') }

function copyList (l: HashList): HashList {
  return { hashes: l.hashes.slice(0, l.count), frames: l.frames.slice(0, l.count), count: l.count, frameCount: l.frameCount }
}

/** A clip of `x` at a seeded random point, or undefined when the track is too short. */
function cut (x: Float32Array, rate: number, rng: () => number): Float32Array | undefined {
  const n = CLIP_SECONDS * rate
  if (x.length < n + rate) return undefined
  const start = Math.floor(rng() * (x.length - n))
  return x.slice(start, start + n)
}

/**
 * About how many frames a landmark's later target comes after its anchor: a pair's delta, or the lower edge of a
 * triplet's span cell (the first field of its shape, dsp/landmarks.ts). A stream has the landmark once that frame
 * has passed.
 */
function targetDelay (hash: number): number {
  if (isPair(hash)) return hashToPair(hash).delta
  return Math.max(1, Math.round(Math.exp(SPAN_STEP * Math.floor(shapeOf(hash) / POSITIONS))))
}

/** Feed a clip's hashes to a stream matcher as a live stream would (each once its later target's frame has passed). */
function runStream (S: typeof StreamMatcher, index: SyntheticIndex, list: HashList, maxBucket: number): StreamMatchEvent[] {
  const events: StreamMatchEvent[] = []
  const m = new S(index, params, { match: (e) => events.push(e), end: () => {} }, { maxBucket })
  for (let i = 0; i < list.count; i++) {
    m.advance(list.frames[i] + targetDelay(list.hashes[i]))
    m.addHash(list.hashes[i], list.frames[i])
  }
  m.end(list.frameCount)
  return events
}

async function main (): Promise<void> {
  const seed = env('EARSHOT_BENCH_SEED', 1)
  const nOriginals = env('EARSHOT_BENCH_ORIGINALS', 100)
  const nQueries = env('EARSHOT_BENCH_QUERIES', 30)
  const nUnknown = env('EARSHOT_BENCH_UNKNOWN', 30)
  const rounds = env('EARSHOT_BENCH_ROUNDS', 3)
  const sizes = (process.env.EARSHOT_BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number)
  const factors = (process.env.EARSHOT_BENCH_FACTORS ?? '16,64,256').split(',').map(Number)
  const corpus = await loadCorpus()
  const rng = makeRng(seed)
  const stored = process.env.EARSHOT_BENCH_DB ? LmdbIndex.open(process.env.EARSHOT_BENCH_DB, params, { readOnly: true }) : undefined
  const storedTracks = stored ? [...stored.listTracks()].slice(0, nOriginals) : []
  const files = stored ? storedTracks.map((t) => t.source) : corpus.known.slice(0, nOriginals)
  const clipped = new Set(files.map((_, i) => i).sort(() => rng() - 0.5).slice(0, nQueries))

  let baseline: Matchers | undefined
  if (process.env.EARSHOT_BENCH_BASELINE) {
    const dir = path.resolve(process.env.EARSHOT_BENCH_BASELINE)
    baseline = {
      clip: (await import(path.join(dir, 'clip-matcher.js'))).ClipMatcher,
      stream: (await import(path.join(dir, 'stream-matcher.js'))).StreamMatcher,
    }
  }
  const current: Matchers = { clip: ClipMatcher, stream: StreamMatcher }

  // Originals and the clips of some of them; decoded audio is dropped track by track.
  const lists: HashList[] = []
  const queries: Query[] = []
  for (const [o, file] of files.entries()) {
    const hashes = stored?.trackHashes(storedTracks[o].id)
    const audio = hashes && !clipped.has(o) ? undefined : await decodeFile(file)
    lists.push(hashes ?? copyList(fingerprint(params, audio!.samples, audio!.sampleRate)))
    const clip = audio && clipped.has(o) ? cut(audio.samples, audio.sampleRate, rng) : undefined
    if (audio && clip) {
      queries.push({ kind: 'known, clean', list: copyList(fingerprint(params, clip, audio.sampleRate, { query: true })), trackId: o + 1 })
      const noisy = addWhiteNoise(clip, 5, rng)
      queries.push({ kind: 'known, 5 dB SNR', list: copyList(fingerprint(params, noisy, audio.sampleRate, { query: true })), trackId: o + 1 })
    }
    if ((o + 1) % 20 === 0) log(`fingerprinted ${o + 1}/${files.length} originals`)
  }
  await stored?.close()
  for (let u = 0; u < nUnknown; u++) {
    const file = corpus.unknown[u % corpus.unknown.length]
    const audio = await decodeFile(file)
    const clip = cut(audio.samples, audio.sampleRate, rng)
    if (clip) queries.push({ kind: 'unknown', list: copyList(fingerprint(params, clip, audio.sampleRate, { query: true })), trackId: 0 })
  }
  const originals = new Originals(lists)
  lists.length = 0
  const needed = new Set<number>()
  for (const q of queries) for (let i = 0; i < q.list.count; i++) needed.add(q.list.hashes[i])
  const kinds = [...new Set(queries.map((q) => q.kind))]
  log(`${originals.count} originals (${originals.postings} postings, ${(originals.frameTotal * params.hopSize / params.sampleRate / 3600).toFixed(2)} h), ${queries.length} clips, ${needed.size} distinct query hashes`)

  const ab: string[] = []
  const limits: string[] = []
  const streams: string[] = []
  for (const size of sizes) {
    const copies = Math.max(1, Math.round(size / originals.count))
    const depth = depths(params, originals, copies)
    const index = new SyntheticIndex(params, originals, copies, depth, needed)
    const stats = index.stats()
    const mean = stats.postings / stats.distinctHashes
    let deepest = 0
    for (const d of depth) if (d > deepest) deepest = d
    log(`${index.tracks} tracks: ${stats.postings} postings, ${stats.distinctHashes} distinct hashes, mean depth ${mean.toFixed(1)}, deepest ${deepest}`)

    /** Time every query under one matcher and limit; returns per-kind times, postings, and the answers. */
    const timeClips = (matchers: Matchers[], maxBucket: number): Array<{ ms: Map<string, number[]>, postings: Map<string, number[]>, answers: string[], top: Array<{ id: number, confident: boolean }> }> => {
      const out = matchers.map(() => ({ ms: new Map<string, number[]>(), postings: new Map<string, number[]>(), answers: [] as string[], top: [] as Array<{ id: number, confident: boolean }> }))
      const made = matchers.map((M) => new M.clip(index, params))
      for (let r = 0; r <= rounds; r++) {
        for (const [qi, q] of queries.entries()) {
          // Alternate which build goes first, so that caches and the machine's noise hit both alike.
          const order = (qi + r) % 2 === 0 ? made.map((_, i) => i) : made.map((_, i) => made.length - 1 - i)
          for (const i of order) {
            index.postingsRead = 0
            const t0 = performance.now()
            const result = made[i].match(q.list, { maxBucket })
            const ms = performance.now() - t0
            if (r === 0) {
              out[i].answers.push(JSON.stringify(result))
              out[i].top.push({ id: result.candidates[0]?.trackId ?? 0, confident: (result.candidates[0]?.confidence ?? 0) >= defaults.minConfidence })
              continue // warm-up
            }
            const m = out[i].ms.get(q.kind) ?? []; m.push(ms); out[i].ms.set(q.kind, m)
            const p = out[i].postings.get(q.kind) ?? []; p.push(index.postingsRead); out[i].postings.set(q.kind, p)
          }
        }
      }
      return out
    }
    const fmt = (xs: number[]): string => `${quantile(xs, 0.5).toFixed(2)} / ${quantile(xs, 0.95).toFixed(2)}`
    const meanOf = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)

    // Before and after at the configured limit.
    const builds = baseline ? [baseline, current] : [current]
    const [a, b] = timeClips(builds, defaults.maxBucket)
    const differ = b ? a.answers.filter((x, i) => x !== b.answers[i]).length : 0
    for (const kind of kinds) {
      const after = b ?? a
      ab.push(`| ${index.tracks} | ${mean.toFixed(1)} | ${kind} | ${meanOf(after.postings.get(kind)!).toFixed(0)} | ` +
        (b ? `${fmt(a.ms.get(kind)!)} | ` : '') + `${fmt(after.ms.get(kind)!)} | ` + (b ? `${differ}/${queries.length} |` : ''))
    }

    // The bucket limit: absolute, relative to the mean depth, none.
    const rules: Array<[string, number]> = [
      [`absolute ${defaults.maxBucket}`, defaults.maxBucket],
      ...factors.map((f): [string, number] => [`${f} × mean depth (${Math.round(f * mean)})`, f * mean]),
      ['none', Infinity],
    ]
    for (const [name, limit] of rules) {
      const [r] = timeClips([current], limit)
      let skippedShare = 0
      for (const d of depth) if (d > limit) skippedShare += d
      skippedShare /= stats.postings
      const known = queries.map((q, i) => ({ q, t: r.top[i] })).filter((x) => x.q.trackId > 0)
      const found = known.filter((x) => x.t.confident && x.t.id === x.q.trackId).length
      const copy = known.filter((x) => x.t.id !== x.q.trackId && x.t.id % originals.count === x.q.trackId % originals.count).length
      const unknown = r.top.filter((t, i) => queries[i].trackId === 0 && t.confident).length
      const all = [...r.ms.values()].flat()
      limits.push(`| ${index.tracks} | ${name} | ${(100 * skippedShare).toFixed(1)}% | ${meanOf([...r.postings.values()].flat()).toFixed(0)} | ${fmt(all)} | ` +
        `${found}/${known.length} | ${copy} | ${unknown}/${queries.length - known.length} |`)
    }

    // Streams: each clean clip tick by tick, before and after.
    const clean = queries.filter((q) => q.kind === 'known, clean')
    const streamMs = builds.map(() => [] as number[])
    const confirmed = builds.map(() => [] as number[])
    const events = builds.map(() => [] as string[])
    for (let r = 0; r <= rounds; r++) {
      for (const [qi, q] of clean.entries()) {
        const order = (qi + r) % 2 === 0 ? builds.map((_, i) => i) : builds.map((_, i) => builds.length - 1 - i)
        for (const i of order) {
          const t0 = performance.now()
          const ev = runStream(builds[i].stream, index, q.list, defaults.maxBucket)
          const ms = performance.now() - t0
          if (r > 0) { streamMs[i].push(ms); continue }
          events[i].push(JSON.stringify(ev))
          const first = ev.find((e) => e.state === 'confirmed' && e.trackId === q.trackId)
          if (first) confirmed[i].push(first.streamFrame * params.hopSize / params.sampleRate)
        }
      }
    }
    const streamDiffer = builds.length > 1 ? events[0].filter((x, i) => x !== events[1][i]).length : 0
    const perSecond = (ms: number[]): string => `${(quantile(ms, 0.5) / CLIP_SECONDS).toFixed(3)} / ${(quantile(ms, 0.95) / CLIP_SECONDS).toFixed(3)}`
    const conf = (xs: number[]): string => `${xs.length}/${clean.length}, ${quantile(xs, 0.5).toFixed(2)} s`
    streams.push(`| ${index.tracks} | ` + builds.map((_, i) => `${perSecond(streamMs[i])} | ${conf(confirmed[i])} |`).join(' ') +
      (builds.length > 1 ? ` ${streamDiffer}/${clean.length} |` : ''))
  }

  const lines: string[] = []
  lines.push(`${originals.count} originals copied, ${queries.length} clips of ${CLIP_SECONDS} s (${kinds.join('; ')}), ${rounds} timed rounds after a warm-up, seed ${seed}.`)
  lines.push('')
  lines.push(`Clip matching at the configured bucket limit (${defaults.maxBucket}); times in ms, p50 / p95:`)
  lines.push('')
  lines.push(baseline
    ? '| tracks | mean depth | clips | postings read | before | after | answers that differ |\n|---:|---:|---|---:|---:|---:|---:|'
    : '| tracks | mean depth | clips | postings read | time |\n|---:|---:|---|---:|---:|')
  lines.push(...ab)
  lines.push('')
  lines.push('Bucket limit (this build): share of all postings in skipped buckets, postings read per clip, time over all clips (ms, p50 / p95), known clips found (top-1 at the default threshold), known clips whose top-1 is another copy of the original, unknown clips answered:')
  lines.push('')
  lines.push('| tracks | limit | postings skipped | postings read | time | found | copy | unknown answered |\n|---:|---|---:|---:|---:|---:|---:|---:|')
  lines.push(...limits)
  lines.push('')
  lines.push('Streams: each clean clip fed tick by tick; matching time per second of audio (ms, p50 / p95), confirmed and median time to confirmed:')
  lines.push('')
  lines.push(baseline
    ? '| tracks | before: ms per audio second | before: confirmed | after: ms per audio second | after: confirmed | event lists that differ |\n|---:|---:|---:|---:|---:|---:|'
    : '| tracks | ms per audio second | confirmed |\n|---:|---:|---:|')
  lines.push(...streams)
  process.stdout.write(lines.join('\n') + '\n')
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:match failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 1
})
