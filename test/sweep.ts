// The end-of-run sweep, apart so that its one promise — remove only what this
// run named — is itself tested (test/sweep.test.ts).
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ownedByRun } from "./run-id.ts";

export function listBpftimeEntries(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.startsWith("bpftime"));
  } catch {
    return [];
  }
}

/**
 * Removes the entries of `dir` named by run `run`; returns them, and the
 * entries that appeared since `before` under another name (left alone).
 */
export function sweepRun(
  dir: string,
  run: string,
  before: ReadonlySet<string>,
): { removed: string[]; foreign: string[] } {
  const removed: string[] = [];
  const foreign: string[] = [];
  for (const f of listBpftimeEntries(dir)) {
    if (ownedByRun(f, run)) {
      rmSync(join(dir, f), { recursive: true, force: true });
      removed.push(f);
    } else if (!before.has(f)) foreign.push(f);
  }
  return { removed, foreign };
}
