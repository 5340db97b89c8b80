// Running one program many times, in bpftime (`bpftime run ID --repeat N`,
// timed in-process) and in the kernel (`bpftool prog run pinned …` =
// BPF_PROG_TEST_RUN, its "duration (average)"): the shared half of the
// benchmarks that compare the two on the same object (bench/maps,
// bench/maps-scale). Bench code only: it measures, it asserts nothing.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

export const repo = join(import.meta.dir, "..", "..");
export const cliEntry = join(repo, "src", "cli", "main.ts");

export function sh(cmd: string[], what: string): string {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", timeout: 600_000 });
  if (r.status !== 0)
    throw new Error(`${what} failed (${cmd.join(" ")}): ${(r.stderr || r.stdout || "").trim()}`);
  return r.stdout;
}

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Why the kernel side cannot run here (undefined: it can). */
export function kernelSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "loading eBPF into the kernel needs root";
  if (spawnSync("bpftool", ["version"]).status !== 0) return "bpftool is not installed";
  return undefined;
}

/**
 * A bench's scratch: a 64-byte packet for XDP test runs, a bpffs directory
 * for the kernel's pins, and the regions it creates; all removed at exit.
 */
export function scratch(tag: string) {
  const pinDir = `/sys/fs/bpf/bpftime-bench-${tag}-${process.pid}`;
  const pkt = join(tmpdir(), `bench-${tag}-${process.pid}.pkt`);
  const regions: string[] = [];
  writeFileSync(pkt, new Uint8Array(64));
  process.on("exit", () => {
    for (const r of regions)
      spawnSync(process.execPath, [cliEntry, "shm", "remove", "--shm", r], { stdio: "ignore" });
    rmSync(pinDir, { recursive: true, force: true });
    rmSync(pkt, { force: true });
  });
  return {
    pinDir,
    pkt,
    /** A fresh region (size like `bpftime shm create --size`, e.g. "256M"); removed at exit. */
    region(name: string, size?: string): string {
      const full = `bench-${tag}-${process.pid}-${name}`;
      regions.push(full);
      sh(
        [
          process.execPath,
          cliEntry,
          "shm",
          "create",
          "--shm",
          full,
          ...(size ? ["--size", size] : []),
        ],
        `bpftime shm create ${full}`,
      );
      return full;
    },
    pinPath(...parts: string[]): string {
      const p = join(pinDir, ...parts);
      mkdirSync(join(p, ".."), { recursive: true });
      return p;
    },
  };
}

/** `bpftime load OBJ` into a region: program name -> id. */
export function loadBpftime(region: string, obj: string): Map<string, number> {
  const out = JSON.parse(
    sh([process.execPath, cliEntry, "load", obj, "--shm", region, "--json"], `bpftime load ${obj}`),
  ) as { programs: Array<{ id: number; name: string }> };
  return new Map(out.programs.map((p) => [p.name, p.id]));
}

/** Average ns per run of program `id`, `repeat` runs, in-process (bpftime run --repeat). */
export function runBpftime(
  region: string,
  id: number,
  pkt: string,
  repeat: number,
  engine = "jit",
): number {
  const out = sh(
    [
      process.execPath,
      cliEntry,
      "run",
      String(id),
      "--shm",
      region,
      "--data",
      pkt,
      "--repeat",
      String(repeat),
      "--engine",
      engine,
      "--json",
    ],
    `bpftime run ${id}`,
  );
  return (JSON.parse(out) as { averageNs: number }).averageNs;
}

/** Average ns per run of a pinned kernel program (BPF_PROG_TEST_RUN through bpftool). */
export function runKernel(pin: string, pkt: string, repeat: number): number {
  const out = sh(
    ["bpftool", "prog", "run", "pinned", pin, "data_in", pkt, "repeat", String(repeat)],
    `bpftool prog run ${pin}`,
  );
  const m = /duration \(average\): (\d+)ns/.exec(out);
  if (!m) throw new Error(`bpftool prog run ${pin}: no duration in ${JSON.stringify(out)}`);
  return Number(m[1]);
}

/** A plain text table: first columns left-aligned, the rest right-aligned. */
export function printTable(head: string[], body: string[][], leftCols = 1) {
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < leftCols ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  console.log(line(head));
  console.log(w.map((n) => "-".repeat(n)).join("  "));
  for (const r of body) console.log(line(r));
}

/** The command line every prog-run bench takes: --rounds, --repeat and --json
 * with its own defaults, plus its own string options (name → default). */
export function benchArgs(rounds: number, repeat: number, own: Record<string, string> = {}) {
  const options: Record<string, { type: "string" | "boolean"; default: string | boolean }> = {
    rounds: { type: "string", default: String(rounds) },
    repeat: { type: "string", default: String(repeat) },
    json: { type: "boolean", default: false },
  };
  for (const [name, value] of Object.entries(own))
    options[name] = { type: "string", default: value };
  const { values } = parseArgs({ options });
  const text = (name: string) => String(values[name]);
  return {
    rounds: Number(values.rounds),
    repeat: Number(values.repeat),
    json: values.json === true,
    text,
  };
}
