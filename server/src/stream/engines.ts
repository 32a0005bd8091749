/**
 * Stream engines: worker threads that fingerprint and match streams, so that every core works for them while this
 * thread keeps the sockets, the HTTP API and the server's state (play log, webhooks, monitors: one writer).
 *
 *   socket -> Stream (this thread) -> RemoteSession --audio--> engine worker: StreamSession on a read-only index
 *                                                    <-results-
 *
 * A session stays on the engine it was opened on, the one with the fewest sessions then. An engine that dies is
 * replaced, and its sessions are opened again on the new one: they go on with the audio that follows, their stream
 * times carried on (the evidence the dead engine held is lost, a few seconds of it).
 */
import { Worker } from 'node:worker_threads'
import { errorFromServer, type PcmFormat } from '../../../protocol/src/index.js'
import { frameBytesOf } from '../audio/pcm-to-mono.js'
import type { Settings } from '../config/defaults.js'
import type { IdentifyResult } from '../match/identify.js'
import type { Logger } from '../log.js'
import type { EngineReply, EngineRequest, EngineWorkerData } from './engine-messages.js'
import type { SessionMatch, SessionMatchEnd } from './session.js'

/** Who hears a remote session: its results with the sequence number of the write that decided them. */
export interface RemoteListener {
  match (e: SessionMatch, seq: number): void
  matchEnd (e: SessionMatchEnd, seq: number): void
  tick? (hashes: number, lookups: number, postings: number, seconds: number): void
  /** The engine could not process the session's audio (a damaged index page, a bug): the session is over. */
  fault (err: Error): void
}

/** An engine that died this soon after it started is not replaced at once: something is wrong with all of them. */
const MIN_LIFE_MS = 1000

/** An identify request waiting for its engine. */
interface PendingIdentify { resolve: (a: { result: IdentifyResult, lookupSeconds: number }) => void, reject: (err: Error) => void }

class Engine {
  worker: Worker
  readonly sessions = new Map<number, RemoteSession>()
  readonly identifies = new Map<number, PendingIdentify>()
  startedAt = Date.now()
  restarts = 0
  /** Resolves once the engine has started (its index opened, or the reason it could not be kept for its sessions). */
  started: Promise<void> = Promise.resolve()
  /** Told once a replacement runs the sessions again. */
  onReplaced: (() => void) | undefined

  constructor (readonly slot: number, private readonly spawn: () => Worker) {
    this.worker = this.#start()
  }

  #start (): Worker {
    const w = this.spawn()
    this.started = new Promise((resolve) => {
      const ready = (m: EngineReply): void => { if (m.t === 'ready') { w.off('message', ready); resolve() } }
      w.on('message', ready)
      w.once('exit', () => resolve())
    })
    return w
  }

  post (m: EngineRequest, transfer?: ArrayBuffer[]): void { this.worker.postMessage(m, transfer) }

  respawn (): void {
    this.worker = this.#start()
    this.startedAt = Date.now()
    this.restarts++
  }
}

export class RemoteSession {
  readonly format: PcmFormat
  readonly #engine: Engine
  readonly #listener: RemoteListener
  readonly #bytesPerSecond: number
  /** Stream seconds received before the current engine opened the session (after an engine was replaced). */
  #base = 0
  #seq = 0
  #flushed = false
  /** Waiting for the engine's answer to flush (the final results come before it). */
  #afterFlush: Array<() => void> | undefined
  #afterClose: (() => void) | undefined
  /** close() was called. */
  #closing = false
  /** The engine is done with the session (closed, or failed): nothing more will come from it. */
  #done = false
  #bytes = 0

  constructor (readonly id: number, engine: Engine, format: PcmFormat, listener: RemoteListener) {
    this.format = format
    this.#engine = engine
    this.#listener = listener
    this.#bytesPerSecond = frameBytesOf(format) * format.sampleRate
    engine.sessions.set(id, this)
    engine.post({ t: 'open', id, format })
  }

  /** Seconds of audio received (not all of it processed yet). */
  get streamSeconds (): number { return this.#bytes / this.#bytesPerSecond }

  get flushed (): boolean { return this.#flushed }

  /** The sequence number of the last write: results name the write that decided them. */
  get seq (): number { return this.#seq }

  /** Hand a checked chunk of PCM bytes to the engine (copied: the transport reuses its buffer). */
  write (pcm: Uint8Array): void {
    this.#bytes += pcm.length
    // A copy of its own (a Buffer's slice() would share, and transferring would detach, the transport's memory).
    const copy = new Uint8Array(pcm).buffer
    this.#engine.post({ t: 'write', id: this.id, seq: ++this.#seq, pcm: copy }, [copy])
  }

  /** End of input: `then` runs once every final result has been reported. */
  flush (then?: () => void): void {
    if (this.#flushed) {
      // Again: after the first flush's answer, like every result.
      if (this.#afterFlush && then) this.#afterFlush.push(then)
      else then?.()
      return
    }
    this.#flushed = true
    this.#afterFlush = then ? [then] : []
    this.#engine.post({ t: 'flush', id: this.id, seq: this.#seq })
  }

  /** The session is over: `then` runs once every result before it has been reported. */
  close (then: () => void): void {
    if (this.#closing) return
    this.#closing = true
    if (this.#done) { then(); return } // it failed: no more results will come
    this.#afterClose = then
    this.#engine.post({ t: 'close', id: this.id })
  }

  /** A reply of the engine for this session. */
  receive (m: EngineReply): void {
    switch (m.t) {
      case 'match': this.#listener.match(this.#base === 0 ? m.e : { ...m.e, streamSeconds: m.e.streamSeconds + this.#base, startSeconds: m.e.startSeconds + this.#base }, m.seq); break
      case 'end': this.#listener.matchEnd(this.#base === 0 ? m.e : { ...m.e, startSeconds: m.e.startSeconds + this.#base, endSeconds: m.e.endSeconds + this.#base }, m.seq); break
      case 'tick': this.#listener.tick?.(m.hashes, m.lookups, m.postings, m.seconds); break
      case 'flushed': this.#flushAnswered(); break
      case 'closed': this.#finish(); break
      case 'fault': {
        this.#listener.fault(faultError(m))
        this.#finish()
        break
      }
    }
  }

  /** Its engine died: open the session again on the replacement, from the stream time reached. */
  reopen (): void {
    if (this.#closing) { this.#finish(); return }
    this.#base = this.streamSeconds
    this.#engine.post({ t: 'open', id: this.id, format: this.format })
    if (this.#flushed) this.#engine.post({ t: 'flush', id: this.id, seq: this.#seq })
  }

  #flushAnswered (): void {
    const waiting = this.#afterFlush ?? []
    this.#afterFlush = undefined
    for (const f of waiting) f()
  }

  #finish (): void {
    this.#engine.sessions.delete(this.id)
    this.#done = true
    this.#flushAnswered()
    const then = this.#afterClose
    this.#afterClose = undefined
    then?.()
  }
}

/** The error an engine reported, as this thread's kind of error (EAR_ERR_INDEX_READ an EarshotError again). */
function faultError (m: Extract<EngineReply, { t: 'fault' }>): Error {
  const err = errorFromServer(m.code ?? 'EAR_ERR_INTERNAL', m.message)
  if (m.stack) err.stack = m.stack
  return err
}

export class StreamEngines {
  readonly #engines: Engine[]
  readonly #log: Logger | undefined
  readonly #onFault: ((err: Error) => void) | undefined
  #nextId = 1
  #closing = false

  /**
   * @param dir the index folder: each engine opens it read-only
   * @param count engines (worker threads) to start
   * @param onFault told of every session an engine could not go on with (the server counts damaged index reads)
   */
  constructor (dir: string, settings: Settings, count: number, log?: Logger, onFault?: (err: Error) => void) {
    this.#log = log
    this.#onFault = onFault
    const data: EngineWorkerData = { dir, settings }
    this.#engines = Array.from({ length: count }, (_, slot) => {
      const engine: Engine = new Engine(slot, () => {
        const w = new Worker(new URL('./engine-worker.js', import.meta.url), { workerData: data })
        w.on('message', (m: EngineReply) => {
          if (m.t === 'ready') return
          if (m.t === 'fault') this.#onFault?.(faultError(m))
          const waiting = engine.identifies.get(m.id)
          if (waiting) {
            engine.identifies.delete(m.id)
            if (m.t === 'identified') waiting.resolve(m)
            else if (m.t === 'fault') waiting.reject(faultError(m))
            return
          }
          engine.sessions.get(m.id)?.receive(m)
        })
        w.on('error', (err) => log?.error({ err, engine: slot }, 'stream engine failed'))
        w.on('exit', (code) => this.#exited(engine, w, code))
        return w
      })
      return engine
    })
  }

  get count (): number { return this.#engines.length }

  /** Resolves once every engine has started: a server is ready when its engines are. */
  async ready (): Promise<void> {
    await Promise.all(this.#engines.map((e) => e.started))
  }

  /** Open a session on the engine with the fewest. */
  open (format: PcmFormat, listener: RemoteListener): RemoteSession {
    return new RemoteSession(this.#nextId++, this.#leastBusy(), format, listener)
  }

  /** Identify a clip (mono samples) on the least busy engine. */
  identify (samples: Float32Array, sampleRate: number): Promise<{ result: IdentifyResult, lookupSeconds: number }> {
    const engine = this.#leastBusy()
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      engine.identifies.set(id, { resolve, reject })
      // A copy of its own to transfer: the samples may share memory with a request body or a decoder (a clip is
      // a few hundred kilobytes; the copy costs far less than its lookups).
      const owned = samples.slice()
      engine.post({ t: 'identify', id, samples: owned, sampleRate }, [owned.buffer])
    })
  }

  #leastBusy (): Engine {
    let engine = this.#engines[0]
    const load = (e: Engine): number => e.sessions.size + e.identifies.size
    for (const e of this.#engines) if (load(e) < load(engine)) engine = e
    return engine
  }

  /** Per engine: sessions it runs and how often it was replaced. */
  stats (): Array<{ sessions: number, restarts: number }> {
    return this.#engines.map((e) => ({ sessions: e.sessions.size, restarts: e.restarts }))
  }

  /**
   * Stop an engine as if it had died, and resolve once its replacement runs its sessions: how tests, and operators
   * who doubt an engine, check recovery.
   */
  async replace (slot: number): Promise<void> {
    const engine = this.#engines[slot]
    if (!engine) throw new RangeError(`no engine ${slot}`)
    const replaced = new Promise<void>((resolve) => { engine.onReplaced = resolve })
    await engine.worker.terminate()
    await replaced
  }

  /** Wait for the sessions to close (their last results delivered), then stop the engines. */
  async close (): Promise<void> {
    const deadline = Date.now() + 5000
    while (this.#engines.some((e) => e.sessions.size > 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    this.#closing = true
    await Promise.all(this.#engines.map((e) => e.worker.terminate()))
  }

  #exited (engine: Engine, worker: Worker, code: number): void {
    if (engine.worker !== worker) return
    // A clip in flight is not asked again: the engine may have died of it.
    for (const p of engine.identifies.values()) p.reject(new Error(`stream engine ${engine.slot} exited with ${code}`))
    engine.identifies.clear()
    if (this.#closing) return
    this.#log?.error({ engine: engine.slot, code, sessions: engine.sessions.size }, 'stream engine exited; starting another')
    const wait = Math.max(0, engine.startedAt + MIN_LIFE_MS - Date.now())
    setTimeout(() => {
      if (this.#closing) return
      engine.respawn()
      for (const s of [...engine.sessions.values()]) s.reopen()
      engine.onReplaced?.()
      engine.onReplaced = undefined
    }, wait).unref()
  }
}
