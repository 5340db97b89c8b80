// The code's own promises, checked like any other behaviour: TypeScript in
// strict mode type-checks, and every TypeScript file keeps the one format.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { repoRoot, run } from "./helpers.ts";

const bin = (name: string) => join(repoRoot, "node_modules", ".bin", name);

test("tsc --noEmit (strict) reports no error", () => {
  const r = run([bin("tsc"), "--noEmit", "-p", repoRoot], { cwd: repoRoot });
  expect(r.stdout + r.stderr).toBe("");
  expect(r.code).toBe(0);
}, 120_000);

test("prettier --check: every TypeScript file is formatted", () => {
  const r = run(
    [bin("prettier"), "--check", "src/**/*.ts", "test/**/*.ts", "bench/**/*.ts", "scripts/**/*.ts"],
    {
      cwd: repoRoot,
    },
  );
  expect(r.stdout.split("\n").filter((l) => l.startsWith("[warn]"))).toEqual([]);
  expect(r.code).toBe(0);
}, 240_000);

test("clang-format: every C file of the data plane keeps .clang-format", () => {
  const files = run(["git", "ls-files", "native/*.c", "native/*.h", "nginx/*.c", "nginx/*.h"], {
    cwd: repoRoot,
  })
    .stdout.split("\n")
    .filter(Boolean);
  expect(files.length).toBeGreaterThan(50);
  const r = run(["clang-format", "--dry-run", "-Werror", ...files], { cwd: repoRoot });
  expect(r.stderr.split("\n").filter((l) => l.includes("error:"))).toEqual([]);
  expect(r.code).toBe(0);
}, 240_000);
