/** Processes of this machine, for locks and markers that name one by its pid. */

/** Whether a process with this pid runs on this machine (EPERM: it runs, as another user). */
export function isProcessAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
