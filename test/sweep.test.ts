// The suite's cleanup must never remove a region, pin or directory that this
// run did not create (a user's live region on the same machine is sacred).
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./helpers.ts";
import { RUN_ID, ownedByRun, runName } from "./run-id.ts";
import { sweepRun } from "./sweep.ts";

test("the run id is unique to this run and every helper-made name carries it", () => {
  expect(RUN_ID).toMatch(/^t[0-9a-z-]+$/); // a mutant run nests: <parent>-m<i>
  expect(ownedByRun(`bpftime-${runName("srv-1")}`)).toBe(true);
  expect(tempDir("x")).toContain(`/bpftime-${RUN_ID}-x-`);
});

test("sweep removes this run's entries and keeps a user's and another run's", () => {
  const dir = tempDir("sweep");
  const mine = `bpftime-${runName("srv-1")}`;
  const user = "bpftime"; // the default region name a user has live
  const userNamed = "bpftime-prod";
  const otherRun = `bpftime-${RUN_ID}x-srv-1`; // another run whose id starts like ours
  const oldEntry = "bpftime-before";
  for (const f of [mine, user, userNamed, otherRun, oldEntry]) writeFileSync(join(dir, f), "x");
  mkdirSync(join(dir, `bpftime-${runName("dir")}`));
  const r = sweepRun(dir, RUN_ID, new Set([oldEntry]));
  expect(r.removed.sort()).toEqual([mine, `bpftime-${runName("dir")}`].sort());
  expect(r.foreign.sort()).toEqual([user, userNamed, otherRun].sort());
  for (const f of [user, userNamed, otherRun, oldEntry])
    expect(existsSync(join(dir, f))).toBe(true);
  expect(existsSync(join(dir, mine))).toBe(false);
});
