// CO-RE resolution (core.ts) on small BTF compiled here: flavors, anonymous
// members, ambiguity, missing targets. Expected values are worked out by hand
// from the C declarations (natural layout); the kernel differential tests
// (test/core-relo.test.ts) cover the kernel's own types.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BpftimeError } from "../errors.ts";
import { parseElf } from "../elf/index.ts";
import { parseBtf, essentialName, type Btf } from "./btf.ts";
import { parseBtfExt, type BtfCoreRelo } from "./ext.ts";
import { resolveCoreRelo } from "./core.ts";

const noClang = Bun.which("clang") ? undefined : "clang not found";
if (noClang) console.log(`core.test.ts: ${noClang}: skipping`);
const dir = mkdtempSync(join(tmpdir(), `bpftime-${process.env.BPFTIME_TEST_RUN ?? "x"}-core-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function compile(name: string, src: string, cc = "clang"): { btf: Btf; relos: BtfCoreRelo[] } {
  const c = join(dir, `${name}.c`);
  const o = join(dir, `${name}.o`);
  writeFileSync(c, src);
  const r = Bun.spawnSync([cc, "-O2", "-g", "-target", "bpf", "-c", c, "-o", o]);
  if (r.exitCode !== 0) throw new Error(`clang ${name}: ${r.stderr.toString()}`);
  const elf = parseElf(new Uint8Array(readFileSync(o)));
  const btf = parseBtf(elf.section(".BTF")!.data);
  const ext = elf.section(".BTF.ext");
  const relos = ext ? [...parseBtfExt(ext.data, btf.strings).coreRelos.values()].flat() : [];
  return { btf, relos };
}

/** The target: types as "the kernel" has them. */
const TARGET = `
struct s___a { int x; int y; };
struct s___b { int y; };
struct t { int a; union { int b; long c; }; };
struct u { char pad[3]; short v; };
enum e { E0 = 10, E1 = 20 };
struct s___a v1; struct s___b v2; struct t v3; struct u v4; enum e v5;
`;

const local = (body: string) => `
#define CORE __attribute__((preserve_access_index))
${body}
`;

describe.skipIf(!!noClang)("CO-RE resolution", () => {
  test("essential names drop only a ___flavor suffix", () => {
    expect(essentialName("task_struct___v2")).toBe("task_struct");
    expect(essentialName("task_struct")).toBe("task_struct");
    expect(essentialName("a___")).toBe("a___"); // nothing after the ___
    expect(essentialName("x____y")).toBe("x____y"); // four underscores: no X___Y split
    expect(essentialName("a___b___c")).toBe("a___b");
  });

  test("a field through an anonymous union; a field by name at another offset", () => {
    const target = compile("target1", TARGET).btf;
    const l = compile(
      "local1",
      local(`
struct t { long c; } CORE;
struct u { short v; } CORE;
long f1(struct t *p) { return p->c; }
long f2(struct u *p) { return p->v; }
`),
    );
    const res = l.relos.map((r) => resolveCoreRelo(l.btf, r, [target]));
    // t: int a @0, then the union (aligned to 8 for the long) @8
    expect(res.map((r) => [r.origVal, r.newVal])).toEqual([
      [0n, 8n],
      [0n, 4n], // u: char pad[3] @0, short v @4
    ]);
    expect(res.every((r) => !r.poison)).toBe(true);
  });

  test("two flavors that place the field differently are ambiguous", () => {
    const target = compile("target2", TARGET).btf;
    const l = compile(
      "local2",
      local(`
struct s { int y; } CORE;
int f(struct s *p) { return p->y; }
`),
    );
    expect(l.relos).toHaveLength(1);
    let err: unknown;
    try {
      resolveCoreRelo(l.btf, l.relos[0]!, [target]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpftimeError);
    expect((err as BpftimeError).message).toContain("ambiguity");
  });

  test("a missing field poisons its load; existence and enum values resolve", () => {
    const target = compile("target3", TARGET).btf;
    const l = compile(
      "local3",
      local(`
struct s___a { int x; int nope; } CORE;
enum e { E1 = 1, E9 = 9 };
int f(struct s___a *p) { return p->nope; }
int g(void) { return __builtin_preserve_field_info(((struct s___a *)0)->nope, 2); }
long h(void) { return __builtin_preserve_enum_value(*(enum e *)E1, 1); }
long k(void) { return __builtin_preserve_enum_value(*(enum e *)E9, 0); }
`),
    );
    const res = l.relos.map((r) => resolveCoreRelo(l.btf, r, [target]));
    expect(res).toHaveLength(4);
    expect(res[0]!.poison).toBe(true); // s___a.nope: not in the target's s___a
    expect(res[1]).toMatchObject({ poison: false, newVal: 0n }); // field_exists
    expect(res[2]).toMatchObject({ poison: false, origVal: 1n, newVal: 20n }); // E1's value there
    expect(res[3]).toMatchObject({ poison: false, newVal: 0n }); // E9 does not exist
  });

  test("with no target at all, only existence-style relocations resolve (to 0)", () => {
    const l = compile(
      "local4",
      local(`
struct s { int y; } CORE;
int f(struct s *p) { return p->y; }
int g(void) { return __builtin_preserve_type_info(*(struct s *)0, 0); }
`),
    );
    const res = l.relos.map((r) => resolveCoreRelo(l.btf, r, []));
    expect(res[0]!.poison).toBe(true);
    expect(res[1]).toMatchObject({ poison: false, newVal: 0n }); // type_exists
  });
});

// bpf_core_type_matches (BPF_TYPE_MATCHES, 2) needs clang 17 or later.
const noTypeMatches = Bun.which("clang-19") ? undefined : "clang-19 not found";
if (noTypeMatches) console.log(`core.test.ts: ${noTypeMatches}: skipping type-match tests`);
describe.skipIf(!!noTypeMatches)("CO-RE type matching (bpf_core_type_matches)", () => {
  test("behind a pointer a forward declaration matches the same tag; a struct need not agree", () => {
    // libbpf's __bpf_core_types_match: behind a pointer, a fwd matches a fwd
    // of the same flavor or a complete type of its tag (struct/union), and a
    // complete struct/union matches by name and kind only.
    const target = compile(
      "match-target",
      `struct in1 { int a; }; union in2 { int a; }; union in3 { int a; };
struct in4; struct in5; struct in6 { int a; }; struct in7; struct in8 { int a; };
struct h { struct in1 *p1; union in2 *p2; union in3 *p3; struct in4 *p4; struct in5 *p5;
           struct in6 *p6; struct in7 *p7; struct in8 p8; };
struct h hv;`,
      "clang-19",
    ).btf;
    const l = compile(
      "match-local",
      `struct in1; union in2; struct in3; struct in4; union in5;
struct in6 { long other; }; struct in7 { int q; }; struct in8 { long other; };
struct h___1 { struct in1 *p1; }; struct h___2 { union in2 *p2; };
struct h___3 { struct in3 *p3; }; struct h___4 { struct in4 *p4; };
struct h___5 { union in5 *p5; }; struct h___6 { struct in6 *p6; };
struct h___7 { struct in7 *p7; }; struct h___8 { struct in8 p8; };
#define M(n) int f##n(void) { return __builtin_preserve_type_info(*(struct h___##n *)0, 2); }
M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8)`,
      "clang-19",
    );
    const got = l.relos.map((r) => [
      l.btf.type(r.typeId).name,
      resolveCoreRelo(l.btf, r, [target]).newVal,
    ]);
    expect(got).toEqual([
      ["h___1", 1n], // fwd struct -> struct
      ["h___2", 1n], // fwd union -> union
      ["h___3", 0n], // fwd struct -> union
      ["h___4", 1n], // fwd struct -> fwd struct
      ["h___5", 0n], // fwd union -> fwd struct
      ["h___6", 1n], // struct behind a pointer: members not compared
      ["h___7", 1n], // struct -> fwd struct behind a pointer
      ["h___8", 0n], // embedded: the members must match
    ]);
  });
});

describe.skipIf(!!noTypeMatches)("CO-RE type compatibility and enum matching", () => {
  test("type existence: libbpf's bpf_core_types_are_compat on typedefs and prototypes", () => {
    // libbpf compares the kinds before skipping modifiers, so a const
    // parameter is not an int parameter; prototypes need as many parameters.
    const target = compile(
      "compat-target",
      `typedef int t1; typedef int (*fp1)(int, int); typedef int (*fp2)(int); typedef long t3;
enum e1 { A1, B1 }; enum e2 { A2, B2 }; enum e3 { A3 }; enum e4 { A4, B4 };
t1 a; fp1 b; fp2 c; t3 d; enum e1 e; enum e2 f; enum e3 g; enum e4 h;`,
      "clang-19",
    ).btf;
    const l = compile(
      "compat-local",
      `typedef int t1___x; typedef int (*fp1___x)(int); typedef int (*fp1___y)(int, int);
typedef int (*fp2___x)(const int); typedef int t3___x;
enum e1___x { A1 }; enum e2___x { A2, B2, C2 }; enum e3___x { A3 = 0x100000000 };
enum e4___x { B4, A4 };
#define EXISTS(t, n) int x##n(void) { return __builtin_preserve_type_info(*(t *)0, 0); }
#define MATCHES(t, n) int m##n(void) { return __builtin_preserve_type_info(*(t *)0, 2); }
EXISTS(t1___x, 1) EXISTS(fp1___x, 2) EXISTS(fp1___y, 3) EXISTS(fp2___x, 4) EXISTS(t3___x, 5)
MATCHES(enum e1___x, 6) MATCHES(enum e2___x, 7) MATCHES(enum e3___x, 8) MATCHES(enum e4___x, 9)`,
      "clang-19",
    );
    const got = l.relos.map((r) => [
      l.btf.type(r.typeId).name,
      resolveCoreRelo(l.btf, r, [target]).newVal,
    ]);
    expect(got).toEqual([
      ["t1___x", 1n], // int and int
      ["fp1___x", 0n], // one parameter, the target's two
      ["fp1___y", 1n],
      ["fp2___x", 0n], // const int against int
      ["t3___x", 1n], // existence does not compare integer sizes
      ["e1___x", 1n], // a subset of the target's values
      ["e2___x", 0n], // C2 is not in the target
      ["e3___x", 0n], // 8 bytes against 4
      ["e4___x", 1n], // the same names (values are not compared)
    ]);
  });
});

describe.skipIf(!!noClang)("CO-RE relocation text", () => {
  test("specs print as libbpf's bpf_core_format_spec: .field, [index], raw spec, offset", () => {
    const l = compile(
      "spec-text",
      local(`
struct a { int x; int arr[4]; unsigned y : 3, z : 5; } CORE;
int f1(struct a *p) { return p->arr[2]; }
int f2(struct a *p) { return p[1].x; }
int f3(struct a *p) { return __builtin_preserve_field_info(p->z, 0); }
int f4(struct a *p) { return p->x; }
int f5(void) { return __builtin_btf_type_id(*(struct a *)0, 0); }
int f6(void) { return __builtin_preserve_type_info(*(struct a *)0, 1); }
`),
    );
    // resolved against its own BTF: the target spec is the local one
    const text = l.relos.map((r) => resolveCoreRelo(l.btf, r, [l.btf]).text.replace(/<\w+> /g, ""));
    const id = l.btf.typeByName("a", "struct")!.id;
    // (the kind is left out: ours are longer names than libbpf's "byte_off")
    const spec = (s: string) => `[${id}] struct a${s}`;
    // struct a: x @0, arr @4..20 (arr[2] @12), y bits 160..162, z 163..167; sizeof 24
    expect(text).toEqual(
      [
        ".arr[2] (0:1:2 @ offset 12)",
        "[1].x (1:0 @ offset 24)",
        ".z (0:3 @ offset 20.3)",
        ".x (0:0 @ offset 0)",
      ]
        .map((s) => `${spec(s)} => ${spec(s)}`)
        // type-based relocations name the type alone; a local type id is not resolved
        .concat([spec(""), `${spec("")} => ${spec("")}`]),
    );
  });
});

const vmlinux = "/sys/kernel/btf/vmlinux";
const noKernelBtf = !Bun.which("bpftool")
  ? "no bpftool"
  : !Bun.file(vmlinux).size
    ? "no kernel BTF"
    : undefined;
if (noKernelBtf) console.log(`core.test.ts: ${noKernelBtf}: skipping the kernel BTF test`);
describe.skipIf(!!noKernelBtf)("the running kernel's BTF", () => {
  test("parses whole: as many types as bpftool lists, of the same kinds", () => {
    const btf = parseBtf(new Uint8Array(readFileSync(vmlinux)));
    const raw = Bun.spawnSync(["bpftool", "btf", "dump", "file", vmlinux, "format", "raw"]);
    const lines = raw.stdout
      .toString()
      .split("\n")
      .filter((l) => l.startsWith("["));
    expect(btf.count - 1).toBe(lines.length); // types[0] is void
    const kinds = (names: string[]) => [...new Set(names)].sort();
    expect(kinds(btf.types.slice(1).map((t) => t.kind))).toEqual(
      kinds(lines.map((l) => /^\[\d+\] (\w+)/.exec(l)![1]!.toLowerCase())),
    );
  });
});
