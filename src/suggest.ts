// "Did you mean …?" for names a user typed: commands, programs, maps, links,
// regions. The closest candidate by edit distance, if it is close enough to be
// a typo rather than another name.

/** Levenshtein distance (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(
        prev[j]! + 1,
        cur[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The candidate closest to `word` (a prefix of it counts as close), or
 * undefined when none is within a third of the word's length (at least 1).
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of new Set(candidates)) {
    if (c === word) continue;
    const d = c.startsWith(word) && word.length >= 2 ? 0.5 : distance(word, c);
    if (d <= limit && d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/** ` (did you mean "X"?)` for the closest candidate, or "" when there is none. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const c = closest(word, candidates);
  return c === undefined ? "" : ` (did you mean "${c}"?)`;
}
