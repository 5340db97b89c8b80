// Compiles each bench/vm program with the LLVM tier (src/llvm) for the
// benchmark's "llvm" column: <dir>/<name>.bin -> <dir>/<name>.llvm, or
// <dir>/<name>.llvm.err holding the one-line reason the tier refused (the
// harness prints it). Run by bench/vm/run.sh before the harness.
//   bun bench/vm/llvm-blobs.ts <build-dir>
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compileToNative, findToolchain } from "../../src/llvm/index.ts";

const dir = process.argv[2] ?? "bench/build/vm";
const tc = findToolchain();
for (const f of readdirSync(dir).filter((f) => /^[a-z0-9]+\.bin$/.test(f))) {
  const name = f.slice(0, -4);
  const out = join(dir, `${name}.llvm`);
  rmSync(out, { force: true });
  rmSync(`${out}.err`, { force: true });
  try {
    if (!tc) throw new Error("no clang >= 14 installed");
    writeFileSync(out, compileToNative(new Uint8Array(readFileSync(join(dir, f))), tc));
  } catch (e) {
    writeFileSync(`${out}.err`, `${(e as Error).message}\n`);
  }
}
