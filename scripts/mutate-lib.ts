// Mutation testing machinery shared by `npm run mutate` (scripts/mutate.ts),
// the C driver (scripts/mutate-c.ts) and the CI list (test/mutants.test.ts):
// a private copy of the tree, one mutant applied at a time to that copy
// (never to the working tree), the rebuild it needs, and the command whose
// failure means the mutant was killed.
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const repoRoot = join(import.meta.dir, "..");

/** What the copy holds: sources, tests, build outputs (for incremental rebuilds). */
const COPIED = [
  "src",
  "test",
  "native",
  "examples",
  "nginx",
  "scripts",
  "package.json",
  "bunfig.toml",
  "tsconfig.json",
];
/** Shared, read-only: linked into the copy. */
const LINKED = ["node_modules", "dist"];

export interface Mutant {
  /** Short stable name: what the mutant breaks. */
  id: string;
  file: string;
  /** Exact text to replace; it must occur exactly once in `file`. */
  find: string;
  replace: string;
  /** The command that must fail when the mutant is applied (run in the copy). */
  test: string[];
}

export interface Outcome {
  mutant: Mutant;
  killed: boolean;
  /** Why it counts as killed (the test's last lines) or why it survived. */
  detail: string;
}

/** A private copy of the tree in a temp directory; `dispose()` removes it. */
export class TreeCopy {
  readonly dir: string;
  private built = false;

  constructor(prefix = "mutants") {
    const run = process.env.BPFTIME_TEST_RUN ?? `m${process.pid.toString(36)}`;
    this.dir = mkdtempSync(join(tmpdir(), `bpftime-${run}-${prefix}-`));
    for (const e of COPIED)
      if (existsSync(join(repoRoot, e)))
        cpSync(join(repoRoot, e), join(this.dir, e), {
          recursive: true,
          preserveTimestamps: true,
        });
    for (const e of LINKED)
      if (existsSync(join(repoRoot, e))) symlinkSync(join(repoRoot, e), join(this.dir, e));
  }

  /** Rebuilds what a change under native/ needs: the libraries and the C tests. */
  rebuildNative(): { ok: boolean; output: string } {
    const tests = Array.from(
      new Bun.Glob("*/tests/test_*.c").scanSync(join(this.dir, "native")),
    ).map((f) => `build/tests/${f.split("/").pop()!.replace(/\.c$/, "")}`);
    const r = sh(["make", "-s", "-C", "native", "-j2", "all", ...tests], this.dir);
    this.built = true;
    return r;
  }

  /**
   * Applies `m`, rebuilds if needed, runs its test, restores the file.
   * Killed = the test command fails; a mutant that does not build is killed
   * too (the compiler caught it), reported as such.
   */
  tryMutant(m: Mutant, env: Record<string, string> = {}): Outcome {
    const path = join(this.dir, m.file);
    const original = readFileSync(path, "utf8");
    const count = original.split(m.find).length - 1;
    if (count !== 1)
      return {
        mutant: m,
        killed: false,
        detail: `stale mutant: "${m.find}" occurs ${count} times in ${m.file} (expected once)`,
      };
    writeFileSync(path, original.replace(m.find, m.replace));
    try {
      if (m.file.startsWith("native/")) {
        const b = this.rebuildNative();
        if (!b.ok) return { mutant: m, killed: true, detail: `does not build: ${tail(b.output)}` };
      }
      const r = sh(m.test, this.dir, env);
      // A command that ran no test (a filter that matches nothing) says
      // nothing about the mutant; any other failure, a crash included, kills it.
      if (/matched 0 tests|^Ran 0 tests/m.test(r.output))
        return { mutant: m, killed: false, detail: `no test ran:\n${tail(r.output)}` };
      return { mutant: m, killed: !r.ok, detail: tail(r.output) };
    } finally {
      writeFileSync(path, original);
    }
  }

  /** Runs a command in the copy (e.g. a baseline: the unmutated tests pass). */
  run(cmd: string[], env: Record<string, string> = {}): { ok: boolean; output: string } {
    if (!this.built && cmd.some((c) => c.includes("native/build"))) this.rebuildNative();
    return sh(cmd, this.dir, env);
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function sh(
  cmd: string[],
  cwd: string,
  env: Record<string, string> = {},
): { ok: boolean; output: string } {
  // Its own session and process group (setsid execs the command, whose pid
  // leads the group): a deadlocked mutant's test may fork children that
  // outlive the timeout's kill of the test itself, so the whole group goes
  // when the command ends, whichever way it ends.
  const r = spawnSync("setsid", ["--wait", ...cmd], {
    cwd,
    env: { ...process.env, ...env },
    encoding: "utf8",
    maxBuffer: 64 << 20,
    timeout: 300_000,
  });
  if (r.pid)
    try {
      process.kill(-r.pid, "SIGKILL");
    } catch {
      // ESRCH: nothing of the group is left
    }
  return { ok: r.status === 0, output: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ?? ""}` };
}

function tail(s: string, n = 6): string {
  return s.trim().split("\n").slice(-n).join("\n");
}

/** `bun test` in the copy, optionally only the tests whose name matches `pattern`. */
export function bunTest(files: string[], pattern?: string): string[] {
  const bun = join(repoRoot, "node_modules", ".bin", "bun");
  return [
    bun,
    "test",
    "--bail",
    "--timeout",
    "120000",
    ...(pattern ? ["-t", pattern] : []),
    ...files,
  ];
}

/** One C test binary (all its tests, or the named ones). */
export function cTest(bin: string, names: string[] = []): string[] {
  return [`native/build/tests/${bin}`, ...names];
}
