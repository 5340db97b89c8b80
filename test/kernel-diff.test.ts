// Differential tests against the kernel: every XDP example (and the helper
// fixtures of test/fixtures/kernel-diff/: bpf_snprintf, ...) is loaded into the
// real kernel too and run through BPF_PROG_TEST_RUN (bpftool prog run) on the
// same inputs, random and crafted — bpftime must give the same return value
// and the same output bytes, on the interpreter and on the JIT.
import { afterAll, describe, expect, test } from "bun:test";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { cli, compileBpf, repoRoot, run, tempDir } from "./helpers.ts";
import { RUN_ID, runName } from "./run-id.ts";
import { kernelUnavailable } from "../src/verifier/testdata/kernel.ts";

const examples = join(repoRoot, "examples");
run(["make", "-s", "-C", examples]);
const xdpObjects = readdirSync(examples)
  .filter(
    (f) => f.endsWith(".bpf.c") && readFileSync(join(examples, f), "utf8").includes('SEC("xdp")'),
  )
  .map((f) => join(examples, "build", f.replace(/\.c$/, ".o")));
// Helper fixtures: the kernel's helper is the oracle for ours.
const fixtures = join(import.meta.dir, "fixtures", "kernel-diff");
const fixtureDir = mkdtempSync(join(tmpdir(), `bpftime-${RUN_ID}-kdiff-`));
for (const f of readdirSync(fixtures).filter((f) => f.endsWith(".bpf.c"))) {
  const out = join(fixtureDir, f.replace(/\.c$/, ".o"));
  compileBpf(join(fixtures, f), out);
  xdpObjects.push(out);
}

const pinDir = `/sys/fs/bpf/bpftime-${runName("kdiff")}`;

function kernelSkipReason(): string | undefined {
  if (!existsSync("/usr/sbin/bpftool") && run(["which", "bpftool"]).code !== 0)
    return "bpftool is not installed";
  if (process.getuid?.() !== 0) return "loading eBPF into the kernel needs root";
  if (!existsSync("/sys/fs/bpf")) return "no /sys/fs/bpf";
  if (
    run(["mountpoint", "-q", "/sys/fs/bpf"]).code !== 0 &&
    run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"]).code !== 0
  )
    return "cannot mount the bpf filesystem";
  mkdirSync(pinDir, { recursive: true });
  // A minimal program through the raw syscall: independent of the objects
  // under test (one the kernel refuses must fail its test, not skip them all).
  const refused = kernelUnavailable();
  if (refused) return `the kernel refuses to load eBPF here: ${refused}`;
  return undefined;
}

const skip = xdpObjects.length ? kernelSkipReason() : "no XDP examples";
if (skip) console.log(`skip: kernel differential tests: ${skip}`);
afterAll(() => {
  rmSync(pinDir, { recursive: true, force: true });
  rmSync(fixtureDir, { recursive: true, force: true });
});

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
function randomBytes(seed: number, n: number): Uint8Array {
  let x = seed * 2654435761 + 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Crafted inputs: empty-ish, short, Ethernet+IPv4 with several TTLs, IPv6, odd lengths. */
function inputs(): Array<[string, Uint8Array]> {
  const ipv4 = (ttl: number, len = 64) => {
    const p = randomBytes(ttl + 7, len);
    p[12] = 0x08;
    p[13] = 0x00;
    p[14] = 0x45;
    p[22] = ttl;
    return p;
  };
  const ipv6 = randomBytes(99, 80);
  ipv6[12] = 0x86;
  ipv6[13] = 0xdd;
  const cases: Array<[string, Uint8Array]> = [
    ["14 bytes", randomBytes(1, 14)],
    ["15 bytes", randomBytes(2, 15)],
    ["ipv4 ttl 64", ipv4(64)],
    ["ipv4 ttl 1", ipv4(1)],
    ["ipv4 ttl 0", ipv4(0)],
    ["ipv4 ttl 255 odd length", ipv4(255, 99)],
    ["ipv4 truncated header", ipv4(9, 30)],
    ["ipv6", ipv6],
    ["1500 bytes", randomBytes(5, 1500)],
  ];
  for (let i = 0; i < 12; i++)
    cases.push([`random ${i}`, randomBytes(100 + i, 14 + ((i * 37) % 300))]);
  return cases;
}

describe.skipIf(!!skip)("bpftime and the kernel agree on XDP programs", () => {
  for (const obj of xdpObjects) {
    const name = obj.split("/").pop()!;
    test(name, () => {
      const pin = join(pinDir, name.replace(/\W/g, "_"));
      const load = run(["bpftool", "prog", "load", obj, pin]);
      expect(load.stderr).not.toContain("Error");
      expect(load.code).toBe(0);
      const dir = tempDir();
      // Verified and stored once; each input then runs the stored program by id.
      const shm = runName(`kdiff-${name.replace(/\W/g, "_")}`);
      const loaded = cli(["load", obj, "--shm", shm, "--json"]);
      expect(loaded.stderr).toBe("");
      const id = String(JSON.parse(loaded.stdout).programs[0].id);
      try {
        for (const [label, data] of inputs()) {
          const input = join(dir, "in.bin");
          writeFileSync(input, data);
          const kOut = join(dir, "kernel.out");
          const k = run([
            "bpftool",
            "prog",
            "run",
            "pinned",
            pin,
            "data_in",
            input,
            "data_out",
            kOut,
          ]);
          expect(k.code).toBe(0);
          const kRet = Number(/Return value: (\d+)/.exec(k.stdout + k.stderr)?.[1]);
          const kBytes = readFileSync(kOut);
          for (const engine of ["interp", "jit"]) {
            const out = join(dir, `${engine}.out`);
            const b = cli([
              "run",
              id,
              "--shm",
              shm,
              "--data",
              input,
              "--data-out",
              out,
              "--engine",
              engine,
              "--json",
            ]);
            expect(b.stderr).toBe("");
            const ret = Number(JSON.parse(b.stdout).returnValue);
            expect({ label, engine, ret }).toEqual({ label, engine, ret: kRet });
            expect({ label, engine, bytes: [...readFileSync(out)] }).toEqual({
              label,
              engine,
              bytes: [...kBytes],
            });
          }
        }
      } finally {
        rmSync(pin, { force: true });
        cli(["shm", "remove", shm]);
      }
    });
  }
});
