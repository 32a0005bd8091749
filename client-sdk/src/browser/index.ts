/**
 * The browser SDK's entry, bundled to dist/web/sdk/earshot.js and served at /sdk/earshot.js as an ES module.
 */
export { listen, Listener, ListenError, ListenErrorCode, type CloseInfo, type Level, type ListenOptions, type ListenerEvents } from './listener.js'
export type { ErrorMessage, Match, MatchEnd, Ready } from '../../../protocol/src/index.js'
