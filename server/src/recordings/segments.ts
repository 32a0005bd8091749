/**
 * Long recordings (an hour of a station's air, a DJ set, a podcast): every recognised segment, with its start and
 * end in the recording, its track, where in the track it starts, its confidence and its speed.
 *
 * A recording is matched as a live stream is, by a StreamSession fed as fast as it decodes: the stream matcher
 * already decides when a song is confirmed, when it ends and when another takes over, so a recording's segments are
 * what the play log would file had the recording been aired. The rules are the play recorder's
 * (playlog/play-recorder.ts) without its wall clock: a first `confirmed` match opens a segment at its first
 * evidence; a match's end closes it at its last evidence; a confirmed match of another track closes the open one
 * where the new one starts; tentative matches file nothing.
 *
 * The work runs in this thread in slices: it gives the event loop a turn every SLICE_MS, so a server stays
 * responsive while a job runs (an hour of 44.1 kHz stereo MP3 takes about 30 s of CPU, 9 of them decoding: bench:segments).
 */
import { setImmediate as nextTurn } from 'node:timers/promises'
import { decodeStream } from '../audio/decode.js'
import type { Settings } from '../config/defaults.js'
import { earshotError } from '../errors.js'
import { catalogFields, type CatalogFields } from '../index/track-metadata.js'
import type { Index, Track } from '../index/types.js'
import { round } from '../round.js'
import { StreamSession, type SessionListener, type SessionMatch, type SessionMatchEnd } from '../stream/session.js'

/** A track heard in a recording; with its track's ISRC, external id and labels when it has them. */
export interface Segment extends CatalogFields {
  /** Seconds into the recording where the track starts being heard. */
  startSeconds: number
  /** Seconds into the recording where it was last heard. */
  endSeconds: number
  trackId: number
  title: string
  artist: string
  album: string
  /** Where in the track the segment starts, in track seconds. */
  offsetSeconds: number
  /** The highest confidence its matches reached, 0..1. */
  confidence: number
  /** Track seconds per recording second (1.03: played 3 % fast). */
  speed: number
}

/** A recording to examine: encoded bytes (any container earshot decodes) or mono PCM already. */
export type Recording =
  | { bytes: Uint8Array, name: string }
  | { samples: Float32Array, sampleRate: number }

export interface SegmentOptions {
  /** Told of each segment as soon as it is closed (a long job shows them as it goes). */
  onSegment?: (s: Segment) => void
  /** Told of the seconds of audio examined so far, at most every slice. */
  onProgress?: (audioSeconds: number) => void
  /** Stops the work: the promise rejects with the signal's reason. */
  signal?: AbortSignal
}

export interface SegmentResult {
  segments: Segment[]
  /** Seconds of audio examined. */
  audioSeconds: number
  /** The recording goes on past `maxSeconds`: only its start was examined. */
  cut: boolean
  /** Why decoding stopped early on damaged data, after the audio it gave; null when it ran to its end. */
  damaged: string | null
}

/** Work done between two turns of the event loop, in ms. */
const SLICE_MS = 20
/** Samples handed to the session per write: a second at 44.1 kHz. */
const WRITE_SAMPLES = 44_100

/** Collects a session's segments by the play recorder's rules (see the header). */
export class SegmentList implements SessionListener {
  readonly segments: Segment[] = []
  readonly #onSegment: ((s: Segment) => void) | undefined
  #open: { track: Track, start: number, startOffset: number, peak: number, speed: number } | undefined

  constructor (onSegment?: (s: Segment) => void) {
    this.#onSegment = onSegment
  }

  match (m: SessionMatch): void {
    const open = this.#open
    if (open !== undefined && open.track.id === m.track.id) {
      open.peak = Math.max(open.peak, m.confidence)
      if (m.state === 'confirmed') open.speed = m.speed
      return
    }
    if (m.state !== 'confirmed') return
    if (open !== undefined) this.#close(m.startSeconds)
    // The track advanced speed × the recording seconds since the first evidence.
    this.#open = { track: m.track, start: m.startSeconds, startOffset: m.offsetSeconds - m.speed * (m.streamSeconds - m.startSeconds), peak: m.confidence, speed: m.speed }
  }

  matchEnd (m: SessionMatchEnd): void {
    if (this.#open?.track.id === m.trackId) this.#close(m.endSeconds, m.startSeconds)
  }

  /** The recording is over: close the open segment where it ends. */
  finish (endSeconds: number): void {
    this.#close(endSeconds)
  }

  /** Close the open segment at `end`, with the match end's firmer start when it gives one. */
  #close (end: number, firmerStart?: number): void {
    const open = this.#open
    if (open === undefined) return
    this.#open = undefined
    const start = firmerStart !== undefined && firmerStart < end ? firmerStart : open.start
    const t = open.track
    const segment: Segment = {
      startSeconds: round(start, 2),
      endSeconds: round(Math.max(end, start), 2),
      trackId: t.id,
      title: t.title,
      artist: t.artist,
      album: t.album,
      ...catalogFields(t),
      offsetSeconds: round(open.startOffset + open.speed * (start - open.start), 2),
      confidence: round(open.peak, 3),
      speed: round(open.speed, 3),
    }
    this.segments.push(segment)
    this.#onSegment?.(segment)
  }
}

/**
 * Every recognised segment of a recording, in order, examining at most its first `maxSeconds`.
 * Throws EAR_ERR_NOT_AUDIO and friends as identify does; rejects with the signal's reason when aborted.
 */
export async function findSegments (index: Index, settings: Settings, recording: Recording, maxSeconds: number, o: SegmentOptions = {}): Promise<SegmentResult> {
  const list = new SegmentList(o.onSegment)
  let session: StreamSession | undefined
  let sliceStart = performance.now()
  /** The session for the recording's rate, made with its first audio. */
  const sessionFor = (sampleRate: number): StreamSession => {
    session ??= new StreamSession(index, settings, { sampleRate, encoding: 'f32le', channels: 1 }, list)
    return session
  }
  const write = (samples: Float32Array, sampleRate: number): void => {
    const s = sessionFor(sampleRate)
    for (let at = 0; at < samples.length; at += WRITE_SAMPLES) {
      const piece = samples.subarray(at, Math.min(samples.length, at + WRITE_SAMPLES))
      s.write(new Uint8Array(piece.buffer, piece.byteOffset, piece.byteLength))
    }
  }
  /** A turn for the event loop once a slice of work is done; the abort is seen there. */
  const pace = async (): Promise<void> => {
    if (performance.now() - sliceStart < SLICE_MS) return
    o.onProgress?.(session?.streamSeconds ?? 0)
    await nextTurn()
    o.signal?.throwIfAborted()
    sliceStart = performance.now()
  }
  o.signal?.throwIfAborted()
  let cut = false
  let damaged: string | null = null
  if ('samples' in recording) {
    const max = Math.min(recording.samples.length, Math.round(maxSeconds * recording.sampleRate))
    cut = max < recording.samples.length
    for (let at = 0; at < max; at += WRITE_SAMPLES) {
      write(recording.samples.subarray(at, Math.min(max, at + WRITE_SAMPLES)), recording.sampleRate)
      await pace()
    }
  } else {
    const summary = await decodeStream(recording.bytes, recording.name, maxSeconds, write, { ffmpegPath: settings.ffmpegPath, pace })
    cut = summary.cut
    damaged = summary.damaged ?? null
  }
  if (session === undefined) throw earshotError('EAR_ERR_AUDIO_TOO_SHORT', '0 s of audio')
  session.flush()
  list.finish(session.streamSeconds)
  o.onProgress?.(session.streamSeconds)
  return { segments: list.segments, audioSeconds: round(session.streamSeconds, 2), cut, damaged }
}
