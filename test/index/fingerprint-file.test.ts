import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { pack } from 'msgpackr'
import { defaultFingerprint as params } from '../../server/src/config/fingerprint.js'
import { fingerprint } from '../../server/src/dsp/pipeline.js'
import { EarshotError } from '../../server/src/errors.js'
import { fingerprintDigest } from '../../server/src/index/digest.js'
import { FINGERPRINT_FILE_VERSION, FINGERPRINT_FORMAT, FingerprintWriter, checkFingerprintFile, isFingerprintFile, readFingerprintFile } from '../../server/src/index/fingerprint-file.js'
import { childEnv, runEarshot, type Run } from '../helpers/child-env.js'
import { earshotInProcess } from '../helpers/cli-in-process.js'
import { addNoise, clip, prng, song, writeWav } from '../helpers/signals.js'

// The fingerprint file: the writer and reader on their own, then `earshot fingerprint` and `earshot import` end to end.
// Commands run in this process (runCli, as the program calls it); one refusal runs the program in a child process, for
// its exit code and its one-line stderr as a user sees them.
const dir = t.testdir()

function earshot (args: string[]): Promise<Run> {
  return earshotInProcess(dir, args)
}

function earshotChild (args: string[]): Promise<Run> {
  return runEarshot(dir, args, childEnv({}, ['EARSHOT_DB', 'EARSHOT_DEBUG']))
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '')

/** One length-prefixed msgpack record, as the file holds them. */
function record (value: unknown): Buffer {
  const body = pack(value)
  const len = Buffer.alloc(4)
  len.writeUInt32BE(body.length, 0)
  return Buffer.concat([len, body])
}

function header (patch: Record<string, unknown> = {}): Buffer {
  return record({ format: FINGERPRINT_FORMAT, version: FINGERPRINT_FILE_VERSION, fingerprint: { ...params }, createdAt: new Date().toISOString(), ...patch })
}

function importError (t: Test, fn: () => unknown, pattern: RegExp): void {
  try {
    fn()
    t.fail('no error')
  } catch (err) {
    t.ok(err instanceof EarshotError, 'a coded error')
    t.equal((err as EarshotError).code, 'EAR_ERR_IMPORT')
    t.match((err as Error).message, pattern)
  }
}

t.test('writer and reader round trip, typed arrays as binary', async (t) => {
  const list = fingerprint(params, song(7, 4, 11025), 11025)
  const hashes = { hashes: list.hashes.slice(0, list.count), frames: list.frames.slice(0, list.count), count: list.count, frameCount: list.frameCount }
  const meta = { title: 'seven', artist: 'a', album: 'b', source: 'seven.wav', durationSeconds: 4, digest: fingerprintDigest(list) }
  const file = path.join(dir, 'unit.fp')
  const w = new FingerprintWriter(file, params)
  w.write(meta, list) // a collector's arrays are longer than count: only count pairs are written
  w.write({ ...meta, title: 'again' }, hashes)
  w.close()
  t.throws(() => new FingerprintWriter(file, params), { code: 'EAR_ERR_USAGE' }, 'refuses to overwrite')
  t.ok(isFingerprintFile(file))
  const read = [...readFingerprintFile(file, params)]
  t.equal(read.length, 2)
  t.same(read[0].meta, meta)
  t.equal(read[1].meta.title, 'again')
  t.ok(read[0].hashes.hashes instanceof Uint32Array)
  t.same([...read[0].hashes.hashes], [...hashes.hashes])
  t.same([...read[0].hashes.frames], [...hashes.frames])
  t.equal(read[0].hashes.count, list.count)
  t.equal(read[0].hashes.frameCount, list.frameCount)
  t.equal(checkFingerprintFile(file, params), 2)
  // Binary, not JSON arrays: the file is about 8 bytes a pair.
  t.ok(fs.statSync(file).size < 2 * (8 * list.count + 400), 'about 8 bytes a pair')

  const bytes = fs.readFileSync(file)
  const cut = path.join(dir, 'unit-cut.fp')
  fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 10))
  importError(t, () => checkFingerprintFile(cut, params), /truncated/)
  const garbled = path.join(dir, 'unit-garbled.fp')
  fs.writeFileSync(garbled, Buffer.concat([header(), Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1])]))
  importError(t, () => checkFingerprintFile(garbled, params), /garbled/)
  const huge = path.join(dir, 'unit-huge.fp')
  fs.writeFileSync(huge, Buffer.concat([header(), Buffer.from([0xff, 0xff, 0xff, 0xff])]))
  importError(t, () => checkFingerprintFile(huge, params), /garbled record length/)
  const odd = path.join(dir, 'unit-odd.fp')
  fs.writeFileSync(odd, Buffer.concat([header(), record({ ...meta, frameCount: 1, hashes: new Uint8Array(6), frames: new Uint8Array(6) })]))
  importError(t, () => checkFingerprintFile(odd, params), /not a binary array of uint32/)
  const v1 = path.join(dir, 'unit-v1.fp')
  fs.writeFileSync(v1, header({ version: 1 }))
  importError(t, () => checkFingerprintFile(v1, params), /format version 1; this earshot reads version 3: fingerprint the audio again/)
  fs.writeFileSync(v1, header({ version: 2 }))
  importError(t, () => checkFingerprintFile(v1, params), /format version 2; this earshot reads version 3: fingerprint the audio again/)
  importError(t, () => checkFingerprintFile(file, { ...params, fanout: 9 }), /other fingerprint parameters.*fanout/)
})

// End to end: three songs, fingerprinted into one file, imported into an empty and a non-empty index.
fs.mkdirSync(path.join(dir, 'music'))
writeWav(path.join(dir, 'music', 'song-1.wav'), song(1, 8, 44100), 44100)
writeWav(path.join(dir, 'music', 'song-2.wav'), song(2, 8, 44100), 44100)
writeWav(path.join(dir, 'music', 'song-3.wav'), song(3, 8, 22050), 22050)
writeWav(path.join(dir, 'clip-2.wav'), addNoise(clip(song(2, 8, 44100), 44100, 2, 5), 10, 1), 44100)

interface TrackJson { id: number, title: string, digest: string, hashCount: number }

async function trackList (t: Test, db: string): Promise<TrackJson[]> {
  const r = await earshot(['tracks', 'list', '--json', '--db', db])
  t.equal(r.code, 0, `tracks list --db ${db}`)
  return (JSON.parse(r.stdout) as { tracks: TrackJson[] }).tracks
}

/** `earshot import FILE` must fail with one coded line, exit 1, and leave the index as it was. */
async function refused (t: Test, file: string, db: string, pattern: RegExp, run = earshot): Promise<void> {
  const before = await trackList(t, db)
  const r = await run(['import', file, '--db', db])
  t.equal(r.code, 1, `import ${file}: exit 1`)
  t.equal(lines(r.stderr).length, 1, 'one line on stderr')
  t.match(r.stderr, /^earshot: EAR_ERR_IMPORT: \S/)
  t.match(r.stderr, pattern)
  t.notMatch(r.stderr, '    at ', 'no stack trace')
  t.equal(r.stdout, '')
  t.same(await trackList(t, db), before, 'the index is unchanged')
}

t.test('earshot fingerprint, then import into an empty index, identify, and again into a non-empty one', async (t) => {
  const r = await earshot(['fingerprint', 'music', '--out', 'all.fp'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^fingerprinted 3, skipped 0; [\d.]+ h of audio in [\d.]+ s to all\.fp\n$/)
  t.ok(fs.existsSync(path.join(dir, 'all.fp')))

  const again = await earshot(['fingerprint', 'music', '--out', 'all.fp'])
  t.equal(again.code, 2, 'refuses to overwrite')
  t.match(again.stderr, /^earshot: EAR_ERR_USAGE: .*all\.fp exists/)
  const noOut = await earshot(['fingerprint', 'music'])
  t.equal(noOut.code, 2)
  t.match(noOut.stderr, /^earshot: EAR_ERR_USAGE: .*--out FILE is required/)
  t.ok(fs.existsSync(path.join(dir, 'all.fp')), 'a refused overwrite leaves the file')
  fs.mkdirSync(path.join(dir, 'empty'))
  fs.writeFileSync(path.join(dir, 'empty', 'notes.txt'), 'not audio')
  const none = await earshot(['fingerprint', 'empty', path.join('empty', 'notes.txt'), '--out', 'none.fp'])
  t.equal(none.code, 1, 'nothing fingerprinted: exit 1')
  t.match(none.stderr, /earshot: EAR_ERR_NOT_AUDIO: /)
  t.notOk(fs.existsSync(path.join(dir, 'none.fp')), 'and no file is left')

  const imp = await earshot(['import', 'all.fp', '--db', 'fresh'])
  t.equal(imp.code, 0, imp.stderr)
  t.equal(imp.stdout, 'imported 3 tracks, 0 already present\n')
  const tracks = await trackList(t, 'fresh')
  t.same(tracks.map((x) => x.title).sort(), ['song-1', 'song-2', 'song-3'])

  const id = await earshot(['identify', 'clip-2.wav', '--json', '--db', 'fresh'])
  t.equal(id.code, 0)
  const best = (JSON.parse(id.stdout) as { matches: Array<{ trackId: number, title: string }> }).matches[0]
  t.equal(best?.title, 'song-2', 'the clip is found in the imported tracks')

  // The same fingerprints as `earshot index` makes: a song indexed directly is present on import.
  const idx = await earshot(['index', path.join('music', 'song-1.wav'), '--db', 'partial'])
  t.equal(idx.code, 0)
  const imp2 = await earshot(['import', 'all.fp', '--db', 'partial'])
  t.equal(imp2.code, 0, imp2.stderr)
  t.equal(imp2.stdout, 'imported 2 tracks, 1 already present\n')
  t.equal((await trackList(t, 'partial')).length, 3)
  const imp3 = await earshot(['import', 'all.fp', '--db', 'partial'])
  t.equal(imp3.stdout, 'imported 0 tracks, 3 already present\n')
})

t.test('import refuses another version, other parameters, a truncated file and random bytes', async (t) => {
  const idx = await earshot(['index', path.join('music', 'song-3.wav'), '--db', 'target'])
  t.equal(idx.code, 0)
  const good = fs.readFileSync(path.join(dir, 'all.fp'))

  fs.writeFileSync(path.join(dir, 'v1.fp'), Buffer.concat([header({ version: 1 }), good.subarray(good.readUInt32BE(0) + 4)]))
  await refused(t, 'v1.fp', 'target', /format version 1; this earshot reads version 3: fingerprint the audio again/)

  fs.writeFileSync(path.join(dir, 'params.fp'), Buffer.concat([header({ fingerprint: { ...params, fanout: params.fanout + 1 } }), good.subarray(good.readUInt32BE(0) + 4)]))
  await refused(t, 'params.fp', 'target', /other fingerprint parameters .*fanout/)

  // Cut in the last track: the first two tracks are sound, and still nothing is imported.
  fs.writeFileSync(path.join(dir, 'cut.fp'), good.subarray(0, good.length - 100))
  await refused(t, 'cut.fp', 'target', /truncated/)

  const rand = prng(5)
  fs.writeFileSync(path.join(dir, 'random.bin'), Buffer.from(Array.from({ length: 64 * 1024 }, () => Math.floor(rand() * 256))))
  await refused(t, 'random.bin', 'target', /random\.bin/, earshotChild)
})
