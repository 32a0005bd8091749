/**
 * The CLI's words for people, as units: counts, sizes and durations (format.ts), "did you mean" (suggest.ts) and
 * the lines `earshot stream` prints of a session's events (stream.ts).
 */
import t from 'tap'
import { clock, count, formatBytes, length } from '../../server/src/cli/format.js'
import { closest, didYouMean, editDistance } from '../../server/src/cli/suggest.js'
import { eventPrinter } from '../../server/src/cli/stream.js'

t.test('counts, sizes and durations', async (t) => {
  t.same([count(0, 'track'), count(1, 'track'), count(2, 'track'), count(1, 'match', 'matches'), count(3, 'match', 'matches')],
    ['0 tracks', '1 track', '2 tracks', '1 match', '3 matches'])
  t.same([0, 1, 999, 1000, 1234, 99_949, 123_456, 999_499, 999_500, 1_200_000_000, 3.4e12].map(formatBytes),
    ['0 bytes', '1 byte', '999 bytes', '1.0 kB', '1.2 kB', '99.9 kB', '123 kB', '999 kB', '1.0 MB', '1.2 GB', '3.4 TB'])
  t.same([0, 8, 59.99, 60, 113.6, 119.6, 3599.9, 3600, 3725.2].map(clock),
    ['0:00', '0:08', '0:59', '1:00', '1:53', '1:59', '59:59', '1:00:00', '1:02:05'], 'positions: whole seconds cut, as the web page counts them; never 1:60')
  t.same([0, 7.6, 59.6, 113.4, 113.6, 3599.6].map(length),
    ['0:00', '0:08', '1:00', '1:53', '1:54', '1:00:00'], 'lengths: rounded to the nearest second, as the web page shows them; never 0:60')
})

t.test('did you mean', async (t) => {
  t.equal(editDistance('kitten', 'sitting'), 3)
  t.equal(editDistance('', 'abc'), 3)
  t.equal(editDistance('same', 'same'), 0)
  const commands = ['stream', 'index', 'identify', 'tracks', 'stats', 'serve', 'monitor', 'plays']
  t.equal(closest('strem', commands), 'stream')
  t.equal(closest('idnetify', commands), 'identify', 'a swap is two edits, near enough in a long word')
  t.equal(closest('Plays', commands), 'plays', 'any case')
  t.equal(closest('mon', commands), 'monitor', 'the start of a word')
  t.equal(closest('xyz', commands), undefined, 'nothing near')
  t.equal(closest('s', commands), undefined, 'one letter suggests nothing')
  t.equal(didYouMean('realtim', ['realtime', 'json'], (f) => `--${f}`), ' (did you mean --realtime?)')
  t.equal(didYouMean('qqq', ['realtime']), '')
})

t.test('earshot stream lines: ends name the track, and a candidate never confirmed prints no end', async (t) => {
  const lines: string[] = []
  const print = eventPrinter('clip.wav', { json: false, out: (l) => lines.push(l) })
  const match = (id: number, state: string, at: number, title: string) =>
    print({ type: 'match', state, id, title, artist: id === 2 ? 'Band' : '', album: '', confidence: 0.8, offsetSeconds: at + 10, speed: 1, streamSeconds: at, startedAtStreamSeconds: at - 1 })
  match(1, 'tentative', 1.5, 'wrong song')
  match(2, 'tentative', 2.5, 'right song')
  // The wrong candidate ends where its last vote was, before the line above: nothing is printed.
  print({ type: 'match-end', id: 1, startedAtStreamSeconds: 0.5, endedAtStreamSeconds: 1.6 })
  match(2, 'confirmed', 3.0, 'right song')
  match(2, 'confirmed', 9.0, 'right song')
  // A confirmed match that ends before the last line printed is told at that line's time, never earlier.
  print({ type: 'match-end', id: 2, startedAtStreamSeconds: 1.5, endedAtStreamSeconds: 8.7 })
  t.same(lines, [
    '[1.5 s] tentative #1 wrong song at 11.5 s (confidence 0.80)',
    '[2.5 s] tentative #2 Band - right song at 12.5 s (confidence 0.80)',
    '[3.0 s] confirmed #2 Band - right song at 13.0 s (confidence 0.80)',
    '[9.0 s] confirmed #2 Band - right song at 19.0 s (confidence 0.80)',
    '[9.0 s] ended #2 Band - right song (played from 1.5 s to 8.7 s)',
  ])

  const json: string[] = []
  const printJson = eventPrinter('clip.wav', { json: true, out: (l) => json.push(l) })
  printJson({ type: 'match-end', id: 1, startedAtStreamSeconds: 0.5, endedAtStreamSeconds: 1.6 })
  t.same(json.map((l) => JSON.parse(l) as unknown), [{ input: 'clip.wav', type: 'match-end', id: 1, startedAtStreamSeconds: 0.5, endedAtStreamSeconds: 1.6 }],
    '--json prints every message of the protocol, one object per line')
})

t.test('one server address: http or ws, with or without the stream path, from --server or EARSHOT_SERVER', async (t) => {
  const { serverAddress } = await import('../../server/src/cli/api-client.js')
  const of = (server: string | undefined, env: NodeJS.ProcessEnv = {}) => serverAddress({ server }, env)
  t.same(of(undefined), { http: 'http://127.0.0.1:8080', ws: 'ws://127.0.0.1:8080/v1/stream' }, 'the default')
  t.same(of(undefined, { EARSHOT_SERVER: 'http://radio:9000' }), { http: 'http://radio:9000', ws: 'ws://radio:9000/v1/stream' }, 'EARSHOT_SERVER')
  t.same(of('ws://a:1', { EARSHOT_SERVER: 'http://radio:9000' }), { http: 'http://a:1', ws: 'ws://a:1/v1/stream' }, '--server over EARSHOT_SERVER')
  for (const given of ['ws://a:1', 'ws://a:1/', 'ws://a:1/v1/stream', 'http://a:1', 'http://a:1/v1/stream/']) {
    t.same(of(given), { http: 'http://a:1', ws: 'ws://a:1/v1/stream' }, given)
  }
  for (const given of ['wss://a.example', 'https://a.example/']) {
    t.same(of(given), { http: 'https://a.example', ws: 'wss://a.example/v1/stream' }, `${given}: TLS both ways`)
  }
  t.same(of('https://proxy.example/earshot/'), { http: 'https://proxy.example/earshot', ws: 'wss://proxy.example/earshot/v1/stream' }, 'a path is kept as a prefix')
  for (const bad of ['ftp://a', 'a:8080', 'localhost', 'http://a:1/?x=1', 'http://u:p@a:1']) {
    t.throws(() => of(bad), { code: 'EAR_ERR_USAGE' }, bad)
  }
  t.throws(() => of(undefined, { EARSHOT_SERVER: 'nope' }), /EARSHOT_SERVER must be an address like/, 'the variable is named when it is wrong')
})
