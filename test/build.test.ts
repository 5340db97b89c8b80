// `bpftime build`: an eBPF C program compiled with the shipped headers and the
// right flags loads as the Makefile-built example does; a compile error is
// clang's messages then one line; --vmlinux includes the kernel's types.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bpftimeBin, buildExamples, cli, repoRoot, run, tempDir } from "./helpers.ts";
import { loadObject } from "../src/elf/index.ts";

const examples = buildExamples();
/** Each test's own cache (the shipped headers, vmlinux.h): never the user's. */
const env = () => ({ XDG_CACHE_HOME: tempDir("build-cache") });
const programs = (obj: string) =>
  loadObject(new Uint8Array(readFileSync(obj)), obj).programs.map((p) => [p.name, p.section]);

describe("bpftime build", () => {
  test("an example builds to the same programs as the Makefile's, from the shipped binary too", () => {
    const dir = tempDir("build");
    for (const [bin, out] of [
      [null, join(dir, "a.bpf.o")],
      [bpftimeBin, join(dir, "b.bpf.o")],
    ] as const) {
      const args = ["build", join(repoRoot, "examples", "url_filter.bpf.c"), "-o", out];
      const r = bin ? run([bin, ...args], { env: env(), cwd: dir }) : cli(args, { env: env() });
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe(`built ${out}\n`);
      expect(programs(out)).toEqual(programs(join(examples, "url_filter.bpf.o")));
    }
    // Without -o: beside the source.
    const src = join(dir, "copy.bpf.c");
    writeFileSync(src, readFileSync(join(repoRoot, "examples", "checksum.bpf.c")));
    expect(cli(["build", src], { env: env() }).code).toBe(0);
    expect(existsSync(join(dir, "copy.bpf.o"))).toBe(true);
  });

  test("a compile error: clang's messages, then one line, exit 5; a missing file: exit 3", () => {
    const src = join(tempDir("build"), "bad.bpf.c");
    writeFileSync(src, "int f(void) { return undeclared; }\n");
    const r = cli(["build", src], { env: env() });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("undeclared");
    expect(r.stderr.trim().split("\n").at(-1)).toBe(
      `bpftime: build: clang could not compile ${src} (its messages are above)`,
    );
    const missing = cli(["build", join(tempDir("build"), "nope.bpf.c")], { env: env() });
    expect(missing.code).toBe(3);
  });

  const noBtf = !existsSync("/sys/kernel/btf/vmlinux")
    ? "the kernel has no BTF"
    : !Bun.which("bpftool")
      ? "bpftool is not installed"
      : undefined;
  if (noBtf) console.log(`skip: build --vmlinux: ${noBtf}`);
  test.skipIf(!!noBtf)("--vmlinux: a CO-RE program on the kernel's types builds and loads", () => {
    const dir = tempDir("build");
    const src = join(dir, "core.bpf.c");
    writeFileSync(
      src,
      `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
SEC("uprobe") int first_arg(struct pt_regs *ctx) { return BPF_CORE_READ(ctx, di) > 0; }
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const e = env();
    expect(cli(["build", src], { env: e }).code).not.toBe(0); // no vmlinux.h without --vmlinux
    const r = cli(["build", src, "--vmlinux", "--json"], { env: e });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).object).toBe(join(dir, "core.bpf.o"));
    expect(existsSync(join(e.XDG_CACHE_HOME, "bpftime"))).toBe(true);
    expect(cli(["verify", join(dir, "core.bpf.o")]).code).toBe(0);
  });
});
