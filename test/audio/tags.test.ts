import t from 'tap'
import { namesFromFileName } from '../../server/src/audio/tags.js'

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
