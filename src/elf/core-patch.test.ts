// CO-RE relocations against a target whose types changed: the instruction
// patching of libbpf's bpf_core_patch_insn (object.ts patchCore). The target
// is the BTF of testdata/core-resize/target.bpf.c, given as
// BPFTIME_KERNEL_BTF; every expected value below is computed by hand from the
// two C sources.
import { afterAll, describe, expect, spyOn, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadObject, type ProgramSpec } from "./object.ts";
import { compileSource } from "./testdata.ts";

const src = join(import.meta.dir, "testdata", "core-resize");
// clang-19: clang 14 writes a 64-bit enum's BTF as a 32-bit ENUM (values cut)
const missing = ["clang-19", "llvm-objcopy"].find((t) => !Bun.which(t));
if (missing) console.log(`core-patch.test.ts: ${missing} not found: skipping`);
const dir = missing
  ? ""
  : mkdtempSync(join(tmpdir(), `bpftime-${process.env.BPFTIME_TEST_RUN ?? "x"}-core-patch-`));
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** prog.bpf.c loaded with target.bpf.c's BTF as the kernel's; what it logged. */
function loadResized(): { programs: ProgramSpec[]; log: string } {
  compileSource(join(src, "prog.bpf.c"), join(dir, "prog.o"), "clang-19");
  compileSource(join(src, "target.bpf.c"), join(dir, "target.o"), "clang-19");
  const btf = join(dir, "target.btf");
  const objcopy = ["llvm-objcopy", `--dump-section=.BTF=${btf}`, join(dir, "target.o")];
  const r = Bun.spawnSync([...objcopy, join(dir, "x.o")], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`llvm-objcopy: ${r.stderr.toString()}`);
  const old = process.env.BPFTIME_KERNEL_BTF;
  process.env.BPFTIME_KERNEL_BTF = btf;
  const lines: string[] = [];
  const spy = spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
    lines.push(String(s));
    return true;
  });
  try {
    const spec = loadObject(new Uint8Array(readFileSync(join(dir, "prog.o"))), "prog.o");
    return { programs: spec.programs, log: lines.join("") };
  } finally {
    spy.mockRestore();
    if (old === undefined) delete process.env.BPFTIME_KERNEL_BTF;
    else process.env.BPFTIME_KERNEL_BTF = old;
  }
}

function insn(p: ProgramSpec, i: number) {
  const dv = new DataView(p.instructions.buffer, p.instructions.byteOffset + i * 8, 8);
  return { op: dv.getUint8(0), off: dv.getInt16(2, true), imm: dv.getInt32(4, true) };
}

describe.skipIf(!!missing)("CO-RE patching against changed target types", () => {
  const { programs, log } = missing ? { programs: [], log: "" } : loadResized();
  const prog = (name: string) => programs.find((p) => p.name === name)!;

  test("a signed field whose size changed (4 -> 8) is poisoned, with one warning saying why", () => {
    const p = prog("signed_field");
    expect(p.coreRelos).toMatchObject([{ insn: 0, poisoned: true }]);
    expect(insn(p, 0)).toMatchObject({ op: 0x85, imm: 0xbad2310 }); // libbpf's poison call
    expect(log).toBe(
      "bpftime: warn: section kprobe/signed_field: function signed_field: CO-RE relocation #0 " +
        "(insn 0, field_byte_offset): the field's size changed (4 -> 8) and it is not an " +
        "unsigned integer or pointer: instruction poisoned\n",
    );
  });

  test("an unsigned field widened to 8 bytes at offset 8 is loaded as u64 from offset 8", () => {
    const p = prog("unsigned_field");
    expect(p.coreRelos).toMatchObject([{ insn: 0, poisoned: false }]);
    expect(insn(p, 0)).toMatchObject({ op: 0x79, off: 8 }); // ldxdw r0, [r1+8]
  });

  test("a 64-bit enum value's ldimm64 gets both halves of the target's value", () => {
    const p = prog("wide_enum");
    expect(p.coreRelos).toMatchObject([{ insn: 0, poisoned: false }]);
    // 0x200000003: low half in the first slot's imm, high half in the second's
    expect(insn(p, 0)).toMatchObject({ op: 0x18, imm: 3 });
    expect(insn(p, 1).imm).toBe(2);
  });
});
