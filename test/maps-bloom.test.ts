// BPF_MAP_TYPE_BLOOM_FILTER against the kernel (raw bpf() on a kernel map of
// the same definition): with BPF_F_ZERO_SEED both hash with the same seed, so
// after the same pushes every query must give the same answer on both —
// including the false positives, which a small bit array makes plentiful.
// Also: no false negatives with a random seed, and the same errno for every
// refused definition and operation.
import { describe, expect, test } from "bun:test";
import { NativeError } from "../src/native/errno.ts";
import * as K from "../src/native/kernel-maps.ts";
import { errnoOf, kernelMapsUnavailable, regionForFile } from "./kernel-maps-harness.ts";
import { skipReason } from "./helpers.ts";
import { mulberry32 } from "../src/prng.ts";

const BLOOM = 30;
const F_ZERO_SEED = 1 << 6;
const F_NO_PREALLOC = 1 << 0;
const BPF_EXIST = 2n;

const skip = skipReason(kernelMapsUnavailable(), "bloom filter kernel tests");
const file = regionForFile("maps-bloom", skip);

/** Seeded bytes (mulberry32), so a failure reproduces. */
function values(seed: number, n: number, size: number): Uint8Array[] {
  const rnd = mulberry32(seed);
  // mulberry32's float times 2^32 is its 32-bit output exactly: the low byte
  const next = () => rnd() * 4294967296;
  return Array.from({ length: n }, () => Uint8Array.from({ length: size }, () => next() & 0xff));
}

interface Def {
  valueSize: number;
  maxEntries: number;
  flags?: number;
  mapExtra?: bigint;
}

function bpftimeMap(d: Def): number {
  return file.region.createMap({
    name: "bloom",
    type: BLOOM,
    keySize: 0,
    valueSize: d.valueSize,
    maxEntries: d.maxEntries,
    flags: d.flags ?? 0,
    ...(d.mapExtra !== undefined ? { mapExtra: d.mapExtra } : {}),
  });
}

function kernelMap(d: Def): number {
  return K.kernelMapCreate({ type: BLOOM, keySize: 0, ...d, name: "bloom" });
}

/** 0 (maybe present) or the errno, for a query of `v`. */
const bpftimeHas = (id: number, v: Uint8Array) =>
  errnoOf(() => {
    if (file.region.mapLookup(id, null, v.length, v) === null) throw new NativeError(2, "absent");
  });
const kernelHas = (fd: number, v: Uint8Array) => {
  const rc = K.kernelMapElem(K.BPF_MAP_LOOKUP_ELEM, fd, null, v.slice());
  return rc < 0 ? -rc : 0;
};

describe.skipIf(!!skip)("bloom filter, kernel vs bpftime", () => {
  // value sizes: whole 32-bit words (jhash2) and odd sizes (jhash), short and
  // long; nr_hash_funcs from map_extra (0 means 5)
  const defs: Def[] = [
    { valueSize: 4, maxEntries: 4, mapExtra: 3n },
    { valueSize: 8, maxEntries: 16 },
    { valueSize: 3, maxEntries: 8, mapExtra: 1n },
    { valueSize: 13, maxEntries: 5, mapExtra: 15n },
    { valueSize: 40, maxEntries: 100, mapExtra: 2n },
  ];
  for (const d of defs) {
    test(`value_size ${d.valueSize}, max_entries ${d.maxEntries}, map_extra ${d.mapExtra ?? 0}: the same answers, false positives included`, () => {
      const def = { ...d, flags: F_ZERO_SEED };
      const id = bpftimeMap(def);
      const fd = kernelMap(def);
      expect(fd).toBeGreaterThanOrEqual(0);
      try {
        const pushed = values(d.valueSize * 1000 + d.maxEntries, d.maxEntries * 2, d.valueSize);
        for (const v of pushed) {
          file.region.mapUpdate(id, null, v, 0n);
          expect(K.kernelMapElem(K.BPF_MAP_UPDATE_ELEM, fd, null, v, 0n)).toBe(0);
        }
        const asked = [...pushed, ...values(7 + d.valueSize, 400, d.valueSize)];
        const k = asked.map((v) => kernelHas(fd, v));
        const u = asked.map((v) => bpftimeHas(id, v));
        expect(u).toEqual(k);
        // Every pushed value is found; some never-pushed ones are too (the
        // filter is small): the comparison covers false positives.
        expect(k.slice(0, pushed.length).every((e) => e === 0)).toBe(true);
        expect(k.slice(pushed.length).filter((e) => e === 0).length).toBeGreaterThan(0);
        expect(k.slice(pushed.length).filter((e) => e === 2).length).toBeGreaterThan(0);
      } finally {
        file.region.deleteMap(id);
        K.kernelClose(fd);
      }
    });
  }

  test("with a random seed, every pushed value is still found", () => {
    const id = bpftimeMap({ valueSize: 12, maxEntries: 1000 });
    try {
      const vs = values(99, 1000, 12);
      for (const v of vs) file.region.mapUpdate(id, null, v, 0n);
      expect(vs.every((v) => bpftimeHas(id, v) === 0)).toBe(true);
    } finally {
      file.region.deleteMap(id);
    }
  });

  test("refused definitions and operations give the kernel's errno", () => {
    const bad: Array<Def & { keySize?: number }> = [
      { valueSize: 4, maxEntries: 4, mapExtra: 0x10n }, // beyond nr_hash_funcs' 4 bits
      { valueSize: 0, maxEntries: 4 },
      { valueSize: 4, maxEntries: 0 },
      { valueSize: 4, maxEntries: 4, keySize: 4 },
      { valueSize: 4, maxEntries: 4, flags: F_NO_PREALLOC },
    ];
    for (const d of bad) {
      const fd = K.kernelMapCreate({ type: BLOOM, keySize: 0, ...d, name: "bad" });
      const u = errnoOf(() =>
        file.region.createMap({
          name: "bad",
          type: BLOOM,
          keySize: d.keySize ?? 0,
          valueSize: d.valueSize,
          maxEntries: d.maxEntries,
          flags: d.flags ?? 0,
          ...(d.mapExtra !== undefined ? { mapExtra: d.mapExtra } : {}),
        }),
      );
      if (fd >= 0) K.kernelClose(fd);
      expect({ def: d, errno: u }).toEqual({ def: d, errno: -fd });
    }
    const def = { valueSize: 4, maxEntries: 8, flags: F_ZERO_SEED };
    const id = bpftimeMap(def);
    const fd = kernelMap(def);
    try {
      const v = Uint8Array.of(1, 2, 3, 4);
      const ops: Array<[string, () => number, () => number]> = [
        [
          "push with BPF_EXIST",
          () => errnoOf(() => file.region.mapUpdate(id, null, v, BPF_EXIST)),
          () => -Math.min(0, K.kernelMapElem(K.BPF_MAP_UPDATE_ELEM, fd, null, v, BPF_EXIST)),
        ],
        [
          "delete",
          () => errnoOf(() => file.region.mapDeleteElem(id, new Uint8Array(0))),
          () => -Math.min(0, K.kernelMapElem(K.BPF_MAP_DELETE_ELEM, fd, null, null)),
        ],
        [
          "get_next_key",
          () => errnoOf(() => file.region.mapNextKey(id, null, 4)),
          () => -Math.min(0, K.kernelMapElem(K.BPF_MAP_GET_NEXT_KEY, fd, null, new Uint8Array(4))),
        ],
        [
          "pop (lookup_and_delete)",
          () => errnoOf(() => file.region.mapPop(id, 4)),
          () =>
            -Math.min(
              0,
              K.kernelMapElem(K.BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, null, new Uint8Array(4)),
            ),
        ],
      ];
      for (const [what, u, k] of ops) expect({ what, errno: u() }).toEqual({ what, errno: k() });
    } finally {
      file.region.deleteMap(id);
      K.kernelClose(fd);
    }
  });
});
