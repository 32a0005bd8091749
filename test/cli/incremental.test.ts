/**
 * Indexing a folder again, as a catalog owner does after adding a few files: files already indexed from the same path,
 * with the same size and modification time, are skipped before decoding (present, with the reason); a file that
 * changed since is read again; new files are indexed.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { song, writeWav } from '../helpers/signals.js'
import { earshotInProcess } from '../helpers/cli-in-process.js'

const RATE = 22050

t.test('earshot index skips unchanged files before decoding them', async (t) => {
  const dir = t.testdir()
  const music = path.join(dir, 'music')
  fs.mkdirSync(music)
  for (const seed of [31, 32, 33]) writeWav(path.join(music, `song-${seed}.wav`), song(seed, 10, RATE), RATE)
  const db = path.join(dir, 'db')
  const first = await earshotInProcess(dir, ['index', music, '--db', db])
  t.equal(first.code, 0, first.stderr)
  t.match(first.stdout, /indexed 3, already present 0/)

  // One new file, one changed (other audio, so another fingerprint), one untouched.
  writeWav(path.join(music, 'song-34.wav'), song(34, 10, RATE), RATE)
  writeWav(path.join(music, 'song-31.wav'), song(41, 10, RATE), RATE)
  const past = new Date(Date.now() - 60_000)
  fs.utimesSync(path.join(music, 'song-31.wav'), past, past)
  const again = await earshotInProcess(dir, ['index', music, '--db', db])
  t.equal(again.code, 0, again.stderr)
  t.match(again.stdout, /indexed 2, already present 2/, 'the new file and the changed one are indexed; the two unchanged are present')
  // One line per file goes to stderr, the summary to stdout.
  t.match(again.stderr, /song-32\.wav unchanged since it was indexed/, 'an unchanged file is named with the reason')
  t.notMatch(again.stderr, /song-34\.wav unchanged/, 'a new file is not')
  t.notMatch(again.stderr, /song-31\.wav unchanged/, 'nor a changed one')
})

t.test('earshot index --ext takes only the extensions given from folders', async (t) => {
  const dir = t.testdir()
  const music = path.join(dir, 'music')
  fs.mkdirSync(music)
  writeWav(path.join(music, 'a.wav'), song(51, 8, RATE), RATE)
  fs.copyFileSync(path.join(music, 'a.wav'), path.join(music, 'b.wave'))
  const db = path.join(dir, 'db')
  const none = await earshotInProcess(dir, ['index', music, '--db', db, '--ext', 'flac,mp3'])
  t.equal(none.code, 1, 'no file of those extensions: nothing indexed')
  t.match(none.stderr, /EAR_ERR_NOT_AUDIO: no audio files in this folder/)
  const wave = await earshotInProcess(dir, ['index', music, '--db', db, '--ext', '.WAVE'])
  t.equal(wave.code, 0, wave.stderr)
  t.match(wave.stdout, /indexed 1,/, 'only b.wave, the case and the dot aside')
  const bad = await earshotInProcess(dir, ['index', music, '--db', db, '--ext', 'm p3'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--ext must be extensions separated by commas/)
})
