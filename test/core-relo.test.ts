// CO-RE relocations against the running kernel's BTF, kernel vs bpftime: the
// same object (test/fixtures/core/core_values.bpf.c) stores what each kind of
// relocation resolves to; libbpf resolves them for the kernel and bpftime
// for itself, and both runs must leave the same numbers. A relocation with
// no target poisons its instruction: harmless where unreachable, refused by
// both verifiers where reachable (core_poison.bpf.c).
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, compileBpf, skipReason, compileNative } from "./helpers.ts";
import { RUN_ID, runName } from "./run-id.ts";
import { kernelUprobeUnavailable, mapOnBothSides } from "./core-diff.ts";

const fixtures = join(import.meta.dir, "fixtures", "core");
const T = 60_000;
const noVmlinux = existsSync("/sys/kernel/btf/vmlinux") ? undefined : "no /sys/kernel/btf/vmlinux";
const skip = skipReason(kernelUprobeUnavailable() ?? noVmlinux, "CO-RE kernel differential tests");

const dir = mkdtempSync(join(tmpdir(), `bpftime-${RUN_ID}-corerelo-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const obj = (n: string) => join(dir, `${n}.bpf.o`);

function build(): string {
  const target = join(dir, "strings");
  if (!existsSync(target)) {
    compileNative(["cc", "-O2", "-g", "-o", target, join(fixtures, "strings.c")]);
    for (const n of ["core_values", "core_poison"])
      compileBpf(join(fixtures, `${n}.bpf.c`), obj(n));
  }
  return target;
}

describe.skipIf(skip)("CO-RE, kernel vs bpftime", () => {
  test(
    "every relocation kind resolves to what libbpf resolves for the kernel",
    () => {
      const target = build();
      const links = [{ prog: "core_values", type: "uprobe", arg: `${target}:take` }];
      const { k, u } = mapOnBothSides<{ key: number; value: number }>(
        obj("core_values"),
        links,
        [target],
        "vals",
      );
      expect(u).toEqual(k);
      // Not vacuous: the kernel's values differ from what the program was
      // compiled with (its task_struct has pid at offset 20, 16-byte comm).
      const v = new Map(k.map((e) => [e.key, e.value]));
      expect(v.get(0)).not.toBe(20);
      expect(v.get(2)).toBe(16);
      expect(v.get(5)).toBe(0); // missing field
      expect(v.get(9)).toBe(0); // missing type
      expect(v.get(21)).toBe(4242); // the guarded, poisoned path did not run
    },
    T,
  );

  test("a reachable poisoned relocation is refused by the kernel and by bpftime", () => {
    build();
    const shm = runName(`corepoison-${Math.random().toString(36).slice(2, 8)}`);
    try {
      const r = cli(["load", obj("core_poison"), "--shm", shm]);
      expect(r.code).toBe(6);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain("invalid func unknown#195896080");
      expect(r.stderr).toContain("CO-RE relo #0 poisoned this instruction");
      expect(r.stderr).toContain("task_struct___mine.no_such_field");
    } finally {
      cli(["shm", "remove", "--shm", shm]);
    }
    const root = `/sys/fs/bpf/bpftime-${runName("corepoison")}`;
    try {
      const k = cli(["load", "--kernel", obj("core_poison"), "--name", "poison"], {
        env: { BPFTIME_BPFFS: root },
      });
      expect(k.code).toBe(6);
      // libbpf names the relocation it could not resolve
      expect(k.stderr).toContain("failed to resolve CO-RE relocation");
      expect(k.stderr).toContain("task_struct___mine.no_such_field");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
