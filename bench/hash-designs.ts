/**
 * Hash designs compared: `node dist/bench/hash-designs.js` (after `npm run build`).
 *
 * The study behind the landmark design (docs/ENGINE.md, "Landmarks and hashes"). It takes the engine's peaks
 * (interpolated positions included) of real tracks of the corpus and hashes them with several designs written out
 * here: the first engine's exact pairs, and triplets with their quantisation steps as parameters. For each design:
 *  - postings a second, and bucket depths over NT tracks (default 100): the postings a lookup reads on average,
 *    sum(d^2) / sum(d);
 *  - over 10 s clips of NQ tracks (default 8) under each degradation, the query landmarks (with their neighbour-cell
 *    probes) found in the right track within 2.5 frames of where the truth puts them, per second of clip.
 * The designs are re-implemented here on purpose, to vary their parameters; the engine's own hasher is
 * server/src/dsp/landmarks.ts. `STUDY=mixed` compares the two families of the engine (pairs in half semitones of
 * whole bins, triplets) at the index's and the query's fan-outs; `PEAKS='{"peakBinRadius":6}'` overrides
 * fingerprint parameters of the peak picker for both sides.
 */
import { spawn } from 'node:child_process'
import { loadCorpus } from './corpus.js'
import { makeRng, addWhiteNoise, changeSpeed, voiceOver, radio } from './degrade.js'
import { decodeFile } from '../server/src/audio/decode.js'
import { Fingerprinter } from '../server/src/dsp/pipeline.js'
import { defaults } from '../server/src/config/defaults.js'

const P = { ...defaults.fingerprint, ...JSON.parse(process.env.PEAKS ?? '{}') }
const FPS = P.sampleRate / P.hopSize
const BIN_HZ = P.sampleRate / P.fftSize

interface Peaks { t: Float64Array, b: Float64Array, ti: Int32Array, bi: Int32Array, n: number }

function peaksOf (x: Float32Array, rate: number): Peaks {
  const t: number[] = []; const b: number[] = []; const ti: number[] = []; const bi: number[] = []
  const fp = new Fingerprinter(P, rate, () => {}, { onPeak: (f, k, df, db) => { t.push(f + df); b.push(k + db); ti.push(f); bi.push(k) } })
  fp.write(x); fp.end()
  return { t: Float64Array.from(t), b: Float64Array.from(b), ti: Int32Array.from(ti), bi: Int32Array.from(bi), n: t.length }
}

function sox (x: Float32Array, rate: number, effects: string[]): Promise<Float32Array> {
  return new Promise((resolve, reject) => {
    const p = spawn('sox', ['-t', 'f32', '-r', String(rate), '-c', '1', '-', '-t', 'f32', '-', ...effects])
    const chunks: Buffer[] = []
    p.stdout.on('data', (c: Buffer) => chunks.push(c))
    p.on('error', reject)
    p.on('close', () => { const buf = Buffer.concat(chunks); resolve(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength >> 2).slice()) })
    p.stdin.end(Buffer.from(x.buffer, x.byteOffset, x.byteLength))
  })
}

interface Scheme {
  name: string
  /** Emit (hashes per landmark: first is the reference hash, others query probes), anchor frame. */
  make: (p: Peaks, query: boolean, emit: (hashes: number[], ta: number) => void) => void
}

const semis = (bin: number): number => 12 * Math.log2((bin * BIN_HZ) / 100)

function pairScheme (fanoutIndex = 5, fanoutQuery = fanoutIndex, semi: boolean | 'quarter' = false): Scheme {
  return {
    name: `pair${semi ? ` ${semi === true ? 'semi' : semi}` : ''} fanout ${fanoutIndex}/${fanoutQuery}`,
    make (p, q, emit) {
      const fanout = q ? fanoutQuery : fanoutIndex
      for (let i = 0; i < p.n; i++) {
        let made = 0
        for (let j = i + 1; j < p.n && made < fanout; j++) {
          const dt = p.ti[j] - p.ti[i]
          if (dt < 1) continue
          if (dt > 63) break
          const db = p.bi[j] - p.bi[i]
          if (Math.abs(db) > 127) continue
          if (semi === 'quarter') {
            const ca = Math.floor(4 * semis(p.bi[i])); const cb = Math.floor(2 * semis(p.bi[j])) - Math.floor(2 * semis(p.bi[i]))
            if (Math.abs(cb) > 48) continue
            if (dt > 31) { made++; continue }
            emit([((ca * 97 + cb + 48) * 64 + dt) + (1 << 30)], p.ti[i])
          } else if (semi) {
            const ca = Math.floor(2 * semis(p.bi[i])); const cb = Math.floor(2 * semis(p.bi[j]))
            if (Math.abs(cb - ca) > 48) continue
            emit([((ca * 97 + cb - ca + 48) * 64 + dt) + (1 << 30)], p.ti[i])
          } else emit([(p.bi[i] << 14) | ((db + 128) << 6) | dt], p.ti[i])
          made++
        }
      }
    },
  }
}

interface TripletOpts { kq?: number, k: number, qf: number, qr: number, bandSemis: number, spanStep: number, margin: number, maxSemis: number, useSpan: boolean, useBand: boolean, pairsMode: 'all' | 'consecutive', integer?: boolean }

function cells (v: number, step: number, margin: number, query: boolean): number[] {
  const c = Math.floor(v / step)
  if (!query || margin <= 0) return [c]
  const r = v / step - c
  const out = [c]
  if (r < margin / step) out.push(c - 1)
  if (1 - r < margin / step) out.push(c + 1)
  return out
}

function tripletScheme (o: TripletOpts): Scheme {
  return {
    name: `trip${o.integer ? ' int' : ''} ms${o.maxSemis} k${o.k} qf${o.qf} qr${o.qr} band${o.useBand ? o.bandSemis : '-'} span${o.useSpan ? o.spanStep : '-'} m${o.margin} ${o.pairsMode}`,
    make (p0, query, emit) {
      const kk = query && o.kq !== undefined ? o.kq : o.k
      const p = o.integer ? { ...p0, t: Float64Array.from(p0.ti), b: Float64Array.from(p0.bi) } : p0
      const tg: number[] = []
      for (let i = 0; i < p.n; i++) {
        tg.length = 0
        const La = semis(p.b[i])
        for (let j = i + 1; j < p.n && tg.length < kk; j++) {
          const dt = p.ti[j] - p.ti[i]
          if (dt < 1) continue
          if (dt > 63) break
          if (Math.abs(semis(p.b[j]) - La) > o.maxSemis) continue
          tg.push(j)
        }
        for (let x = 0; x < tg.length; x++) {
          for (let y = x + 1; y < tg.length; y++) {
            if (o.pairsMode === 'consecutive' && y !== x + 1) continue
            const bj = tg[x]; const cj = tg[y]
            const span = p.t[cj] - p.t[i]
            if (span <= 0.5) continue
            const rho = (p.t[bj] - p.t[i]) / span
            const d1 = semis(p.b[bj]) - La
            const d2 = semis(p.b[cj]) - La
            const c1 = Math.round(d1 / o.qf) + 64
            const c2 = Math.round(d2 / o.qf) + 64
            const cr = Math.min(Math.floor(rho * o.qr), o.qr - 1)
            const bands = o.useBand ? cells(La, o.bandSemis, 1.01, query) : [0] // margin in semitones: 5% = 0.85
            const spans = o.useSpan ? cells(Math.log(span), o.spanStep, 0.058, query) : [0]
            const hs: number[] = []
            for (const bd of bands) for (const sp of spans) hs.push((((bd * 64 + sp) * 128 + c1) * 128 + c2) * 64 + cr)
            emit(hs, p.ti[i])
          }
        }
      }
    },
  }
}

async function main (): Promise<void> {
  const corpus = await loadCorpus()
  const rng = makeRng(7)
  const files = corpus.known.slice().sort(() => rng() - 0.5)
  const nQuery = Number(process.env.NQ ?? 8)
  const nTable = Number(process.env.NT ?? 100)
  const M = 0.05
  const trip = (k: number, kq = k): TripletOpts => ({ k, kq, qf: 1, qr: 8, bandSemis: 3, spanStep: 0.3, margin: M, maxSemis: 24, useSpan: true, useBand: true, pairsMode: 'all' })
  const schemes: Scheme[] = process.env.STUDY === 'mixed' ? [
    pairScheme(),
    pairScheme(3, 4),
    pairScheme(3, 4, true),
    pairScheme(3, 4, 'quarter'),
    tripletScheme(trip(4)),
    tripletScheme(trip(3, 4)),
  ] : [
    pairScheme(),
    tripletScheme({ k: 4, qf: 1, qr: 8, bandSemis: 12, spanStep: 0.5, margin: M, maxSemis: 24, useSpan: true, useBand: true, pairsMode: 'all' }),
    tripletScheme({ k: 4, qf: 1, qr: 8, bandSemis: 3, spanStep: 0.5, margin: M, maxSemis: 24, useSpan: true, useBand: true, pairsMode: 'all' }),
    tripletScheme({ k: 4, qf: 1, qr: 8, bandSemis: 3, spanStep: 0.3, margin: M, maxSemis: 24, useSpan: true, useBand: true, pairsMode: 'all' }),
    tripletScheme({ k: 4, qf: 0.5, qr: 8, bandSemis: 3, spanStep: 0.5, margin: M, maxSemis: 24, useSpan: true, useBand: true, pairsMode: 'all' }),
  ]
  const conds: Array<[string, number, (x: Float32Array, r: number) => Promise<Float32Array>]> = [
    ['clean', 1, async (x) => x],
    ['noise 0 dB', 1, async (x) => addWhiteNoise(x, 0, rng)],
    ['speed -5%', 0.95, (x, r) => changeSpeed(x, r, 0.95)],
    ['speed +5%', 1.05, (x, r) => changeSpeed(x, r, 1.05)],
    ['tempo +3%', 1.03, (x, r) => sox(x, r, ['tempo', '-m', '1.03'])],
    ['pitch +0.5st', 1, (x, r) => sox(x, r, ['pitch', '50'])],
    ['voice-over', 1, (x, r) => voiceOver(x, r, rng)],
    ['radio', 1, (x, r) => radio(x, r)],
  ]
  // Depth statistics over a table of tracks.
  const depth = schemes.map(() => new Map<number, number>())
  let tableSeconds = 0
  for (const f of files.slice(0, nTable)) {
    const a = await decodeFile(f)
    tableSeconds += a.durationSeconds
    const pk = peaksOf(a.samples, a.sampleRate)
    schemes.forEach((s, k) => s.make(pk, false, (h) => { depth[k].set(h[0], (depth[k].get(h[0]) ?? 0) + 1) }))
  }
  const depthStat = depth.map((m) => { let s = 0; let s2 = 0; for (const d of m.values()) { s += d; s2 += d * d } return { postings: s, distinct: m.size, readPerLookup: s2 / s } })
  const found = schemes.map(() => new Map<string, { hit: number, all: number, probes: number, secs: number }>())
  for (const f of files.slice(0, nQuery)) {
    const a = await decodeFile(f)
    const refPk = peaksOf(a.samples, a.sampleRate)
    const refMaps = schemes.map((s) => { const m = new Map<number, number[]>(); s.make(refPk, false, (h, ta) => { const l = m.get(h[0]); if (l) l.push(ta); else m.set(h[0], [ta]) }); return m })
    const len = 10 * a.sampleRate
    if (a.samples.length < len + 2 * a.sampleRate) continue
    const start = Math.floor(rng() * (a.samples.length - len))
    const clip = a.samples.slice(start, start + len)
    const s0 = (start / a.sampleRate) * FPS
    for (const [name, r, deg] of conds) {
      const y = await deg(clip, a.sampleRate)
      const qp = peaksOf(y, a.sampleRate)
      schemes.forEach((s, k) => {
        const st = found[k].get(name) ?? { hit: 0, all: 0, probes: 0, secs: 0 }
        st.secs += y.length / a.sampleRate
        s.make(qp, true, (hs, tq) => {
          st.all++; st.probes += hs.length
          const want = s0 + r * tq
          for (const h of hs) {
            const l = refMaps[k].get(h)
            if (l && l.some((tr) => Math.abs(tr - want) <= 2.5)) { st.hit++; break }
          }
        })
        found[k].set(name, st)
      })
    }
    process.stderr.write('.')
  }
  process.stderr.write('\n')
  const lines: string[] = []
  lines.push(`table ${nTable} tracks ${(tableSeconds / 3600).toFixed(2)} h; true hits per second of query (share of query hashes)`)
  lines.push('| scheme | postings/s | distinct | read/lookup | probes/hash | ' + conds.map((c) => c[0]).join(' | ') + ' |')
  schemes.forEach((s, k) => {
    const d = depthStat[k]
    const cl = found[k].get('clean')!
    lines.push(`| ${s.name} | ${(d.postings / tableSeconds).toFixed(0)} | ${d.distinct} | ${d.readPerLookup.toFixed(1)} | ${(cl.probes / cl.all).toFixed(2)} | ` +
      conds.map(([n]) => { const st = found[k].get(n)!; return `${(st.hit / st.secs).toFixed(1)} (${(100 * st.hit / st.all).toFixed(0)}%)` }).join(' | ') + ' |')
  })
  console.log(lines.join('\n'))
}
main().catch((e) => { console.error(e); process.exit(1) })
