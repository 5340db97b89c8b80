// Kernel-vs-bpftime harness for tracing helpers that BPF_PROG_TEST_RUN cannot
// run (uprobe programs): the same object is loaded into the kernel (`load
// --kernel`, libbpf) and into a region, attached to the same function of a
// target built here, the target runs once under each, and the maps' dumps are
// returned for comparison. The kernel is the oracle.
import { afterAll } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { cli, cliEntry, run } from "./helpers.ts";
import { runName } from "./run-id.ts";
import { kernelUnavailable } from "../src/verifier/testdata/kernel.ts";

const root = `/sys/fs/bpf/bpftime-${runName(`core-${Math.random().toString(36).slice(2, 8)}`)}`;
const env = { BPFTIME_BPFFS: root };
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Why the kernel side cannot run here (decided without the code under test), or undefined. */
export function kernelUprobeUnavailable(): string | undefined {
  if (process.platform !== "linux") return "not Linux";
  for (const tool of ["cc", "clang"]) if (!Bun.which(tool)) return `${tool} is not installed`;
  if (process.getuid?.() !== 0) return "not root (bpf() and uprobes need CAP_BPF/CAP_PERFMON)";
  if (!/ \/sys\/fs\/bpf bpf /.test(readFileSync("/proc/mounts", "utf8")))
    return "no bpffs at /sys/fs/bpf";
  if (!existsSync("/sys/bus/event_source/devices/uprobe/type")) return "no uprobe PMU";
  const refused = kernelUnavailable();
  return refused ? `the kernel refuses BPF_PROG_LOAD: ${refused}` : undefined;
}

export interface Attachment {
  prog: string;
  type: string;
  arg: string;
  cookie?: number;
}

function must(args: string[], opts: Parameters<typeof cli>[1] = {}): string {
  const r = cli(args, opts);
  if (r.code !== 0) throw new Error(`bpftime ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Loads `obj` into the kernel, attaches, runs `cmd` to completion, dumps `maps`. */
export function underKernel(
  obj: string,
  links: Attachment[],
  cmd: string[],
  maps: string[],
): Record<string, unknown> {
  const name = `k${Math.random().toString(36).slice(2, 8)}`;
  must(["load", "--kernel", obj, "--name", name, "--json"], { env });
  try {
    for (const l of links) {
      const a = ["attach", "--kernel", `${name}/${l.prog}`, l.type, "--arg", l.arg];
      if (l.cookie !== undefined) a.push("--cookie", String(l.cookie));
      must(a, { env });
    }
    const r = run(cmd);
    if (r.code !== 0) throw new Error(`${cmd.join(" ")}: exit ${r.code}: ${r.stderr}`);
    const out: Record<string, unknown> = {};
    for (const m of maps)
      out[m] = JSON.parse(
        must(["map", "dump", "--kernel", `${name}/${m}`, "--json"], { env }),
      ).entries;
    return out;
  } finally {
    cli(["shm", "remove", "--kernel", name], { env });
  }
}

/** The same under the userspace provider (`bpftime start`, the LD_PRELOAD agent). */
export function underBpftime(
  obj: string,
  links: Attachment[],
  cmd: string[],
  maps: string[],
): Record<string, unknown> {
  const shm = runName(`core-${Math.random().toString(36).slice(2, 8)}`);
  try {
    must(["load", obj, "--shm", shm]);
    for (const l of links) {
      const a = ["attach", l.prog, l.type, "--arg", l.arg, "--shm", shm];
      if (l.cookie !== undefined) a.push("--cookie", String(l.cookie));
      must(a);
    }
    const r = run([process.execPath, cliEntry, "start", "--shm", shm, "--", ...cmd]);
    if (r.code !== 0)
      throw new Error(`bpftime start ${cmd.join(" ")}: exit ${r.code}: ${r.stderr}`);
    const out: Record<string, unknown> = {};
    for (const m of maps)
      out[m] = JSON.parse(must(["map", "dump", m, "--shm", shm, "--json"])).entries;
    return out;
  } finally {
    cli(["shm", "remove", "--shm", shm]);
  }
}

/**
 * One map's entries after the same run under the kernel, then under bpftime
 * (underKernel, underBpftime): what most differential tests compare.
 */
export function mapOnBothSides<Row = { key: number; value: unknown }>(
  obj: string,
  links: Attachment[],
  cmd: string[],
  map: string,
): { k: Row[]; u: Row[] } {
  const k = underKernel(obj, links, cmd, [map])[map] as Row[];
  const u = underBpftime(obj, links, cmd, [map])[map] as Row[];
  return { k, u };
}
