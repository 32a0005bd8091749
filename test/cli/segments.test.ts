/**
 * `earshot identify --segments` as a user runs it: on the local index and through a server's identify job, as lines,
 * JSON and CSV, and its usage errors.
 */
import t from 'tap'
import path from 'node:path'
import { earshotInProcess } from '../helpers/cli-in-process.js'
import { buildCatalog } from '../helpers/catalog.js'
import { song, writeWav } from '../helpers/signals.js'
import { crossfade, startServer, testSettings } from '../helpers/stream-helpers.js'
import type { Segment } from '../../server/src/recordings/segments.js'

const RATE = 22050

t.test('identify --segments lists every song of a recording, here and on a server alike', async (t) => {
  const dir = t.testdir()
  const cat = buildCatalog(path.join(dir, 'db'), [21, 22], 30, RATE)
  t.teardown(() => cat.index.close())
  // Song 21, a song nobody indexed, then song 22.
  const { pcm } = crossfade([cat.songs.get(1)!, song(77, 15, RATE), cat.songs.get(2)!], RATE, 2)
  writeWav(path.join(dir, 'air.wav'), pcm, RATE)
  const run = (args: string[]) => earshotInProcess(dir, ['identify', '--segments', 'air.wav', ...args])

  const human = await run(['--db', 'db'])
  t.equal(human.code, 0, human.stderr)
  const lines = human.stdout.trimEnd().split('\n')
  t.equal(lines.length, 3, 'two segments and a summary')
  t.match(lines[0], /^0:00–0:2\d {2}#1 song 21 {2}from 0:00, confidence (0\.[5-9]\d|1\.00)$/)
  t.match(lines[1], /^0:4\d–1:1\d {2}#2 song 22 {2}from 0:0\d, confidence (0\.[5-9]\d|1\.00)$/)
  t.equal(lines[2], '2 segments in 1:11 of audio')

  const json = await run(['--db', 'db', '--json'])
  t.equal(json.code, 0, json.stderr)
  const local = JSON.parse(json.stdout) as { segments: Segment[], audioSeconds: number, cut: boolean, damaged: string | null }
  t.same(local.segments.map((s) => s.trackId), [1, 2])
  t.match(local, { audioSeconds: 71, cut: false, damaged: null })

  const csv = await run(['--db', 'db', '--csv'])
  t.equal(csv.code, 0, csv.stderr)
  const rows = csv.stdout.trimEnd().split('\r\n')
  t.equal(rows[0], 'startSeconds,endSeconds,trackId,title,artist,album,offsetSeconds,confidence,speed,isrc,externalId,labels')
  t.same(rows.slice(1).map((r) => r.split(',')[3]), ['song 21', 'song 22'])

  const { http } = await startServer(t, 'ws', cat.index, testSettings())
  const remote = await run(['--server', http, '--json'])
  t.equal(remote.code, 0, remote.stderr)
  t.same(JSON.parse(remote.stdout), local, 'a server\'s identify job finds the same segments')
})

t.test('identify --segments: usage errors are one line with exit status 2, a missing file 1', async (t) => {
  const dir = t.testdir()
  const cases: Array<[string[], RegExp, number]> = [
    [['identify', 'air.wav', '--csv'], /^earshot: EAR_ERR_USAGE: Bad command line: --csv goes with --segments/, 2],
    [['identify', '--segments', 'air.wav', '--csv', '--json'], /^earshot: EAR_ERR_USAGE: Bad command line: --csv and --json: choose one/, 2],
    [['identify', '--segments', 'air.wav', '--min-confidence', '0.2'], /^earshot: EAR_ERR_USAGE: Bad command line: --min-confidence does not go with --segments/, 2],
    [['identify', '--segments', 'no-such.wav', '--db', 'db'], /^earshot: EAR_ERR_FILE_NOT_FOUND: /, 1],
  ]
  for (const [args, message, code] of cases) {
    const r = await earshotInProcess(dir, args)
    t.equal(r.code, code, args.join(' '))
    t.match(r.stderr, message)
    t.equal(r.stderr.trimEnd().split('\n').length, 1, 'one line')
    t.equal(r.stdout, '')
  }
})
