// Kernel uprobe cost, measured with the kernel event provider's pieces: ns
// per call of an empty noinline function, unhooked and with an empty eBPF
// program on it as a kernel uprobe and uretprobe. Needs cc and root.
//   bun bench/uprobe/kernel.ts [CALLS]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BpftimeError } from "../../src/errors.ts";
import { resolveUprobeTarget } from "../../src/attach/index.ts";
import {
  closeFd,
  ensureLibbpf,
  linkPerfEvent,
  openUprobe,
  progLoadRaw,
} from "../../src/native/index.ts";

/**
 * Runs `f` while an empty kernel program (r0 = 0; exit) is attached as a
 * uprobe or uretprobe at `target` ("BINARY:SYMBOL[+OFF]") in every process;
 * nothing is pinned: closing the fds afterwards detaches it.
 */
export function withEmptyKernelUprobe<T>(
  target: string,
  type: "uprobe" | "uretprobe",
  f: () => T,
): T {
  const t = resolveUprobeTarget(target);
  // mov64 r0, 0; exit
  const insns = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  const prog = progLoadRaw(2 /* kprobe */, "bpftime_empty", insns);
  let pfd = -1;
  let link = -1;
  try {
    pfd = openUprobe(t.file, t.offset, type === "uretprobe");
    link = linkPerfEvent(prog, pfd);
    return f();
  } finally {
    closeFd(link);
    closeFd(pfd);
    closeFd(prog);
  }
}

const BENCH_C = `#include <stdio.h>
#include <stdlib.h>
#include <time.h>
__attribute__((noinline)) int bench_target(int x) { __asm__ volatile("" ::: "memory"); return x; }
static volatile int sink;
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    double best = 1e18;
    for (int r = 0; r < 5; r++) {
        struct timespec a, b;
        int acc = 0;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < n; i++) acc += bench_target((int)i);
        clock_gettime(CLOCK_MONOTONIC, &b);
        sink = acc;
        double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)n;
        if (ns < best) best = ns;
    }
    printf("%.3f\\n", best);
    return 0;
}
`;

export interface KernelUprobeBench {
  calls: number;
  /** ns per call of the empty function, unhooked. */
  baselineNs: number;
  /** ns per call with an empty kernel uprobe / uretprobe on it. */
  uprobeNs: number;
  uretprobeNs: number;
}

/**
 * Benchmark hook (bench/): ns per call of an empty noinline function,
 * unhooked and with an empty eBPF program on it as a kernel uprobe and
 * uretprobe (best of 5 rounds of `calls` calls each, measured inside the
 * process). Needs cc, root and a kernel that allows uprobes. Asserts nothing.
 */
export function benchKernelUprobe(calls = 100_000): KernelUprobeBench {
  ensureLibbpf();
  const dir = mkdtempSync(join(tmpdir(), "bpftime-kbench-"));
  try {
    const src = join(dir, "bench.c");
    const bin = join(dir, "bench");
    writeFileSync(src, BENCH_C);
    const cc = Bun.spawnSync(["cc", "-O2", "-o", bin, src], { stdout: "pipe", stderr: "pipe" });
    if (cc.exitCode !== 0)
      throw new BpftimeError("io", `cc bench.c: ${cc.stderr.toString().trim().split("\n")[0]}`);
    const measure = (): number => {
      const r = Bun.spawnSync([bin, String(calls)], { stdout: "pipe", stderr: "pipe" });
      if (r.exitCode !== 0) throw new BpftimeError("io", `bench run failed: exit ${r.exitCode}`);
      return Number(r.stdout.toString().trim());
    };
    const target = `${bin}:bench_target`;
    return {
      calls,
      baselineNs: measure(),
      uprobeNs: withEmptyKernelUprobe(target, "uprobe", measure),
      uretprobeNs: withEmptyKernelUprobe(target, "uretprobe", measure),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const r = benchKernelUprobe(Number(process.argv[2] ?? 100_000));
  console.log(
    `kernel uprobe: ${r.baselineNs.toFixed(1)} ns/call unhooked, ${r.uprobeNs.toFixed(0)} uprobe, ${r.uretprobeNs.toFixed(0)} uretprobe`,
  );
}
