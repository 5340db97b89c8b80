import { describe, expect, test } from "bun:test";
import { BpftimeError } from "../errors.ts";
import { parseElf } from "../elf/index.ts";
import { loadObject } from "../elf/index.ts";
import { haveCompiler, objectBytes, objectPath, testObjectNames } from "../elf/testdata.ts";
import { objectTestGate, tool } from "../elf/testdata.ts";
import { type Btf, kindNames, parseBtf } from "./btf.ts";
import { parseBtfExt } from "./ext.ts";
import { formatType, funcSignature, typeName } from "./format.ts";
import { formatValue, parseValue } from "./value.ts";
import { kernelBtf } from "./kernel.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";

const { skip, t } = objectTestGate("btf.test.ts");
const haveBpftool = !!Bun.which("bpftool");

function rawBtf(name: string, cc = "clang"): Btf {
  const elf = parseElf(objectBytes(name, cc));
  return parseBtf(elf.section(".BTF")!.data);
}

/** Parses `bpftool btf dump file X` into records of key=value fields. */
function bpftoolTypes(path: string) {
  const text = tool(["bpftool", "btf", "dump", "file", path]);
  if (!text) return undefined;
  const types: {
    id: number;
    kind: string;
    name: string;
    f: Record<string, string>;
    subs: { name: string; f: Record<string, string> }[];
  }[] = [];
  const fields = (s: string) =>
    Object.fromEntries([...s.matchAll(/(\w+)=([^\s,]+)/g)].map((m) => [m[1]!, m[2]!]));
  for (const line of text.split("\n")) {
    const head = /^\[(\d+)\] (\w+) '([^']*)'(.*)$/.exec(line);
    if (head) {
      types.push({
        id: Number(head[1]),
        kind: head[2]!,
        name: head[3] === "(anon)" ? "" : head[3]!,
        f: fields(head[4]!),
        subs: [],
      });
      continue;
    }
    const sub = /^\t(?:'([^']*)')?(.*)$/.exec(line);
    if (sub && types.length) {
      types[types.length - 1]!.subs.push({
        name: sub[1] === "(anon)" ? "" : (sub[1] ?? ""),
        f: fields(sub[2]!),
      });
    }
  }
  return types;
}

describe("parseBtf against bpftool", () => {
  const objects = skip ? [] : testObjectNames();
  for (const cc of ["clang", "clang-19"]) {
    const missing = !haveBpftool ? "bpftool" : !haveCompiler(cc) ? cc : undefined;
    if (missing) console.log(`btf.test.ts: ${missing} not found: skipping the ${cc} comparison`);
    (missing ? test.skip : t)(
      `every type of every test object (${cc}) matches bpftool btf dump`,
      () => {
        const kindsSeen = new Set<string>();
        for (const name of objects) {
          const btf = rawBtf(name, cc);
          const ref = bpftoolTypes(objectPath(name, cc))!;
          expect(btf.count - 1).toBe(ref.length);
          for (const r of ref) {
            const ty = btf.type(r.id);
            kindsSeen.add(ty.kind);
            expect(ty.kind.toUpperCase()).toBe(r.kind);
            expect(ty.name).toBe(r.name);
            if (r.f.size !== undefined && "size" in ty) expect(ty.size).toBe(Number(r.f.size));
            if (r.f.type_id !== undefined) {
              const target =
                ty.kind === "array" || "type" in ty ? (ty as { type: number }).type : -1;
              expect(target).toBe(Number(r.f.type_id));
            }
            if (ty.kind === "array") expect(ty.nelems).toBe(Number(r.f.nr_elems));
            if (ty.kind === "int") {
              expect(ty.bits).toBe(Number(r.f.nr_bits));
              expect(ty.signed).toBe(r.f.encoding === "SIGNED");
            }
            if (ty.kind === "func_proto") {
              expect(ty.returnType).toBe(Number(r.f.ret_type_id));
              expect(ty.params.map((p) => [p.name, p.type])).toEqual(
                r.subs.map((s) => [s.name, Number(s.f.type_id)]),
              );
            }
            if (ty.kind === "struct" || ty.kind === "union") {
              expect(ty.members.map((m) => [m.name, m.type, m.bitOffset, m.bitSize])).toEqual(
                r.subs.map((s) => [
                  s.name,
                  Number(s.f.type_id),
                  Number(s.f.bits_offset),
                  Number(s.f.bitfield_size ?? 0),
                ]),
              );
            }
            if (ty.kind === "enum" || ty.kind === "enum64") {
              expect(ty.values.map((v) => [v.name, v.value.toString()])).toEqual(
                r.subs.map((s) => [s.name, s.f.val!.replace(/U?LL$/, "")]),
              );
            }
            if (ty.kind === "datasec") {
              expect(ty.vars.map((v) => [v.type, v.offset, v.size])).toEqual(
                r.subs.map((s) => [Number(s.f.type_id), Number(s.f.offset), Number(s.f.size)]),
              );
            }
            if (ty.kind === "decl_tag") expect(ty.componentIdx).toBe(Number(r.f.component_idx));
          }
        }
        if (cc === "clang-19") {
          // clang-19 emits every kind the loader knows, enum64 and type tags included.
          expect([...kindsSeen].sort()).toEqual(kindNames.filter((k) => k !== "void").sort());
        }
      },
    );
  }
});

describe("BTF lookups and formatting", () => {
  t("lookup, sizes, formatType, signatures", () => {
    const spec = loadObject(objectBytes("maps"));
    const btf = spec.btf!;
    const ev = btf.typeByName("event", "struct")!;
    expect(btf.sizeof(ev.id)).toBe(40);
    expect(formatType(btf, ev.id)).toBe(
      "struct event { u32 pid; char comm[16]; u64 ts; int delta; }",
    );
    expect(typeName(btf, ev.id)).toBe("struct event");
    expect(btf.typeName(ev.id)).toBe("struct event");
    expect(btf.formatType(ev.id)).toBe(formatType(btf, ev.id));
    expect(btf.funcSignature("handle_readline")).toBe("int handle_readline(void *ctx)");
    expect(formatType(btf, btf.typeByName("u32")!.id)).toBe("typedef unsigned int u32");
    expect(funcSignature(btf, "handle_readline")).toBe("int handle_readline(void *ctx)");
    expect(() => funcSignature(btf, "nope")).toThrow(BpftimeError);
    // DATASEC sizes and offsets are fixed up from the ELF (clang leaves them 0).
    const ro = btf.datasec(".rodata")!;
    expect(ro.size).toBe(28);
    expect(ro.vars.map((v) => [btf.type(v.type).name, v.offset])).toEqual([
      ["target_pid", 0],
      ["greeting", 4],
      ["handle_readline.____fmt", 22],
    ]);
    expect(formatType(btf, ro.id)).toContain("const volatile u32 target_pid;");
  });

  t("declarators: pointers to functions, qualifiers, anonymous members", () => {
    const btf = (
      haveCompiler("clang-19")
        ? loadObject(objectBytes("types", "clang-19"))
        : loadObject(objectBytes("types"))
    ).btf!;
    const v = btf.typeByName("value", "struct")!;
    const text = formatType(btf, v.id);
    expect(text).toContain("u64 big;");
    expect(text).toContain("char name[8];");
    expect(text).toContain("enum color color;");
    expect(text).toContain("struct point pts[2];");
    expect(text).toContain("union { u32 as_u32; float as_float; };");
    expect(text).toContain("struct { short inner; _Bool ok; } nested;");
    expect(text).toContain("void *ptr;");
    expect(text).toContain("const volatile int *cvp;");
    expect(text).toContain("int (*fn)(int, char *);");
    const f = btf.typeByName("flags", "struct")!;
    expect(formatType(btf, f.id)).toBe(
      "struct flags { unsigned int a:3; int b:5; unsigned int c:24; }",
    );
    expect(formatType(btf, btf.typeByName("color", "enum")!.id)).toBe(
      "enum color { RED = 0, GREEN = 1, BLUE = 7 }",
    );
    const tagged = btf.typeByName("tagged", "struct")!;
    expect(formatType(btf, tagged.id)).toContain("struct fwd_only *f;");
    expect(btf.sizeof(tagged.id)).toBe(32);
    expect(btf.typesByName("nope")).toEqual([]);
  });

  t(".BTF.ext: func_info, line_info, core_relo", () => {
    const elf = parseElf(objectBytes("core"));
    const btf = parseBtf(elf.section(".BTF")!.data);
    const ext = parseBtfExt(elf.section(".BTF.ext")!.data, btf.strings);
    const fi = ext.funcInfo.get("nginx/url_filter")!;
    expect(fi).toEqual([{ insnOff: 0, typeId: btf.func("core_nginx")!.id }]);
    const li = ext.lineInfo.get("nginx/url_filter")!;
    expect(li[0]!.fileName).toContain("core.bpf.c");
    expect(li[0]!.lineNum).toBeGreaterThan(0);
    const cr = ext.coreRelos.get("nginx/url_filter")!;
    expect(cr[0]).toMatchObject({ insnOff: 0, access: "0:1", kind: 0 });
    expect(btf.type(cr[0]!.typeId).name).toBe("nginx_url_ctx");
  });
});

describe("formatValue / parseValue", () => {
  t("struct event round trip", () => {
    const btf = loadObject(objectBytes("maps")).btf!;
    const id = btf.typeByName("event", "struct")!.id;
    const json = { pid: 1234, comm: "bash", ts: "18446744073709551615", delta: -5 };
    const bytes = parseValue(btf, id, json);
    expect(bytes.length).toBe(40);
    expect(new DataView(bytes.buffer).getUint32(0, true)).toBe(1234);
    expect(formatValue(btf, id, bytes)).toEqual(json);
    expect(formatValue(btf, id, parseValue(btf, id, { pid: 1 }))).toEqual({
      pid: 1,
      comm: "",
      ts: 0,
      delta: 0,
    });
    expect(() => parseValue(btf, id, { nope: 1 })).toThrow(/struct event has no member nope/);
    expect(() => parseValue(btf, id, { pid: -1 })).toThrow(/out of range/);
    expect(() => parseValue(btf, id, { comm: "x".repeat(17) })).toThrow(/does not fit/);
    expect(() => formatValue(btf, id, new Uint8Array(3))).toThrow(BpftimeError);
    // Scalars: u32 key.
    const u32 = btf.typeByName("u32")!.id;
    expect(formatValue(btf, u32, parseValue(btf, u32, 0xffffffff))).toBe(0xffffffff);
    expect(parseValue(btf, u32, "0x10")).toEqual(new Uint8Array([16, 0, 0, 0]));
  });

  t("DATASEC of .rodata", () => {
    const spec = loadObject(objectBytes("maps"));
    const ro = spec.maps.find((m) => m.name === ".rodata")!;
    const v = formatValue(spec.btf!, ro.valueType!, ro.initialData!) as Record<string, unknown>;
    expect(v.target_pid).toBe(42);
    expect(v.greeting).toBe("hello from rodata");
    expect(parseValue(spec.btf!, ro.valueType!, v)).toEqual(ro.initialData!);
  });

  t("every shape: bitfields, enums, unions, floats, bools, pointers, enum64", () => {
    const cc = haveCompiler("clang-19") ? "clang-19" : "clang";
    const btf = loadObject(objectBytes("types", cc)).btf!;
    const id = btf.typeByName("value", "struct")!.id;
    const json = {
      big: "9007199254740993",
      neg: -42,
      name: "abc",
      raw: [1, 2, 3, 255],
      color: "BLUE",
      f: { a: 5, b: -3, c: 0xabcdef },
      pts: [
        { x: 1, y: -1 },
        { x: 2, y: -2 },
      ],
      as_u32: 0x3f800000,
      nested: { inner: -7, ok: true },
      ratio: 0.25,
      ptr: "0xdeadbeef",
      cvp: "0x0",
      fn: "0x1000",
      bigenum: "HUGE",
    };
    const bytes = parseValue(btf, id, json);
    const back = formatValue(btf, id, bytes) as Record<string, unknown>;
    // The anonymous union's members are lifted: as_float shares as_u32's bytes.
    expect(back).toEqual({ ...json, as_float: 1 });
    expect(parseValue(btf, id, back)).toEqual(bytes);
    // Unprintable char arrays come back as numbers, enum values without names as numbers.
    const raw = new Uint8Array(bytes);
    raw[16] = 1;
    raw[28] = 3;
    const odd = formatValue(btf, id, raw) as Record<string, unknown>;
    expect(odd.name).toEqual([1, 98, 99, 0, 0, 0, 0, 0]);
    expect(odd.color).toBe(3);
    // Only char arrays are text: unsigned char is bytes, even when printable.
    const printable = formatValue(btf, id, parseValue(btf, id, { raw: [0x68, 0x69, 0, 0] }));
    expect((printable as Record<string, unknown>).raw).toEqual([0x68, 0x69, 0, 0]);
    expect(parseValue(btf, id, odd)).toEqual(raw);
    expect(() => parseValue(btf, id, { f: { a: 8 } })).toThrow(/out of range/);
    expect(() => parseValue(btf, id, { color: "PURPLE" })).toThrow(BpftimeError);
    expect(() => parseValue(btf, id, { pts: [{}, {}, {}] })).toThrow(/do not fit/);
    expect(() => parseValue(btf, id, 5)).toThrow(/expected an object/);
  });
});

describe("malformed BTF", () => {
  /** Builds a .BTF section from raw type words and a string table. */
  function build(words: number[], strings = "\0a\0"): Uint8Array {
    const str = new TextEncoder().encode(strings);
    const out = new Uint8Array(24 + words.length * 4 + str.length);
    const dv = new DataView(out.buffer);
    dv.setUint16(0, 0xeb9f, true);
    dv.setUint8(2, 1);
    dv.setUint32(4, 24, true);
    dv.setUint32(8, 0, true);
    dv.setUint32(12, words.length * 4, true);
    dv.setUint32(16, words.length * 4, true);
    dv.setUint32(20, str.length, true);
    words.forEach((w, i) => dv.setUint32(24 + i * 4, w >>> 0, true));
    out.set(str, 24 + words.length * 4);
    return out;
  }
  const info = (kind: number, vlen = 0, kflag = false) =>
    ((kflag ? 1 << 31 : 0) | (kind << 24) | vlen) >>> 0;

  test("typedef cycles end in an error, not a hang", () => {
    // [1] typedef a -> 2, [2] typedef a -> 1
    const btf = parseBtf(build([1, info(8), 2, 1, info(8), 1]));
    expect(() => btf.resolve(1)).toThrow(/deeper than/);
    expect(() => btf.sizeof(1)).toThrow(BpftimeError);
    expect(formatType(btf, 1)).toBe("typedef a a"); // one level: no recursion into the cycle
    expect(() => formatValue(btf, 1, new Uint8Array(4))).toThrow(BpftimeError);
  });

  test("a function pointer whose function takes that pointer ends in an error", () => {
    // [1] ptr -> 2, [2] func_proto void(param of type 1)
    const btf = parseBtf(build([0, info(2), 2, 0, info(13, 1), 0, 0, 1]));
    expect(() => typeName(btf, 1)).toThrow(BpftimeError);
    expect(() => formatType(btf, 2)).toThrow(BpftimeError);
  });

  test("references beyond the table, truncation, bad kinds", () => {
    expect(() => parseBtf(build([0, info(2), 9]))).toThrow(/type id 9 beyond the type table/);
    expect(() => parseBtf(build([0, info(4, 2), 4, 0, 0]))).toThrow(/truncated/);
    expect(() => parseBtf(build([0, info(25), 0]))).toThrow(/unknown kind 25/);
    // kind 0 is BTF_KIND_UNKN: never a type of its own
    expect(() => parseBtf(build([0, info(0), 0]))).toThrow(/unknown kind 0/);
    const v2 = build([]);
    v2[2] = 2;
    expect(() => parseBtf(v2)).toThrow(/version 2/);
    expect(() => parseBtf(new Uint8Array(10))).toThrow(/shorter than the BTF header/);
    // A type tag and a restrict qualifier parse and format.
    const ok = parseBtf(
      build([1, info(1), 4, 0x01000020, 0, info(18), 1, 0, info(2), 2, 0, info(11), 3]),
    );
    expect(ok.type(2).kind).toBe("type_tag");
    expect(typeName(ok, 4)).toBe("a *restrict");
    expect(ok.sizeof(4)).toBe(8);
  });

  test("huge arrays of empty structs do not hang formatValue", () => {
    // [1] struct a {} size 0, [2] int a, [3] array of [1] * 0xffffffff
    const btf = parseBtf(
      build([1, info(4), 0, 1, info(1), 4, 0x00000020, 0, info(3), 0, 1, 2, 0xffffffff]),
    );
    expect(btf.sizeof(3)).toBe(0);
    expect(formatValue(btf, 3, new Uint8Array(0))).toEqual([]);
  });
});

describe("BTF of the running system: BPFTIME_KERNEL_BTF", () => {
  const withEnv = <T>(value: string, fn: () => T): T => {
    const saved = process.env.BPFTIME_KERNEL_BTF;
    process.env.BPFTIME_KERNEL_BTF = value;
    try {
      return fn();
    } finally {
      if (saved === undefined) delete process.env.BPFTIME_KERNEL_BTF;
      else process.env.BPFTIME_KERNEL_BTF = saved;
    }
  };

  test('"none" disables it; a named file that cannot be read is one not_found line', () => {
    expect(withEnv("none", () => kernelBtf())).toBeUndefined();
    const missing = join(tmpdir(), `bpftime-no-such-btf-${process.pid}`);
    let err: unknown;
    try {
      withEnv(missing, () => kernelBtf());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpftimeError);
    expect((err as BpftimeError).code).toBe("not_found");
    expect((err as Error).message).toBe(
      `kernel BTF ${missing}: cannot read it (ENOENT); set BPFTIME_KERNEL_BTF to a BTF file or to "none"`,
    );
  });
});
