import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { namesFromFileName, readHeaders } from '../../server/src/audio/tags.js'

t.test('titles and artists from file names without tags', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['/music/01 - Example Artist - Harbour Lights.flac', 'Example Artist', 'Harbour Lights'],
    ['Example Artist - Harbour Lights.mp3', 'Example Artist', 'Harbour Lights'],
    ['07. Harbour Lights.ogg', '', 'Harbour Lights'],
    ['3) Harbour Lights.wav', '', 'Harbour Lights'],
    ['03 Harbour Lights.opus', '', 'Harbour Lights'],
    ['99 Luftballons.mp3', '', '99 Luftballons'],
    ['1999.mp3', '', '1999'],
    ['12_-_Some_Band_-_A_Song.mp3', 'Some Band', 'A Song'],
    ['Band - Song - Live at Home.flac', 'Band', 'Song - Live at Home'],
    ['Harbour-Lights.wav', '', 'Harbour-Lights'],
    ['aztec.ogg', '', 'aztec'],
  ]
  for (const [file, artist, title] of cases) t.same(namesFromFileName(file), { artist, title }, file)
})

const haveFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0

t.test('the ISRC from tags: FLAC\'s Vorbis comment and MP3\'s TSRC, normalised; one that is not an ISRC is skipped with a warning', { skip: haveFfmpeg ? false : 'needs ffmpeg' }, async (t) => {
  const dir = t.testdir()
  const make = (name: string, tags: string[]): Uint8Array => {
    const file = path.join(dir, name)
    const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', ...tags.flatMap((x) => ['-metadata', x]), file])
    if (r.status !== 0) throw new Error(`ffmpeg: ${r.stderr.toString()}`)
    return fs.readFileSync(file)
  }
  const flac = await readHeaders(make('a.flac', ['ISRC=us-rc1-76-07839', 'title=Harbour Lights']), 'a.flac')
  t.equal(flac.tags.isrc, 'USRC17607839', 'FLAC: dashes and case normalised')
  t.equal(flac.tags.title, 'Harbour Lights')
  t.same(flac.warnings, [])
  const mp3 = await readHeaders(make('b.mp3', ['TSRC=GBAYE0601498']), 'b.mp3')
  t.equal(mp3.tags.isrc, 'GBAYE0601498', 'MP3: ID3 TSRC')
  const bad = await readHeaders(make('c.flac', ['ISRC=not-an-isrc']), 'c.flac')
  t.equal(bad.tags.isrc, undefined, 'a tag that is not an ISRC gives none')
  t.match(bad.warnings, [/the ISRC tag: "not-an-isrc" is not an ISRC/], 'and says why')
  const none = await readHeaders(make('d.flac', []), '01 - Example Artist - Salt Roads.flac')
  t.equal(none.tags.isrc, undefined, 'no tag, no ISRC')
  t.same(none.warnings, [])
})
