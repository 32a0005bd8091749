import t, { type Test } from 'tap'
import fs from 'node:fs'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { childEnv, runEarshot, type Run } from '../helpers/child-env.js'
import { earshotInProcess } from '../helpers/cli-in-process.js'
import { recordingFfmpeg } from '../helpers/ffmpeg.js'
import { addNoise, clip, silence, song, wavBytes, whiteNoise, writeWav } from '../helpers/signals.js'

// End to end: the real command line on generated WAV files, in a temp folder as the working directory. Commands run
// in this process (runCli, as the program calls it: about a hundred of them); the program itself, exit codes and
// streams, is checked in child processes too ("help, version and usage errors").
t.setTimeout(420_000)
const dir = t.testdir()


/** Run `earshot ...args` in the temp folder, in this process. EARSHOT_* variables are only those `env` sets. */
function earshot (args: string[], env: Record<string, string> = {}): Promise<Run> {
  return earshotInProcess(dir, args, env)
}

/** The same as a user would run it: a child process of the program. */
function earshotChild (args: string[], env: Record<string, string> = {}): Promise<Run> {
  return runEarshot(dir, args, childEnv(env, ['EARSHOT_DB', 'EARSHOT_DEBUG']))
}

function lines (s: string): string[] {
  return s.split('\n').filter((l) => l !== '')
}

interface TrackJson { id: number, title: string, digest: string, hashCount: number, source: string, durationSeconds: number }

async function trackList (t: Test, db = 'db'): Promise<TrackJson[]> {
  const r = await earshot(['tracks', 'list', '--json', '--db', db])
  t.equal(r.code, 0, `tracks list --db ${db}`)
  return (JSON.parse(r.stdout) as { tracks: TrackJson[] }).tracks
}

/** A command that must fail with one `earshot: CODE: ...` line on stderr, no stack trace and the exit code. */
async function fails (t: Test, args: string[], code: string, exit: number, env?: Record<string, string>): Promise<Run> {
  const r = await earshot(args, env)
  const name = `earshot ${args.join(' ')}`
  t.equal(r.code, exit, `${name}: exit ${exit}`)
  t.equal(lines(r.stderr).length, 1, `${name}: one line on stderr`)
  t.match(r.stderr, new RegExp(`^earshot: ${code}: \\S`), `${name}: ${code}`)
  t.notMatch(r.stderr, '    at ', `${name}: no stack trace`)
  t.equal(r.stdout, '', `${name}: nothing on stdout`)
  return r
}

// The music: three 8 s songs in different WAV flavours, and the clips and bad files the tests use.
fs.mkdirSync(path.join(dir, 'music', 'more'), { recursive: true })
writeWav(path.join(dir, 'music', 'song-1.wav'), song(1, 8, 44100), 44100)
writeWav(path.join(dir, 'music', 'song-2.wav'), song(2, 8, 48000), 48000, 2)
writeWav(path.join(dir, 'music', 'more', 'song-3.wav'), song(3, 8, 22050), 22050, 1, 24)
fs.writeFileSync(path.join(dir, 'music', 'notes.txt'), 'not audio, and not taken from a folder')
writeWav(path.join(dir, 'clip-2.wav'), addNoise(clip(song(2, 8, 44100), 44100, 2, 5), 10, 1), 44100)
writeWav(path.join(dir, 'noise.wav'), whiteNoise(5, 44100, 0.3, 4), 44100)

const haveFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0

const SUMMARY = /^indexed (\d+), already present (\d+), skipped (\d+); [\d.]+ h of audio in [\d.]+ s/

let indexed: TrackJson[] = []
/** The id a title was given: ids follow the order in which the worker pool finished the files. */
const idOf = (title: string): number => indexed.find((x) => x.title === title)!.id

t.test('index a folder', async (t) => {
  const r = await earshot(['index', 'music', '--db', 'db'])
  t.equal(r.code, 0)
  t.equal(lines(r.stdout).length, 1, 'one summary line')
  t.match(r.stdout, SUMMARY)
  t.match(r.stdout, /^indexed 3, already present 0, skipped 0;/)
  t.match(r.stderr, 'found 3 audio files', 'the text file is not taken from the folder')
  t.equal(lines(r.stderr).filter((l) => l.startsWith('indexed ')).length, 3)
  indexed = await trackList(t)
  t.same(indexed.map((x) => x.title).sort(), ['song-1', 'song-2', 'song-3'], 'titles are the file names without extension')
  t.same(indexed.map((x) => x.id).sort(), [1, 2, 3])
  t.ok(indexed.every((x) => Math.abs(x.durationSeconds - 8) < 0.01 && x.hashCount > 0))
})

t.test('re-indexing is "already present"', async (t) => {
  const r = await earshot(['index', 'music', '--db', 'db'])
  t.equal(r.code, 0)
  t.match(r.stdout, /^indexed 0, already present 3, skipped 0;/)
  t.equal(lines(r.stderr).filter((l) => l.startsWith('already present ')).length, 3)
  t.same(await trackList(t), indexed, 'the track table is unchanged')
})

t.test('identify --json prints one JSON object', async (t) => {
  const r = await earshot(['identify', 'clip-2.wav', '--json', '--db', 'db'])
  t.equal(r.code, 0)
  t.equal(lines(r.stdout).length, 1, 'one line')
  const out = JSON.parse(r.stdout) as { matches: Array<Record<string, unknown>>, queryDurationMs: number, processingTimeMs: number }
  t.same(Object.keys(out).sort(), ['matches', 'processingTimeMs', 'queryDurationMs'])
  t.equal(out.queryDurationMs, 5000)
  t.type(out.processingTimeMs, 'number')
  t.ok(out.matches.length >= 1)
  const best = out.matches[0]
  t.same(Object.keys(best).sort(), ['album', 'artist', 'confidence', 'id', 'offsetSeconds', 'source', 'speed', 'title'])
  t.ok(Math.abs((best.speed as number) - 1) < 0.005, `speed ${best.speed as number}: the clip plays at normal speed`)
  t.equal(best.title, 'song-2')
  t.equal(best.source, path.join('music', 'song-2.wav'))
  t.ok(Math.abs((best.offsetSeconds as number) - 2) <= 0.1, `offset ${best.offsetSeconds as number}`)
  t.ok((best.confidence as number) >= 0.5 && (best.confidence as number) <= 1)
  t.equal(r.stderr, '')
})

t.test('identify prints a human line, and "no match" for unknown audio', async (t) => {
  const [r, none, human, all] = await Promise.all([
    earshot(['identify', 'clip-2.wav', '--db', 'db']),
    earshot(['identify', 'noise.wav', '--json', '--db', 'db']),
    earshot(['identify', 'noise.wav', '--db', 'db']),
    // --min-confidence 0 reports every candidate; a value out of range is a usage error.
    earshot(['identify', 'clip-2.wav', '--json', '--min-confidence', '0', '--db', 'db']),
    fails(t, ['identify', 'clip-2.wav', '--min-confidence', '1.5', '--db', 'db'], 'EAR_ERR_USAGE', 2),
  ])
  t.equal(r.code, 0)
  // At normal speed the line says nothing of speed (it would say "2.1 % fast, " before the confidence).
  t.equal(r.stdout.replace(/confidence 0\.\d\d/, 'confidence X'), `#${idOf('song-2')} song-2 at 2.0 s, confidence X\n`)
  t.equal(none.code, 0)
  t.same((JSON.parse(none.stdout) as { matches: unknown[] }).matches, [])
  t.match(human.stdout, /^no match \(5\.0 s of audio/)
  t.ok((JSON.parse(all.stdout) as { matches: unknown[] }).matches.length >= 1)
})

t.test('identify and index decode with the ffmpeg of EARSHOT_FFMPEG_PATH', { skip: !haveFfmpeg && 'ffmpeg is not installed' }, async (t) => {
  // Sun audio: no built-in decoder knows it, so ffmpeg decodes it.
  const au = path.join(dir, 'clip-2.au')
  t.equal(spawnSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-i', path.join(dir, 'clip-2.wav'), '-y', au]).status, 0)
  const mine = recordingFfmpeg(t.testdir())
  const r = await earshot(['identify', au, '--json', '--db', 'db'], { EARSHOT_FFMPEG_PATH: mine.path })
  t.equal(r.code, 0, r.stderr)
  t.equal((JSON.parse(r.stdout) as { matches: TrackJson[] }).matches[0]?.title, 'song-2', 'identified')
  t.equal(mine.runs(), 1, 'by the configured ffmpeg')
  const missing = await earshot(['identify', au, '--db', 'db'], { EARSHOT_FFMPEG_PATH: path.join(dir, 'no-such-ffmpeg') })
  t.equal(missing.code, 1)
  t.match(missing.stderr, /EAR_ERR_NOT_AUDIO: .*cannot run ffmpeg \(.*no-such-ffmpeg\)/, 'a missing ffmpeg is named')
  const index = await earshot(['index', au, '--db', 'ffmpeg-db'], { EARSHOT_FFMPEG_PATH: mine.path })
  t.equal(index.code, 0, index.stderr)
  t.equal(mine.runs(), 2, 'index decodes with it too')
})

t.test('tracks list, show and rm', async (t) => {
  const two = idOf('song-2')
  const three = idOf('song-3')
  const [human, show, showHuman] = await Promise.all([
    earshot(['tracks', 'list', '--db', 'db']),
    earshot(['tracks', 'show', String(two), '--json', '--db', 'db']),
    earshot(['tracks', 'show', String(two), '--db', 'db']),
  ])
  t.equal(human.code, 0)
  t.equal(lines(human.stdout).length, 3)
  t.match(human.stdout, new RegExp(`^#${two}\t0:08\tsong-2\t`, 'm'))
  t.equal(show.code, 0)
  t.same(JSON.parse(show.stdout), indexed.find((x) => x.id === two))
  t.match(showHuman.stdout, /^title\s+song-2$/m)
  t.match(showHuman.stdout, /^durationSeconds\s+8\.0 \(0:08\)$/m, 'the length rounded, and as the track table shows it')

  const rm = await earshot(['tracks', 'rm', String(three), '--db', 'db'])
  t.equal(rm.code, 0)
  t.equal(rm.stdout, `removed #${three} song-3\n`)
  const [left] = await Promise.all([
    trackList(t),
    fails(t, ['tracks', 'show', String(three), '--db', 'db'], 'EAR_ERR_TRACK_NOT_FOUND', 1),
    fails(t, ['tracks', 'rm', String(three), '--db', 'db'], 'EAR_ERR_TRACK_NOT_FOUND', 1),
  ])
  t.same(left, indexed.filter((x) => x.id !== three))

  // Indexing again brings the removed file back, under a new id.
  const again = await earshot(['index', 'music', '--db', 'db'])
  t.match(again.stdout, /^indexed 1, already present 2, skipped 0;/)
  const now = await trackList(t)
  t.same(now.slice(0, 2), left)
  t.same(now.slice(2).map((x) => [x.id, x.title, x.digest]), [[4, 'song-3', indexed.find((x) => x.id === three)!.digest]])
  indexed = now
})

t.test('stats --json', async (t) => {
  const [r, human] = await Promise.all([earshot(['stats', '--json', '--db', 'db']), earshot(['stats', '--db', 'db'])])
  t.equal(r.code, 0)
  const s = JSON.parse(r.stdout) as Record<string, number>
  t.same(Object.keys(s).sort(), ['audioSeconds', 'bytesInUse', 'bytesOnDisk', 'bytesPerAudioSecond', 'distinctHashes', 'livePostings', 'postings', 'segments', 'tombstones', 'tracks'])
  t.equal(s.segments, 0, 'tracks indexed one by one are in the live part')
  t.equal(s.livePostings, s.postings)
  t.equal(s.tracks, 3)
  t.equal(s.postings, indexed.reduce((a, x) => a + x.hashCount, 0))
  t.ok(Math.abs(s.audioSeconds - 24) < 0.5, `${s.audioSeconds} s of audio`)
  t.ok(s.distinctHashes > 0 && s.distinctHashes <= s.postings)
  t.ok(s.bytesOnDisk > 0)
  t.match(human.stdout, /^tracks\s+3$/m)
  t.match(human.stdout, /^on disk\s+\d+(\.\d)? (kB|MB|GB)$/m, 'sizes with their units')
  t.match(human.stdout, /^per audio second\s+\d+(\.\d)? (bytes|kB)$/m)
})

t.test('export, then import into a new index', async (t) => {
  const r = await earshot(['export', 'backup.mdb', '--db', 'db'])
  t.equal(r.code, 0)
  t.equal(r.stdout, 'exported 3 tracks to backup.mdb\n')
  t.ok(fs.statSync(path.join(dir, 'backup.mdb')).size > 0)
  t.same(fs.readdirSync(dir).filter((f) => f.includes('partial')), [], 'no temporary left behind')
  fs.writeFileSync(path.join(dir, 'fake.mdb'), 'x'.repeat(4096))
  const [imp] = await Promise.all([
    earshot(['import', 'backup.mdb', '--db', 'db2']),
    fails(t, ['export', 'backup.mdb', '--db', 'db'], 'EAR_ERR_USAGE', 2), // never overwrites
    fails(t, ['import', 'fake.mdb', '--db', 'db3'], 'EAR_ERR_IMPORT', 1),
    fails(t, ['import', 'nothing.mdb', '--db', 'db3'], 'EAR_ERR_FILE_NOT_FOUND', 1),
    fails(t, ['export', path.join('no', 'such', 'folder', 'b.mdb'), '--db', 'db'], 'EAR_ERR_FILE_NOT_FOUND', 1),
  ])
  t.equal(imp.code, 0)
  t.equal(imp.stdout, 'imported 3 tracks, 0 already present\n')
  const [copied, found, again] = await Promise.all([
    trackList(t, 'db2'),
    earshot(['identify', 'clip-2.wav', '--json', '--db', 'db2']),
    earshot(['import', 'backup.mdb', '--db', 'db2']),
  ])
  const key = (x: TrackJson): string => `${x.title} ${x.digest} ${x.hashCount} ${x.source}`
  t.same(copied.map(key).sort(), indexed.map(key).sort(), 'same tracks, digests and hash counts')
  t.equal((JSON.parse(found.stdout) as { matches: Array<{ title: string }> }).matches[0]?.title, 'song-2', 'the copy identifies')
  t.equal(again.stdout, 'imported 0 tracks, 3 already present\n')
  t.same((await trackList(t, 'db2')).map(key).sort(), indexed.map(key).sort(), 'importing twice added nothing')
  t.notOk(fs.existsSync(path.join(dir, 'db3', 'data.mdb')) && (await trackList(t, 'db3')).length > 0, 'the failed imports added nothing')
})

t.test('the index folder: EARSHOT_DB, --db over it, and ./data by default', async (t) => {
  const [fromEnv, flag] = await Promise.all([
    earshot(['tracks', 'list', '--json'], { EARSHOT_DB: 'db' }),
    earshot(['stats', '--json', '--db', 'db2'], { EARSHOT_DB: path.join(dir, 'nowhere') }),
    // No --db and no EARSHOT_DB: ./data, which does not exist yet, and read-only commands do not create it.
    fails(t, ['stats'], 'EAR_ERR_INDEX_OPEN', 1),
  ])
  t.equal(fromEnv.code, 0)
  t.same((JSON.parse(fromEnv.stdout) as { tracks: TrackJson[] }).tracks, indexed)
  t.equal(flag.code, 0, '--db wins over EARSHOT_DB')
  t.notOk(fs.existsSync(path.join(dir, 'data')))
  const created = await earshot(['index', path.join('music', 'song-1.wav')])
  t.equal(created.code, 0)
  t.ok(fs.existsSync(path.join(dir, 'data', 'data.mdb')), 'index writes ./data')
})

t.test('help, version and usage errors', async (t) => {
  const [help, h, v] = await Promise.all([
    earshot([]),
    earshot(['identify', '--help']),
    earshot(['--version']),
    fails(t, ['identify'], 'EAR_ERR_USAGE', 2),
    fails(t, ['identify', 'a.wav', 'b.wav'], 'EAR_ERR_USAGE', 2),
    fails(t, ['identify', '--bogus', 'clip-2.wav'], 'EAR_ERR_USAGE', 2),
    fails(t, ['index', '--threads', '0', 'music', '--db', 'db'], 'EAR_ERR_USAGE', 2),
    fails(t, ['tracks', 'show', 'abc', '--db', 'db'], 'EAR_ERR_USAGE', 2),
    fails(t, ['tracks', 'show', '0', '--db', 'db'], 'EAR_ERR_USAGE', 2),
    fails(t, ['tracks', 'explode', '--db', 'db'], 'EAR_ERR_USAGE', 2),
    fails(t, ['frobnicate'], 'EAR_ERR_USAGE', 2),
    fails(t, ['stats', 'extra', '--db', 'db'], 'EAR_ERR_USAGE', 2),
  ])
  // Usage errors in our words, with a suggestion for a slip: never the text of Node's argument parser.
  const usageErrors: Array<[string[], RegExp]> = [
    [['idnetify', 'clip-2.wav'], /unknown command 'idnetify' \(did you mean identify\?\) \(see earshot --help\)$/],
    [['identify', '--jsn', 'clip-2.wav'], /earshot identify has no option --jsn \(did you mean --json\?\) \(see earshot identify --help\)$/],
    [['identify', '--bogus', 'clip-2.wav'], /earshot identify has no option --bogus \(see earshot identify --help\)$/],
    [['stream', 'x.wav', '--server'], /--server needs a value \(see earshot stream --help\)$/],
    [['index', 'music', '--threads', '--bulk'], /--threads needs a value/],
    [['identify', 'clip-2.wav', '--json=yes'], /--json takes no value/],
    [['identify', '-j', 'clip-2.wav'], /unknown option '-j'; options are written --name/],
    [['tracks', 'lst', '--db', 'db'], /earshot tracks has no action 'lst' \(did you mean list\?\): earshot tracks list \| show <id> \| edit <id> \| rm <id>$/],
    [['jobs', 'cancle'], /earshot jobs has no action 'cancle' \(did you mean cancel\?\)/],
    [['monitor', 'remove', 'x'], /earshot monitor has no action 'remove'/],
    [['stream', 'x.wav', '--server', 'ftp://host'], /--server must be an address like http:\/\/host:8080 or ws:\/\/host:8080, got 'ftp:\/\/host'/],
  ]
  for (const [args, message] of usageErrors) {
    const r = await fails(t, args, 'EAR_ERR_USAGE', 2)
    t.match(r.stderr.trimEnd(), message, args.join(' '))
    t.notMatch(r.stderr, /Option '|ERR_PARSE_ARGS|To specify an option argument|Unknown option/, `${args.join(' ')}: not the parser's text`)
  }
  // A value that starts with a dash is still a value.
  await fails(t, ['identify', 'clip-2.wav', '--min-confidence', '-1', '--db', 'db'], 'EAR_ERR_USAGE', 2)
    .then((r) => t.match(r.stderr, /--min-confidence must be a number from 0 to 1, got '-1'/))
  t.equal(help.code, 2, 'no command: usage, exit 2')
  t.match(help.stdout, /Usage: earshot <command>/)
  t.equal(h.code, 0)
  t.match(h.stdout, /^Usage: earshot identify <file>/)
  t.match(h.stdout, /^Exit status: 0 when the clip was examined, whether or not it matched/m, 'identify --help tells its exit status')
  // Every option's text starts in one column, however long the flag (serve has the longest).
  for (const command of ['serve', 'identify', 'stream', 'plays', 'monitor']) {
    const help = await earshot([command, '--help'])
    const options = help.stdout.split('\n\n').find((p) => p.startsWith('Options:'))!.split('\n').slice(1).filter((l) => l !== '')
    const columns = new Set(options.map((l) => /^ {2}--\S+(?: VALUE)? +/.exec(l)![0].length))
    t.equal(columns.size, 1, `${command} --help: one column for the descriptions`)
    t.ok(options.every((l) => / {2}\S/.test(l.slice(2))), `${command} --help: two spaces at least between flag and text`)
  }
  const helpIdentify = await earshot(['help', 'identify'])
  t.same([helpIdentify.code, helpIdentify.stdout], [0, h.stdout], 'earshot help identify is earshot identify --help')
  const streamHelp = await earshot(['stream', '--help'])
  t.match(streamHelp.stdout, /--json +Print each event as it comes, one JSON object per line/, 'stream --json is one object per line, not one document')
  t.match(streamHelp.stdout, /--server VALUE +Server address, http\(s\):\/\/ or ws\(s\):\/\/host:port \(default \$EARSHOT_SERVER/)
  t.equal(v.code, 0)
  t.match(v.stdout, /^earshot \d+\.\d+\.\d+\n$/)

  // The program around the command line: its exit codes and its streams, in a child process as a user runs it.
  const [version, usage, missing] = await Promise.all([
    earshotChild(['--version']),
    earshotChild(['frobnicate']),
    earshotChild(['identify', 'no-such.wav']),
  ])
  t.same([version.code, version.stdout, version.stderr], [0, v.stdout, ''], 'the program prints what the function does')
  t.equal(usage.code, 2, 'a usage error exits 2')
  t.match(usage.stderr, /^earshot: EAR_ERR_USAGE: Bad command line: unknown command 'frobnicate'/)
  t.equal(missing.code, 1, 'any other error exits 1')
  t.match(missing.stderr, /^earshot: EAR_ERR_FILE_NOT_FOUND: /)
  t.equal(missing.stderr.split('\n').filter(Boolean).length, 1, 'one line, no stack trace')
})

t.test('bad input files', async (t) => {
  const good = wavBytes(song(9, 2, 44100), 44100)
  fs.mkdirSync(path.join(dir, 'bad'))
  fs.mkdirSync(path.join(dir, 'nothing-here'))
  fs.writeFileSync(path.join(dir, 'nothing-here', 'readme.txt'), 'no audio')
  fs.writeFileSync(path.join(dir, 'bad', 'empty.wav'), '')
  fs.writeFileSync(path.join(dir, 'bad', 'header-only.wav'), good.subarray(0, 44))
  fs.writeFileSync(path.join(dir, 'bad', 'text.mp3'), 'ID3? no: just some text that is not audio at all\n'.repeat(30))
  fs.writeFileSync(path.join(dir, 'bad', 'zero.wav'), wavBytes(new Float32Array(0), 44100))
  writeWav(path.join(dir, 'bad', 'silence.wav'), silence(3, 44100), 44100)

  // identify: one error line with the code, exit 1.
  const cases: Array<[string, string]> = [
    ['empty.wav', 'EAR_ERR_FILE_EMPTY'],
    ['header-only.wav', '(EAR_ERR_NOT_AUDIO|EAR_ERR_AUDIO_TOO_SHORT)'],
    ['text.mp3', 'EAR_ERR_NOT_AUDIO'],
    ['zero.wav', '(EAR_ERR_NOT_AUDIO|EAR_ERR_AUDIO_TOO_SHORT)'],
    ['missing.wav', 'EAR_ERR_FILE_NOT_FOUND'],
  ]
  const [zero] = await Promise.all([
    earshot(['identify', path.join('bad', 'zero.wav'), '--db', 'db']),
    ...cases.map(([file, code]) => fails(t, ['identify', path.join('bad', file), '--db', 'db'], code, 1)),
    fails(t, ['identify', 'nothing-here', '--db', 'db'], 'EAR_ERR_FILE_UNREADABLE', 1),
    fails(t, ['identify', 'clip-2.wav', '--db', 'no-index-here'], 'EAR_ERR_INDEX_OPEN', 1),
  ])
  // A valid WAV holding no samples is audio too short to fingerprint, not "not audio".
  t.match(zero.stderr, /^earshot: EAR_ERR_AUDIO_TOO_SHORT: /, 'zero samples: EAR_ERR_AUDIO_TOO_SHORT')
})

/** `earshot index` of inputs that hold nothing indexable: exit 1, one skip line per input naming its code. */
async function indexesNothing (t: Test, input: string, code: string): Promise<void> {
  const r = await earshot(['index', input, '--db', 'db'])
  const name = `earshot index ${input}`
  t.equal(r.code, 1, `${name}: exit 1`)
  t.match(r.stdout, /^indexed 0, already present 0, skipped 1;/, `${name}: summary`)
  t.match(r.stderr, new RegExp(`^skipped ${input.replace(/[.\\]/g, '\\$&')}: ${code}: `, 'm'), `${name}: skip line with ${code}`)
  t.notMatch(r.stderr, '    at ', `${name}: no stack trace`)
  t.match(r.stderr, /^earshot: EAR_ERR_[A-Z_]+: /m, `${name}: an earshot: EAR_ERR_ error line`)
}

t.test('index of bad inputs skips them, and exits 1 when nothing could be indexed', async (t) => {
  await Promise.all([
    indexesNothing(t, path.join('bad', 'empty.wav'), 'EAR_ERR_FILE_EMPTY'),
    indexesNothing(t, path.join('bad', 'text.mp3'), 'EAR_ERR_NOT_AUDIO'),
    indexesNothing(t, path.join('bad', 'header-only.wav'), '(EAR_ERR_NOT_AUDIO|EAR_ERR_AUDIO_TOO_SHORT)'),
    indexesNothing(t, path.join('bad', 'silence.wav'), 'EAR_ERR_AUDIO_TOO_SHORT'),
    indexesNothing(t, path.join('bad', 'missing.wav'), 'EAR_ERR_FILE_NOT_FOUND'),
    indexesNothing(t, 'nothing-here', 'EAR_ERR_NOT_AUDIO'),
  ])
  // A folder with one good and one bad file: the good one is indexed, the bad one skipped, exit 0.
  fs.mkdirSync(path.join(dir, 'mixed'))
  writeWav(path.join(dir, 'mixed', 'song-5.wav'), song(5, 6, 44100), 44100)
  fs.writeFileSync(path.join(dir, 'mixed', 'broken.wav'), 'RIFF....WAVEnope')
  const r = await earshot(['index', 'mixed', '--db', 'db'])
  t.equal(r.code, 0)
  t.match(r.stdout, /^indexed 1, already present 0, skipped 1;/)
  t.match(r.stderr, new RegExp(`^skipped ${path.join('mixed', 'broken.wav').replace(/[.\\]/g, '\\$&')}: EAR_ERR_NOT_AUDIO: `, 'm'))
  t.notMatch(r.stderr, '    at ')
  const after = await trackList(t)
  t.same(after.slice(0, indexed.length), indexed, 'the tracks already there are all still there')
  t.same(after.slice(indexed.length).map((x) => x.title), ['song-5'])
})

t.test('a WAV whose header claims more data than the file holds: what is there is decoded', async (t) => {
  const full = wavBytes(song(2, 8, 44100), 44100)
  fs.writeFileSync(path.join(dir, 'cut.wav'), full.subarray(0, 44 + 5 * 44100 * 2)) // header says 8 s, 5 s follow
  const r = await earshot(['identify', 'cut.wav', '--json', '--db', 'db'])
  t.equal(r.code, 0)
  const out = JSON.parse(r.stdout) as { matches: Array<{ title: string, offsetSeconds: number }>, queryDurationMs: number }
  t.equal(out.queryDurationMs, 5000)
  t.equal(out.matches[0]?.title, 'song-2')
  t.ok(out.matches[0] !== undefined && Math.abs(out.matches[0].offsetSeconds) <= 0.1)
})

t.test('after all the failures, the index is intact', async (t) => {
  const final = await trackList(t)
  t.same(final.slice(0, indexed.length), indexed)
  const r = await earshot(['identify', 'clip-2.wav', '--json', '--db', 'db'])
  t.equal((JSON.parse(r.stdout) as { matches: Array<{ title: string }> }).matches[0]?.title, 'song-2')
})
