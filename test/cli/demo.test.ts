/**
 * `earshot demo`, as a new user would run it in an empty folder: five songs indexed, their WAV files and a noisy clip
 * written, and the clip recognised by `earshot identify` as the song the demo names; a second run refuses to write
 * over the folder.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { childEnv, runEarshot } from '../helpers/child-env.js'

t.test('earshot demo gives a first run something to recognise', async (t) => {
  const dir = t.testdir()
  const env = childEnv({}, ['EARSHOT_DB', 'EARSHOT_CONFIG'])
  const demo = await runEarshot(dir, ['demo', '--json'], env)
  t.equal(demo.code, 0, demo.stderr)
  const told = JSON.parse(demo.stdout) as { db: string, songs: Array<{ file: string, id: number, title: string, added: boolean }>, clip: { file: string, trackId: number } }
  t.equal(told.songs.length, 5)
  t.ok(told.songs.every((s) => s.added && fs.statSync(path.join(dir, s.file)).size > 44 + 2 * 22050 * 59), 'five songs indexed, each a minute of WAV')
  const id = await runEarshot(dir, ['identify', told.clip.file, '--json'], env)
  t.equal(id.code, 0, id.stderr)
  const answer = JSON.parse(id.stdout) as { matches: Array<{ id: number, offsetSeconds: number }> }
  t.equal(answer.matches[0]?.id, told.clip.trackId, 'the clip is recognised as the song the demo says')
  t.ok(Math.abs((answer.matches[0]?.offsetSeconds ?? -1) - 20) < 0.5, 'at the right place')
  const again = await runEarshot(dir, ['demo'], env)
  t.equal(again.code, 2, 'a second run does not write over the demo folder')
  t.match(again.stderr, /earshot-demo exists/)
})
