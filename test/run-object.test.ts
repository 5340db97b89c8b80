// `bpftime run` on ELF objects and stored programs: contexts built per type.
import { describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, cliEntry, cliOk, compileBpf, regionNames, repoRoot } from "./helpers.ts";
import { startProcess, tempDir, buildExamples } from "./helpers.ts";

const examples = buildExamples();
const newRegion = regionNames("runobj");
const checksum = join(examples, "checksum.bpf.o");

/** RFC 1071 checksum, as examples/checksum.bpf.c computes it. */
function rfc1071(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

describe("bpftime run on objects", () => {
  test("xdp: the program sees the --data bytes as its packet, on both engines", () => {
    const dir = tempDir();
    const data = Uint8Array.from({ length: 99 }, (_, i) => (i * 37 + 11) & 0xff);
    writeFileSync(join(dir, "pkt.bin"), data);
    for (const engine of ["interp", "jit"]) {
      const r = JSON.parse(
        cliOk(["run", checksum, "--data", join(dir, "pkt.bin"), "--engine", engine, "--json"]),
      );
      expect({ engine, ret: Number(r.returnValue) }).toEqual({ engine, ret: rfc1071(data) });
    }
  });

  test("pt_regs programs get a zero-padded context: a short --data is safe and both engines agree", () => {
    const dir = tempDir();
    const obj = join(dir, "regs.bpf.o");
    compileBpf(join(repoRoot, "test/fixtures/run/regs.bpf.c"), obj);
    const regs = new Uint8Array(168);
    const dv = new DataView(regs.buffer);
    dv.setBigUint64(112, 100n, true); // rdi
    dv.setBigUint64(104, 20n, true); // rsi
    dv.setBigUint64(80, 3n, true); // rax
    writeFileSync(join(dir, "regs.bin"), regs);
    writeFileSync(join(dir, "short.bin"), Uint8Array.of(1, 2, 3));
    for (const engine of ["interp", "jit"]) {
      const full = JSON.parse(
        cliOk(["run", obj, "--data", join(dir, "regs.bin"), "--engine", engine, "--json"]),
      );
      expect({ engine, ret: full.returnValue }).toEqual({ engine, ret: "0x82" }); // 100 + 20 + 3 + 7
      const short = JSON.parse(
        cliOk(["run", obj, "--data", join(dir, "short.bin"), "--engine", engine, "--json"]),
      );
      expect({ engine, ret: short.returnValue }).toEqual({ engine, ret: "0x7" });
    }
  });

  test("a stored program runs by id against its region, and --repeat reports a duration", () => {
    const shm = newRegion();
    const id = String(JSON.parse(cliOk(["load", checksum, "--shm", shm, "--json"])).programs[0].id);
    const dir = tempDir();
    writeFileSync(join(dir, "pkt.bin"), Uint8Array.of(0x12, 0x34));
    const out = cliOk(["run", id, "--shm", shm, "--data", join(dir, "pkt.bin"), "--repeat", "100"]);
    expect(out).toMatch(
      new RegExp(
        `^return value: 0x${rfc1071(Uint8Array.of(0x12, 0x34)).toString(16)}\\nduration \\(average\\): \\d+ ns\\n$`,
      ),
    );
  });

  test("choosing a program: unknown names and ambiguous objects are clear errors", () => {
    const none = cli(["run", checksum, "--program", "nope"]);
    expect(none.code).toBe(3);
    expect(none.stderr).toBe(`bpftime: ${checksum}: no program "nope"; it has: checksum (xdp)\n`);
    const shm = newRegion();
    const missing = cli(["run", "42", "--shm", shm]);
    expect(missing.code).toBe(3);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
  });

  test("a run killed mid-way leaves no temporary region: the next run reaps what is left", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "pkt.bin"), new Uint8Array(1500));
    const args = ["run", checksum, "--data", join(dir, "pkt.bin"), "--engine", "interp"];
    const p = startProcess([process.execPath, cliEntry, ...args, "--repeat", "2000000000"]);
    const mine = () => readdirSync("/dev/shm").filter((f) => f.startsWith(`bpftime-run-${p.pid}-`));
    // Wait for the file that says the load is done: the metadata is there
    // and the region file already unlinked (the run keeps its mapping).
    const deadline = Date.now() + 60_000;
    while (!(mine().length === 1 && mine()[0]!.endsWith(".meta"))) {
      if (Date.now() > deadline) throw new Error(`the run never loaded: ${p.output()}`);
      await Bun.sleep(5); // polling for a file, not a synchronisation by time
    }
    process.kill(p.pid, "SIGKILL");
    await p.exited;
    expect(mine()).toEqual([expect.stringMatching(/\.meta$/)]); // no region file, only metadata
    cliOk(args); // the next run reaps the dead run's leftovers
    expect(mine()).toEqual([]);
  }, 120_000);
});
