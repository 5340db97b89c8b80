// The boundaries of docs/ARCHITECTURE.md, checked on every import of every
// src/**/*.ts file (as cilium/ebpf checks its own with depguard):
//   1. bun:ffi only in src/native/ (the one room that talks to C);
//   2. src/ops/ never imports src/cli/ or src/server/ (the operations know
//      neither face);
//   3. a package (a directory directly under src/) reaches another package only
//      through its index.ts. Files directly under src/ (errors.ts, json.ts,
//      log.ts, version.ts) belong to no package and may be imported anywhere.
// Exceptions are listed below with their reason; there are none for rules 1, 2.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { repoRoot } from "./helpers.ts";

const src = join(repoRoot, "src");

/** Rule-3 exceptions: importer (relative to src/) → the imported file, with why. */
const exceptions: Record<string, { imports: string; why: string }[]> = {
  "btf/btf.test.ts": [
    { imports: "elf/testdata.ts", why: "test objects compiled once for every parser test" },
  ],
};

interface Import {
  file: string; // relative to src/
  spec: string;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return tsFiles(p);
    return d.name.endsWith(".ts") ? [p] : [];
  });
}

/** Every static and dynamic import and re-export, with comments removed first. */
function importsOf(path: string): Import[] {
  const text = readFileSync(path, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  const out: Import[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)"([^"]+)"/gm;
  for (const m of text.matchAll(re)) out.push({ file: relative(src, path), spec: m[1]! });
  return out;
}

const all = tsFiles(src).flatMap(importsOf);
const packageOf = (rel: string) => (rel.includes("/") ? rel.split("/")[0]! : undefined);
/** The imported file relative to src/, for relative specifiers. */
const target = (i: Import) => {
  if (!i.spec.startsWith(".")) return undefined;
  const t = relative(src, resolve(src, dirname(i.file), i.spec));
  return t.startsWith("..") ? undefined : t; // outside src/: built libraries, C tables
};

test("the import parser sees the imports (sanity)", () => {
  expect(all.length).toBeGreaterThan(200);
  expect(all).toContainEqual({ file: "native/kernel.ts", spec: "bun:ffi" });
  expect(all).toContainEqual({ file: "cli/serve.ts", spec: "../server/index.ts" });
});

test("bun:ffi is imported only in src/native/", () => {
  const bad = all.filter((i) => i.spec === "bun:ffi" && packageOf(i.file) !== "native");
  expect(bad).toEqual([]);
});

test("src/ops/ imports neither src/cli/ nor src/server/", () => {
  const bad = all.filter((i) => {
    const t = target(i);
    return packageOf(i.file) === "ops" && t !== undefined && /^(cli|server)\//.test(t);
  });
  expect(bad).toEqual([]);
});

test("a package reaches another only through its index.ts", () => {
  const bad = all.filter((i) => {
    const t = target(i);
    const from = packageOf(i.file);
    const to = t === undefined ? undefined : packageOf(t);
    if (!from || !to || from === to || t === `${to}/index.ts`) return false;
    return !exceptions[i.file]?.some((e) => e.imports === t);
  });
  expect(bad.map((i) => `${i.file} imports ${i.spec}`)).toEqual([]);
});

test("every listed exception still exists (a stale one is removed)", () => {
  for (const [file, list] of Object.entries(exceptions))
    for (const e of list)
      expect(all.some((i) => i.file === file && target(i) === e.imports)).toBe(true);
});
