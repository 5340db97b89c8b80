// BTF types printed as C: every declarator shape (pointers to arrays and to
// functions, arrays of pointers, qualifiers at each level, typedefs,
// bitfields). The oracle is the C source itself: each member of
// `struct shapes` in test/fixtures/btf/declarators.bpf.c must print exactly
// as it is declared there, after clang turned it into BTF.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseElf } from "../src/elf/elf.ts";
import { parseBtf } from "../src/btf/btf.ts";
import { declare, formatType, typeName } from "../src/btf/format.ts";
import { compileBpf } from "./helpers.ts";
import { RUN_ID } from "./run-id.ts";

const src = join(import.meta.dir, "fixtures", "btf", "declarators.bpf.c");
const obj = join(mkdtempSync(join(tmpdir(), `bpftime-${RUN_ID}-btf-`)), "declarators.bpf.o");
compileBpf(src, obj);
const btf = parseBtf(parseElf(new Uint8Array(readFileSync(obj))).section(".BTF")!.data);
const shapes = btf.typeByName("shapes", "struct")!;

/** The MEMBER lines of the source, as written (without the `;`). */
const declared = readFileSync(src, "utf8")
  .split("\n")
  .filter((l) => l.includes("// MEMBER"))
  .map((l) => l.replace(/;\s*\/\/ MEMBER.*$/, "").trim());

describe("BTF declarators print as declared in C", () => {
  test("the struct has every member of the source", () => {
    expect(shapes).toBeDefined();
    expect(shapes.kind).toBe("struct");
    expect(declared.length).toBeGreaterThanOrEqual(25);
  });
  for (const [i, decl] of declared.entries())
    test(decl, () => {
      if (shapes.kind !== "struct") throw new Error(`struct shapes is a ${shapes.kind}`);
      const m = shapes.members[i]!;
      const printed = declare(btf, m.type, m.name) + (m.bitSize ? ` : ${m.bitSize}` : "");
      expect(printed.replace(/\s*:\s*/, " : ")).toBe(decl.replace(/\s*:\s*/, " : "));
    });
  test("the whole struct definition and short names", () => {
    const body = declared.map((d) => `${d.replace(" : ", ":")};`).join(" ");
    expect(formatType(btf, shapes.id)).toBe(`struct shapes { ${body} }`);
    expect(typeName(btf, shapes.id)).toBe("struct shapes");
    expect(formatType(btf, btf.typeByName("handler_t")!.id)).toBe("typedef int (*handler_t)(int)");
  });
});
