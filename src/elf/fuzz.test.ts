// Fuzz test of the object loader: real objects (src/elf/testdata, compiled by
// clang) mutated by bit flips, interesting-value overwrites, truncations and
// section-header / symbol / relocation / BTF field corruption. Each mutation
// must either load or throw BpftimeError: any other exception is a bug. The
// loader has no unbounded loops, so a hang would show as this test never
// finishing. Deterministic (seeded), so a failure names a reproducible case.

import { expect, test } from "bun:test";
import { BpftimeError } from "../errors.ts";
import { formatType, formatValue, parseValue } from "../btf/index.ts";
import { loadObject } from "./object.ts";
import { objectSummary } from "./summary.ts";
import { haveCompiler, objectBytes, testObjectNames, objectTestGate } from "./testdata.ts";
import { mulberry32 } from "../prng.ts";

const MUTATIONS = Number(process.env.BPFTIME_FUZZ_MUTATIONS ?? 24000);

const { skip } = objectTestGate("fuzz.test.ts");

/** Deterministic helpers over mulberry32. */
function rng(seed: number) {
  const next = mulberry32(seed);
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  };
}

const interesting8 = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x40];
const interesting32 = [
  0, 1, 2, 3, 4, 7, 8, 12, 16, 24, 64, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff,
  0x80000000, 0xfffffffe, 0xffffffff,
];

interface Region {
  name: string;
  start: number;
  end: number;
}

/** Section headers and a few interesting sections of an object, by byte range. */
function regions(bytes: Uint8Array): { shoff: number; shnum: number; sections: Region[] } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = Number(dv.getBigUint64(40, true));
  const shnum = dv.getUint16(60, true);
  const shstrndx = dv.getUint16(62, true);
  const strOff = Number(dv.getBigUint64(shoff + shstrndx * 64 + 24, true));
  const sections: Region[] = [];
  for (let i = 1; i < shnum; i++) {
    const h = shoff + i * 64;
    const nameOff = dv.getUint32(h, true);
    let end = strOff + nameOff;
    while (bytes[end] !== 0) end++;
    const name = new TextDecoder().decode(bytes.subarray(strOff + nameOff, end));
    const off = Number(dv.getBigUint64(h + 24, true));
    const size = Number(dv.getBigUint64(h + 32, true));
    if (dv.getUint32(h + 4, true) !== 8 && size > 0)
      sections.push({ name, start: off, end: off + size });
  }
  return { shoff, shnum, sections };
}

function mutate(orig: Uint8Array, r: ReturnType<typeof rng>): { bytes: Uint8Array; what: string } {
  const info = regions(orig);
  const bytes = orig.slice();
  const dv = new DataView(bytes.buffer);
  const put32 = (off: number, v: number) => {
    if (off + 4 <= bytes.length) dv.setUint32(off, v >>> 0, true);
  };
  const put64 = (off: number, v: bigint) => {
    if (off + 8 <= bytes.length) dv.setBigUint64(off, v, true);
  };
  const inRegion = (names: string[]): number => {
    const rs = info.sections.filter((s) => names.some((n) => s.name === n || s.name.startsWith(n)));
    const reg = rs.length ? r.pick(rs) : { start: 0, end: bytes.length };
    return reg.start + r.int(Math.max(1, reg.end - reg.start));
  };
  const strategy = r.int(9);
  switch (strategy) {
    case 0: {
      const n = 1 + r.int(4);
      const offs: number[] = [];
      for (let i = 0; i < n; i++) {
        const off = r.int(bytes.length);
        bytes[off] = bytes[off]! ^ (1 << r.int(8));
        offs.push(off);
      }
      return { bytes, what: `bit flips at ${offs.join(",")}` };
    }
    case 1: {
      const off = r.int(bytes.length);
      const v = r.pick(interesting8);
      bytes[off] = v;
      return { bytes, what: `byte ${off} = 0x${v.toString(16)}` };
    }
    case 2: {
      const off = r.int(bytes.length - 3) & ~3;
      const v = r.pick(interesting32);
      put32(off, v);
      return { bytes, what: `u32 at ${off} = 0x${v.toString(16)}` };
    }
    case 3: {
      const len = r.next() < 0.5 ? r.int(bytes.length) : r.int(256);
      return { bytes: orig.slice(0, len), what: `truncate to ${len}` };
    }
    case 4: {
      // Section header field corruption.
      const sec = 1 + r.int(info.shnum - 1);
      const h = info.shoff + sec * 64;
      const fields: [string, number, number][] = [
        ["sh_name", 0, 4],
        ["sh_type", 4, 4],
        ["sh_flags", 8, 8],
        ["sh_offset", 24, 8],
        ["sh_size", 32, 8],
        ["sh_link", 40, 4],
        ["sh_info", 44, 4],
        ["sh_entsize", 56, 8],
      ];
      const [name, at, width] = r.pick(fields);
      const v = r.pick(interesting32);
      if (width === 4) put32(h + at, v);
      else put64(h + at, r.next() < 0.2 ? 0xffffffffffffffffn : BigInt(v));
      return { bytes, what: `section ${sec} ${name} = 0x${v.toString(16)}` };
    }
    case 5: {
      // ELF header fields.
      const at = r.pick([16, 18, 40, 58, 60, 62]);
      const v = r.pick(interesting32);
      if (at === 40) put64(at, BigInt(v));
      else dv.setUint16(at, v & 0xffff, true);
      return { bytes, what: `ELF header +${at} = 0x${v.toString(16)}` };
    }
    case 6: {
      // BTF / BTF.ext contents.
      const off = inRegion([".BTF", ".BTF.ext"]) & ~3;
      const v = r.pick(interesting32);
      put32(off, v);
      return { bytes, what: `BTF u32 at ${off} = 0x${v.toString(16)}` };
    }
    case 7: {
      // Symbol table and relocation entries.
      const off = inRegion([".symtab", ".rel"]) & ~3;
      const v = r.pick(interesting32);
      put32(off, v);
      return { bytes, what: `symtab/rel u32 at ${off} = 0x${v.toString(16)}` };
    }
    default: {
      // Code and map definitions.
      const off = inRegion([".maps", "maps", "xdp", "uprobe", "nginx", ".text", "socket"]);
      const v = r.pick(interesting8);
      bytes[off] = v;
      return { bytes, what: `code/map byte ${off} = 0x${v.toString(16)}` };
    }
  }
}

/** Exercises the consumers of a loaded spec: summary, type formatting, value round trips. */
function exercise(spec: ReturnType<typeof loadObject>, r: ReturnType<typeof rng>): void {
  objectSummary(spec);
  const btf = spec.btf;
  if (!btf) return;
  for (const m of spec.maps) {
    if (m.initialData && m.valueType !== undefined && m.initialData.length <= 4096) {
      parseValue(btf, m.valueType, formatValue(btf, m.valueType, m.initialData));
    }
    for (const id of [m.keyType, m.valueType]) {
      if (id === undefined) continue;
      formatType(btf, id);
      const size = btf.sizeof(id);
      if (size > 4096) continue;
      const raw = new Uint8Array(size);
      for (let i = 0; i < size; i++) raw[i] = r.int(256);
      const v = formatValue(btf, id, raw);
      parseValue(btf, id, v);
    }
  }
}

test.skipIf(!!skip)(
  `fuzz: ${MUTATIONS} mutated objects load or fail with BpftimeError`,
  () => {
    const seeds: Uint8Array[] = [];
    const names: string[] = [];
    for (const n of testObjectNames()) {
      seeds.push(objectBytes(n));
      names.push(n);
      for (const cc of ["clang-19", "clang-19-v4"]) {
        if (!haveCompiler(cc)) continue;
        seeds.push(objectBytes(n, cc));
        names.push(`${n} (${cc})`);
      }
    }
    const r = rng(0xb9f7);
    const outcomes = new Map<string, number>();
    const failures: string[] = [];
    const started = performance.now();
    for (let i = 0; i < MUTATIONS; i++) {
      const s = r.int(seeds.length);
      const { bytes, what } = mutate(seeds[s]!, r);
      let outcome: string;
      try {
        const spec = loadObject(bytes);
        outcome = "loaded";
        try {
          exercise(spec, r);
        } catch (e) {
          if (!(e instanceof BpftimeError)) throw e;
          outcome = `loaded, value/format error ${e.code}`;
        }
      } catch (e) {
        if (e instanceof BpftimeError) {
          outcome = e.code;
          if (e.message.includes("\n"))
            failures.push(`#${i} ${names[s]} ${what}: multi-line message`);
        } else {
          outcome = "OTHER EXCEPTION";
          if (failures.length < 20) {
            failures.push(`#${i} ${names[s]} ${what}: ${(e as Error)?.stack ?? String(e)}`);
          }
        }
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    const ms = Math.round(performance.now() - started);
    console.log(
      `fuzz: ${MUTATIONS} mutations of ${seeds.length} objects in ${ms} ms: ` +
        [...outcomes].map(([k, v]) => `${k}=${v}`).join(", "),
    );
    if (failures.length) console.log(failures.join("\n\n"));
    expect(failures).toEqual([]);
  },
  120_000,
);
