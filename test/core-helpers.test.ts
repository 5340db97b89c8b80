// Tracing helpers against the kernel: the same uprobe program runs in the
// kernel and under bpftime on the same deterministic target, and must leave
// the same bytes in its maps (test/core-diff.ts). Fixtures: test/fixtures/core/.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileBpf, skipReason, compileNative } from "./helpers.ts";
import { RUN_ID } from "./run-id.ts";
import { kernelUprobeUnavailable, mapOnBothSides } from "./core-diff.ts";

const fixtures = join(import.meta.dir, "fixtures", "core");
const T = 60_000;
const skip = skipReason(kernelUprobeUnavailable(), "kernel differential helper tests");

const dir = mkdtempSync(join(tmpdir(), `bpftime-${RUN_ID}-corehelpers-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function build(target: string, objs: string[]): void {
  compileNative(["cc", "-O2", "-g", "-o", join(dir, target), join(fixtures, `${target}.c`)]);
  for (const o of objs) compileBpf(join(fixtures, `${o}.bpf.c`), join(dir, `${o}.bpf.o`));
}

describe.skipIf(skip)("helpers, kernel vs bpftime", () => {
  test(
    "bpf_probe_read_user_str: same return values and the same destination bytes",
    () => {
      build("strings", ["read_str"]);
      const target = join(dir, "strings");
      const obj = join(dir, "read_str.bpf.o");
      const links = [{ prog: "read_str", type: "uprobe", arg: `${target}:take` }];
      const { k, u } = mapOnBothSides(obj, links, [target], "out");
      const byKey = (rows: typeof k) =>
        Object.fromEntries(rows.map((r) => [r.key, r.value])) as Record<number, unknown>;
      // Every string with every size: 9 strings × 9 sizes.
      expect(k).toHaveLength(81);
      expect(byKey(u)).toEqual(byKey(k));
    },
    T,
  );

  for (const [prog, helper] of [
    ["read_user", "bpf_probe_read_user"],
    ["read_compat", "bpf_probe_read (legacy)"],
    ["read_compat_str", "bpf_probe_read_str (legacy)"],
  ] as const)
    test(
      `${helper}: same return values and the same destination bytes`,
      () => {
        build("strings", [prog]);
        const target = join(dir, "strings");
        const links = [{ prog, type: "uprobe", arg: `${target}:take` }];
        const { k, u } = mapOnBothSides(join(dir, `${prog}.bpf.o`), links, [target], "out");
        const byKey = (rows: typeof k) =>
          Object.fromEntries(rows.map((r) => [r.key, r.value])) as Record<number, unknown>;
        expect(k).toHaveLength(81);
        // Faults are among the cases (an unmapped page): they must match too.
        expect(k.some((r) => (r.value as { ret: number }).ret < 0)).toBe(true);
        expect(byKey(u)).toEqual(byKey(k));
      },
      T,
    );
});
