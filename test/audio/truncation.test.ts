import t from 'tap'
import { truncation } from '../../server/src/audio/truncation.js'

/** A PCM WAV header (44 bytes) declaring `dataBytes` of 16-bit mono at `rate`, followed by `present` zero bytes. */
function wav (dataBytes: number, present: number, rate = 8000): Uint8Array {
  const b = Buffer.alloc(44 + present)
  b.write('RIFF', 0, 'latin1'); b.writeUInt32LE((36 + dataBytes) >>> 0, 4); b.write('WAVE', 8, 'latin1')
  b.write('fmt ', 12, 'latin1'); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22)
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34)
  b.write('data', 36, 'latin1'); b.writeUInt32LE(dataBytes >>> 0, 40)
  return b
}

/** An Ogg page: capture pattern, version 0, header type, and one segment of `body` bytes. */
function oggPage (type: number, body: number): Buffer {
  const b = Buffer.alloc(28 + body)
  b.write('OggS', 0, 'latin1'); b[4] = 0; b[5] = type; b[26] = 1; b[27] = body
  return b
}

t.test('WAV: the data chunk size against the decoded seconds', async (t) => {
  t.equal(truncation(wav(16000, 16000), 1, undefined), undefined, 'whole: 1 s declared, 1 s decoded')
  t.equal(truncation(wav(160000, 80000), 5, 10), '5.0 s of audio where the header declares 10.0 s', 'half: the header is read, not music-metadata\'s length')
  t.equal(truncation(wav(160000, 159000), 9.94, undefined), undefined, 'within the slack (1% or 0.5 s)')
  t.equal(truncation(wav(0xffffffff, 8000), 0.5, undefined), undefined, 'a streamed WAV declares nothing')
  t.equal(truncation(wav(0, 8000), 0.5, undefined), undefined, 'nor does a size of 0')
})

t.test('other containers: the length music-metadata read', async (t) => {
  const flac = Buffer.from('fLaC\x00\x00\x00\x22', 'latin1')
  t.equal(truncation(flac, 30, 30), undefined)
  t.equal(truncation(flac, 17.9, 30), '17.9 s of audio where the header declares 30.0 s')
  t.equal(truncation(flac, 17.9, undefined), undefined, 'no declared length: nothing to compare')
  t.equal(truncation(flac, 3590, 3600), undefined, 'an hour may fall 36 s short (FLAC\'s chunked decoder drops tiny frames of silence)')
})

t.test('Ogg: the last page must be whole and flagged end-of-stream', async (t) => {
  const first = oggPage(2, 30)
  t.equal(truncation(Buffer.concat([first, oggPage(0, 100), oggPage(4, 50)]), 1, undefined), undefined, 'ends with an EOS page')
  t.equal(truncation(Buffer.concat([first, oggPage(0, 100)]), 1, undefined), 'the Ogg stream stops before its last page', 'no EOS page')
  t.equal(truncation(Buffer.concat([first, oggPage(4, 50)]).subarray(0, 60), 1, undefined), 'the Ogg stream stops before its last page', 'the EOS page cut')
})
