// Maps of maps against the kernel (raw bpf() on kernel maps of the same
// definitions): for each outer type and inner-map template, storing each
// candidate map (matching, or differing in type, key size, value size,
// max_entries, flags; the outer map itself), looking slots up, deleting them
// and iterating give the same errno on both sides, and lookups name the same
// candidate (the kernel answers its map id, bpftime its own: both are mapped
// back to the candidate they stand for).
import { describe, expect, test } from "bun:test";
import * as K from "../src/native/kernel-maps.ts";
import { errnoOf, kernelMapsUnavailable, regionForFile } from "./kernel-maps-harness.ts";
import { skipReason } from "./helpers.ts";

const ARRAY = 2;
const HASH = 1;
const ARRAY_OF_MAPS = 12;
const HASH_OF_MAPS = 13;
const F_INNER_MAP = 1 << 12;

const skip = skipReason(kernelMapsUnavailable(), "maps-of-maps kernel tests");
const file = regionForFile("maps-mim", skip);

interface Def {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
}

const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);

/** Both sides of one map definition: bpftime id, kernel fd. */
function both(d: Def, innerOf?: { id: number; fd: number }) {
  const r = file.region;
  const id = r.createMap({
    name: "m",
    ...d,
    flags: d.flags ?? 0,
    ...(innerOf ? { innerId: innerOf.id } : {}),
  });
  const fd = K.kernelMapCreate({
    ...d,
    flags: d.flags ?? 0,
    ...(innerOf ? { innerMapFd: innerOf.fd } : {}),
  });
  expect(fd).toBeGreaterThanOrEqual(0);
  return { id, fd };
}

const templates: Array<[string, Def]> = [
  ["array", { type: ARRAY, keySize: 4, valueSize: 8, maxEntries: 4 }],
  [
    "array with BPF_F_INNER_MAP",
    { type: ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, flags: F_INNER_MAP },
  ],
  ["hash", { type: HASH, keySize: 4, valueSize: 8, maxEntries: 8 }],
];

describe.skipIf(!!skip)("maps of maps, kernel vs bpftime", () => {
  for (const outerType of [ARRAY_OF_MAPS, HASH_OF_MAPS])
    for (const [tname, t] of templates) {
      test(`${outerType === ARRAY_OF_MAPS ? "array" : "hash"}_of_maps with a ${tname} template`, () => {
        const r = file.region;
        const tmpl = both(t);
        const outer = both({ type: outerType, keySize: 4, valueSize: 4, maxEntries: 3 }, tmpl);
        const other = t.type === ARRAY ? HASH : ARRAY;
        // (arrays have 4-byte keys; only arrays take BPF_F_INNER_MAP)
        const candidates: Def[] = [
          t,
          { ...t, type: other, maxEntries: t.type === ARRAY ? 8 : 4, flags: 0 },
          t.type === HASH ? { ...t, keySize: 8 } : { ...t, maxEntries: 1 },
          { ...t, valueSize: 16 },
          { ...t, maxEntries: t.maxEntries * 2 },
          ...(t.type === ARRAY ? [{ ...t, flags: (t.flags ?? 0) ^ F_INNER_MAP }] : []),
        ];
        const made = candidates.map((c) => both(c));
        made.push(outer); // an outer map cannot go into one
        const errnos: Array<[string, number, number]> = [];
        const step = (what: string, k: () => number, b: () => unknown) =>
          errnos.push([what, -k(), errnoOf(b)]);
        // each candidate into slot 0, 1, 2 in turn (slot 3 is past the end of an array)
        const expected = new Map<number, number>(); // slot → candidate both sides stored
        made.forEach((m, i) => {
          const slot = u32(i % 4);
          const k = -K.kernelMapElem(K.BPF_MAP_UPDATE_ELEM, outer.fd, slot, u32(m.fd));
          const b = errnoOf(() => r.mapUpdate(outer.id, slot, u32(m.id)));
          errnos.push([`update slot ${i % 4} with candidate ${i}`, k, b]);
          if (k === 0 && b === 0) expected.set(i % 4, i);
        });
        // what each slot holds: bpftime answers the candidate's id; the kernel
        // its own ids, equal where the candidate is the same
        const kernelIds = new Map<number, number>(); // candidate → kernel id
        for (let s = 0; s < 4; s++) {
          const kv = new Uint8Array(4);
          const ke = -K.kernelMapElem(K.BPF_MAP_LOOKUP_ELEM, outer.fd, u32(s), kv);
          let bv: Uint8Array | null = null;
          const be = errnoOf(() => (bv = r.mapLookup(outer.id, u32(s), 4)));
          errnos.push([`lookup slot ${s}`, ke, bv === null && be === 0 ? 2 : be]);
          const c = expected.get(s);
          expect(ke === 0).toBe(c !== undefined);
          if (c === undefined || bv === null) continue;
          expect(new DataView((bv as Uint8Array).buffer).getUint32(0, true)).toBe(made[c]!.id);
          const kid = new DataView(kv.buffer).getUint32(0, true);
          expect(kernelIds.get(c) ?? kid).toBe(kid);
          kernelIds.set(c, kid);
        }
        expect(new Set(kernelIds.values()).size).toBe(kernelIds.size);
        for (let s = 0; s < 4; s++) {
          step(
            `delete slot ${s}`,
            () => K.kernelMapElem(K.BPF_MAP_DELETE_ELEM, outer.fd, u32(s), null),
            () => r.mapDeleteElem(outer.id, u32(s)),
          );
          step(
            `delete slot ${s} again`,
            () => K.kernelMapElem(K.BPF_MAP_DELETE_ELEM, outer.fd, u32(s), null),
            () => r.mapDeleteElem(outer.id, u32(s)),
          );
        }
        step(
          "update with BPF_NOEXIST",
          () => K.kernelMapElem(K.BPF_MAP_UPDATE_ELEM, outer.fd, u32(0), u32(made[0]!.fd), 1n),
          () => r.mapUpdate(outer.id, u32(0), u32(made[0]!.id), 1n),
        );
        expect(errnos.filter(([, k, b]) => k !== b)).toEqual([]);
        for (const m of [...made, tmpl]) K.kernelClose(m.fd);
      });
    }
});
