// BTF map definitions that are well-formed C but not a map bpftime (or libbpf)
// can create: one clear line each.
import { afterAll, expect } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bpftimeErrorOf } from "../errors.ts";
import { loadObject } from "./object.ts";
import { compileSource, objectTestGate } from "./testdata.ts";

const { skip, t } = objectTestGate("map-defs.test.ts");
const dir = skip
  ? ""
  : mkdtempSync(join(tmpdir(), `bpftime-${process.env.BPFTIME_TEST_RUN ?? "x"}-map-defs-`));
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function loadError(name: string): string {
  const out = join(dir, `${name}.o`);
  compileSource(join(import.meta.dir, "testdata", "map-defs", `${name}.bpf.c`), out);
  return bpftimeErrorOf(() => loadObject(new Uint8Array(readFileSync(out)))).message;
}

t("inner maps declared on a map that is not an array or hash of maps", () => {
  expect(loadError("inner_not_outer")).toBe(
    "section .maps: map not_outer: only array_of_maps and hash_of_maps take __array(values, …)",
  );
});

t("an array of maps without its inner map", () => {
  expect(loadError("outer_without_inner")).toBe(
    "section .maps: map no_inner: a array_of_maps map needs its inner map in the definition (__array(values, struct inner_map))",
  );
});
