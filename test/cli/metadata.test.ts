/**
 * Catalog metadata on the command line, each command run as the program runs it (in this process: cli.test checks
 * the program's own exits and streams in child processes): `earshot index --metadata`
 * with a CSV file (a bad one refused before anything is indexed), ISRCs from tags, `tracks edit` and the `tracks list`
 * filters, a changed file replacing its old track with the metadata edited by hand kept, an unchanged file taking a
 * metadata file's new values, and the fields carried through `fingerprint`/`import` and `export`/`import`.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import type { Run } from '../helpers/child-env.js'
import { earshotInProcess } from '../helpers/cli-in-process.js'
import { song, writeWav } from '../helpers/signals.js'

t.setTimeout(300_000)
const RATE = 22050
const dir = t.testdir()
const music = path.join(dir, 'music')
fs.mkdirSync(music)
const haveFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0

function earshot (args: string[]): Promise<Run> {
  return earshotInProcess(dir, args)
}

interface TrackJson { id: number, title: string, source: string, isrc?: string, externalId?: string, labels?: Record<string, string>, editedFields?: string[] }

async function tracks (args: string[] = [], db = 'db'): Promise<TrackJson[]> {
  const r = await earshot(['tracks', 'list', '--json', '--db', db, ...args])
  if (r.code !== 0) throw new Error(`tracks list ${args.join(' ')}: ${r.stderr}`)
  return (JSON.parse(r.stdout) as { tracks: TrackJson[] }).tracks
}

const bySource = async (name: string, db = 'db'): Promise<TrackJson | undefined> => (await tracks([], db)).find((x) => path.basename(x.source) === name)

/** A failed command: its exit code, one `earshot: CODE: ...` line on stderr, nothing on stdout. */
function failed (t: Test, r: Run, code: string, exit: number, pattern: RegExp, what: string): void {
  t.equal(r.code, exit, `${what}: exit ${exit}`)
  t.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line on stderr`)
  t.match(r.stderr, new RegExp(`^earshot: ${code}: `), `${what}: ${code}`)
  t.match(r.stderr, pattern, `${what}: ${r.stderr.trim()}`)
  t.equal(r.stdout, '', `${what}: nothing on stdout`)
}

writeWav(path.join(music, 'a.wav'), song(61, 8, RATE), RATE)
writeWav(path.join(music, 'b.wav'), song(62, 8, RATE), RATE)
if (haveFfmpeg) {
  // Tagged files as a ripper writes them: one with an ISRC, one with a tag that is not one.
  writeWav(path.join(dir, 'c.wav'), song(63, 8, RATE), RATE)
  writeWav(path.join(dir, 'd.wav'), song(64, 8, RATE), RATE)
  spawnSync('ffmpeg', ['-v', 'error', '-i', path.join(dir, 'c.wav'), '-metadata', 'ISRC=gb-aye-06-01498', path.join(music, 'c.flac')])
  spawnSync('ffmpeg', ['-v', 'error', '-i', path.join(dir, 'd.wav'), '-metadata', 'ISRC=unknown', path.join(music, 'd.flac')])
}
const meta = path.join(dir, 'meta.csv')
const writeMeta = (rows: string[]): void => fs.writeFileSync(meta, ['path,isrc,externalId,label:genre', ...rows].join('\n'))

t.test('a bad metadata file stops earshot index before anything is indexed, naming the line and the column', async (t) => {
  writeMeta(['music/a.wav,US-RC1-76-07839,cat-a,jazz', 'music/b.wav,US-RC1-76,cat-b,'])
  const r = await earshot(['index', music, '--db', 'db', '--metadata', meta])
  failed(t, r, 'EAR_ERR_BAD_METADATA', 1, /meta\.csv line 3, isrc: "US-RC1-76" is not an ISRC/, 'a bad ISRC in line 3')
  t.notOk(fs.existsSync(path.join(dir, 'db')), 'no index was even made')
  failed(t, await earshot(['index', music, '--db', 'db', '--metadata', path.join(dir, 'nope.csv')]), 'EAR_ERR_FILE_NOT_FOUND', 1, /nope\.csv/, 'a metadata file that is not there')
})

t.test('earshot index --metadata: ISRC, external id and labels from the file, the ISRC from tags, a bad tag warned about', async (t) => {
  writeMeta(['music/a.wav,US-RC1-76-07839,cat-a,jazz', 'music/b.wav,,cat-b,'])
  const r = await earshot(['index', music, '--db', 'db', '--metadata', meta])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, new RegExp(`indexed ${haveFfmpeg ? 4 : 2}, already present 0`))
  t.match(await bySource('a.wav'), { isrc: 'USRC17607839', externalId: 'cat-a', labels: { genre: 'jazz' } }, 'a.wav: all three, normalised')
  const b = await bySource('b.wav')
  t.match(b, { externalId: 'cat-b' }, 'b.wav: only what its row gives')
  t.equal(b?.isrc, undefined)
  t.equal(b?.labels, undefined)
  if (haveFfmpeg) {
    t.equal((await bySource('c.flac'))?.isrc, 'GBAYE0601498', 'c.flac: the ISRC of its tag')
    t.equal((await bySource('d.flac'))?.isrc, undefined, 'd.flac: no ISRC')
    t.match(r.stderr, /warning .*d\.flac: Bad track metadata: the ISRC tag: "unknown" is not an ISRC/, 'd.flac: a warning saying why')
    t.match(r.stdout, /1 tag value skipped with a warning/)
  }
})

t.test('earshot tracks list filters; tracks show prints the fields', async (t) => {
  const a = await bySource('a.wav')
  t.same((await tracks(['--isrc', 'us-rc1-76-07839'])).map((x) => x.id), [a?.id], '--isrc, dashed and lower case')
  t.same((await tracks(['--external-id', 'cat-b'])).map((x) => path.basename(x.source)), ['b.wav'], '--external-id')
  t.same((await tracks(['--label', 'genre:JAZZ'])).map((x) => x.id), [a?.id], '--label KEY:VALUE')
  t.same((await tracks(['--label', 'genre'])).map((x) => x.id), [a?.id], '--label KEY')
  t.same((await tracks(['--search', 'cat-'])).map((x) => path.basename(x.source)).sort(), ['a.wav', 'b.wav'], '--search finds external ids')
  failed(t, await earshot(['tracks', 'list', '--db', 'db', '--isrc', 'nope']), 'EAR_ERR_BAD_METADATA', 1, /"nope" is not an ISRC/, 'a filter by a bad ISRC')
  const show = await earshot(['tracks', 'show', String(a?.id), '--db', 'db'])
  t.equal(show.code, 0)
  t.match(show.stdout, /^isrc {12}USRC17607839$/m)
  t.match(show.stdout, /^labels {10}genre=jazz$/m, 'labels as KEY=VALUE')
})

t.test('earshot tracks edit: set, remove, merge labels; bad values change nothing', async (t) => {
  const a = await bySource('a.wav')
  const id = String(a?.id)
  const r = await earshot(['tracks', 'edit', id, '--db', 'db', '--label', 'mood=calm', '--label', 'Era=1970s', '--isrc', '', '--external-id', 'cat-a2', '--json'])
  t.equal(r.code, 0, r.stderr)
  const edited = JSON.parse(r.stdout) as TrackJson
  t.same(edited.labels, { era: '1970s', genre: 'jazz', mood: 'calm' }, 'labels merged, keys lower-cased, in key order')
  t.equal(edited.isrc, undefined, '--isrc \'\' removes the ISRC')
  t.equal(edited.externalId, 'cat-a2')
  t.same(edited.editedFields, ['externalId', 'isrc', 'labels'], 'every field the edit named is set by hand')
  const removed = JSON.parse((await earshot(['tracks', 'edit', id, '--db', 'db', '--label', 'era=', '--json'])).stdout) as TrackJson
  t.same(removed.labels, { genre: 'jazz', mood: 'calm' }, '--label KEY= removes one')
  failed(t, await earshot(['tracks', 'edit', id, '--db', 'db', '--isrc', 'XX-123']), 'EAR_ERR_BAD_METADATA', 1, /isrc: "XX-123" is not an ISRC/, 'a bad ISRC')
  failed(t, await earshot(['tracks', 'edit', id, '--db', 'db', '--label', 'a b=c']), 'EAR_ERR_BAD_METADATA', 1, /label key "a b"/, 'a bad label key')
  failed(t, await earshot(['tracks', 'edit', id, '--db', 'db', '--label', 'mood']), 'EAR_ERR_USAGE', 2, /--label takes KEY=VALUE/, 'a label without a value')
  failed(t, await earshot(['tracks', 'edit', id, '--db', 'db']), 'EAR_ERR_USAGE', 2, /needs a change/, 'no change')
  failed(t, await earshot(['tracks', 'edit', id, '--db', 'db', '--search', 'x']), 'EAR_ERR_USAGE', 2, /tracks edit takes no --search/, 'a flag of list')
  failed(t, await earshot(['tracks', 'list', '--db', 'db', '--title', 'x']), 'EAR_ERR_USAGE', 2, /tracks list takes no --title/, 'a flag of edit')
  failed(t, await earshot(['tracks', 'list', '--db', 'db', '--label', 'a', '--label', 'b']), 'EAR_ERR_USAGE', 2, /one --label filter/, 'two label filters')
  failed(t, await earshot(['tracks', 'edit', '999', '--db', 'db', '--isrc', 'USRC17607839']), 'EAR_ERR_TRACK_NOT_FOUND', 1, /No track with id 999/, 'an unknown track')
  t.match(await bySource('a.wav'), { externalId: 'cat-a2', labels: { genre: 'jazz', mood: 'calm' } }, 'the refused edits changed nothing')
})

t.test('indexing again: a changed file replaces its old track, hand edits kept; an unchanged one takes the metadata file\'s new values', async (t) => {
  const a = await bySource('a.wav') as TrackJson
  const b = await bySource('b.wav') as TrackJson
  // a.wav now holds other audio; b.wav is untouched, but the metadata file says more about both.
  writeWav(path.join(music, 'a.wav'), song(71, 8, RATE), RATE)
  const past = new Date(Date.now() - 60_000)
  fs.utimesSync(path.join(music, 'a.wav'), past, past)
  writeMeta(['music/a.wav,GB-AYE-06-01498,cat-a3,pop', 'music/b.wav,GB-AYE-06-01499,cat-b2,folk'])
  const r = await earshot(['index', music, '--db', 'db', '--metadata', meta])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, new RegExp(`indexed .*a\\.wav -> #\\d+ a \\(replacing #${a.id}, the file changed\\)`), 'the replacement is named')
  t.match(r.stdout, /1 changed file replaced its old track/)
  t.match(r.stdout, /1 track brought up to date/)
  const list = await tracks()
  t.notOk(list.some((x) => x.id === a.id), 'the old track of a.wav is gone')
  const next = await bySource('a.wav') as TrackJson
  t.ok(next.id > a.id, `a.wav is a new track (#${next.id})`)
  t.equal(next.isrc, undefined, 'its ISRC stays removed: the removal was made by hand')
  t.equal(next.externalId, 'cat-a2', 'its external id is the one set by hand')
  t.same(next.labels, { genre: 'jazz', mood: 'calm' }, 'its labels are those set by hand')
  t.same(next.editedFields, ['externalId', 'isrc', 'labels'], 'and stay hand-set')
  const b2 = await bySource('b.wav') as TrackJson
  t.equal(b2.id, b.id, 'b.wav keeps its track')
  t.match(b2, { isrc: 'GBAYE0601499', externalId: 'cat-b2', labels: { genre: 'folk' } }, 'with the metadata file\'s new values')
  t.match(r.stderr, /already present .*b\.wav unchanged since it was indexed .*; its metadata is updated/, 'said so')
  t.equal(list.length, haveFfmpeg ? 4 : 2, 'no track more than files')

  // The same audio with a new modification time (its tags edited): the track is updated in place.
  const now = new Date()
  fs.utimesSync(path.join(music, 'b.wav'), now, now)
  const again = await earshot(['index', music, '--db', 'db', '--metadata', meta])
  t.equal(again.code, 0, again.stderr)
  t.match(again.stderr, /already present .*b\.wav the same audio as when it was indexed; its tags and file details are read again/)
  t.equal((await bySource('b.wav'))?.id, b.id, 'the same track')
  const quiet = await earshot(['index', music, '--db', 'db', '--metadata', meta])
  t.notMatch(quiet.stdout, /brought up to date|replaced/, 'a third run has nothing to do')
})

t.test('fingerprint files and exports carry the metadata into another index', async (t) => {
  const file = path.join(dir, 'music.efp')
  const fp = await earshot(['fingerprint', path.join(music, 'b.wav'), '--out', file, '--metadata', meta])
  t.equal(fp.code, 0, fp.stderr)
  t.equal((await earshot(['import', file, '--db', 'db2'])).code, 0)
  t.match(await bySource('b.wav', 'db2'), { isrc: 'GBAYE0601499', externalId: 'cat-b2', labels: { genre: 'folk' } }, 'through a fingerprint file')
  const backup = path.join(dir, 'backup.mdb')
  t.equal((await earshot(['export', backup, '--db', 'db'])).code, 0)
  t.equal((await earshot(['import', backup, '--db', 'db3'])).code, 0)
  t.match(await bySource('a.wav', 'db3'), { externalId: 'cat-a2', labels: { genre: 'jazz', mood: 'calm' }, editedFields: ['externalId', 'isrc', 'labels'] }, 'through an export, hand edits and all')
})
