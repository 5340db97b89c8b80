import { describe, expect, test } from "bun:test";
import { bpftimeErrorOf } from "../errors.ts";
import { SHT_REL, STT_FUNC, parseElf } from "./elf.ts";
import { loadObject } from "./object.ts";
import { objectBytes, objectPath, objectTestGate, tool } from "./testdata.ts";

const { t } = objectTestGate("elf.test.ts");

const errorOf = bpftimeErrorOf;

function shdr(bytes: Uint8Array, index: number): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  return Number(dv.getBigUint64(40, true)) + index * 64;
}

describe("parseElf against llvm-readelf", () => {
  const noReadelf = !Bun.which("llvm-readelf");
  if (noReadelf) console.log("elf.test.ts: llvm-readelf not found: skipping the comparison");
  (noReadelf ? test.skip : t)("sections, symbols and relocations match", () => {
    const path = objectPath("maps");
    const elf = parseElf(objectBytes("maps"));
    const sections = tool(["llvm-readelf", "-S", "-W", path])!;
    expect(sections).toBeDefined();
    // "  [ 3] uprobe//usr/bin/bash:readline PROGBITS 0000000000000000 000040 000118 00  AX  0   0  8"
    for (const line of sections.split("\n")) {
      const m =
        /^\s*\[\s*(\d+)\]\s+(\S*)\s+([A-Z_]+)\s+[0-9a-f]{16}\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(
          line,
        );
      if (!m || m[1] === "0") continue;
      const s = elf.sections[Number(m[1])]!;
      expect(s.name).toBe(m[2]!);
      expect(s.offset).toBe(parseInt(m[4]!, 16));
      expect(s.size).toBe(parseInt(m[5]!, 16));
    }
    const syms = tool(["llvm-readelf", "-s", "-W", path])!;
    let count = 0;
    for (const line of syms.split("\n")) {
      const m = /^\s*(\d+): ([0-9a-f]{16})\s+(\d+)\s+(\w+)\s+(\w+)\s+\w+\s+(\w+)\s*(.*)$/.exec(
        line,
      );
      if (!m) continue;
      count++;
      const s = elf.symbols[Number(m[1])]!;
      expect(s.value).toBe(parseInt(m[2]!, 16));
      expect(s.size).toBe(Number(m[3]));
      if (m[4] === "FUNC") expect(s.type).toBe(STT_FUNC);
      // readelf prints section symbols without a name; we keep the raw (empty) name.
      if (m[4] !== "SECTION") expect(s.name).toBe(m[7]!.trim());
    }
    expect(count).toBe(elf.symbols.length);
    const rels = tool(["llvm-readelf", "-r", "-W", path])!;
    const relSecs = elf.sections.filter((s) => s.type === SHT_REL);
    let total = 0;
    for (const s of relSecs) total += elf.relocations(s).length;
    const listed = rels.split("\n").filter((l) => /^[0-9a-f]{16}\s+[0-9a-f]{16}\s+R_BPF/.test(l));
    expect(total).toBe(listed.length);
  });
});

describe("malformed ELF gives one clear line", () => {
  test("not ELF, wrong class, wrong machine", () => {
    expect(errorOf(() => loadObject(new Uint8Array(0))).message).toMatch(/shorter than an ELF64/);
    expect(errorOf(() => loadObject(new Uint8Array(64))).message).toMatch(/bad magic/);
    const h = new Uint8Array(64);
    h.set([0x7f, 0x45, 0x4c, 0x46, 1, 1]);
    expect(errorOf(() => loadObject(h)).message).toMatch(/class 1 is not ELFCLASS64/);
    h[4] = 2;
    h[5] = 2;
    expect(errorOf(() => loadObject(h)).code).toBe("unsupported");
    h[5] = 1;
    h[18] = 62; // EM_X86_64
    expect(errorOf(() => loadObject(h)).message).toMatch(/e_machine 62 is not EM_BPF/);
  });

  t("truncated files", () => {
    const orig = objectBytes("calls");
    for (const len of [63, 64, 100, orig.length >> 1, orig.length - 1]) {
      const e = errorOf(() => loadObject(orig.slice(0, len)));
      expect(e.code).toBe("bad_object");
      expect(e.message).not.toContain("\n");
    }
  });

  t("relocation symbol index beyond the symbol table", () => {
    const bytes = objectBytes("calls");
    const elf = parseElf(bytes);
    const rel = elf.sections.find((s) => s.name === ".relxdp")!;
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    // Relocation 1's r_info: symbol 99 (high 32 bits), type R_BPF_64_32.
    dv.setUint32(rel.offset + 16 + 8, 10, true);
    dv.setUint32(rel.offset + 16 + 12, 99, true);
    const e = errorOf(() => loadObject(bytes));
    expect(e.code).toBe("bad_object");
    expect(e.message).toBe(
      `section xdp: relocation 1 refers to symbol index 99 beyond the symbol table (${elf.symbols.length} entries)`,
    );
  });

  t("section contents beyond the file", () => {
    const bytes = objectBytes("calls");
    const elf = parseElf(bytes);
    const xdp = elf.section("xdp")!;
    new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(
      shdr(bytes, xdp.index) + 32,
      0x100000n,
      true,
    );
    expect(errorOf(() => loadObject(bytes)).message).toMatch(
      new RegExp(
        `section ${xdp.index}: contents at offset \\d+ \\(1048576 bytes\\) extend beyond the file`,
      ),
    );
  });

  t("unaligned function symbol", () => {
    const bytes = objectBytes("calls");
    const elf = parseElf(bytes);
    const sym = elf.symbols.find((s) => s.name === "xdp_drop")!;
    const symtab = elf.sections[elf.symtabIndex]!;
    new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(
      symtab.offset + sym.index * 24 + 8,
      BigInt(sym.value + 4),
      true,
    );
    expect(errorOf(() => loadObject(bytes)).message).toMatch(
      /section xdp: function xdp_drop: offset \d+ or size \d+ is not a multiple of 8/,
    );
  });

  t("a section header table past the end of the file names the table", () => {
    const bytes = objectBytes("calls");
    new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(40, BigInt(bytes.length), true);
    expect(errorOf(() => parseElf(bytes)).message).toMatch(
      new RegExp(`^section header table: .* is beyond its end \\(${bytes.length} bytes\\)$`),
    );
  });

  t("two relocations of one instruction are refused", () => {
    const bytes = objectBytes("legacy");
    const elf = parseElf(bytes);
    const rel = elf.relSectionFor(elf.section("socket")!.index)!;
    const [first, second] = elf.relocations(rel);
    expect(second).toBeDefined();
    // the second Elf64_Rel (16 bytes: r_offset, r_info) takes the first one's r_offset
    new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(
      rel.offset + 16,
      BigInt(first!.offset),
      true,
    );
    expect(errorOf(() => loadObject(bytes)).message).toBe(
      `section socket: two relocations for offset ${first!.offset}`,
    );
  });

  t("a symbol value or size beyond 2^53 names the symbol and the field", () => {
    for (const [field, at] of [
      ["st_value", 8],
      ["st_size", 16],
    ] as const) {
      const bytes = objectBytes("calls");
      const elf = parseElf(bytes);
      const sym = elf.symbols.find((s) => s.name === "xdp_drop")!;
      const symtab = elf.sections[elf.symtabIndex]!;
      new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(
        symtab.offset + sym.index * 24 + at,
        1n << 60n,
        true,
      );
      expect(errorOf(() => parseElf(bytes)).message).toBe(
        `section ${symtab.name}: symbol ${sym.index} ${field} 0x1000000000000000 is too large`,
      );
    }
  });

  t("relocation on an instruction that is neither lddw nor call", () => {
    const bytes = objectBytes("maps");
    const elf = parseElf(bytes);
    const sec = elf.section("uprobe//usr/bin/bash:readline")!;
    const rel = elf.relSectionFor(sec.index)!;
    const first = elf.relocations(rel)[0]!;
    bytes[sec.offset + first.offset] = 0xb7; // mov imm instead of lddw
    const e = errorOf(() => loadObject(bytes, "x.o"));
    expect(e.code).toBe("unsupported");
    expect(e.message).toBe(
      "x.o: section uprobe//usr/bin/bash:readline: function handle_readline: relocation 0 (insn 4, symbol events): relocation type 1 on instruction opcode 0xb7 (only lddw and bpf-to-bpf calls are relocated)",
    );
  });

  t("call to an extern function is refused", () => {
    const e = errorOf(() => loadObject(objectBytes("extern")));
    expect(e.code).toBe("unsupported");
    expect(e.message).toMatch(
      /^section xdp: function calls_extern: relocation 0 \(insn 1, symbol defined_elsewhere\): extern symbol/,
    );
  });

  t("call into the middle of nowhere", () => {
    const bytes = objectBytes("calls");
    const elf = parseElf(bytes);
    const sec = elf.section("xdp")!;
    // xdp_drop's call (insn 10) has a relocation against .text: point it far away.
    new DataView(bytes.buffer, bytes.byteOffset).setInt32(sec.offset + 10 * 8 + 4, 1000, true);
    expect(errorOf(() => loadObject(bytes)).message).toMatch(
      /^section xdp: function xdp_drop: call at insn 1 targets instruction 1001 of section \.text, which is in no function$/,
    );
  });
});
