import { describe, expect, test } from "bun:test";
import { type DisasmNames, OP_CALL, PseudoSrc, instructionText, lddw } from "./index.ts";

describe("names for helpers and maps, as bpftool prints them", () => {
  const names: DisasmNames = {
    helper: (id) => (id === 1 ? "bpf_map_lookup_elem" : undefined),
    map: (i) => ["counts", ".rodata"][i],
  };
  const call = (imm: number, src = 0) => ({ opcode: OP_CALL, dst: 0, src, off: 0, imm });

  test("a helper call names the helper; an unknown helper and a local call keep the number", () => {
    expect(instructionText(call(1), { names })).toBe("call bpf_map_lookup_elem");
    expect(instructionText(call(9999), { names })).toBe("call 9999");
    expect(instructionText(call(1, 1), { names })).toBe("call 1");
  });

  test("a map load names the map; a map-value load adds its offset", () => {
    expect(instructionText(lddw(1, 0, PseudoSrc.MAP_IDX), { names })).toBe("r1 = map[counts]");
    expect(instructionText(lddw(2, 1, PseudoSrc.MAP_FD), { names })).toBe("r2 = map[.rodata]");
    expect(instructionText(lddw(3, 1n | (16n << 32n), PseudoSrc.MAP_IDX_VALUE), { names })).toBe(
      "r3 = map[.rodata] + 16",
    );
    expect(instructionText(lddw(3, 1, PseudoSrc.MAP_VALUE), { names })).toBe("r3 = map[.rodata]");
    // A map the names do not know: llvm's text.
    expect(instructionText(lddw(1, 7, PseudoSrc.MAP_IDX), { names })).toBe("ld_pseudo\tr1, 5, 7");
  });

  test("without names the text is llvm-objdump's", () => {
    expect(instructionText(call(1))).toBe("call 1");
    expect(instructionText(lddw(1, 0, PseudoSrc.MAP_IDX))).toBe("ld_pseudo\tr1, 5, 0");
  });
});
