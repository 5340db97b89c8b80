// Syscall targets: the cost of one intercepted syscall (getpid in a loop,
// bench/syscall/syscall_bench.c), ns per call:
//   - plain; under `bpftime start` with no link (the agent loaded, SUD off);
//   - with a link on another syscall (SUD on: every syscall takes the SIGSYS
//     round trip, no program runs for getpid);
//   - with examples/syscount.bpf.c on every syscall (raw_tracepoint/sys_enter);
//   - the kernel: the same syscount program on the raw tracepoint sys_enter
//     (libbpf, test/fixtures/syscall/kload.c), when root.
// Measures, asserts nothing.   bun bench/syscall/run.ts [CALLS]
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";

const root = join(import.meta.dir, "..", "..");
const out = join(root, "bench", "build", "syscall");
mkdirSync(out, { recursive: true });
const calls = process.argv[2] ?? "200000";
const cli = [process.execPath, join(root, "src", "cli", "main.ts")];
const region = `bench-syscall-${process.pid}`;

function sh(cmd: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { env: { ...process.env, ...env }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr}`);
  return r.stdout;
}
const nsOf = (text: string) => Number(/ns_per_call ([\d.]+)/.exec(text)![1]);

sh(["make", "-s", "-C", join(root, "native")]);
sh(["make", "-s", "-C", join(root, "examples")]);
const bench = join(out, "syscall_bench");
sh(["cc", "-O2", "-o", bench, join(import.meta.dir, "syscall_bench.c")]);
const syscount = join(root, "examples", "build", "syscount.bpf.o");

const rows: Array<[string, number]> = [];
rows.push(["plain", nsOf(sh([bench, calls]))]);
const started = () => nsOf(sh([...cli, "start", "--quiet", "--shm", region, "--", bench, calls]));
try {
  sh([...cli, "shm", "create", "--shm", region]);
  rows.push(["bpftime start, no syscall link", started()]);
  sh([...cli, "load", syscount, "--shm", region]);
  const other = JSON.parse(
    sh([
      ...cli,
      "attach",
      "count_syscalls",
      "sys_enter",
      "--arg",
      "close",
      "--shm",
      region,
      "--json",
    ]),
  ) as { linkId: number };
  rows.push(["bpftime, a link on another syscall (close)", started()]);
  sh([...cli, "detach", String(other.linkId), "--shm", region]);
  sh([...cli, "attach", "count_syscalls", "sys_enter", "--arg", "all", "--shm", region]);
  rows.push(["bpftime, syscount on every syscall", started()]);
} finally {
  spawnSync(cli[0]!, [...cli.slice(1), "shm", "remove", "--shm", region]);
}

if (process.getuid?.() === 0) {
  const kload = join(out, "kload");
  sh(["cc", "-O2", "-o", kload, join(root, "test", "fixtures", "syscall", "kload.c"), "-lbpf"]);
  const k = spawn(kload, [syscount, ""], { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let text = "";
    k.stdout.on("data", (d) => {
      text += d;
      if (text.includes("attached")) resolve();
    });
    k.on("exit", () => reject(new Error(`kload exited: ${text}`)));
  });
  rows.push(["kernel, syscount on raw_tracepoint sys_enter", nsOf(sh([bench, calls]))]);
  k.kill("SIGTERM");
} else {
  console.log("(kernel row skipped: not root)");
}

const base = rows[0]![1];
console.log(`getpid(2), ns per call (best of 5 x ${calls})`);
console.log("| setup | ns/call | added ns/call |");
console.log("|---|---:|---:|");
for (const [what, ns] of rows)
  console.log(`| ${what} | ${ns.toFixed(1)} | ${(ns - base).toFixed(1)} |`);
