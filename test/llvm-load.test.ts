// `bpftime load --opt`: the LLVM tier's blob is stored in the region and the
// data plane runs it (native/attach/prog_engine.c), with the same results as
// the JIT; a program the tier refuses still loads and runs on the JIT, and
// the load says why in one line.
import { expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findToolchain } from "../src/llvm/index.ts";
import { Region } from "../src/native/index.ts";
import { buildUprobeFixture } from "./uprobe-fixture.ts";
import {
  repoRoot,
  buildExamples,
  cli,
  cliOk,
  compileBpf,
  regionNames,
  skipReason,
  tempDir,
} from "./helpers.ts";

const skip = skipReason(findToolchain() ? undefined : "no clang >= 14 installed", "load --opt");
const region = regionNames("llvm-load");

/** Loads `obj` into a fresh region; returns the region, the JSON load result and stderr. */
function load(obj: string, opt: boolean) {
  const shm = region();
  const r = cli(["load", obj, "--shm", shm, "--json", ...(opt ? ["--opt"] : [])]);
  if (r.code !== 0) throw new Error(`load failed: ${r.stderr}`);
  return { shm, loaded: JSON.parse(r.stdout), stderr: r.stderr };
}

/** `bpftime run ID` with the data plane's debug log: its result and the log. */
function runProgram(shm: string, id: number, data: string) {
  const r = cli(["run", String(id), "--shm", shm, "--data", data, "--json"], {
    env: { BPFTIME_LOG: "debug" },
  });
  if (r.code !== 0) throw new Error(`run failed: ${r.stderr}`);
  return { result: JSON.parse(r.stdout), log: r.stderr };
}

/** The Internet checksum (RFC 1071) over big-endian 16-bit words, odd tail padded. */
function rfc1071(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

test.skipIf(skip)("a program loaded with --opt runs the LLVM tier's code, as the JIT does", () => {
  const obj = join(buildExamples(), "checksum.bpf.o");
  const data = join(tempDir("llvm-load"), "packet.bin");
  const packet = Buffer.from("45000054a6f240004001000ac0a80001c0a800c7abcdef", "hex");
  writeFileSync(data, packet);

  const opt = load(obj, true);
  expect(opt.loaded.programs[0].engine).toBe("llvm");
  expect(opt.stderr).toBe("");
  const id = opt.loaded.programs[0].id;
  const listed = JSON.parse(cliOk(["list", "--shm", opt.shm, "--json"]));
  expect(listed.programs.find((p: { id: number }) => p.id === id).engine).toBe("llvm");

  const jit = load(obj, false);
  expect(jit.loaded.programs[0].engine).toBe("jit");

  const a = runProgram(opt.shm, id, data);
  const b = runProgram(jit.shm, jit.loaded.programs[0].id, data);
  expect(a.log).toContain("runs the LLVM tier's code");
  expect(b.log).not.toContain("LLVM");
  expect(a.result.returnValue).toBe(b.result.returnValue);
  expect(BigInt(a.result.returnValue)).toBe(BigInt(rfc1071(packet)));
});

test.skipIf(skip)(
  "a program the tier refuses (tail call) loads with --opt and runs on the JIT",
  () => {
    const dir = tempDir("llvm-load");
    const src = join(dir, "tail.bpf.c");
    writeFileSync(
      src,
      `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} jumps SEC(".maps");
SEC("xdp")
int entry(struct xdp_md *ctx) {
  bpf_tail_call(ctx, &jumps, 0);
  return 7; /* the slot is empty: the tail call falls through */
}
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const obj = join(dir, "tail.bpf.o");
    compileBpf(src, obj);
    const data = join(dir, "packet.bin");
    writeFileSync(data, new Uint8Array(64));

    const { shm, loaded, stderr } = load(obj, true);
    expect(loaded.programs[0].engine).toBe("jit");
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toContain("tail call");
    expect(stderr).toContain("the JIT runs it");
    const { result, log } = runProgram(shm, loaded.programs[0].id, data);
    expect(log).not.toContain("LLVM");
    expect(result.returnValue).toBe("0x7");
  },
);

test.skipIf(skip)("a uprobe program loaded with --opt runs in the hooked process", () => {
  const fixtures = join(repoRoot, "test", "fixtures", "uprobe");
  const fx = buildUprobeFixture("llvm-load", join(fixtures, "target.c"), {
    args: join(fixtures, "args.bpf.c"),
  });
  try {
    /** Loads, attaches with cookie 77, runs the target; the map and the agent's log. */
    const hit = (opt: boolean) => {
      const { shm } = load(fx.obj("args"), opt);
      cliOk([
        "attach",
        "on_add",
        "uprobe",
        "--arg",
        `${fx.target}:add`,
        "--cookie",
        "77",
        "--shm",
        shm,
      ]);
      const r = cli(["start", "--shm", shm, "--", fx.target, "calls", "5"], {
        env: { BPFTIME_LOG: "debug" },
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("add(4,8)=12");
      const rows = JSON.parse(cliOk(["map", "dump", "args", "--shm", shm, "--json"])).entries as {
        key: number;
        value: number;
      }[];
      return { values: rows.map((x) => x.value), log: r.stderr };
    };
    const opt = hit(true);
    const jit = hit(false);
    expect(opt.log).toContain("runs the LLVM tier's code");
    expect(jit.log).not.toContain("LLVM");
    expect(opt.values.slice(0, 4)).toEqual([4, 8, 5, 77]);
    // bpf_get_func_ip: the same function in both runs (ASLR moves its page)
    expect(opt.values[4]! % 4096).toBe(jit.values[4]! % 4096);
    expect(opt.values).toHaveLength(jit.values.length);
  } finally {
    rmSync(fx.dir, { recursive: true, force: true });
  }
});

test.skipIf(skip)(
  "an image the loader refuses leaves the program on the JIT, with a log line",
  () => {
    const obj = join(buildExamples(), "checksum.bpf.o");
    const data = join(tempDir("llvm-load"), "packet.bin");
    const packet = Buffer.from("0102030405", "hex");
    writeFileSync(data, packet);
    const { shm, loaded } = load(obj, true);
    const id = loaded.programs[0].id;
    const region = Region.open(shm);
    try {
      region.setProgramNative(id, new TextEncoder().encode("not an image")); // a damaged blob
    } finally {
      region.close();
    }
    const { result, log } = runProgram(shm, id, data);
    expect(log).toContain(`program ${id}: LLVM image refused`);
    expect(log).toContain("the JIT runs it");
    expect(BigInt(result.returnValue)).toBe(BigInt(rfc1071(packet)));
  },
);
