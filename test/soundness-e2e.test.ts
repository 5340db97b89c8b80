// Issue 14 end to end: programs written against the verifier's three root
// causes and the helper rules are refused by the real `bpftime load` (the
// hooked-process flow: uprobe programs; the nginx flow: URL filters) and by
// `POST /v1/programs`; a prog_array refuses a program of another type from
// the CLI and the HTTP API, and a same-type tail call still runs.

import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createApp } from "../src/server/app.ts";
import { cli, cliOk, compileBpf, regionNames, repoRoot, tempDir } from "./helpers.ts";

const fixtures = join(repoRoot, "test", "fixtures", "soundness");
const newRegion = regionNames("sound");

/** The fixture compiled into this test's temporary directory (removed after the test). */
function built(name: "malicious" | "tail_mix"): string {
  const out = join(tempDir("soundness"), `${name}.bpf.o`);
  compileBpf(join(fixtures, `${name}.bpf.c`), out);
  return out;
}

const CASES: [string, string][] = [
  ["lsh32", "R1 invalid mem access 'scalar'"],
  ["mul", "R1 math between stack pointer and register with unbounded min value"],
];

function refusedByLoad(program: string, reason: string, extra: string[] = []): void {
  const shm = newRegion();
  const r = cli(["load", built("malicious"), "--program", program, "--shm", shm, ...extra]);
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`program ${program}`);
  expect(lines[0]).toContain(reason);
  // nothing was stored
  const list = cli(["list", "--shm", shm, "--json"]);
  if (list.code === 0) expect(JSON.parse(list.stdout).programs ?? []).toEqual([]);
}

describe("hooked process (uprobe programs): bpftime load refuses", () => {
  for (const [name, reason] of CASES)
    test(`root cause ${name}`, () => refusedByLoad(`uprobe_${name}`, reason));
  test("bpf_probe_write_user without the flag, and loads with --allow-write-user", () => {
    refusedByLoad("uprobe_write_user", "load with --allow-write-user");
    const shm = newRegion();
    cliOk([
      "load",
      built("malicious"),
      "--program",
      "uprobe_write_user",
      "--allow-write-user",
      "--shm",
      shm,
    ]);
  });
});

describe("nginx (URL filters): bpftime load refuses", () => {
  for (const [name, reason] of CASES)
    test(`root cause ${name}`, () => refusedByLoad(`nginx_${name}`, reason));
  test("bpf_probe_write_user, even with --allow-write-user", () =>
    refusedByLoad(
      "nginx_write_user",
      "bpf_probe_write_user#36 is not allowed in nginx_url_filter programs",
      ["--allow-write-user"],
    ));
});

describe("HTTP: POST /v1/programs refuses the same programs", () => {
  for (const program of ["nginx_lsh32", "uprobe_mul", "uprobe_write_user"])
    test(program, async () => {
      const shm = newRegion();
      const { app } = createApp({
        shm,
        token: "t".repeat(32),
        protectReads: false,
        allowedHosts: [],
      });
      const bytes = readFileSync(built("malicious"));
      const res = await app.handle(
        new Request(`http://127.0.0.1/v1/programs?name=malicious.bpf.o&program=${program}`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${"t".repeat(32)}`,
            "content-type": "application/octet-stream",
          },
          body: bytes,
        }),
      );
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).toBe("verifier");
      expect(body.message).toContain(`program ${program}`);
    });
});

describe("prog_array holds one program type", () => {
  function loaded(): { shm: string; ids: Record<string, number> } {
    const shm = newRegion();
    const r = JSON.parse(cliOk(["load", built("tail_mix"), "--shm", shm, "--json"]));
    const ids = Object.fromEntries(
      r.programs.map((p: { name: string; id: number }) => [p.name, p.id]),
    );
    return { shm, ids };
  }

  test("the CLI refuses a tracepoint program in the XDP dispatcher's array", () => {
    const { shm, ids } = loaded();
    const r = cli(["map", "update", "jmp", "0", String(ids.read_far), "--shm", shm]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("holds xdp programs");
    expect(r.stderr).toContain("is tracepoint");
  });

  test("the HTTP API refuses it with a 4xx", async () => {
    const { shm, ids } = loaded();
    const { app } = createApp({
      shm,
      token: "t".repeat(32),
      protectReads: false,
      allowedHosts: [],
    });
    const res = await app.handle(
      new Request("http://127.0.0.1/v1/maps/jmp/entries/0", {
        method: "PUT",
        headers: {
          authorization: `Bearer ${"t".repeat(32)}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ value: String(ids.read_far) }),
      }),
    );
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(((await res.json()) as { message: string }).message).toContain("holds xdp programs");
  });

  test("a same-type tail call runs: the dispatcher returns the target's verdict", () => {
    const { shm, ids } = loaded();
    const data = join(tempDir("soundness"), "packet.bin");
    writeFileSync(data, new Uint8Array(64));
    // the interpreter: JIT code tail-calls only targets compiled beforehand
    const run = () =>
      cliOk(["run", String(ids.dispatch), "--shm", shm, "--data", data, "--engine", "interp"]);
    const before = run();
    expect(before).toContain("return value: 0x1"); // empty slot: the tail call fails
    cliOk(["map", "update", "jmp", "0", String(ids.pass_all), "--shm", shm]);
    const after = run();
    expect(after).toContain("return value: 0x2");
  });
});
