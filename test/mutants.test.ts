// The critical mutants (scripts/mutate-critical.ts) must all be killed: each
// is applied alone to a private copy of the tree (never this working tree),
// rebuilt, and the tests that guard that line must fail (a command whose
// filter matches no test never counts as a kill). A surviving mutant
// means a bounds check, range, verdict, auth check, ring buffer position or
// register slot can break with the suite still green.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CRITICAL } from "../scripts/mutate-critical.ts";
import { TreeCopy } from "../scripts/mutate-lib.ts";
import { skipReason } from "./helpers.ts";
import { RUN_ID } from "./run-id.ts";

// The uprobe entries compile a target with cc and programs with clang.
const missing = ["cc", "clang", "nm", "make"].find((t) => !Bun.which(t));
const skip = skipReason(missing && `${missing} is not installed`, "critical mutants");

describe.skipIf(skip)("critical mutants are killed", () => {
  let copy: TreeCopy;
  beforeAll(() => {
    copy = new TreeCopy("ci-mutants");
  }, 300_000);
  afterAll(() => copy?.dispose());

  test("the copy builds", () => {
    const build = copy.rebuildNative();
    if (!build.ok) throw new Error(`the copy does not build:\n${build.output}`);
  }, 600_000);

  test("the list has at least 30 mutants, each named once", () => {
    expect(CRITICAL.length).toBeGreaterThanOrEqual(30);
    expect(new Set(CRITICAL.map((m) => m.id)).size).toBe(CRITICAL.length);
  });

  for (const [i, m] of CRITICAL.entries())
    (m.survivesUntil ? test.failing : test)(
      m.survivesUntil ? `${m.id} (survives until ${m.survivesUntil})` : m.id,
      () => {
        const o = copy.tryMutant(m, { BPFTIME_TEST_RUN: `${RUN_ID}-m${i}` });
        if (!o.killed) throw new Error(`survived: ${m.file}: ${m.replace}\n${o.detail}`);
      },
      300_000,
    );
});
