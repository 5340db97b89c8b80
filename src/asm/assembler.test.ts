import { describe, expect, test } from "bun:test";
import { bpftimeErrorOf } from "../errors.ts";
import {
  type Instruction,
  assemble,
  decode,
  disassemble,
  disassembleLines,
  encode,
  enumerateForms,
  ins,
  instructionText,
  lddw,
} from "./index.ts";

const thrown = bpftimeErrorOf;

const hex = (insts: Instruction[]): string => Buffer.from(encode(insts)).toString("hex");

describe("round trip over every instruction form", () => {
  const forms = enumerateForms();
  for (const syntax of ["llvm", "ubpf"] as const) {
    for (const dialect of ["llvm14", "llvm19"] as const) {
      test(`${syntax} syntax, ${dialect} numbers`, () => {
        const bytes = encode(forms);
        const text = disassemble(decode(bytes), { syntax, dialect, callKinds: true });
        expect(text).not.toContain("<unknown>");
        expect(encode(assemble(text))).toEqual(bytes);
        // one line at a time too
        const lines = disassembleLines(forms, { syntax, dialect, callKinds: true });
        lines.forEach((line, i) =>
          expect([line, hex(assemble(line))]).toEqual([line, hex([forms[i]!])]),
        );
      });
    }
  }

  test("listing (index + raw bytes + symbol headers) assembles back", () => {
    const bytes = encode(forms);
    const text = disassemble(decode(bytes), {
      listing: true,
      callKinds: true,
      symbols: [
        { name: "f", slot: 0 },
        { name: "LBB0_3", slot: 7 },
      ],
    });
    expect(text).toContain("\n0000000000000000 <f>:\n");
    expect(text).toContain("\n0000000000000038 <LBB0_3>:\n");
    expect(encode(assemble(text))).toEqual(bytes);
  });

  test("full llvm-objdump output, including jump annotations, assembles", () => {
    const text = [
      "",
      "x.o:\tfile format elf64-bpf",
      "",
      "Disassembly of section xdp:",
      "",
      "0000000000000000 <prog>:",
      "       0:\tb7 00 00 00 00 00 00 00\tr0 = 0",
      "       1:\t15 01 01 00 00 00 00 00\tif r1 == 0 goto +1 <LBB0_2>",
      "       2:\tb7 00 00 00 01 00 00 00\tr0 = 1",
      "",
      "0000000000000018 <LBB0_2>:",
      "       3:\t95 00 00 00 00 00 00 00\texit",
    ].join("\n");
    expect(hex(assemble(text))).toBe(
      "b700000000000000" + "1501010000000000" + "b700000001000000" + "9500000000000000",
    );
  });
});

describe("ubpf syntax", () => {
  const cases: [string, Instruction][] = [
    ["mov32 %r0, 0", ins(0xb4, 0, 0, 0, 0)],
    ["mov %r1, %r2", ins(0xbf, 1, 2)],
    ["mov64 %r1, %r2", ins(0xbf, 1, 2)],
    ["add %r1, 5", ins(0x07, 1, 0, 0, 5)],
    ["add32 %r1, -1", ins(0x04, 1, 0, 0, -1)],
    ["sub %r1, 0xffffffff", ins(0x17, 1, 0, 0, -1)],
    ["lsh32 %r3, 4", ins(0x64, 3, 0, 0, 4)],
    ["arsh %r3, %r4", ins(0xcf, 3, 4)],
    ["neg %r3", ins(0x87, 3)],
    ["neg32 %r3", ins(0x84, 3)],
    ["be16 %r0", ins(0xdc, 0, 0, 0, 16)],
    ["le32 %r0", ins(0xd4, 0, 0, 0, 32)],
    ["bswap64 %r0", ins(0xd7, 0, 0, 0, 64)],
    ["sdiv %r1, %r2", ins(0x3f, 1, 2, 1)],
    ["sdiv32 %r0, 0xffffffff", ins(0x34, 0, 0, 1, -1)],
    ["smod32 %r0, 3", ins(0x94, 0, 0, 1, 3)],
    ["movsx8 %r1, %r2", ins(0xbf, 1, 2, 8)],
    ["movsx32 %r1, %r2", ins(0xbf, 1, 2, 32)],
    ["mov32sx16 %r1, %r2", ins(0xbc, 1, 2, 16)],
    ["movsx8_32 %r1, %r2", ins(0xbc, 1, 2, 8)],
    ["ldxw %r0, [%r1+4]", ins(0x61, 0, 1, 4)],
    ["ldxdw %r0, [%r1]", ins(0x79, 0, 1, 0)],
    ["ldxb %r0, [%r10 - 0x10]", ins(0x71, 0, 10, -16)],
    ["ldxh %r0, [%r1+2]", ins(0x69, 0, 1, 2)],
    ["ldxsb %r0, [%r1+2]", ins(0x91, 0, 1, 2)],
    ["ldxsh %r0, [%r1+2]", ins(0x89, 0, 1, 2)],
    ["ldxwsx %r0, [%r1+2]", ins(0x81, 0, 1, 2)],
    ["stxdw [%r10-8], %r1", ins(0x7b, 10, 1, -8)],
    ["stw [%r1+2], 7", ins(0x62, 1, 0, 2, 7)],
    ["stb [%r1+2], -1", ins(0x72, 1, 0, 2, -1)],
    ["jeq %r1, 0x1, +3", ins(0x15, 1, 0, 3, 1)],
    ["jset %r1, %r2, -1", ins(0x4d, 1, 2, -1)],
    ["jsgt32 %r1, -5, +0", ins(0x66, 1, 0, 0, -5)],
    ["ja +2", ins(0x05, 0, 0, 2)],
    ["ja32 -1", ins(0x06, 0, 0, 0, -1)],
    ["gotol +7", ins(0x06, 0, 0, 0, 7)],
    ["call 12", ins(0x85, 0, 0, 0, 12)],
    ["call kfunc 77", ins(0x85, 0, 2, 0, 77)],
    ["callx %r5", ins(0x8d, 5)],
    ["exit", ins(0x95)],
    ["ldabsh 12", ins(0x28, 0, 0, 0, 12)],
    ["ldindb %r3, 4", ins(0x50, 0, 3, 0, 4)],
    ["lock add [%r1+0], %r2", ins(0xdb, 1, 2, 0, 0x00)],
    ["lock add32 [%r1+4], %r2", ins(0xc3, 1, 2, 4, 0x00)],
    ["lock fetch or [%r1], %r2", ins(0xdb, 1, 2, 0, 0x41)],
    ["lock_fetch_xor32 [%r1], %r2", ins(0xc3, 1, 2, 0, 0xa1)],
    ["xchg [%r1+8], %r3", ins(0xdb, 1, 3, 8, 0xe1)],
    ["cmpxchg32 [%r1+8], %r3", ins(0xc3, 1, 3, 8, 0xf1)],
    ["lock cmpxchg [%r1+8], %r3", ins(0xdb, 1, 3, 8, 0xf1)],
  ];
  for (const [text, want] of cases) {
    test(text, () => expect(assemble(text)).toEqual([want]));
  }

  test("lddw takes 64-bit values and two slots", () => {
    const [l] = assemble("lddw %r0, 0x123456789");
    expect(l).toEqual(lddw(0, 0x123456789n));
    expect(assemble("lddw %r0, 0xffffffffffffffff")[0]!.imm64).toBe(-1n);
    expect(assemble("ld_pseudo %r1, 1, 3")[0]).toEqual(lddw(1, 3, 1));
  });

  test("labels for jumps and local calls count lddw as two slots", () => {
    const prog = assemble(`
      # comment line
      mov %r0, 0          ; trailing comment
      jeq %r1, 1, done    // another comment style
      lddw %r2, 0x100000000
      call local sub
      ja done
    sub:
      mov %r0, 2
      exit
    done: exit
    `);
    expect(prog.map((i) => [i.opcode, i.off, i.imm])).toEqual([
      [0xb7, 0, 0],
      [0x15, 6, 1], // slot 1 -> done at slot 8
      [0x18, 0, 0],
      [0x85, 0, 1], // slot 4 -> sub at slot 6
      [0x05, 2, 0], // slot 5 -> done at slot 8
      [0xb7, 0, 2],
      [0x95, 0, 0],
      [0x95, 0, 0],
    ]);
    expect(prog[3]!.src).toBe(1);
  });

  test("backward label and gotol to a label", () => {
    const prog = assemble("top:\nadd %r0, 1\njlt %r0, 10, top\ngotol top\nexit");
    expect(prog[1]!.off).toBe(-2);
    expect(prog[2]!.imm).toBe(-3);
  });
});

describe("llvm syntax", () => {
  const cases: [string, Instruction][] = [
    ["r0 = 0x0", ins(0xb7, 0, 0, 0, 0)],
    ["r0 = 0", ins(0xb7, 0, 0, 0, 0)],
    ["w1 += 0x2", ins(0x04, 1, 0, 0, 2)],
    ["w1 = -w1", ins(0x84, 1)],
    ["r1 s>>= r2", ins(0xcf, 1, 2)],
    ["r1 s/= -3", ins(0x37, 1, 0, 1, -3)],
    ["w1 s%= w2", ins(0x9c, 1, 2, 1)],
    ["r1 = (s16)r2", ins(0xbf, 1, 2, 16)],
    ["r1 = bswap32 r1", ins(0xd7, 1, 0, 0, 32)],
    ["r1 = be64 r1", ins(0xdc, 1, 0, 0, 64)],
    ["if r1 == 0x1 goto +0x3 <LBB0_2>", ins(0x15, 1, 0, 3, 1)],
    ["if r1 > r2 goto +3", ins(0x2d, 1, 2, 3)],
    ["if w1 s<= -1 goto -2", ins(0xd6, 1, 0, -2, -1)],
    ["goto -0x1 <f>", ins(0x05, 0, 0, -1)],
    ["gotol +0x10", ins(0x06, 0, 0, 0, 16)],
    ["*(u32 *)(r10 - 0x4) = r1", ins(0x63, 10, 1, -4)],
    ["*(u64 *)(r10 - 8) = 5", ins(0x7a, 10, 0, -8, 5)],
    ["r1 = *(u64 *)(r1 + 0x8)", ins(0x79, 1, 1, 8)],
    ["r1 = *(s8 *)(r1 + 0x8)", ins(0x91, 1, 1, 8)],
    ["w0 = *(u32 *)(r1 + 0)", ins(0x61, 0, 1, 0)],
    ["r0 = *(u16 *)skb[0x4]", ins(0x28, 0, 0, 0, 4)],
    ["r0 = *(u8 *)skb[r2]", ins(0x50, 0, 2, 0, 0)],
    ["call 0x1", ins(0x85, 0, 0, 0, 1)],
    ["call local -0x1", ins(0x85, 0, 1, 0, -1)],
    ["exit", ins(0x95)],
    ["lock *(u64 *)(r1 + 0x0) += r2", ins(0xdb, 1, 2, 0, 0)],
    ["lock *(u32 *)(r1 + 0x0) ^= w2", ins(0xc3, 1, 2, 0, 0xa0)],
    ["r2 = atomic_fetch_and((u64 *)(r1 + 0x8), r2)", ins(0xdb, 1, 2, 8, 0x51)],
    ["w4 = xchg32_32(r1 + 8, w4)", ins(0xc3, 1, 4, 8, 0xe1)],
    ["r0 = cmpxchg_64(r1 + 0x10, r0, r3)", ins(0xdb, 1, 3, 16, 0xf1)],
    ["r1 = -0x1 ll", lddw(1, -1n)],
    ["ld_pseudo\tr1, 0x2, 0x7", lddw(1, 7, 2)],
  ];
  for (const [text, want] of cases) {
    test(text, () => expect(assemble(text)).toEqual([want]));
  }
});

describe("disassembler text", () => {
  test("llvm 14 and 19 number styles", () => {
    const i = ins(0x15, 1, 0, 3, 1);
    expect(instructionText(i)).toBe("if r1 == 1 goto +3");
    expect(instructionText(i, { dialect: "llvm19" })).toBe("if r1 == 0x1 goto +0x3");
    expect(
      instructionText(i, { dialect: "llvm19", slot: 2, symbols: [{ name: "LBB0_2", slot: 6 }] }),
    ).toBe("if r1 == 0x1 goto +0x3 <LBB0_2>");
    expect(
      instructionText(ins(0x05, 0, 0, -3), { slot: 3, symbols: [{ name: "f", slot: 0 }] }),
    ).toBe("goto -3 <f+0x8>");
  });

  test("listing", () => {
    expect(disassemble([ins(0xb7), ins(0x95)], { listing: true, dialect: "llvm19" })).toBe(
      "       0:\tb7 00 00 00 00 00 00 00\tr0 = 0x0\n       1:\t95 00 00 00 00 00 00 00\texit\n",
    );
  });

  test("unknown opcodes", () => {
    expect(instructionText(ins(0xff))).toBe("<unknown>");
    expect(instructionText(ins(0xdf, 1, 0, 0, 16))).toBe("<unknown>");
    expect(instructionText(ins(0xff), { syntax: "ubpf" })).toBe("<unknown>");
  });

  test("call kinds", () => {
    expect(instructionText(ins(0x85, 0, 1, 0, -1))).toBe("call -1");
    expect(instructionText(ins(0x85, 0, 1, 0, -1), { callKinds: true })).toBe("call local -1");
    expect(instructionText(ins(0x85, 0, 2, 0, 9), { callKinds: true, dialect: "llvm19" })).toBe(
      "call kfunc 0x9",
    );
  });
});

describe("assembler errors name the line", () => {
  const cases: [string, number, string][] = [
    ["mov %r0, 0\nfrob %r1, 2\nexit", 2, 'unknown instruction "frob"'],
    ["exit\n\nmov %r11, 1", 3, "r11"],
    ["jeq %r1, 1, nowhere\nexit", 1, 'unknown label "nowhere"'],
    ["a:\na:\nexit", 2, "defined twice"],
    ["add %r1", 1, "expected"],
    ["ldxw %r0, %r1", 1, "memory operand"],
    ["r0 = *(u32 *)(r1 + ) ", 1, "llvm-objdump syntax"],
    ["mov32 %r0, 0x100000000", 1, "out of range"],
    ["ja +40000", 1, "out of range"],
    ["w1 += r2", 1, "mixed r and w"],
    ["r1 = bswap16 r2", 1, "same register"],
    ["ld_pseudo %r1, 9, 1", 1, "pseudo source"],
  ];
  for (const [src, line, why] of cases) {
    test(`${JSON.stringify(src)} -> line ${line}`, () => {
      const e = thrown(() => assemble(src));
      expect(e.code).toBe("usage");
      expect(e.message).toStartWith(`line ${line}: `);
      expect(e.message).toContain(why);
      expect(e.details).toEqual({ line });
    });
  }

  test("too-far label suggests gotol", () => {
    const body = Array.from({ length: 40000 }, () => "mov %r0, 0").join("\n");
    const e = thrown(() => assemble(`ja far\n${body}\nfar: exit`));
    expect(e.message).toContain("gotol");
    expect(assemble(`gotol far\n${body}\nfar: exit`)[0]!.imm).toBe(40000);
  });
});
