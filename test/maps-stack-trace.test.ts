// BPF_MAP_TYPE_STACK_TRACE's control plane against the kernel (raw bpf() on
// a kernel map of the same definition): every refused definition and every
// operation on an empty map give the kernel's errno. Stacks themselves come
// from bpf_get_stackid(): test/core-stacks.test.ts compares those.
import { describe, expect, test } from "bun:test";
import { NativeError } from "../src/native/errno.ts";
import * as K from "../src/native/kernel-maps.ts";
import { errnoOf, kernelMapsUnavailable, regionForFile } from "./kernel-maps-harness.ts";
import { skipReason } from "./helpers.ts";

const STACK_TRACE = 7;

const skip = skipReason(kernelMapsUnavailable(), "stack trace map kernel tests");
const file = regionForFile("maps-stack", skip);

const u32 = (v: number) => new Uint8Array(Uint32Array.of(v).buffer);

interface Def {
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
}

describe.skipIf(!!skip)("stack trace map, kernel vs bpftime", () => {
  test("definitions: the kernel's errno for each refused one", () => {
    const defs: Def[] = [
      { keySize: 4, valueSize: 8, maxEntries: 1 }, // the smallest valid one
      { keySize: 4, valueSize: 127 * 8, maxEntries: 3 }, // the deepest
      { keySize: 4, valueSize: 128 * 8, maxEntries: 3 }, // one frame too deep
      { keySize: 4, valueSize: 12, maxEntries: 3 },
      { keySize: 4, valueSize: 0, maxEntries: 3 },
      { keySize: 8, valueSize: 64, maxEntries: 3 },
      { keySize: 4, valueSize: 64, maxEntries: 0 },
      { keySize: 4, valueSize: 64, maxEntries: 3, flags: 1 }, // BPF_F_NO_PREALLOC
    ];
    for (const d of defs) {
      const fd = K.kernelMapCreate({ type: STACK_TRACE, ...d, name: "st" });
      let id = 0;
      const u = errnoOf(() => {
        id = file.region.createMap({ name: "st", type: STACK_TRACE, ...d, flags: d.flags ?? 0 });
      });
      if (fd >= 0) K.kernelClose(fd);
      if (!u) file.region.deleteMap(id);
      expect({ def: d, errno: u }).toEqual({ def: d, errno: fd < 0 ? -fd : 0 });
    }
  });

  test("operations on an empty map: the kernel's errno", () => {
    const d = { keySize: 4, valueSize: 64, maxEntries: 5 }; // 8 buckets
    const fd = K.kernelMapCreate({ type: STACK_TRACE, ...d, name: "st" });
    const id = file.region.createMap({ name: "st", type: STACK_TRACE, ...d, flags: 0 });
    const k = (cmd: number, key: Uint8Array | null, value: Uint8Array | null, flags = 0n) =>
      -Math.min(0, K.kernelMapElem(cmd, fd, key, value, flags));
    try {
      const cases: Array<[string, number, number]> = [
        [
          "lookup of an empty bucket",
          errnoOf(() => {
            if (file.region.mapLookup(id, u32(3), 64) === null) throw new NativeError(2, "absent");
          }),
          k(K.BPF_MAP_LOOKUP_ELEM, u32(3), new Uint8Array(64)),
        ],
        [
          "lookup beyond the buckets",
          errnoOf(() => {
            if (file.region.mapLookup(id, u32(8), 64) === null) throw new NativeError(2, "absent");
          }),
          k(K.BPF_MAP_LOOKUP_ELEM, u32(8), new Uint8Array(64)),
        ],
        [
          "update",
          errnoOf(() => file.region.mapUpdate(id, u32(1), new Uint8Array(64), 0n)),
          k(K.BPF_MAP_UPDATE_ELEM, u32(1), new Uint8Array(64)),
        ],
        [
          "delete of an empty bucket",
          errnoOf(() => file.region.mapDeleteElem(id, u32(1))),
          k(K.BPF_MAP_DELETE_ELEM, u32(1), null),
        ],
        [
          "delete beyond the buckets",
          errnoOf(() => file.region.mapDeleteElem(id, u32(8))),
          k(K.BPF_MAP_DELETE_ELEM, u32(8), null),
        ],
        [
          "first key",
          errnoOf(() => {
            if (file.region.mapNextKey(id, null, 4) === null) throw new NativeError(2, "none");
          }),
          k(K.BPF_MAP_GET_NEXT_KEY, null, new Uint8Array(4)),
        ],
        [
          "lookup_and_delete",
          errnoOf(() => {
            if (file.region.mapPop(id, 64, u32(1)) === null) throw new NativeError(2, "absent");
          }),
          k(K.BPF_MAP_LOOKUP_AND_DELETE_ELEM, u32(1), new Uint8Array(64)),
        ],
      ];
      for (const [what, u, kk] of cases) expect({ what, errno: u }).toEqual({ what, errno: kk });
    } finally {
      file.region.deleteMap(id);
      K.kernelClose(fd);
    }
  });
});
