// Bench corpus: real music that nobody on the project wrote, taken from the
// soundtracks of free games packaged by Debian (`apt-get download` + `dpkg -x`,
// nothing installed). Audio lives in a cache folder outside the repo:
//   $EARSHOT_CORPUS_DIR, else $XDG_CACHE_HOME/earshot-corpus, else ~/.cache/earshot-corpus
// Layout: debs/*.deb, music/<package>/<path inside the .deb> (music files and
// the package's copyright file only), manifest.json.
//
//   node dist/bench/corpus.js [--rebuild]   builds if needed, prints a summary

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

/** One Debian package to take music from. */
export interface CorpusPackage {
  /** Stable id: the split is hashed on it, so it survives a Debian release renaming the package. */
  id: string;
  /** Package names to try in order (first one apt can download wins). */
  candidates: string[];
  /** Which files inside the .deb are music (path relative to the .deb root, '/' separated). */
  music: RegExp;
  /** Whole package held out of the index (music from a source the index never saw). */
  heldOut?: boolean;
  /**
   * Tracks sharing material under unrelated names (found by fingerprinting
   * the corpus with chromaprint): file stem -> stem of the track it goes with,
   * so both land on the same side of the split.
   */
  twins?: Record<string, string>;
}

// Chosen for many full-length tracks per megabyte, and for variety: orchestral
// (wesnoth), electronic/ambient (warzone2100, colobot, singularity), game
// pop/chiptune-ish (supertux, hedgewars, pushover), adventure-game scores
// (drascula, fillets-ng), short loops (hyperrogue). Each download < 300 MB.
// Tracker formats are left out on purpose: only recorded/rendered audio.
export const CORPUS_PACKAGES: readonly CorpusPackage[] = [
  { id: 'wesnoth-music', candidates: ['wesnoth-1.18-music', 'wesnoth-1.16-music', 'wesnoth-1.14-music'], music: /\/music\/[^/]+\.ogg$/ },
  { id: 'hedgewars-data', candidates: ['hedgewars-data'], music: /\/Data\/Music\/[^/]+\.ogg$/ },
  { id: 'supertux-data', candidates: ['supertux-data'], music: /\/music\/.+\.ogg$/ },
  { id: 'warzone2100-music', candidates: ['warzone2100-music'], music: /\/music\/.+\.(opus|ogg)$/ },
  { id: 'colobot-common-sounds', candidates: ['colobot-common-sounds'], music: /\/music\/[^/]+\.ogg$/, twins: { music008: 'infinite' } },
  { id: 'drascula-music', candidates: ['drascula-music'], music: /\/drascula\/audio\/[^/]+\.ogg$/, twins: { track30: 'track1' } },
  { id: 'fillets-ng-data', candidates: ['fillets-ng-data'], music: /\/fillets-ng\/music\/[^/]+\.ogg$/ },
  { id: 'hyperrogue-music', candidates: ['hyperrogue-music'], music: /\/hyperrogue\/music\/[^/]+\.ogg$/ },
  { id: 'pushover-data', candidates: ['pushover-data'], music: /\/pushover\/themes\/[^/]+\.ogg$/ },
  { id: 'singularity-music', candidates: ['singularity-music'], music: /\/singularity\/music\/.+\.ogg$/, heldOut: true },
];

/** Tracks shorter than this are jingles, not songs. */
export const MIN_SECONDS = 20;
/** Share of each non-held-out package's tracks that goes to "unknown" (by hash). */
export const UNKNOWN_SHARE = 0.15;
/** Files smaller than this cannot hold MIN_SECONDS of music at any sane bitrate; not worth probing. */
const MIN_BYTES = 96 * 1024;
const MANIFEST_VERSION = 1;

export interface CorpusEntry {
  /** Relative to the corpus dir, '/' separated. */
  path: string;
  /** Debian package it came from. */
  package: string;
  seconds: number;
  sha256: string;
}

export interface CorpusManifest {
  version: number;
  /** Digest of the selection rules; a change rebuilds the manifest (not the downloads). */
  rules: string;
  packages: { id: string; package: string; version: string; deb: string; heldOut: boolean }[];
  known: CorpusEntry[];
  unknown: CorpusEntry[];
}

export interface LoadCorpusOptions {
  /** Corpus folder; default from EARSHOT_CORPUS_DIR / XDG_CACHE_HOME / home. */
  dir?: string;
  /** Re-scan the music and rewrite the manifest (downloads are still reused). */
  rebuild?: boolean;
  /** Progress lines; default stderr. */
  log?: (line: string) => void;
}

export interface Corpus {
  dir: string;
  /** Absolute paths of tracks to index. */
  known: string[];
  /** Absolute paths of tracks never indexed (false-positive probes). */
  unknown: string[];
}

/** Where the corpus lives unless told otherwise. */
export function defaultCorpusDir(): string {
  if (process.env.EARSHOT_CORPUS_DIR) return resolve(process.env.EARSHOT_CORPUS_DIR);
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'earshot-corpus');
}

// ---------------------------------------------------------------- processes

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd?: string): Promise<RunResult> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (e: NodeJS.ErrnoException) =>
      rej(
        e.code === 'ENOENT'
          ? new Error(`${cmd} not found: the bench corpus needs a Debian-like machine with apt, dpkg and ffmpeg (ffprobe)`)
          : e,
      ),
    );
    child.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

async function mustRun(cmd: string, args: string[], cwd?: string): Promise<string> {
  const r = await run(cmd, args, cwd);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Runs async `fn` over `items`, `limit` at a time, keeping order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// ---------------------------------------------------------------- download

async function findDeb(debDir: string, pkg: string): Promise<string | undefined> {
  if (!existsSync(debDir)) return undefined;
  const names = (await readdir(debDir)).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb')).sort();
  return names.length > 0 ? join(debDir, names[names.length - 1]) : undefined;
}

interface Fetched {
  spec: CorpusPackage;
  pkg: string;
  deb: string;
}

/**
 * The .deb of the first candidate that is already in the cache or that apt can
 * download. `apt-get update` (needs root) is run once, and only after a
 * download failed: stale or missing package lists are the usual cause.
 */
async function fetchDeb(spec: CorpusPackage, debDir: string, state: { updated: boolean }, log: (l: string) => void): Promise<Fetched> {
  for (const pkg of spec.candidates) {
    const deb = await findDeb(debDir, pkg);
    if (deb) return { spec, pkg, deb };
  }
  const errors: string[] = [];
  for (let attempt = 0; attempt < 2; attempt++) {
    for (const pkg of spec.candidates) {
      const r = await run('apt-get', ['download', '-q', pkg], debDir);
      const deb = await findDeb(debDir, pkg);
      if (r.code === 0 && deb) {
        log(`downloaded ${relative(debDir, deb)} (${((await stat(deb)).size / 1e6).toFixed(0)} MB)`);
        return { spec, pkg, deb };
      }
      errors.push(`${pkg}: ${r.stderr.trim().split('\n').filter((l) => l.startsWith('E:')).join(' ') || `exit ${r.code}`}`);
    }
    if (state.updated) break;
    log('apt-get download failed; running apt-get update once');
    state.updated = true;
    const u = await run('apt-get', ['update', '-q']);
    if (u.code !== 0) errors.push(`apt-get update: ${u.stderr.trim()}`);
  }
  throw new Error(`cannot download any of ${spec.candidates.join(', ')}:\n  ${errors.join('\n  ')}`);
}

// ---------------------------------------------------------------- unpack

async function walk(root: string): Promise<string[]> {
  const out: string[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const d = stack.pop()!;
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) out.push(p);
    }
  }
  return out.sort();
}

const toPosix = (p: string): string => p.split(sep).join('/');

/** Bumped when unpack keeps a different set of files, to redo it from the cached .deb. */
const UNPACK_LAYOUT = 2;
const COPYRIGHT = /^usr\/share\/doc\/[^/]+\/copyright$/;

/**
 * Unpacks the .deb with `dpkg -x` into a scratch folder and keeps only the
 * music files (and the copyright file), under music/<package>/. A stamp makes
 * it a one-time job.
 */
async function unpack(f: Fetched, musicDir: string): Promise<{ files: string[]; version: string }> {
  const dest = join(musicDir, f.pkg);
  const stampPath = join(dest, '.unpacked.json');
  const debName = f.deb.slice(f.deb.lastIndexOf(sep) + 1);
  if (existsSync(stampPath)) {
    const stamp = JSON.parse(await readFile(stampPath, 'utf8')) as { deb: string; layout?: number; version: string; files: string[] };
    if (stamp.deb === debName && stamp.layout === UNPACK_LAYOUT) return { files: stamp.files.map((p) => join(dest, p)), version: stamp.version };
  }
  const version = (await mustRun('dpkg-deb', ['-f', f.deb, 'Version'])).trim();
  const tmp = join(musicDir, `.tmp-${f.pkg}`);
  await rm(tmp, { recursive: true, force: true });
  await rm(dest, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await mustRun('dpkg', ['-x', f.deb, tmp]);
  const kept: string[] = [];
  for (const p of await walk(tmp)) {
    const rel = toPosix(relative(tmp, p));
    // The licence travels with the music it covers.
    const licence = COPYRIGHT.test(rel);
    if (!licence && !f.spec.music.test('/' + rel)) continue;
    await mkdir(dirname(join(dest, rel)), { recursive: true });
    await rename(p, join(dest, rel));
    if (!licence) kept.push(rel);
  }
  await rm(tmp, { recursive: true, force: true });
  await mkdir(dest, { recursive: true });
  await writeFile(stampPath, JSON.stringify({ deb: debName, layout: UNPACK_LAYOUT, version, files: kept }, null, 1));
  return { files: kept.map((p) => join(dest, p)), version };
}

// ---------------------------------------------------------------- scan

async function sha256File(p: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(p)) h.update(c as Buffer);
  return h.digest('hex');
}

/** Duration from the container; undefined when ffprobe cannot read the file. */
async function probeSeconds(p: string): Promise<number | undefined> {
  const r = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', p]);
  const s = Number.parseFloat(r.stdout.trim());
  return r.code === 0 && Number.isFinite(s) ? s : undefined;
}

const VARIANT = /^(.*?)[-_ ]?(old|enhanced|remix|sd|\d+)$/;

/**
 * Near-duplicates (remaster, "_old", "2", "_remix" of the same piece) must
 * land on the same side of the split, or an "unknown" probe would rightly
 * match its twin in the index. A file joins the group of its base name when
 * that base is another track of the package, or when it shares a base with a
 * track whose suffix is a word (airship_2 / airship_remix); bare numbering
 * (track7, music012) stays apart unless listed in the package's `twins`.
 */
function groupKeys(paths: string[], twins: Record<string, string> = {}): Map<string, string> {
  const stem = (p: string): string => p.slice(p.lastIndexOf('/') + 1).replace(/\.[^.]+$/, '').toLowerCase();
  const names = new Set(paths.map(stem));
  const wordBases = new Set<string>();
  for (const p of paths) {
    const m = VARIANT.exec(stem(p));
    if (m && m[1] && !/^\d+$/.test(m[2])) wordBases.add(m[1]);
  }
  const out = new Map<string, string>();
  for (const p of paths) {
    let s = stem(p);
    // Peel suffixes while they lead to a sibling or a word-variant base (menu_enhanced -> menu).
    for (let m = VARIANT.exec(s); m && m[1]; m = VARIANT.exec(s)) {
      if (names.has(m[1]) || wordBases.has(m[1])) s = m[1];
      else break;
    }
    out.set(p, Object.hasOwn(twins, s) ? twins[s] : s);
  }
  return out;
}

/** Deterministic share in [0, 1) from a string. */
function unitHash(s: string): number {
  return createHash('sha256').update(s).digest().readUInt32BE(0) / 2 ** 32;
}

function rulesDigest(): string {
  const rules = CORPUS_PACKAGES.map((p) => [p.id, p.candidates, p.music.source, !!p.heldOut, p.twins ?? {}]);
  return createHash('sha256')
    .update(JSON.stringify({ rules, MIN_SECONDS, UNKNOWN_SHARE, MANIFEST_VERSION, UNPACK_LAYOUT }))
    .digest('hex')
    .slice(0, 16);
}

// ---------------------------------------------------------------- build / load

export interface BuildStats {
  downloadMs: number;
  unpackMs: number;
  scanMs: number;
  debBytes: number;
  musicBytes: number;
  dropped: { short: number; duplicate: number; unreadable: number };
}

/** Downloads, unpacks, scans and splits; writes manifest.json. Reuses whatever is cached. */
export async function buildCorpus(dir: string, log: (l: string) => void = (l) => console.error(l)): Promise<{ manifest: CorpusManifest; stats: BuildStats }> {
  const debDir = join(dir, 'debs');
  const musicDir = join(dir, 'music');
  await mkdir(debDir, { recursive: true });
  await mkdir(musicDir, { recursive: true });

  let t = performance.now();
  const state = { updated: false };
  const fetched: Fetched[] = [];
  for (const spec of CORPUS_PACKAGES) fetched.push(await fetchDeb(spec, debDir, state, log));
  const downloadMs = performance.now() - t;

  t = performance.now();
  const unpacked: { f: Fetched; files: string[]; version: string }[] = [];
  for (const f of fetched) {
    const u = await unpack(f, musicDir);
    unpacked.push({ f, ...u });
  }
  const unpackMs = performance.now() - t;

  t = performance.now();
  const seen = new Map<string, string>();
  const dropped = { short: 0, duplicate: 0, unreadable: 0 };
  let debBytes = 0;
  let musicBytes = 0;
  const known: CorpusEntry[] = [];
  const unknown: CorpusEntry[] = [];
  for (const { f, files } of unpacked) {
    debBytes += (await stat(f.deb)).size;
    const sizes = await Promise.all(files.map(async (p) => (await stat(p)).size));
    for (const s of sizes) musicBytes += s;
    const candidates = files.filter((_, i) => sizes[i] >= MIN_BYTES);
    dropped.short += files.length - candidates.length;
    const probed = await mapLimit(candidates, 4, async (p) => ({
      p,
      seconds: await probeSeconds(p),
      sha256: await sha256File(p),
    }));
    const entries: CorpusEntry[] = [];
    for (const { p, seconds, sha256 } of probed) {
      const rel = toPosix(relative(dir, p));
      if (seconds === undefined) {
        dropped.unreadable++;
        log(`skipping unreadable ${rel}`);
        continue;
      }
      if (seconds < MIN_SECONDS) {
        dropped.short++;
        continue;
      }
      if (seen.has(sha256)) {
        dropped.duplicate++;
        log(`skipping ${rel}: same bytes as ${seen.get(sha256)}`);
        continue;
      }
      seen.set(sha256, rel);
      entries.push({ path: rel, package: f.pkg, seconds: Math.round(seconds * 1000) / 1000, sha256 });
    }
    const groups = groupKeys(
      entries.map((e) => e.path),
      f.spec.twins,
    );
    for (const e of entries) {
      const out = f.spec.heldOut || unitHash(`${f.spec.id}/${groups.get(e.path)}`) < UNKNOWN_SHARE ? unknown : known;
      out.push(e);
    }
  }
  const scanMs = performance.now() - t;

  const manifest: CorpusManifest = {
    version: MANIFEST_VERSION,
    rules: rulesDigest(),
    packages: unpacked.map(({ f, version }) => ({
      id: f.spec.id,
      package: f.pkg,
      version,
      deb: toPosix(relative(dir, f.deb)),
      heldOut: !!f.spec.heldOut,
    })),
    known,
    unknown,
  };
  const tmp = join(dir, 'manifest.json.tmp');
  await writeFile(tmp, JSON.stringify(manifest, null, 1) + '\n');
  await rename(tmp, join(dir, 'manifest.json'));
  return { manifest, stats: { downloadMs, unpackMs, scanMs, debBytes, musicBytes, dropped } };
}

/** The manifest if present, current and complete on disk; undefined otherwise. */
export async function readManifest(dir: string = defaultCorpusDir()): Promise<CorpusManifest | undefined> {
  const p = join(dir, 'manifest.json');
  if (!existsSync(p)) return undefined;
  const m = JSON.parse(await readFile(p, 'utf8')) as CorpusManifest;
  if (m.version !== MANIFEST_VERSION || m.rules !== rulesDigest()) return undefined;
  for (const e of [...m.known, ...m.unknown]) if (!existsSync(join(dir, e.path))) return undefined;
  return m;
}

/** Builds the corpus if needed and returns absolute paths of both sets. */
export async function loadCorpus(opts: LoadCorpusOptions = {}): Promise<Corpus> {
  const dir = resolve(opts.dir ?? defaultCorpusDir());
  const log = opts.log ?? ((l: string) => console.error(l));
  let m = opts.rebuild ? undefined : await readManifest(dir);
  if (!m) m = (await buildCorpus(dir, log)).manifest;
  return { dir, known: m.known.map((e) => join(dir, e.path)), unknown: m.unknown.map((e) => join(dir, e.path)) };
}

// ---------------------------------------------------------------- main

function summarize(m: CorpusManifest): string {
  const lines: string[] = [];
  const pad = (s: string | number, n: number): string => String(s).padStart(n);
  const W = 30;
  lines.push(`${'package'.padEnd(W)} ${pad('known', 6)} ${pad('hours', 6)} ${pad('unknown', 8)} ${pad('hours', 6)}`);
  const tot = { k: 0, kh: 0, u: 0, uh: 0 };
  for (const p of m.packages) {
    const k = m.known.filter((e) => e.package === p.package);
    const u = m.unknown.filter((e) => e.package === p.package);
    const kh = k.reduce((a, e) => a + e.seconds, 0) / 3600;
    const uh = u.reduce((a, e) => a + e.seconds, 0) / 3600;
    tot.k += k.length; tot.kh += kh; tot.u += u.length; tot.uh += uh;
    const name = `${p.package}${p.heldOut ? ' (held out)' : ''}`;
    lines.push(`${name.padEnd(W)} ${pad(k.length, 6)} ${pad(kh.toFixed(2), 6)} ${pad(u.length, 8)} ${pad(uh.toFixed(2), 6)}`);
  }
  lines.push(`${'total'.padEnd(W)} ${pad(tot.k, 6)} ${pad(tot.kh.toFixed(2), 6)} ${pad(tot.u, 8)} ${pad(tot.uh.toFixed(2), 6)}`);
  return lines.join('\n');
}

async function main(argv: string[]): Promise<void> {
  const dir = defaultCorpusDir();
  const rebuild = argv.includes('--rebuild');
  let m = rebuild ? undefined : await readManifest(dir);
  if (m) {
    console.log(`corpus at ${dir} is up to date (use --rebuild to rescan)`);
  } else {
    const t0 = performance.now();
    const r = await buildCorpus(dir);
    m = r.manifest;
    const s = r.stats;
    console.log(
      `built corpus at ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
        `(download ${(s.downloadMs / 1000).toFixed(1)} s, unpack ${(s.unpackMs / 1000).toFixed(1)} s, scan ${(s.scanMs / 1000).toFixed(1)} s)`,
    );
    console.log(
      `disk: ${(s.debBytes / 1e6).toFixed(0)} MB of .deb + ${(s.musicBytes / 1e6).toFixed(0)} MB of music; ` +
        `dropped ${s.dropped.short} short, ${s.dropped.duplicate} duplicate, ${s.dropped.unreadable} unreadable`,
    );
  }
  console.log(summarize(m));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
