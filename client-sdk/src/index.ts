export { connect, EarshotClient, type ConnectOptions, type EarshotClientEvents } from './client.js'
export type { Match, MatchEnd, Ready, ErrorMessage } from '../../protocol/src/index.js'
