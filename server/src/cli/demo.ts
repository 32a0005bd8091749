/**
 * `earshot demo`: a first run with something to recognise. Five songs synthesised by earshot itself (demo/songs.ts:
 * no recording to license or download) are written as WAV files and indexed, with a clip of one of them under noise
 * to try: `earshot identify` on the clip, or the web page's Listen with a song played near the microphone.
 */
import fs from 'node:fs'
import path from 'node:path'
import { dbOption, jsonOption, type Command } from './command.js'
import { defaults, resolveDb } from '../config/defaults.js'
import { earshotError } from '../errors.js'
import { LmdbIndex } from '../index/lmdb-index.js'
import { fingerprintDigest } from '../index/digest.js'
import { fingerprint } from '../dsp/pipeline.js'
import { gaussian, prng, renderSong } from '../demo/songs.js'
import { out, outJson } from './terminal-text.js'
import { count } from './format.js'

const RATE = 22050
const SECONDS = 60
/** The demo's songs: fixed seeds, so every demo is the same music. */
const SEEDS = [1201, 1202, 1203, 1204, 1205]
const NAMES = ['Harbour Lights', 'Copper Stairs', 'Night Ferry', 'Paper Kites', 'Last Tram']
/** The clip to try: the third song from 20 s, for 8 s, with noise 6 dB under the music (a noisy room). */
const CLIP = { song: 2, from: 20, seconds: 8, snrDb: 6 }

/** Mono 16-bit PCM WAV. */
function wav (samples: Float32Array, rate: number): Buffer {
  const b = Buffer.alloc(44 + samples.length * 2)
  b.write('RIFF', 0)
  b.writeUInt32LE(36 + samples.length * 2, 4)
  b.write('WAVEfmt ', 8)
  b.writeUInt32LE(16, 16)
  b.writeUInt16LE(1, 20)
  b.writeUInt16LE(1, 22)
  b.writeUInt32LE(rate, 24)
  b.writeUInt32LE(rate * 2, 28)
  b.writeUInt16LE(2, 32)
  b.writeUInt16LE(16, 34)
  b.write('data', 36)
  b.writeUInt32LE(samples.length * 2, 40)
  for (let i = 0; i < samples.length; i++) b.writeInt16LE(Math.round(Math.max(-1, Math.min(1, samples[i])) * 32767), 44 + i * 2)
  return b
}

export const demoCommand: Command = {
  summary: 'A first run with something to recognise: five songs synthesised here, indexed, and a noisy clip of one to try',
  usage: '',
  positionals: [0, 0],
  options: {
    ...dbOption,
    out: { type: 'string', description: 'Folder for the songs and the clip (default ./earshot-demo)' },
    ...jsonOption,
  },
  async run (values) {
    const folder = (values.out as string | undefined) ?? 'earshot-demo'
    if (fs.existsSync(folder) && fs.readdirSync(folder).length > 0) throw earshotError('EAR_ERR_USAGE', `${folder} exists and is not empty; remove it or give --out`)
    const db = resolveDb(values.db as string | undefined)
    const index = LmdbIndex.open(db, defaults.fingerprint)
    const songs: Array<{ file: string, id: number, title: string, added: boolean }> = []
    let third: Float32Array | undefined
    try {
      fs.mkdirSync(folder, { recursive: true })
      for (const [i, seed] of SEEDS.entries()) {
        const pcm = renderSong(seed, SECONDS, RATE, {})
        if (i === CLIP.song) third = pcm
        const file = path.join(folder, `song-${i + 1}.wav`)
        fs.writeFileSync(file, wav(pcm, RATE))
        const list = fingerprint(defaults.fingerprint, pcm, RATE)
        const title = NAMES[i]
        const { track, added } = index.addTrack({ title, artist: 'earshot demo', album: 'earshot demo', durationSeconds: SECONDS, source: file, digest: fingerprintDigest(list) }, list)
        songs.push({ file, id: track.id, title: track.title, added })
      }
    } finally { await index.close() }
    // The clip: a stretch of one song with white noise at CLIP.snrDb under it.
    const clip = third!.slice(CLIP.from * RATE, (CLIP.from + CLIP.seconds) * RATE)
    let power = 0
    for (const x of clip) power += x * x
    const sigma = Math.sqrt(power / clip.length) / 10 ** (CLIP.snrDb / 20)
    const rand = prng(7)
    for (let i = 0; i < clip.length; i++) clip[i] += sigma * gaussian(rand)
    const clipFile = path.join(folder, 'clip.wav')
    fs.writeFileSync(clipFile, wav(clip, RATE))
    const answer = songs[CLIP.song]
    if (values.json === true) {
      outJson({ db, folder, songs, clip: { file: clipFile, trackId: answer.id, fromSeconds: CLIP.from, snrDb: CLIP.snrDb } })
      return 0
    }
    const added = songs.filter((s) => s.added).length
    out(`indexed ${count(added, 'demo song')} into ${db}${added < songs.length ? ` (${songs.length - added} there already)` : ''}; their WAV files are in ${folder}`)
    out(`try:  earshot identify ${clipFile} --db ${db}     (${CLIP.seconds} s of "${answer.title}" from ${CLIP.from} s, in noise)`)
    out(`or:   npm start, open http://127.0.0.1:8080/, press Listen and play ${path.join(folder, 'song-2.wav')} near the microphone`)
    return 0
  },
}
