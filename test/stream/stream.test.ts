import t from 'tap'
import path from 'node:path'
import { Metrics } from '../../server/src/metrics/metrics.js'
import { matchEndMessage, matchMessage } from '../../server/src/stream/messages.js'
import type { SessionMatch, SessionMatchEnd } from '../../server/src/stream/session.js'
import { Stream, type StreamListener } from '../../server/src/stream/stream.js'
import { buildCatalog } from '../helpers/catalog.js'
import { clip } from '../helpers/signals.js'
import { testSettings, toS16 } from '../helpers/stream-helpers.js'

// A Stream on a real index: typed results with exact times go to every listener, in order, and to the metrics.

interface Heard { matches: SessionMatch[], ends: SessionMatchEnd[], audio: number[], closes: number[] }

function listener (): StreamListener & { heard: Heard } {
  const heard: Heard = { matches: [], ends: [], audio: [], closes: [] }
  return {
    heard,
    match: (e) => heard.matches.push(e),
    matchEnd: (e) => heard.ends.push(e),
    audio: (s) => heard.audio.push(s),
    close: (s) => heard.closes.push(s),
  }
}

async function value (metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name)
  const want = Object.entries(labels)
  const v = m?.values.find((x) => want.every(([k, l]) => (x.labels as Record<string, unknown>)[k] === l))
  return Number(v?.value ?? 0)
}

t.test('two songs in a row: every listener hears the same typed results; the metrics count them', async (t) => {
  const catalog = buildCatalog(path.join(t.testdir(), 'db'), [3, 5, 7, 11], 30)
  t.teardown(() => catalog.index.close())
  const metrics = new Metrics()
  const a = listener()
  const b = listener()
  const stream = new Stream({
    index: catalog.index,
    settings: testSettings(),
    format: { sampleRate: catalog.rate, encoding: 's16le', channels: 1 },
    labels: { transport: 'test', kind: 'client' },
    metrics,
    listeners: [a, b],
  })
  const first = catalog.songs.get(1) as Float32Array
  const second = catalog.songs.get(3) as Float32Array
  const audio = [clip(first, catalog.rate, 2, 12), clip(second, catalog.rate, 5, 12)]
  // Chunks of 0.25 s, as a client sends them.
  const chunk = Math.round(catalog.rate / 4)
  for (const part of audio) {
    const pcm = toS16(part)
    for (let at = 0; at < pcm.length; at += chunk) {
      const bytes = new Uint8Array(pcm.buffer, at * 2, Math.min(chunk, pcm.length - at) * 2)
      t.equal(stream.check(bytes), undefined)
      stream.write(bytes)
    }
  }
  stream.flush()
  stream.flush()
  stream.close('normal')
  stream.close('normal')

  t.same(b.heard, a.heard, 'both listeners heard the same, in the same order')
  const { matches, ends, audio: seconds, closes } = a.heard
  t.equal(seconds.length, Math.ceil(12 * catalog.rate / chunk) * 2, 'audio: once per chunk')
  t.ok(seconds.every((s, i) => i === 0 || s > seconds[i - 1]), 'audio: stream time only grows')
  t.ok(Math.abs(seconds.at(-1)! - 24) < 0.01, `audio: ends at 24 s (${seconds.at(-1)})`)
  t.same(closes, [stream.streamSeconds], 'close: once, at the end of the audio')

  const confirmed = matches.filter((m) => m.state === 'confirmed')
  t.same([...new Set(confirmed.map((m) => m.track.id))], [1, 3], 'the two songs confirmed, in order')
  for (const m of matches) {
    t.same(m.track, catalog.index.getTrack(m.track.id), 'the index\'s track record')
    t.ok(m.startSeconds <= m.streamSeconds, 'first evidence before the report')
  }
  const one = confirmed.find((m) => m.track.id === 1)!
  const three = confirmed.find((m) => m.track.id === 3)!
  t.ok(Math.abs(one.offsetSeconds - (2 + one.streamSeconds)) < 0.25, `song 1 at ${one.offsetSeconds} s, ${one.streamSeconds} s into the stream`)
  t.ok(Math.abs(three.offsetSeconds - (5 + three.streamSeconds - 12)) < 0.25, `song 3 at ${three.offsetSeconds} s, ${three.streamSeconds} s into the stream`)
  t.ok(three.startSeconds >= 10 && three.startSeconds < 14, `song 3's first evidence near the change (${three.startSeconds} s)`)
  t.ok(matches.some((m) => m.streamSeconds !== Math.round(m.streamSeconds * 100) / 100), 'times are exact, not rounded for the wire')

  const end = ends.find((e) => e.trackId === 1)
  t.ok(end, 'song 1 ended')
  t.ok(end!.endSeconds > 10 && end!.endSeconds <= 12.5, `at the change (${end!.endSeconds} s)`)
  t.ok(ends.every((e) => e.startSeconds <= e.endSeconds), 'each end after its start')

  // The wire's rounding, in one place.
  const m = matchMessage(one)
  t.same(m, {
    type: 'match', state: 'confirmed', id: 1, title: one.track.title, artist: one.track.artist, album: one.track.album, source: one.track.source,
    confidence: Math.round(one.confidence * 1000) / 1000,
    offsetSeconds: Math.round(one.offsetSeconds * 100) / 100,
    speed: Math.round(one.speed * 1000) / 1000,
    streamSeconds: Math.round(one.streamSeconds * 100) / 100,
    startedAtStreamSeconds: Math.round(one.startSeconds * 100) / 100,
  })
  t.same(matchEndMessage(end!), { type: 'match-end', id: 1, startedAtStreamSeconds: Math.round(end!.startSeconds * 100) / 100, endedAtStreamSeconds: Math.round(end!.endSeconds * 100) / 100 })

  // Metrics: what was heard, counted once.
  t.equal(await value(metrics, 'earshot_matches_confirmed_total'), 2, 'two confirmed')
  t.equal(await value(metrics, 'earshot_match_ends_total'), ends.length, 'every end')
  t.equal(await value(metrics, 'earshot_sessions_active', { kind: 'client' }), 0, 'closed once')
  t.equal(await value(metrics, 'earshot_sessions_closed_total', { reason: 'normal' }), 1)
  t.ok(Math.abs(await value(metrics, 'earshot_audio_seconds_total', { kind: 'client' }) - 24) < 0.01, 'audio seconds')
})

t.test('a monitor\'s stream has no push latency; a client\'s has one per update', async (t) => {
  const catalog = buildCatalog(path.join(t.testdir(), 'db'), [3, 5], 20)
  t.teardown(() => catalog.index.close())
  const run = async (kind: 'client' | 'monitor'): Promise<{ updates: number, latencies: number }> => {
    const metrics = new Metrics()
    const heard = listener()
    const stream = new Stream({
      index: catalog.index,
      settings: testSettings(),
      format: { sampleRate: catalog.rate, encoding: 's16le', channels: 1 },
      labels: kind === 'client' ? { transport: 'test', kind } : { transport: 'pull', kind, monitor: { id: 'm1', label: 'one' } },
      metrics,
      listeners: [heard],
    })
    stream.write(new Uint8Array(toS16(clip(catalog.songs.get(1) as Float32Array, catalog.rate, 3, 10)).buffer))
    stream.close('normal')
    const histogram = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === 'earshot_push_latency_seconds')
    const count = histogram?.values.find((v) => (v as { metricName?: string }).metricName === 'earshot_push_latency_seconds_count')
    return { updates: heard.heard.matches.length + heard.heard.ends.length, latencies: Number(count?.value ?? 0) }
  }
  const client = await run('client')
  t.ok(client.updates > 0, 'the client heard updates')
  t.equal(client.latencies, client.updates, 'one latency per update')
  const monitor = await run('monitor')
  t.ok(monitor.updates > 0, 'the monitor heard updates')
  t.equal(monitor.latencies, 0, 'none for a monitor')
})

// The stream matcher looks hashes up in ticks of frames, and the session advances it after each piece of audio it
// converts: results must not depend on how the client cut the audio, at a phone's rate (a piece of 1024 samples at
// 16 kHz is almost three frames) as at 44.1 kHz.
for (const rate of [44100, 16000]) {
  t.test(`${rate} Hz: the same audio written in pieces of any size gives the same results`, async (t) => {
    const catalog = buildCatalog(path.join(t.testdir(), 'db'), [3, 5, 7], 30, rate)
    t.teardown(() => catalog.index.close())
    const pcm = toS16(new Float32Array([...clip(catalog.songs.get(1) as Float32Array, rate, 4, 9), ...clip(catalog.songs.get(2) as Float32Array, rate, 10, 9)]))
    const run = (samplesPerWrite: number): { matches: SessionMatch[], ends: SessionMatchEnd[] } => {
      const heard = listener()
      const stream = new Stream({ index: catalog.index, settings: testSettings(), format: { sampleRate: rate, encoding: 's16le', channels: 1 }, labels: { transport: 'test', kind: 'client' }, listeners: [heard] })
      for (let at = 0; at < pcm.length; at += samplesPerWrite) stream.write(new Uint8Array(pcm.buffer, at * 2, Math.min(samplesPerWrite, pcm.length - at) * 2))
      stream.flush()
      // Stream seconds say when a result was sent, which follows the writes; everything else must not. The track
      // position is carried forward to that moment at the match's speed: compare it carried back to stream second 0.
      const matches = heard.heard.matches.map((m) => ({ ...m, streamSeconds: 0, offsetSeconds: Math.round((m.offsetSeconds - m.speed * m.streamSeconds) * 1e6) }))
      return { matches, ends: heard.heard.ends }
    }
    const whole = run(pcm.length)
    t.ok(whole.matches.some((m) => m.state === 'confirmed' && m.track.id === 1), 'song 1 confirmed')
    t.ok(whole.matches.some((m) => m.state === 'confirmed' && m.track.id === 2), 'song 2 confirmed')
    for (const size of [4096, 1000, 333, 57]) t.same(run(size), whole, `writes of ${size} samples`)
  })
}
