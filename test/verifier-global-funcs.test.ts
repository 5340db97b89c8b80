// Global (non-static) functions are verified once, from their BTF
// prototype, as the kernel does: every call checks its arguments against
// the prototype and gets an unknown scalar back, and the function may rely
// on nothing its callers know. Expected verdicts come from the C source
// (test/fixtures/global-funcs/global_funcs.bpf.c, one program per case).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadObject } from "../src/elf/index.ts";
import { verifyProgram } from "../src/ops/index.ts";
import { compileBpf, repoRoot, tempDir } from "./helpers.ts";

const noClang = Bun.which("clang") ? undefined : "clang not found";
if (noClang) console.log(`skip: global functions: ${noClang}`);

function object() {
  const out = join(tempDir(), "global_funcs.bpf.o");
  compileBpf(join(repoRoot, "test/fixtures/global-funcs/global_funcs.bpf.c"), out);
  return loadObject(readFileSync(out), out);
}

describe.skipIf(noClang !== undefined)("global functions", () => {
  const spec = noClang ? undefined : object();
  const verdict = (name: string, log = false) => {
    const p = spec!.programs.find((x) => x.name === name)!;
    try {
      return { ok: true, log: verifyProgram(spec!, p, { log }).result.log, error: "" };
    } catch (e) {
      return { ok: false, log: [] as string[], error: (e as Error).message };
    }
  };

  test("four calls, one verification of the function", () => {
    const r = verdict("ok_four_calls", true);
    expect(r.error).toBe("");
    expect(r.log.filter((l) => l === "Func 'add_into' is global and assumed valid.").length).toBe(
      4,
    );
    expect(r.log.filter((l) => l.startsWith("Validating add_into()")).length).toBe(1);
  });

  test("NULL where the prototype says pointer is allowed: the function checks", () => {
    expect(verdict("ok_null_argument").error).toBe("");
  });

  test("an enum is a scalar: a global function may return one", () => {
    expect(verdict("ok_enum_return").error).toBe("");
  });

  // [program, what the refusal says]
  const refused: [string, string][] = [
    // a buffer smaller than the prototype's type: at the call
    ["bad_too_small_buffer", "invalid indirect access to stack R1 off=-8 size=16"],
    // stack bytes never written: at the call (the function may read them)
    ["bad_uninitialised_buffer", "uninitialised stack passed to global function sum_pair"],
    // a pointer argument may be NULL: using it unchecked
    ["bad_no_null_check", "invalid mem access 'mem_or_null'"],
    // writing past the argument's BTF size (a __u32)
    ["bad_write_past_type", "invalid access to memory, mem_size=4 off=4 size=4"],
    // a void function (the kernel here says the same; only int and enum returns)
    ["bad_void_function", "Global function bump() doesn't return scalar. Only those are supported"],
  ];
  for (const [name, why] of refused)
    test(`refused: ${name}`, () => expect(verdict(name).error).toContain(why));

  test("a global function cannot rely on its callers' values; a hidden one is static", () => {
    expect(verdict("bad_relies_on_caller").error).toContain("unbounded min value");
    const hidden = verdict("ok_hidden_is_static", true);
    expect(hidden.error).toBe("");
    expect(hidden.log.some((l) => l.includes("is global"))).toBe(false);
  });
});
