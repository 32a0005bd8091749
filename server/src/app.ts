/**
 * build(options): connects the index, the stream sessions and a transport into a server. main.ts (the CLI's serve)
 * reads flags and signals; tests call build() directly.
 */
import { CloseCode } from '../../protocol/src/index.js'
import type { Settings } from './config/defaults.js'
import type { Index } from './index/types.js'
import type { StreamContext } from './stream/connection.js'
import { createWsTransport } from './transport/ws.js'
import { createUwsTransport, loadUws } from './transport/uws.js'
import type { Transport, TransportName } from './transport/types.js'

export interface BuildOptions {
  index: Index
  settings: Settings
  transport?: TransportName
  /** Told when the requested transport could not load and another one serves. */
  onWarning?: (message: string) => void
}

export interface EarshotServer {
  readonly transport: TransportName
  readonly context: StreamContext
  listen (host: string, port: number): Promise<number>
  close (): Promise<void>
}

/** How often connections are checked against their hello and idle timeouts, in ms. */
const SWEEP_MS = 1000

export async function build (options: BuildOptions): Promise<EarshotServer> {
  let name: TransportName = options.transport ?? 'uws'
  const ctx: StreamContext = { index: options.index, settings: options.settings, transport: name, sessions: 0, connections: new Set() }
  let transport: Transport
  if (name === 'uws') {
    const uws = await loadUws()
    if (uws) {
      transport = createUwsTransport(uws, ctx)
    } else {
      options.onWarning?.('uWebSockets.js did not load on this platform; serving with ws')
      name = 'ws'
      ;(ctx as { transport: string }).transport = name
      transport = createWsTransport(ctx)
    }
  } else {
    transport = createWsTransport(ctx)
  }
  let sweep: NodeJS.Timeout | undefined
  return {
    transport: name,
    context: ctx,
    async listen (host, port) {
      const bound = await transport.listen(host, port)
      sweep = setInterval(() => {
        const now = Date.now()
        for (const c of ctx.connections) c.sweep(now)
      }, Math.min(SWEEP_MS, ctx.settings.stream.helloTimeoutMs / 2))
      sweep.unref()
      return bound
    },
    async close () {
      clearInterval(sweep)
      for (const c of ctx.connections) c.fail('EAR_ERR_SHUTTING_DOWN')
      await transport.close(CloseCode.GOING_AWAY, 'EAR_ERR_SHUTTING_DOWN')
    },
  }
}
