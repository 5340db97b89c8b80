// One table per kernel enum (native/runtime/map_types.def, prog_types.def,
// native/common/errno.def), read by C and by TypeScript: the two readings
// agree, and what the C runtime implements is what the table says.
import { describe, expect, test } from "bun:test";
import { constants } from "node:os";
import { mapTypes, progTypes, runnableProgTypes, mapTypeName, mapTypeOf } from "../src/enums.ts";
import { errnos, errnoCode, errnoName } from "../src/native/errno.ts";
import { nativeTypeTables, Region } from "../src/native/runtime.ts";
import { PROGRAM_TYPES, MAP_TYPES } from "../src/verifier/index.ts";
import { regionNames } from "./helpers.ts";

const region = regionNames("enums");

describe("map types (map_types.def)", () => {
  test("C and TypeScript give every listed type the same name and flags", () => {
    expect(mapTypes.length).toBeGreaterThan(30);
    for (const t of mapTypes) {
      expect(nativeTypeTables.mapTypeName(t.id)).toBe(t.name);
      expect(nativeTypeTables.mapTypeFlags(t.id)).toBe(t.flagBits);
    }
  });

  test("a number the table does not list is unknown on both sides", () => {
    for (const id of [mapTypes.length + 100, 0xffff]) {
      expect(mapTypeOf(id)).toBeUndefined();
      expect(mapTypeName(id)).toBe(`unknown(${id})`);
      expect(nativeTypeTables.mapTypeName(id)).toBeNull();
      expect(nativeTypeTables.mapTypeFlags(id)).toBe(0);
    }
  });

  test("the runtime refuses exactly the types the table does not mark implemented", () => {
    const r = Region.create(region(), 16 << 20);
    try {
      for (const t of mapTypes) {
        let refused: string | undefined;
        try {
          r.createMap({
            name: `t${t.id}`,
            type: t.id,
            keySize: 4,
            valueSize: 4,
            maxEntries: 4096,
            flags: 0,
          });
        } catch (e) {
          refused = (e as Error).message;
        }
        if (t.impl) expect(refused ?? "").not.toContain("is not supported");
        else expect(refused).toContain(`map type ${t.id} (${t.name}) is not supported`);
      }
    } finally {
      r.close();
    }
  });

  test("the verifier accepts the implemented types, by name and by kernel name", () => {
    expect([...MAP_TYPES].sort()).toEqual(
      mapTypes
        .filter((t) => t.impl)
        .map((t) => t.name)
        .sort(),
    );
    expect(mapTypeOf("BPF_MAP_TYPE_PERCPU_HASH")?.perCpu).toBe(true);
  });
});

describe("program types (prog_types.def)", () => {
  test("C and TypeScript name every stored type alike", () => {
    for (const t of progTypes.filter((p) => !p.flavour))
      expect(nativeTypeTables.progTypeName(t.id)).toBe(t.name);
    expect(nativeTypeTables.progTypeName(0x1fff)).toBeNull();
  });

  test("the types bpftime runs are exactly the verifier's contexts", () => {
    expect([...runnableProgTypes].sort()).toEqual([...PROGRAM_TYPES].sort());
  });
});

describe("error numbers (errno.def)", () => {
  test("each libc errno has the number the system gives its name", () => {
    const sys = constants.errno as Record<string, number>;
    const libc = errnos.filter((e) => e.libc);
    expect(libc.length).toBeGreaterThan(10);
    for (const e of libc) expect(sys[e.name]).toBe(e.number);
  });

  test("names and codes: listed numbers map as written, others are io", () => {
    expect(errnoName(2)).toBe("ENOENT");
    expect(errnoCode(2)).toBe("not_found");
    expect(errnoCode(4007)).toBe("verifier");
    expect(errnoCode(9999)).toBe("io");
    expect(errnoName(9999)).toBe("errno 9999");
  });
});
