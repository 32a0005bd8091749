/**
 * Damaged index and state files, as a user would meet them: the real CLI in child processes on real LMDB files that
 * were emptied, truncated, overwritten or had pages damaged. LMDB maps its file and trusts it, so a bad file can kill
 * the process with SIGBUS or SIGSEGV; every case must instead end with a coded error (or, for damage in pages nothing
 * reads, a normal answer), and the damaged file must be left exactly as it was.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { createHash } from 'node:crypto'
import { childEnv, EARSHOT_MAIN, spawnNode } from '../helpers/child-env.js'
import { earshotInProcess } from '../helpers/cli-in-process.js'
import { buildCatalog } from '../helpers/catalog.js'
import { clip, prng, song, writeWav } from '../helpers/signals.js'

// About fifty child processes, each opening, checking and refusing an index: slow on a busy machine.
t.setTimeout(480_000)
const dir = t.testdir()
const RATE = 44100
const PAGE = 4096

interface Exit { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** Run `earshot ...args`, noting how it ended; a child still running after `timeoutMs` is killed (and fails). */
function earshot (args: readonly string[], timeoutMs = 60_000): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawnNode([EARSHOT_MAIN, ...args], { cwd: dir, env: childEnv({}, ['EARSHOT_DB', 'EARSHOT_DEBUG']), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (s: string) => { stdout += s })
    child.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    const timer = setTimeout(() => { stderr += '\n(killed: still running)'; child.kill('SIGKILL') }, timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }) })
  })
}

/**
 * Run `fn` on every item, two at a time: each case is child processes on a folder of its own, and the file is the
 * suite's longest, so it uses both cores when the other test file running beside it waits.
 */
async function twoAtATime<T> (items: readonly T[], fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0
  const lane = async (): Promise<void> => { while (next < items.length) { const i = next++; await fn(items[i], i) } }
  await Promise.all([lane(), lane()])
}

function digestOf (file: string): string {
  return fs.existsSync(file) ? createHash('sha256').update(fs.readFileSync(file)).digest('hex') : 'absent'
}

/** A copy of the good index folder under a new name, damaged by `damage(data.mdb path)`. */
function damaged (name: string, damage: (file: string) => void): string {
  const target = path.join(dir, name)
  fs.mkdirSync(target)
  fs.copyFileSync(path.join(dir, 'good', 'data.mdb'), path.join(target, 'data.mdb'))
  damage(path.join(target, 'data.mdb'))
  return target
}

/** Overwrite `count` pages after the two meta pages with random bytes or zeros. */
function damagePages (file: string, seed: number, count: number, zeros: boolean): void {
  const rand = prng(seed)
  const pages = fs.statSync(file).size / PAGE
  const fd = fs.openSync(file, 'r+')
  try {
    for (let i = 0; i < count; i++) {
      const page = 2 + Math.floor(rand() * (pages - 2))
      const bytes = Buffer.alloc(PAGE)
      if (!zeros) for (let b = 0; b < PAGE; b++) bytes[b] = Math.floor(rand() * 256)
      fs.writeSync(fd, bytes, 0, PAGE, page * PAGE)
    }
  } finally { fs.closeSync(fd) }
}

/** The command ended by itself, with a coded one-line error and no stack trace, or succeeded. */
function assertCoded (t: Test, r: Exit, name: string, codes: RegExp): void {
  t.equal(r.signal, null, `${name}: no signal death`)
  t.ok(r.code === 0 || r.code === 1, `${name}: exit 0 or 1 (got ${r.code})`)
  if (r.code !== 0) t.match(r.stderr, codes, `${name}: a coded error`)
  t.notMatch(r.stderr, '    at ', `${name}: no stack trace`)
}

const catalog = buildCatalog(path.join(dir, 'good'), [1, 2, 3], 20, RATE)
await catalog.index.close()
writeWav(path.join(dir, 'clip.wav'), clip(song(2, 20, RATE), RATE, 4, 8), RATE)
writeWav(path.join(dir, 'song.wav'), song(9, 6, RATE), RATE)

t.test('a damaged data.mdb is refused with EAR_ERR_INDEX_OPEN by every command, and left as it was', async (t) => {
  const good = fs.readFileSync(path.join(dir, 'good', 'data.mdb'))
  const cases: Array<[string, (file: string) => void]> = [
    ['a 0-byte data.mdb', (f) => fs.writeFileSync(f, '')],
    ['a truncated data.mdb', (f) => fs.writeFileSync(f, good.subarray(0, Math.floor(good.length / 2)))],
    ['a data.mdb cut inside the meta pages', (f) => fs.writeFileSync(f, good.subarray(0, 100))],
    ['random bytes', (f) => { const r = prng(7); fs.writeFileSync(f, Buffer.from(Array.from({ length: good.length }, () => Math.floor(r() * 256)))) }],
    ['a text file', (f) => fs.writeFileSync(f, 'this is not an index\n'.repeat(5000))],
    ['the second meta page overwritten', (f) => { const b = Buffer.from(good); b.fill(0x41, PAGE, 2 * PAGE); fs.writeFileSync(f, b) }],
    ['every page after the meta pages zeroed', (f) => { const b = Buffer.from(good); b.fill(0, 2 * PAGE); fs.writeFileSync(f, b) }],
  ]
  await twoAtATime(cases, async ([name, damage], i) => {
    const db = damaged(`case-${i}`, damage)
    const file = path.join(db, 'data.mdb')
    const before = digestOf(file)
    // A command that only reads, and one that would write (and, before, re-initialised an emptied file).
    for (const args of [['identify', 'clip.wav'], ['index', 'song.wav']]) {
      const r = await earshot([...args, '--db', db])
      const what = `${name}: earshot ${args[0]}`
      t.equal(r.signal, null, `${what}: no signal death`)
      t.equal(r.code, 1, `${what}: exit 1`)
      t.match(r.stderr, /^earshot: EAR_ERR_INDEX_OPEN: .*earshot import/, `${what}: EAR_ERR_INDEX_OPEN with the hint to restore from an export`)
      t.notMatch(r.stderr, '    at ', `${what}: no stack trace`)
    }
    t.equal(digestOf(file), before, `${name}: the damaged file is left untouched`)
  })
})

t.test('a folder with a lock file but no data.mdb is not a new index', async (t) => {
  const db = path.join(dir, 'lock-only')
  fs.mkdirSync(db)
  fs.copyFileSync(path.join(dir, 'good', 'lock.mdb'), path.join(db, 'lock.mdb'))
  // No damaged file is mapped here: the commands run in this process (runCli, as the program calls it).
  for (const args of [['stats'], ['index', 'song.wav']]) {
    const r = await earshotInProcess(dir, [...args, '--db', db])
    t.equal(r.code, 1, `earshot ${args[0]}: exit 1`)
    t.match(r.stderr, /^earshot: EAR_ERR_INDEX_OPEN: .*data\.mdb/, `earshot ${args[0]}: EAR_ERR_INDEX_OPEN naming data.mdb`)
  }
  t.notOk(fs.existsSync(path.join(db, 'data.mdb')), 'no new data.mdb was made')
})

t.test('damaged pages after the meta pages: no signal death, a coded error, the file untouched when refused', async (t) => {
  let refused = 0
  await twoAtATime(Array.from({ length: 10 }, (_, i) => i + 1), async (seed) => {
    const zeros = seed % 4 === 0
    const db = damaged(`pages-${seed}`, (f) => damagePages(f, seed, seed % 2 === 0 ? 3 : 20, zeros))
    const file = path.join(db, 'data.mdb')
    const before = digestOf(file)
    const r = await earshot(['identify', 'clip.wav', '--db', db])
    assertCoded(t, r, `seed ${seed}: earshot identify`, /^earshot: EAR_ERR_INDEX_(OPEN|READ): /)
    if (/EAR_ERR_INDEX_OPEN/.test(r.stderr)) {
      refused++
    } else {
      // Not refused: the damage hit only free pages, which nothing reads; the full check agrees.
      const check = await earshot(['check', '--db', db])
      t.equal(check.code, 0, `seed ${seed}: opened, so earshot check finds nothing either: ${check.stderr}`)
    }
    t.equal(digestOf(file), before, `seed ${seed}: the file is untouched`)
  })
  t.ok(refused >= 5, `${refused} of 10 damaged folders refused at open (half the pages of this small file are free)`)
})

t.test('serve refuses a damaged index and a damaged state store with EAR_ERR_INDEX_OPEN', async (t) => {
  const index = damaged('serve-index', (f) => damagePages(f, 3, 20, false))
  const r = await earshot(['serve', '--db', index, '--port', '0'])
  t.equal(r.signal, null, 'index: no signal death')
  t.equal(r.code, 1, 'index: exit 1')
  t.match(r.stderr, /^earshot: EAR_ERR_INDEX_OPEN: /, 'index: EAR_ERR_INDEX_OPEN')

  // A state store as a server leaves it: start once and stop. Each case damages a copy of it.
  const served = damaged('serve-state', () => {})
  const first = spawnNode([EARSHOT_MAIN, 'serve', '--db', served, '--port', '0'], { cwd: dir, env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'] })
  await new Promise<void>((resolve) => first.stderr!.on('data', (s: Buffer) => { if (s.toString().includes('listening')) resolve() }))
  first.kill('SIGTERM')
  await new Promise((resolve) => first.on('close', resolve))

  for (const [name, damage] of [
    ['a 0-byte state file', (f: string) => fs.writeFileSync(f, '')],
    ['a truncated state file', (f: string) => fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 3 * PAGE + 100))],
    ['a state file of random bytes', (f: string) => { const r = prng(11); fs.writeFileSync(f, Buffer.from(Array.from({ length: 16 * PAGE }, () => Math.floor(r() * 256)))) }],
  ] as const) {
    const db = damaged(`serve-state-${name.replace(/\W+/g, '-')}`, () => {})
    const state = path.join(db, 'server')
    fs.cpSync(path.join(served, 'server'), state, { recursive: true })
    const file = path.join(state, 'data.mdb')
    damage(file)
    const before = digestOf(file)
    const s = await earshot(['serve', '--db', db, '--port', '0'])
    t.equal(s.signal, null, `${name}: no signal death`)
    t.equal(s.code, 1, `${name}: exit 1`)
    t.match(s.stderr, /^earshot: EAR_ERR_INDEX_OPEN: .*server/, `${name}: EAR_ERR_INDEX_OPEN naming the state folder`)
    t.equal(digestOf(file), before, `${name}: the state file is untouched`)
  }
})
