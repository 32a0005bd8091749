/**
 * "Did you mean": the known word nearest a mistyped one. A dozen lines of Levenshtein distance rather than a
 * package: the CLI compares a word with a few dozen names, once, on a usage error, and the packages that do this
 * (leven, fastest-levenshtein) would be a new runtime dependency of the server for it.
 */

/** Levenshtein distance: insertions, deletions and substitutions, each counted 1. */
export function editDistance (a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[b.length]
}

/**
 * The candidate nearest `word`, if near enough to be a slip: at most a third of the word's letters (at least 1)
 * away, or a word that starts with it (`--real` for `--realtime`). Undefined when nothing is that near.
 */
export function closest (word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase()
  let best: string | undefined
  let bestDistance = Infinity
  for (const c of candidates) {
    const d = c.startsWith(w) && w.length >= 2 ? 0.5 : editDistance(w, c.toLowerCase())
    if (d < bestDistance) { best = c; bestDistance = d }
  }
  return bestDistance <= Math.max(1, Math.floor(w.length / 3)) ? best : undefined
}

/** " (did you mean X?)" or "". */
export function didYouMean (word: string, candidates: Iterable<string>, show: (c: string) => string = (c) => c): string {
  const c = closest(word, candidates)
  return c === undefined ? '' : ` (did you mean ${show(c)}?)`
}
