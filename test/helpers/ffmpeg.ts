import fs from 'node:fs'
import path from 'node:path'

/** An executable that notes each run in `log`, then runs the real ffmpeg: proof of which ffmpeg decoded. */
export function recordingFfmpeg (dir: string): { path: string, runs: () => number } {
  const log = path.join(dir, 'ffmpeg-runs.log')
  const file = path.join(dir, 'my-ffmpeg')
  fs.writeFileSync(file, `#!/bin/sh\necho run >> '${log}'\nexec ffmpeg "$@"\n`, { mode: 0o755 })
  return { path: file, runs: () => fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0 }
}
