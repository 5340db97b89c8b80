import { describe, expect, test } from "bun:test";
import { bpftimeErrorOf } from "../errors.ts";
import {
  AluOp,
  Class,
  JmpOp,
  OP_LDDW,
  classOf,
  aluMnemonic,
  aluOperator,
  callTarget,
  decode,
  decodeSlot,
  encode,
  enumerateForms,
  ins,
  instructionProblem,
  isCall,
  isConditionalJump,
  isExit,
  isJump,
  isLddw,
  isRegisterSource,
  jumpMnemonic,
  jumpTarget,
  lddw,
  lddwNextImm,
  slotIndices,
  totalSlots,
} from "./index.ts";

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

const thrown = bpftimeErrorOf;

describe("decode/encode", () => {
  test("decodes fields little-endian with signed off/imm", () => {
    const [i] = decode(bytes(0x65, 0x02, 0x02, 0x00, 0xfa, 0xff, 0xff, 0xff));
    expect(i).toEqual({ opcode: 0x65, dst: 2, src: 0, off: 2, imm: -6 });
    const [j] = decode(bytes(0x63, 0x5a, 0xfc, 0xff, 0, 0, 0, 0));
    expect(j).toEqual({ opcode: 0x63, dst: 10, src: 5, off: -4, imm: 0 });
  });

  test("lddw takes two slots and carries imm64", () => {
    const b = bytes(
      0x18,
      0x03,
      0,
      0,
      0x78,
      0x56,
      0x34,
      0x12,
      0,
      0,
      0,
      0,
      0xff,
      0xff,
      0xff,
      0xff,
      0x95,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    );
    const insts = decode(b);
    expect(insts.length).toBe(2);
    expect(insts[0]!.imm64).toBe(-0xedcba988n);
    expect(insts[0]!.imm).toBe(0x12345678);
    expect(isLddw(insts[0]!)).toBe(true);
    expect(isExit(insts[1]!)).toBe(true);
    expect(slotIndices(insts)).toEqual([0, 2]);
    expect(totalSlots(insts)).toBe(3);
    expect(encode(insts)).toEqual(b);
  });

  test("round trips every form", () => {
    const forms = enumerateForms();
    expect(forms.length).toBeGreaterThan(150);
    for (const f of forms) expect(instructionProblem(f)).toBeUndefined();
    const b = encode(forms);
    expect(decode(b)).toEqual(forms.map((f) => (isLddw(f) ? f : { ...f })));
    expect(encode(decode(b))).toEqual(b);
  });

  test("truncated input names the instruction", () => {
    const e = thrown(() => decode(bytes(0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0)));
    expect(e.code).toBe("bad_bytecode");
    expect(e.message).toContain("instruction 1");
    expect(e.message).toContain("truncated");
  });

  test("truncated lddw names the instruction", () => {
    const e = thrown(() => decode(bytes(0xb7, 0, 0, 0, 0, 0, 0, 0, 0x18, 1, 0, 0, 1, 0, 0, 0)));
    expect(e.code).toBe("bad_bytecode");
    expect(e.message).toContain("instruction 1");
    expect(e.message).toContain("lddw");
  });

  test("malformed lddw second slot", () => {
    const e = thrown(() => decode(bytes(0x18, 1, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0)));
    expect(e.code).toBe("bad_bytecode");
    expect(e.message).toContain("instruction 0");
  });

  test("framing errors carry the slot and the reason apart from the message", () => {
    const e = thrown(() => decode(bytes(0xb7, 0, 0, 0, 0, 0, 0, 0, 0x18, 1, 0, 0, 1, 0, 0, 0)));
    const d = e.details as { index: number; reason: string };
    expect(d.index).toBe(1);
    expect(e.message).toBe(`instruction 1: ${d.reason}`);
    expect(d.reason).toStartWith("lddw is truncated");
  });

  test("decodeSlot reads one slot alone, a lddw without its second half", () => {
    const b = bytes(0xb7, 0, 0, 0, 0, 0, 0, 0, 0x18, 0x21, 0xfe, 0xff, 7, 0, 0, 0);
    expect(decodeSlot(b, 1)).toEqual({ opcode: OP_LDDW, dst: 1, src: 2, off: -2, imm: 7 });
    expect(decodeSlot(b.subarray(8), 0)).toEqual(decodeSlot(b, 1));
  });

  test("encode rejects out-of-range fields", () => {
    const e = thrown(() => encode([ins(0xb7, 0, 0, 0x10000, 0)]));
    expect(e.code).toBe("bad_bytecode");
  });

  test("empty program", () => {
    expect(decode(new Uint8Array(0))).toEqual([]);
    expect(encode([]).length).toBe(0);
  });

  test("decode honours the byteOffset of a subarray", () => {
    const b = bytes(0xff, 0xb7, 1, 0, 0, 5, 0, 0, 0);
    expect(decode(b.subarray(1))).toEqual([{ opcode: 0xb7, dst: 1, src: 0, off: 0, imm: 5 }]);
  });
});

describe("predicates", () => {
  test("jumps and calls", () => {
    const jeq = ins(Class.JMP | 0x10, 1, 0, 3, 1);
    expect(isJump(jeq)).toBe(true);
    expect(isConditionalJump(jeq)).toBe(true);
    expect(jumpTarget(jeq, 5)).toBe(9);
    const gotol = ins(0x06, 0, 0, 0, -3);
    expect(jumpTarget(gotol, 5)).toBe(3);
    const call = ins(0x85, 0, 1, 0, 4);
    expect(isCall(call)).toBe(true);
    expect(isJump(call)).toBe(false);
    expect(callTarget(call, 2)).toBe(7);
    expect(callTarget(ins(0x85, 0, 0, 0, 4), 2)).toBeUndefined();
    expect(isJump(ins(0x95))).toBe(false);
    expect(isRegisterSource(ins(0x1d, 1, 2, 3))).toBe(true);
    expect(isRegisterSource(jeq)).toBe(false);
    expect(classOf(jeq)).toBe(Class.JMP);
    expect(classOf(0x07)).toBe(Class.ALU64);
  });

  test("lddwNextImm is the second slot's imm, signed", () => {
    const [v] = decode(bytes(0x18, 0x61, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0xff, 0xff, 0xff));
    expect(lddwNextImm(v!)).toBe(-16);
    expect(lddwNextImm(lddw(1, 0x0000002a00000005n, 6))).toBe(42);
    expect(lddwNextImm(ins(OP_LDDW, 1, 5, 0, -1))).toBe(0);
  });

  test("aluOperator names the operation as the disassembler prints it", () => {
    expect(aluOperator(0x00)).toBe("+=");
    expect(aluOperator(0xc0)).toBe("s>>=");
    expect(aluOperator(0xb0)).toBe("=");
    expect(aluOperator(0x80)).toBeUndefined();
    expect(aluOperator(0xd0)).toBeUndefined();
  });

  test("mnemonics name every operation but neg, byte swap, ja, call and exit", () => {
    expect(aluMnemonic(AluOp.ARSH)).toBe("arsh");
    expect(aluMnemonic(AluOp.MOV)).toBe("mov");
    expect(aluMnemonic(AluOp.NEG)).toBeUndefined();
    expect(aluMnemonic(AluOp.END)).toBeUndefined();
    expect(jumpMnemonic(JmpOp.JSLE)).toBe("jsle");
    for (const op of [JmpOp.JA, JmpOp.CALL, JmpOp.EXIT]) expect(jumpMnemonic(op)).toBeUndefined();
    const named = Object.values(AluOp).filter((op) => aluMnemonic(op) !== undefined);
    expect(new Set(named.map(aluMnemonic)).size).toBe(named.length);
  });

  test("lddw builder", () => {
    const l = lddw(1, 0xffffffffffffffffn);
    expect(l.opcode).toBe(OP_LDDW);
    expect(l.imm64).toBe(-1n);
    expect(l.imm).toBe(-1);
  });

  test("instructionProblem", () => {
    expect(instructionProblem(ins(0xff))).toContain("unknown opcode 0xff");
    expect(instructionProblem(ins(0xb7, 11))).toContain("r11");
    expect(instructionProblem(ins(0x95, 0, 0, 0, 1))).toContain("imm");
    expect(instructionProblem(ins(0xd4, 1, 0, 0, 8))).toContain("16, 32 or 64");
    expect(instructionProblem(ins(0xbf, 1, 2, 8))).toBeUndefined();
    expect(instructionProblem(ins(0xbc, 1, 2, 32))).toContain("sign-extension");
    expect(instructionProblem(ins(0xdb, 1, 2, 0, 0x02))).toContain("atomic");
    expect(instructionProblem(ins(0x85, 0, 3, 0, 1))).toContain("call kind");
  });
});
