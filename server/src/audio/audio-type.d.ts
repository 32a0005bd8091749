// audio-type ships no types: its default export names a buffer's container ('wav', 'flac', 'oga', …) from its first bytes.
declare module 'audio-type' {
  export default function audioType (bytes: Uint8Array): string | undefined
}
