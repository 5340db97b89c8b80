// `bpftime run --raw`: the ISA test mode over the real VM, through the CLI.
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, tempDir } from "./helpers.ts";

// mov r0, 42; exit
const ret42 = Uint8Array.from([0xb7, 0, 0, 0, 42, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
// r0 = *(u8 *)(r1 + 2); r0 += r2; exit  — reads the data buffer and its length
const readData = Uint8Array.from([
  0x71, 0x10, 2, 0, 0, 0, 0, 0, 0x0f, 0x20, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0,
]);
// *(u8 *)(r1 + 0) = 0x7f; r0 = 0; exit
const writeData = Uint8Array.from([
  0x72, 0x01, 0, 0, 0x7f, 0, 0, 0, 0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0,
]);

function file(bytes: Uint8Array, name = "prog.bin"): string {
  const p = join(tempDir(), name);
  writeFileSync(p, bytes);
  return p;
}

describe("bpftime run --raw", () => {
  test("prints the return value", () => {
    const r = cli(["run", "--raw", file(ret42), "--engine", "interp"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("return value: 0x2a\n");
    expect(r.code).toBe(0);
  });

  test("r1/r2 are the data buffer and its length", () => {
    const data = file(Uint8Array.from([1, 2, 200, 4, 5]), "data.bin");
    const r = cli(["run", "--raw", file(readData), "--data", data, "--engine", "interp", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ returnValue: "0xcd", engine: "interp" });
  });

  test("--data-out writes the buffer after the run", () => {
    const dir = tempDir();
    const data = join(dir, "in.bin");
    writeFileSync(data, Uint8Array.from([1, 2, 3]));
    const out = join(dir, "out.bin");
    const r = cli([
      "run",
      "--raw",
      file(writeData),
      "--data",
      data,
      "--data-out",
      out,
      "--engine",
      "interp",
    ]);
    expect(r.code).toBe(0);
    expect([...readFileSync(out)]).toEqual([0x7f, 2, 3]);
  });

  test("--repeat prints the average duration", () => {
    const r = cli(["run", "--raw", file(ret42), "--engine", "interp", "--repeat", "1000"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^return value: 0x2a\nduration \(average\): \d+ ns\n$/);
  });

  test("an out-of-bounds read is an error naming the instruction, not a crash", () => {
    const data = file(Uint8Array.from([1]), "data.bin");
    const r = cli(["run", "--raw", file(readData), "--data", data, "--engine", "interp"]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/instruction 0/);
    expect(r.stderr.trim().split("\n").length).toBe(1);
  });

  test("a missing file, a partial instruction and an unknown engine are clear errors", () => {
    const missing = cli(["run", "--raw", "/nonexistent/prog.bin"]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toBe("bpftime: program file /nonexistent/prog.bin does not exist\n");
    const partial = cli(["run", "--raw", file(ret42.slice(0, 12))]);
    expect(partial.code).toBe(5);
    expect(partial.stderr).toContain("not a whole number of 8-byte instructions");
    const engine = cli(["run", "--raw", file(ret42), "--engine", "fast"]);
    expect(engine.code).toBe(2);
    expect(engine.stderr).toContain('unknown engine "fast"');
  });

  test("raw bytecode runs on the bounds-checked interpreter unless asked otherwise", () => {
    const env = { BPFTIME_VM: undefined };
    const r = cli(["run", "--raw", file(ret42), "--json"], { env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).engine).toBe("interp");
    // an out-of-bounds read is caught without --engine: the default checks accesses
    const data = file(Uint8Array.from([1]), "data.bin");
    const oob = cli(["run", "--raw", file(readData), "--data", data], { env });
    expect(oob.code).toBe(7);
    expect(oob.stderr).toMatch(/instruction 0/);
  });

  test("the JIT on raw bytecode needs --unverified, from the flag or $BPFTIME_VM", () => {
    for (const [args, env] of [
      [["--engine", "jit"], { BPFTIME_VM: undefined }],
      [[], { BPFTIME_VM: "jit" }],
    ] as const) {
      const r = cli(["run", "--raw", file(ret42), ...args], { env });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^bpftime: raw bytecode is not verified .*--unverified.*\n$/);
    }
    const r = cli(["run", "--raw", file(ret42), "--engine", "jit", "--unverified", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ returnValue: "0x2a", engine: "jit" });
  });

  test("the help says raw bytecode is unverified and which engine checks accesses", () => {
    const help = cli(["run", "--help"]).stdout;
    expect(help).toContain("--unverified");
    expect(help).toMatch(/NOT verified/);
    expect(help).toMatch(/interpreter, which checks every\s+memory access; the JIT does not/);
  });

  test("callx with no helper behind its register fails the call, not the host, on both engines", () => {
    // r1 = -1; r2 = 5; callx r2; exit — raw runs register no helpers, so the
    // call returns -ENOENT; then r0 = 2 after it, the conformance suites' shape
    const callx = Uint8Array.from([
      ...[0xb7, 0x01, 0, 0, 0xff, 0xff, 0xff, 0xff],
      ...[0xb7, 0x02, 0, 0, 5, 0, 0, 0],
      ...[0x8d, 0x02, 0, 0, 0, 0, 0, 0],
      ...[0x95, 0, 0, 0, 0, 0, 0, 0],
    ]);
    const thenTwo = Uint8Array.from([
      ...callx.slice(0, 24),
      0xb7,
      0,
      0,
      0,
      2,
      0,
      0,
      0,
      ...callx.slice(24),
    ]);
    for (const engine of [
      ["--engine", "interp"],
      ["--engine", "jit", "--unverified"],
    ]) {
      const r = cli(["run", "--raw", file(callx), ...engine, "--json"]);
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout).returnValue).toBe("0xfffffffffffffffe"); // -ENOENT
      const two = cli(["run", "--raw", file(thenTwo), ...engine, "--json"]);
      expect(JSON.parse(two.stdout).returnValue).toBe("0x2");
    }
    // reserved fields set: refused at load, naming the instruction
    const bad = Uint8Array.from(callx);
    bad[16 + 4] = 1; // imm of the callx
    const r = cli(["run", "--raw", file(bad), "--engine", "interp"]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^bpftime: instruction 2: callx r2 has reserved fields set.*\n$/);
  });

  test("malformed bytecode is refused at load with the instruction index", () => {
    const badOpcode = Uint8Array.from([0xb7, 0, 0, 0, 1, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0]);
    const r = cli(["run", "--raw", file(badOpcode), "--engine", "interp"]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/instruction 1/);
  });
});

describe("--engine ubpf", () => {
  const { ubpfMissingReason } =
    require("../src/native/ubpf.ts") as typeof import("../src/native/ubpf.ts");
  const missing = ubpfMissingReason();
  if (missing) console.log(`skip: ubpf backend runs: ${missing}`);

  test.skipIf(!!missing)("runs raw bytecode through the system libubpf", () => {
    const r = cli(["run", "--raw", file(ret42), "--engine", "ubpf"]);
    expect(r.stdout).toBe("return value: 0x2a\n");
  });

  test.skipIf(!missing)("without libubpf.so the choice fails with one clear line", () => {
    for (const args of [["--engine", "ubpf"], []]) {
      const r = cli(["run", "--raw", file(ret42), ...args], {
        env: args.length ? {} : { BPFTIME_VM: "ubpf" },
      });
      expect(r.code).toBe(9);
      expect(r.stderr).toMatch(
        /^bpftime: engine ubpf: libubpf\.so was not found on this machine; .*\n$/,
      );
    }
  });
});
