// Maps of maps (array_of_maps, hash_of_maps) through `bpftime load OBJ`:
// the ELF loader's inner-map templates (`__array(values, struct …)`) and
// static slots (`.values = { [i] = &map }`), `bpftime map` on outer maps
// (ids and names out, ids or names in), lifetimes (an outer map holds what
// it stores), and the verifier's map-pointer-or-null, each program's verdict
// compared with the kernel's (bpftool prog load). The libbpf application
// (`bpftime load -- APP`, kernel vs bpftime) is in test/syscall-server.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kernelUnavailable } from "../src/verifier/testdata/kernel.ts";
import { cli, cliOk, compileBpf, regionNames, run, skipReason } from "./helpers.ts";
import { RUN_ID, runName } from "./run-id.ts";

const fixtures = join(import.meta.dir, "fixtures");
const noClang = Bun.which("clang") ? undefined : "clang is not installed";
const skip = skipReason(noClang, "map-in-map tests");
const noKernel = skip ? undefined : kernelUnavailable();
const kernelSkip = skipReason(
  noKernel ?? (Bun.which("bpftool") ? undefined : "bpftool is not installed"),
  "kernel verdicts of the map-in-map programs",
);
const newRegion = regionNames("mim");

let dir = "";
const obj = (name: string) => join(dir, `${name}.bpf.o`);
beforeAll(() => {
  if (skip) return;
  // built once for the file (tempDir() would go after the first test)
  dir = mkdtempSync(join(tmpdir(), `bpftime-${RUN_ID}-map-in-map-`));
  compileBpf(join(fixtures, "libbpf-apps", "map_in_map.bpf.c"), obj("map_in_map"));
  for (const n of ["good", "no_null_check", "past_value", "update_outer"])
    compileBpf(join(fixtures, "map-in-map", `${n}.bpf.c`), obj(n));
});

const pinRoot = `/sys/fs/bpf/bpftime-${runName("mim")}`;
afterAll(() => {
  rmSync(pinRoot, { recursive: true, force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function loaded() {
  const shm = newRegion();
  cliOk(["load", obj("map_in_map"), "--shm", shm]);
  const mapOk = (...args: string[]) => cliOk(["map", ...args, "--shm", shm]);
  const json = (...args: string[]) => JSON.parse(mapOk(...args, "--json"));
  const idOf = (name: string): number => json("show", name).id;
  return { shm, mapOk, json, idOf, map: (...a: string[]) => cli(["map", ...a, "--shm", shm]) };
}

describe.skipIf(skip)("maps of maps under bpftime load OBJ", () => {
  test("the loader takes the template from __array(values, …) and fills .values slots", () => {
    const { json, idOf } = loaded();
    // map_in_map.bpf.c: struct inner_array is an array of four __u64 keyed by __u32
    expect(json("show", "slots")).toMatchObject({
      type: "array_of_maps",
      keySize: 4,
      valueSize: 4,
      maxEntries: 2,
      inner: { type: "array", keySize: 4, valueSize: 8, maxEntries: 4, flags: 0 },
    });
    expect(json("show", "by_arg")).toMatchObject({
      type: "hash_of_maps",
      inner: { type: "hash", keySize: 4, valueSize: 8, maxEntries: 8 },
    });
    // `.values = {[0] = &inner_a}`; slot 1 is empty (a lookup there is ENOENT)
    expect(json("dump", "slots")).toEqual([
      { key: 0, value: { id: idOf("inner_a"), name: "inner_a" } },
    ]);
    expect(json("dump", "by_arg")).toEqual([]);
  });

  test("map update takes an inner map by name or id, checked against the template", () => {
    const { mapOk, json, idOf, map } = loaded();
    const b = idOf("inner_b");
    mapOk("update", "slots", "1", "inner_b");
    expect(json("lookup", "slots", "1")).toEqual({ key: 1, value: { id: b, name: "inner_b" } });
    mapOk("update", "slots", "1", String(idOf("inner_a"))); // by id
    expect(json("lookup", "slots", "1").value.name).toBe("inner_a");
    // by_arg's template is a hash: an array does not match it, nor an outer map the array one
    const bad = map("update", "by_arg", "8", "inner_a");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("does not match the inner-map template");
    expect(bad.stderr).toContain("its type differs");
    expect(map("update", "slots", "0", "by_arg").code).not.toBe(0);
    expect(json("lookup", "slots", "0").value.name).toBe("inner_a"); // unchanged
  });

  test("an outer map is one of the holders of the maps it stores", () => {
    const { mapOk, idOf, map } = loaded();
    const slots = idOf("slots");
    const del = map("delete", "inner_a");
    expect(del.code).not.toBe(0);
    // the object's program holds every map of its object, the outer map its slot's
    expect(del.stderr).toMatch(new RegExp(`held by program \\d+, map ${slots}:`));
    // inner_b, stored in no slot, has the program alone; stored, the outer map too
    expect(map("delete", "inner_b").stderr).not.toContain(`map ${slots}`);
    mapOk("update", "slots", "1", "inner_b");
    expect(map("delete", "inner_b").stderr).toContain(`map ${slots}`);
  });
});

/** Our verdict (`bpftime load`) and its first error line. */
function ours(name: string): { ok: boolean; err: string } {
  const r = cli(["load", obj(name), "--shm", newRegion()]);
  return { ok: r.code === 0, err: r.stderr };
}

describe.skipIf(skip)("the verifier's map pointer or NULL", () => {
  const cases: Array<[string, boolean, string]> = [
    ["good", true, ""],
    ["no_null_check", false, "map_ptr_or_null"],
    ["past_value", false, "map value"],
    ["update_outer", false, "cannot pass map_type array_of_maps into func map_update_elem"],
  ];
  for (const [name, ok, why] of cases) {
    test(`${name}: ${ok ? "accepted" : "refused"}`, () => {
      const v = ours(name);
      expect(v.ok).toBe(ok);
      expect(v.err).toContain(why);
    });
    test.skipIf(kernelSkip)(`${name}: the kernel's verdict is the same`, () => {
      mkdirSync(pinRoot, { recursive: true });
      const k = run(["bpftool", "prog", "load", obj(name), join(pinRoot, name)]);
      expect(k.code === 0).toBe(ok);
    });
  }
});
