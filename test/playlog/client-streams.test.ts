/**
 * The play log of client streams: opt-in per session (hello.playLog with a streamId); a session without it leaves
 * no row.
 */
import t from 'tap'
import path from 'node:path'
import { once } from 'node:events'
import { connect } from '../../client-sdk/src/index.js'
import type { Play } from '../../server/src/playlog/play-log.js'
import { buildCatalog } from '../helpers/catalog.js'
import { clip, prng, song } from '../helpers/signals.js'
import { startServer, testSettings, toS16, within, writeChunks } from '../helpers/stream-helpers.js'

const RATE = 44100

t.test('a client stream with playLog files its plays under its streamId; one without files nothing', async (t) => {
  const { index } = buildCatalog(path.join(t.testdir(), 'db'), [3, 5], 30, RATE)
  t.teardown(() => index.close())
  const { url, http } = await startServer(t, 'ws', index, testSettings())
  const pcm = new Float32Array(RATE * 22)
  pcm.set(clip(song(3, 30, RATE), RATE, 4, 14), 0)
  pcm.set(clip(song(99, 30, RATE), RATE, 0, 8), RATE * 14)

  for (const [streamId, playLog] of [['kiosk-7', true], ['kiosk-8', false]] as const) {
    const client = await connect(url, { sampleRate: RATE, reconnect: false, streamId, playLog })
    await writeChunks(client, toS16(pcm), 1, prng(5))
    await client.flush()
    const closed = once(client, 'close')
    await client.close()
    await within(closed, 5000, 'close')
  }
  const plays = async (stream: string): Promise<Play[]> => ((await (await fetch(`${http}/v1/plays?stream=${stream}`)).json()) as { plays: Play[] }).plays
  const logged = await plays('kiosk-7')
  t.equal(logged.length, 1, 'one play for the opted-in stream')
  t.equal(logged[0].trackId, 1)
  t.equal(logged[0].kind, 'client')
  t.equal(logged[0].open, false, 'closed when the song ended')
  t.ok(Math.abs((logged[0].endStreamSeconds ?? 0) - 14) < 2, `ends at ${logged[0].endStreamSeconds} s (truth 14)`)
  t.same(await plays('kiosk-8'), [], 'nothing for the stream that did not opt in')
})

t.test('a station playing 3 % fast: one play, its speed, track offsets at that speed, times in stream seconds', async (t) => {
  const { index } = buildCatalog(path.join(t.testdir(), 'db'), [3, 5], 40, RATE)
  t.teardown(() => index.close())
  const { url, http } = await startServer(t, 'ws', index, testSettings())
  // Track 1 from its second 4 for 18 s of its audio, then 8 s of unknown music. Declared at 3 % above the rate it
  // was rendered at, the audio plays 3 % faster and higher (a turntable sped up): stream time is 1/1.03 of it.
  const speed = Math.round(RATE * 1.03) / RATE
  const pcm = new Float32Array(RATE * 26)
  pcm.set(clip(song(3, 40, RATE), RATE, 4, 18), 0)
  pcm.set(clip(song(99, 30, RATE), RATE, 0, 8), RATE * 18)
  const client = await connect(url, { sampleRate: Math.round(RATE * 1.03), reconnect: false, streamId: 'fast-fm', playLog: true })
  await writeChunks(client, toS16(pcm), 1, prng(5))
  await client.flush()
  const closed = once(client, 'close')
  await client.close()
  await within(closed, 5000, 'close')
  const { plays } = (await (await fetch(`${http}/v1/plays?stream=fast-fm`)).json()) as { plays: Play[] }
  t.equal(plays.length, 1, 'one play')
  const play = plays[0]
  t.equal(play.trackId, 1)
  t.ok(Math.abs(play.speed - 1.03) <= 0.005, `speed ${play.speed}`)
  const songEnds = 18 / speed // stream seconds
  t.ok(Math.abs((play.endStreamSeconds ?? 0) - songEnds) < 1.5, `ends at ${play.endStreamSeconds} s of stream (truth ${songEnds.toFixed(2)})`)
  // Where the play starts in the track: track second 4 plus 1.03 track seconds per stream second before it.
  const startTruth = 4 + speed * play.startStreamSeconds
  t.ok(Math.abs(play.startOffsetSeconds - startTruth) < 0.2, `starts at track second ${play.startOffsetSeconds} (truth ${startTruth.toFixed(2)})`)
  t.ok(play.startStreamSeconds < 1, `and at stream second ${play.startStreamSeconds}`)
})
