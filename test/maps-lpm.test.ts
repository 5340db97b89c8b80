// BPF_MAP_TYPE_LPM_TRIE against the kernel (raw bpf() on a kernel map of the
// same definition): seeded sequences of update (every flag, prefix lengths
// up to one past the key's bits), longest-prefix lookup, delete and
// get_next_key (NULL, stored, missing) give the same results, values, keys
// and errno on both; a full iteration visits the kernel's order (post-order:
// longer prefixes first, the 0 branch before the 1 branch). The prefixes
// come from a small pool of addresses so they nest and collide.
import { describe, expect, test } from "bun:test";
import { NativeError } from "../src/native/errno.ts";
import * as K from "../src/native/kernel-maps.ts";
import { kernelMapsUnavailable, regionForFile } from "./kernel-maps-harness.ts";
import { skipReason } from "./helpers.ts";
import { mulberry32 } from "../src/prng.ts";

const LPM = 11;
const F_NO_PREALLOC = 1;

const skip = skipReason(kernelMapsUnavailable(), "lpm trie kernel tests");
const file = regionForFile("maps-lpm", skip);

const prng = mulberry32;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

interface Res {
  errno: number;
  data?: string;
}

describe.skipIf(!!skip)("lpm trie, kernel vs bpftime", () => {
  const defs = [
    { keySize: 5, valueSize: 4, maxEntries: 12 }, // 8-bit prefixes
    { keySize: 8, valueSize: 8, maxEntries: 24 }, // IPv4
    { keySize: 20, valueSize: 3, maxEntries: 16 }, // IPv6, an odd value size
  ];
  for (const d of defs) {
    test(`key_size ${d.keySize}: seeded operations give the same results and errno`, () => {
      const bits = (d.keySize - 4) * 8;
      const id = file.region.createMap({ name: "lpm", type: LPM, ...d, flags: F_NO_PREALLOC });
      const fd = K.kernelMapCreate({ type: LPM, ...d, flags: F_NO_PREALLOC, name: "lpm" });
      expect(fd).toBeGreaterThanOrEqual(0);
      try {
        const rnd = prng(d.keySize * 7919);
        const pool = Array.from({ length: 5 }, () =>
          Uint8Array.from({ length: d.keySize - 4 }, () => Math.floor(rnd() * 256)),
        );
        // variants that share leading bits with the pool
        for (let i = 0; i < 5; i++) {
          const v = pool[i]!.slice();
          const at = Math.floor(rnd() * v.length);
          v[at] = v[at]! ^ (1 << Math.floor(rnd() * 8));
          pool.push(v);
        }
        const key = () => {
          const k = new Uint8Array(d.keySize);
          const plen = Math.floor(rnd() * (bits + 2));
          new DataView(k.buffer).setUint32(0, plen, true);
          k.set(pool[Math.floor(rnd() * pool.length)]!, 4);
          return k;
        };
        const u = (f: () => Uint8Array | null | void): Res => {
          try {
            const v = f();
            if (v === null) return { errno: 2 };
            return v ? { errno: 0, data: hex(v) } : { errno: 0 };
          } catch (e) {
            if (e instanceof NativeError) return { errno: e.errno };
            throw e;
          }
        };
        const k = (cmd: number, kk: Uint8Array | null, out: number, flags = 0n, v?: Uint8Array) => {
          const buf = v ?? new Uint8Array(Math.max(out, 1));
          const rc = K.kernelMapElem(cmd, fd, kk, out || v ? buf : null, flags);
          return rc < 0
            ? { errno: -rc }
            : out
              ? { errno: 0, data: hex(buf.subarray(0, out)) }
              : { errno: 0 };
        };
        const seen = new Set<string>();
        for (let op = 0; op < 600; op++) {
          const r = rnd();
          const kk = key();
          let what: string;
          let ur: Res, kr: Res;
          if (r < 0.4) {
            const flags = BigInt(Math.floor(rnd() * 4));
            const v = Uint8Array.from({ length: d.valueSize }, () => Math.floor(rnd() * 256));
            what = `update ${hex(kk)} flags ${flags}`;
            ur = u(() => file.region.mapUpdate(id, kk, v, flags));
            kr = k(K.BPF_MAP_UPDATE_ELEM, kk, 0, flags, v);
          } else if (r < 0.7) {
            what = `lookup ${hex(kk)}`;
            ur = u(() => file.region.mapLookup(id, kk, d.valueSize));
            kr = k(K.BPF_MAP_LOOKUP_ELEM, kk, d.valueSize);
          } else if (r < 0.85) {
            what = `delete ${hex(kk)}`;
            ur = u(() => file.region.mapDeleteElem(id, kk));
            kr = k(K.BPF_MAP_DELETE_ELEM, kk, 0);
          } else {
            const from = rnd() < 0.3 ? null : kk;
            what = `next after ${from ? hex(from) : "NULL"}`;
            ur = u(() => file.region.mapNextKey(id, from, d.keySize));
            kr = k(K.BPF_MAP_GET_NEXT_KEY, from, d.keySize);
          }
          expect({ op, what, ...ur }).toEqual({ op, what, ...kr });
          seen.add(`${what.split(" ")[0]} ${kr.errno}`);
        }
        // Not vacuous: hits and misses, stores, refusals, and a prefix that
        // existed (EEXIST) or a full map (ENOSPC).
        for (const o of ["lookup 0", "lookup 2", "update 0", "update 2", "update 22"])
          expect(seen).toContain(o);
        expect(seen.has("update 17") || seen.has("update 28")).toBe(true);
        // the whole iteration order
        const walk = (next: (k: Uint8Array | null) => Uint8Array | null) => {
          const out: string[] = [];
          for (let cur = next(null); cur && out.length <= d.maxEntries; cur = next(cur))
            out.push(hex(cur));
          return out;
        };
        const kw = walk((c) => {
          const b = new Uint8Array(d.keySize);
          return K.kernelMapElem(K.BPF_MAP_GET_NEXT_KEY, fd, c, b) < 0 ? null : b;
        });
        expect(kw.length).toBeGreaterThan(2);
        expect(walk((c) => file.region.mapNextKey(id, c, d.keySize))).toEqual(kw);
      } finally {
        file.region.deleteMap(id);
        K.kernelClose(fd);
      }
    });
  }

  test("definitions: the kernel's errno for each refused one", () => {
    const bad = [
      { keySize: 8, valueSize: 8, maxEntries: 4, flags: 0 }, // needs BPF_F_NO_PREALLOC
      { keySize: 4, valueSize: 8, maxEntries: 4, flags: F_NO_PREALLOC },
      { keySize: 261, valueSize: 8, maxEntries: 4, flags: F_NO_PREALLOC },
      { keySize: 260, valueSize: 8, maxEntries: 4, flags: F_NO_PREALLOC }, // the largest
      { keySize: 8, valueSize: 0, maxEntries: 4, flags: F_NO_PREALLOC },
      { keySize: 8, valueSize: 8, maxEntries: 0, flags: F_NO_PREALLOC },
    ];
    for (const d of bad) {
      const fd = K.kernelMapCreate({ type: LPM, ...d, name: "bad" });
      let id = 0;
      let errno = 0;
      try {
        id = file.region.createMap({ name: "bad", type: LPM, ...d });
      } catch (e) {
        if (!(e instanceof NativeError)) throw e;
        errno = e.errno;
      }
      if (fd >= 0) K.kernelClose(fd);
      if (!errno) file.region.deleteMap(id);
      expect({ def: d, errno }).toEqual({ def: d, errno: fd < 0 ? -fd : 0 });
    }
  });
});
