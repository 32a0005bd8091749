import t from 'tap'
import { SPEED_NOTE_FROM, speedNote } from '../../protocol/src/index.js'

t.test('a speed is told from 0.5 % away from 1, in tenths of a percent', async (t) => {
  t.equal(SPEED_NOTE_FROM, 0.005)
  const cases: Array<[number, string]> = [
    [1, ''],
    [1.004, ''],
    [0.996, ''],
    [1.005, '0.5 % fast'], // 0.00499… in floating point: still the 0.5 % it says
    [0.995, '0.5 % slow'],
    [1.021, '2.1 % fast'],
    [0.982, '1.8 % slow'],
    [1.05, '5.0 % fast'],
    [1.0214, '2.1 % fast'],
    [Number.NaN, ''],
    [Infinity, ''],
  ]
  for (const [speed, note] of cases) t.equal(speedNote(speed), note, `${speed}: ${JSON.stringify(note)}`)
  t.equal(speedNote(undefined as unknown as number), '', 'a message without speed (an older server): nothing')
})
