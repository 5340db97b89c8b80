// bpf_get_stack / bpf_get_stackid with BPF_MAP_TYPE_STACK_TRACE (and
// bpf_get_func_ip, bpf_get_attach_cookie) against the kernel: the same uprobe and uretprobe (test/fixtures/core/stacks.bpf.c) on
// the same frame-pointer target, in the kernel and under bpftime. The two
// processes load at other addresses, so frames are compared as FILE+OFFSET
// (each run writes its /proc/self/maps). Frames past main() walk through
// libc, built without frame pointers: compared up to the first frame outside
// the target (the return into libc), which both must agree on.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { compileBpf, skipReason, compileNative } from "./helpers.ts";
import { RUN_ID } from "./run-id.ts";
import { kernelUprobeUnavailable, underBpftime, underKernel } from "./core-diff.ts";

const fixtures = join(import.meta.dir, "fixtures", "core");
const T = 60_000;
const skip = skipReason(kernelUprobeUnavailable(), "stack helper kernel differential tests");
const dir = mkdtempSync(join(tmpdir(), `bpftime-${RUN_ID}-stacks-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Rec {
  ret: number;
  ips: number[];
}

/** FILE+0xOFFSET for each address, by the run's own /proc/self/maps. */
function symbolizer(mapsFile: string): (ip: number) => string {
  const maps = readFileSync(mapsFile, "utf8")
    .split("\n")
    .map((l) => /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ \S+\s+(\S.*)?$/.exec(l))
    .filter((m) => m)
    .map((m) => ({
      lo: parseInt(m![1]!, 16),
      hi: parseInt(m![2]!, 16),
      off: parseInt(m![3]!, 16),
      file: basename(m![4] ?? "anon"),
    }));
  return (ip) => {
    const m = maps.find((x) => ip >= x.lo && ip < x.hi);
    return m ? `${m.file}+0x${(ip - m.lo + m.off).toString(16)}` : `?0x${ip.toString(16)}`;
  };
}

const hexKey = (id: number) => Buffer.from(Uint32Array.of(id).buffer).toString("hex");

/** Frames up to and including the first one outside the target binary. */
function frames(ips: number[], n: number, sym: (ip: number) => string): string[] {
  const out: string[] = [];
  for (const ip of ips.slice(0, n)) {
    const s = sym(ip);
    out.push(s);
    if (!s.startsWith("stacks+")) break;
  }
  return out;
}

describe.skipIf(skip)("stack helpers, kernel vs bpftime", () => {
  test(
    "bpf_get_stack and bpf_get_stackid give the kernel's user frames and results",
    () => {
      const target = join(dir, "stacks");
      compileNative([
        "cc",
        "-O1",
        "-g",
        "-fno-omit-frame-pointer",
        "-fno-optimize-sibling-calls",
        "-o",
        target,
        join(fixtures, "stacks.c"),
      ]);
      const obj = join(dir, "stacks.bpf.o");
      compileBpf(join(fixtures, "stacks.bpf.c"), obj);
      const links = [
        { prog: "on_inner", type: "uprobe", arg: `${target}:inner` },
        { prog: "inner_ret", type: "uretprobe", arg: `${target}:inner` },
        { prog: "on_middle", type: "uprobe", arg: `${target}:middle`, cookie: 0xc0ffee },
      ];
      const side = (which: "kernel" | "bpftime") => {
        const mapsFile = join(dir, `${which}.maps`);
        const f = which === "kernel" ? underKernel : underBpftime;
        const d = f(obj, links, [target, mapsFile], ["recs", "stacks"]);
        const recs = new Map(
          (d.recs as Array<{ key: number; value: Rec }>).map((e) => [e.key, e.value]),
        );
        return {
          recs,
          stacks: d.stacks as Array<{ key: number | string; value: unknown }>,
          sym: symbolizer(mapsFile),
        };
      };
      const k = side("kernel");
      const u = side("bpftime");
      // Frames (FILE+OFFSET), for every bpf_get_stack that found some.
      for (const key of [0, 1, 2, 11, 12]) {
        const kr = k.recs.get(key)!;
        const ur = u.recs.get(key)!;
        const kf = frames(kr.ips, Math.max(0, kr.ret) / 8, k.sym);
        const uf = frames(ur.ips, Math.max(0, ur.ret) / 8, u.sym);
        expect(kf.length).toBeGreaterThan(1);
        expect({ key, frames: uf }).toEqual({ key, frames: kf });
      }
      // Results that do not depend on addresses: a full 2-frame buffer,
      // skipping everything, a size not a multiple of 8, an unknown flag;
      // the same stack twice gets one id; skip-all and bad flags fail.
      for (const key of [2, 3, 4, 5, 9, 10])
        expect({ key, ret: u.recs.get(key)!.ret }).toEqual({ key, ret: k.recs.get(key)!.ret });
      for (const s of [k, u]) {
        expect(s.recs.get(6)!.ret).toBeGreaterThanOrEqual(0);
        expect(s.recs.get(7)!.ret).toBe(s.recs.get(6)!.ret);
        expect(s.recs.get(8)!.ret).toBeGreaterThanOrEqual(0);
      }
      // The stack map holds the frames under those ids.
      const stored = (s: typeof k, id: number) => {
        const row = s.stacks.find((e) => e.key === id || e.key === hexKey(id));
        expect(row).toBeDefined();
        const b = Buffer.from(row!.value as string, "hex");
        const ips = Array.from({ length: b.length / 8 }, (_, i) =>
          Number(b.readBigUint64LE(i * 8)),
        );
        return frames(ips, ips.indexOf(0) < 0 ? ips.length : ips.indexOf(0), s.sym);
      };
      for (const key of [6, 8])
        expect({ key, frames: stored(u, u.recs.get(key)!.ret) }).toEqual({
          key,
          frames: stored(k, k.recs.get(key)!.ret),
        });
      // bpf_get_func_ip: the probed function (as FILE+OFFSET); the cookie.
      const fip = (s: typeof k) => [s.sym(s.recs.get(14)!.ips[0]!), s.recs.get(14)!.ips[1]];
      expect(fip(u)).toEqual(fip(k));
      expect(fip(k)[1]).toBe(0xc0ffee);
      // bpftime only (the kernel's own stack is not comparable): empty.
      expect(u.recs.get(13)!.ret).toBe(0);
      expect(u.recs.get(13)!.ips.every((x) => x === 0)).toBe(true);
    },
    T,
  );
});
