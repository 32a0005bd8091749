/**
 * Worker-thread entry of the stream engines (stream/engines.ts): runs the sessions a server hands it, on its own
 * read-only view of the memory-mapped index, and sends their results back. Messages are answered in the order they
 * came, so a `flush` or `close` answer follows every result of the audio before it.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { PcmFormat } from '../../../protocol/src/index.js'
import type { Settings } from '../config/defaults.js'
import { Identifier } from '../match/identify.js'
import { LmdbIndex } from '../index/lmdb-index.js'
import { StreamSession } from './session.js'
import type { EngineReply, EngineRequest, EngineWorkerData } from './engine-messages.js'

const { dir, settings } = workerData as EngineWorkerData
const port = parentPort
if (!port) throw new Error('engine-worker.ts runs in a worker thread')
const sessions = new Map<number, StreamSession>()

function reply (m: EngineReply): void { port?.postMessage(m) }

/** The index, opened again by the next session when it could not be (its sessions fail with the reason meanwhile). */
let index: LmdbIndex | undefined
function theIndex (): LmdbIndex {
  // The server checked the file's pages when it opened it: walking them again cost each engine a second.
  index ??= LmdbIndex.open(dir, settings.fingerprint, { readOnly: true, checked: true })
  return index
}
try { theIndex() } catch {} // told to each session that opens while it cannot be opened

let identifier: Identifier | undefined
let lookupSeconds = 0
function identify (id: number, samples: Float32Array, sampleRate: number): EngineReply {
  if (!identifier) {
    identifier = new Identifier(theIndex(), settings)
    identifier.onResult = (_, seconds) => { lookupSeconds = seconds }
  }
  return { t: 'identified', id, result: identifier.identify(samples, sampleRate), lookupSeconds }
}
reply({ t: 'ready' })

/** The sequence number of the write being processed: results name it, so that the server can time them. */
let currentSeq = 0

function open (id: number, format: PcmFormat, s: Settings): void {
  sessions.set(id, new StreamSession(theIndex(), s, format, {
    match: (e) => reply({ t: 'match', id, seq: currentSeq, e }),
    matchEnd: (e) => reply({ t: 'end', id, seq: currentSeq, e }),
  }, (hashes, lookups, postings, seconds) => reply({ t: 'tick', id, hashes, lookups, postings, seconds })))
}

port.on('message', (m: EngineRequest) => {
  const session = sessions.get(m.id)
  try {
    switch (m.t) {
      case 'open': open(m.id, m.format, settings); break
      case 'write':
        currentSeq = m.seq
        session?.write(new Uint8Array(m.pcm))
        break
      case 'flush': currentSeq = m.seq; session?.flush(); reply({ t: 'flushed', id: m.id }); break
      case 'close': sessions.delete(m.id); reply({ t: 'closed', id: m.id }); break
      case 'identify': reply(identify(m.id, m.samples, m.sampleRate)); break
    }
  } catch (err) {
    // This session only: a damaged index page or a bug ends it, the other sessions of the worker go on.
    sessions.delete(m.id)
    const e = err as Error & { code?: string }
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '' // LMDB's reason, for /health
    reply({ t: 'fault', id: m.id, code: e.code, message: e.message + cause, stack: e.stack })
  }
})
