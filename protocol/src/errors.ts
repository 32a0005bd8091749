/**
 * Protocol error codes and the WebSocket close code each one ends the session with (0: the session goes on).
 */

export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  UNSUPPORTED_DATA: 1003,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  TRY_AGAIN_LATER: 1013,
})

export const protocolErrors = {
  EAR_ERR_TEXT_FRAME: { close: CloseCode.UNSUPPORTED_DATA, message: 'Text frames are not part of the protocol; send binary frames' },
  EAR_ERR_BAD_FRAME: { close: 0, message: 'A frame must start with 0x01 (control) or 0x02 (audio)' },
  EAR_ERR_BAD_MESSAGE: { close: 0, message: 'The control message is not a valid msgpack map with a known type' },
  EAR_ERR_PROTOCOL_VERSION: { close: CloseCode.POLICY, message: 'Unsupported protocol version' },
  EAR_ERR_BAD_HELLO: { close: CloseCode.POLICY, message: 'The hello message is invalid' },
  EAR_ERR_HELLO_REQUIRED: { close: CloseCode.POLICY, message: 'Send hello before audio or other messages' },
  EAR_ERR_HELLO_TWICE: { close: 0, message: 'hello was already received' },
  EAR_ERR_HELLO_TIMEOUT: { close: CloseCode.POLICY, message: 'No hello in time' },
  EAR_ERR_AUDIO_ALIGNMENT: { close: 0, message: 'Audio byte count is not a whole number of sample frames' },
  EAR_ERR_AUDIO_INVALID: { close: 0, message: 'Audio holds NaN or infinite samples' },
  EAR_ERR_AUDIO_AFTER_FLUSH: { close: 0, message: 'Audio after flush is ignored' },
  EAR_ERR_FRAME_TOO_LARGE: { close: CloseCode.TOO_BIG, message: 'Frame larger than the limit' },
  EAR_ERR_SESSION_TOO_LONG: { close: CloseCode.POLICY, message: 'Session reached its maximum length' },
  EAR_ERR_IDLE_TIMEOUT: { close: CloseCode.POLICY, message: 'No audio within the idle timeout' },
  EAR_ERR_TOO_MANY_SESSIONS: { close: CloseCode.TRY_AGAIN_LATER, message: 'The server holds its maximum number of sessions' },
  EAR_ERR_SLOW_CONSUMER: { close: CloseCode.POLICY, message: 'The client does not read its messages' },
  EAR_ERR_UNAUTHORIZED: { close: CloseCode.POLICY, message: 'Missing or wrong token' },
  EAR_ERR_RATE_LIMITED: { close: CloseCode.TRY_AGAIN_LATER, message: 'Too many streams opened; try again later' },
  EAR_ERR_SHUTTING_DOWN: { close: CloseCode.GOING_AWAY, message: 'The server is shutting down' },
  EAR_ERR_INTERNAL: { close: CloseCode.INTERNAL, message: 'Internal error' },
  EAR_ERR_TOO_MANY_CONNECTIONS: { close: CloseCode.TRY_AGAIN_LATER, message: 'Too many connections from this address' },
  EAR_ERR_PLAY_LOG_FORBIDDEN: { close: CloseCode.POLICY, message: 'This token may not write the play log' },
  EAR_ERR_PLAY_LOG_LIMITED: { close: 0, message: 'Too many plays; the play log skips this stream\'s plays for now' },
} as const

export type ProtocolErrorCode = keyof typeof protocolErrors
