// Shared helpers for integration tests: a free loopback port, temporary
// directories and child processes that are always cleaned up after each test
// (see test/setup.ts), so no nginx or hooked program survives a failing test.
import { afterEach } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RUN_ID, runName } from "./run-id.ts";

export const repoRoot = join(import.meta.dir, "..");
export const bpftimeBin = join(repoRoot, "dist", "bpftime");
export const cliEntry = join(repoRoot, "src", "cli", "main.ts");

const tempDirs = new Set<string>();
const children = new Set<ChildProcess>();

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A new temporary directory, removed after the current test. */
export function tempDir(what = "test"): string {
  const dir = mkdtempSync(
    join(tmpdir(), `bpftime-${RUN_ID}-${what.replace(/^bpftime-|-$/g, "")}-`),
  );
  tempDirs.add(dir);
  return dir;
}

export interface Started {
  proc: ChildProcess;
  pid: number;
  output(): string;
  /** Resolves when `text` has appeared in stdout/stderr (or rejects after timeoutMs). */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

/**
 * Starts a process in its own process group (so stopping it also stops the
 * workers it forks, e.g. nginx) and registers it for cleanup.
 */
export function startProcess(
  cmd: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string } = {},
): Started {
  const proc = spawn(cmd[0]!, cmd.slice(1), {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env } as NodeJS.ProcessEnv,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(proc);
  let out = "";
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  proc.stdout?.on("data", onData);
  proc.stderr?.on("data", onData);
  const exited = new Promise<number | string>((resolve) =>
    proc.on("exit", (code, signal) => {
      children.delete(proc);
      for (const w of waiters.splice(0)) w();
      resolve(code ?? signal ?? -1);
    }),
  );
  const started: Started = {
    proc,
    pid: proc.pid ?? -1,
    output: () => out,
    exited,
    waitFor(text, timeoutMs = 10_000) {
      const seen = () => (typeof text === "string" ? out.includes(text) : text.test(out));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${text}; output so far:\n${out}`)),
          timeoutMs,
        );
        const check = () => {
          if (seen()) {
            clearTimeout(timer);
            resolve();
          } else if (proc.exitCode !== null || proc.signalCode !== null) {
            clearTimeout(timer);
            reject(new Error(`process exited before printing ${text}; output:\n${out}`));
          } else waiters.push(check);
        };
        check();
      });
    },
    async stop() {
      killGroup(proc, "SIGTERM");
      const t = setTimeout(() => killGroup(proc, "SIGKILL"), 3000);
      await exited;
      clearTimeout(t);
      killGroup(proc, "SIGKILL"); // stragglers in the group
    },
  };
  return started;
}

function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    /* already gone */
  }
}

/** Runs a command to completion and returns its exit code and output. */
export function run(
  cmd: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string; stdin?: string } = {},
): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync(cmd, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env } as Record<string, string>,
    stdin: opts.stdin !== undefined ? Buffer.from(opts.stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Runs the CLI from source (fast, no compile step). */
export function cli(
  args: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string; stdin?: string } = {},
) {
  return run([process.execPath, cliEntry, ...args], opts);
}

/** The command line of `bpftime load --shm REGION -- APP...` from source, to spawn. */
export function loadAppArgv(region: string, ...app: string[]): string[] {
  return [process.execPath, cliEntry, "load", "--shm", region, "--", ...app];
}

export async function cleanup(): Promise<void> {
  await Promise.all(
    [...children].map(async (c) => {
      killGroup(c, "SIGKILL");
    }),
  );
  children.clear();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

// cleanup() runs after every test of every file: test/setup.ts (preloaded
// through bunfig.toml) registers it, because a hook registered here would
// only apply to the first test file that imports this module.

/** Prints why a test is skipped (bun's test.skipIf has no reason text). */
export function skipReason(reason: string | undefined, what: string): boolean {
  if (reason) console.log(`skip: ${what}: ${reason}`);
  return !!reason;
}

/**
 * Waits until `cond` holds (polled every 20 ms), throwing after `timeoutMs`:
 * tests synchronise on a condition (a log line, a file, a status), never on
 * a fixed sleep.
 */
export async function waitUntil(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/** Runs the CLI and returns its stdout; a non-zero exit fails the test with its stderr. */
export function cliOk(args: string[], opts: Parameters<typeof cli>[1] = {}): string {
  const r = cli(args, opts);
  if (r.code !== 0) throw new Error(`bpftime ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/**
 * Unique region names for this test file (`PREFIX-<pid>-<n>`), each removed
 * (with its metadata) after the test that asked for it.
 */
export function regionNames(prefix: string): () => string {
  let seq = 0;
  const made: string[] = [];
  afterEach(() => {
    for (const r of made.splice(0)) cli(["shm", "remove", r]);
  });
  return () => {
    const name = runName(`${prefix}-${++seq}`);
    made.push(name);
    return name;
  };
}

/**
 * Builds a native test fixture with `argv` (cc/c++ and its arguments). A
 * fixture that does not compile is a failure, not a reason to skip: throws
 * with the compiler's stderr.
 */
export function compileNative(argv: string[]): void {
  const r = run(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
}

/** Compiles an eBPF C file as the examples are (clang -O2 -g -target bpf, our headers); throws on error. */
export function compileBpf(src: string, out: string): void {
  const r = run([
    "clang",
    "-O2",
    "-g",
    "-target",
    "bpf",
    "-D__TARGET_ARCH_x86",
    `-I${join(repoRoot, "native", "include")}`,
    "-I/usr/include/x86_64-linux-gnu",
    "-c",
    src,
    "-o",
    out,
  ]);
  if (r.code !== 0) throw new Error(`clang ${src}: ${r.stderr}`);
}

/** Builds examples/*.bpf.c (make, incremental) and returns the folder of the objects. */
export function buildExamples(): string {
  run(["make", "-s", "-C", join(repoRoot, "examples")]);
  return join(repoRoot, "examples", "build");
}
