// Differential testing against the kernel's verifier: runs a program through
// bpf(BPF_PROG_LOAD) with the small C helper kload.c (compiled on first use).
// `kernelVerdict` returns undefined when the kernel cannot be asked here (no
// compiler, no permission, program type unknown to the kernel).

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ProgramType } from "../contexts.ts";
import type { MapInfo } from "../verifier.ts";
import { mapTypeId, mapTypeOf, progTypes } from "../../enums.ts";

/** Kernel program type of each verifier type the kernel has (native/runtime/prog_types.def). */
const KERNEL_PROG_TYPES: Partial<Record<ProgramType, number>> = Object.fromEntries(
  progTypes.filter((t) => t.kernel && t.runs).map((t) => [t.name, t.id]),
);

const RINGBUF = mapTypeId("ringbuf");

/** Whether the kernel has this program type (else kernelVerdict answers undefined). */
export const kernelHasType = (type: ProgramType): boolean => KERNEL_PROG_TYPES[type] !== undefined;

let helper: string | undefined | null;
let why: string | undefined;

function kload(): string | undefined {
  if (helper !== undefined) return helper ?? undefined;
  const cc = Bun.which("cc") ?? Bun.which("gcc") ?? Bun.which("clang");
  if (!cc) {
    why = "no C compiler for kload.c";
    helper = null;
    return undefined;
  }
  const out = join(
    mkdtempSync(join(tmpdir(), `bpftime-${process.env.BPFTIME_TEST_RUN ?? "x"}-kload-`)),
    "kload",
  );
  const r = Bun.spawnSync([cc, "-O2", "-o", out, join(import.meta.dir, "kload.c")], {
    stderr: "pipe",
  });
  if (r.exitCode !== 0) {
    why = `kload.c does not build: ${r.stderr.toString().split("\n")[0]}`;
    helper = null;
    return undefined;
  }
  helper = out;
  return out;
}

export interface KernelVerdict {
  ok: boolean;
  log: string;
}

/** Why the kernel cannot be asked at all (undefined: it can). */
export function kernelUnavailable(): string | undefined {
  if (!kload()) return why;
  // probe with the smallest valid program
  const v = kernelVerdict({
    insts: new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]),
    type: "xdp",
    maps: [],
  });
  return v ? undefined : (why ?? "bpf(BPF_PROG_LOAD) is not allowed here");
}

export function kernelVerdict(
  p: {
    insts: Uint8Array;
    type: ProgramType;
    maps: MapInfo[];
  },
  /** ask for the kernel's statistics (BPF_LOG_STATS) instead of its full log */
  opts: { stats?: boolean } = {},
): KernelVerdict | undefined {
  const bin = kload();
  const ptype = KERNEL_PROG_TYPES[p.type];
  if (!bin || ptype === undefined) return undefined;
  const words: number[] = [ptype, p.maps.length];
  for (const m of p.maps) {
    const t = typeof m.type === "number" ? m.type : mapTypeOf(m.type)?.id;
    if (t === undefined) return undefined;
    let maxEntries = m.maxEntries;
    if (t === RINGBUF) maxEntries = Math.max(4096, 1 << Math.ceil(Math.log2(maxEntries)));
    const flags = m.readOnly ? 0x80 : 0; // BPF_F_RDONLY_PROG
    words.push(
      t,
      t === RINGBUF ? 0 : m.keySize,
      t === RINGBUF ? 0 : m.valueSize,
      maxEntries,
      flags,
    );
  }
  words.push(p.insts.length / 8);
  const head = new Uint8Array(new Uint32Array(words).buffer);
  const input = new Uint8Array(head.length + p.insts.length);
  input.set(head);
  input.set(p.insts, head.length);
  const r = Bun.spawnSync(opts.stats ? [bin, "stats"] : [bin], {
    stdin: input,
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = r.stdout.toString();
  if (r.exitCode !== 0) {
    why = out.split("\n")[0] || `kload exited ${r.exitCode}`;
    return undefined;
  }
  const nl = out.indexOf("\n");
  return { ok: out.startsWith("OK"), log: out.slice(nl + 1) };
}

export interface KernelStats {
  ok: boolean;
  /** "processed N insns" */
  insns: number;
  /** "verification time N usec" */
  usec: number;
  /** the first line of the kernel's refusal, if it refused */
  error?: string;
}

/** The kernel's verdict and its verification statistics, or undefined when it cannot be asked. */
export function kernelStats(p: {
  insts: Uint8Array;
  type: ProgramType;
  maps: MapInfo[];
}): KernelStats | undefined {
  const v = kernelVerdict(p, { stats: true });
  if (!v) return undefined;
  const insns = /processed (\d+) insns/.exec(v.log);
  const usec = /verification time (\d+) usec/.exec(v.log);
  const out: KernelStats = {
    ok: v.ok,
    insns: insns ? Number(insns[1]) : NaN,
    usec: usec ? Number(usec[1]) : NaN,
  };
  if (!v.ok) {
    const lines = v.log
      .split("\n")
      .filter((l) => l.trim() && !/^(processed|verification time|stack depth)/.test(l));
    out.error = lines[lines.length - 1] ?? "refused";
  }
  return out;
}
