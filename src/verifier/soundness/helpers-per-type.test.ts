// Helpers per program type (helpers.def's class column, contexts.ts's
// classes per type): what each type may call, the write-user load flag, and
// the README table that documents it.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { assemble, encode } from "../../asm/index.ts";
import { PROGRAM_TYPES, type ProgramType, isTracingType } from "../contexts.ts";
import { HELPER_CLASSES, helpers } from "../helpers.ts";
import { verify } from "../index.ts";

// r1 = an address in the host, r2/r3 = 8 initialised stack bytes
const WRITE_USER = `
  *(u64 *)(r10 - 8) = 0
  r1 = 4096
  r2 = r10
  r2 += -8
  r3 = 8
  call 36
  r0 = 0
  exit`;
const READ_USER = `
  r1 = r10
  r1 += -8
  r2 = 8
  r3 = 4096
  call 112
  r0 = 0
  exit`;
const LOOKUP_TIME = `call 5\nr0 = 0\nexit`;

const check = (type: ProgramType, text: string, allowWriteUser = false) =>
  verify({ insts: encode(assemble(text)), type, maps: [] }, { allowWriteUser });

const tracing = PROGRAM_TYPES.filter(isTracingType);
const others = PROGRAM_TYPES.filter((t) => !isTracingType(t));

test("tracing types are the probes and trace points; network, nginx and raw are not", () => {
  expect(tracing).toEqual(expect.arrayContaining(["kprobe", "uprobe", "uretprobe", "tracepoint"]));
  expect(others).toEqual(expect.arrayContaining(["xdp", "socket_filter", "nginx_url_filter"]));
});

describe("bpf_probe_write_user", () => {
  for (const type of tracing) {
    test(`${type}: refused without the flag, accepted with it`, () => {
      const r = check(type, WRITE_USER);
      expect(r.ok).toBe(false);
      expect(r.error!.reason).toContain("--allow-write-user");
      expect(check(type, WRITE_USER, true).ok).toBe(true);
    });
  }
  for (const type of others) {
    test(`${type}: refused even with the flag, naming the helper and the type`, () => {
      const r = check(type, WRITE_USER, true);
      expect(r.ok).toBe(false);
      expect(r.error!.reason).toContain(
        `bpf_probe_write_user#36 is not allowed in ${type} programs`,
      );
    });
  }
});

describe("reads of host memory are for tracing types", () => {
  for (const type of tracing)
    test(`${type} may call bpf_probe_read_user`, () =>
      expect(check(type, READ_USER).ok).toBe(true));
  for (const type of others)
    test(`${type} may not`, () => {
      const r = check(type, READ_USER);
      expect(r.ok).toBe(false);
      expect(r.error!.reason).toContain(
        `bpf_probe_read_user#112 is not allowed in ${type} programs`,
      );
    });
});

test("every type may call the base helpers", () => {
  for (const type of PROGRAM_TYPES) expect(check(type, LOOKUP_TIME).ok).toBe(true);
});

test("the README's table lists every helper under its class", () => {
  const readme = readFileSync(join(import.meta.dir, "../../../README.md"), "utf8");
  for (const c of HELPER_CLASSES) {
    const row = readme.split("\n").find((l) => l.startsWith(`| ${c} |`));
    expect(row, `README row for ${c}`).toBeDefined();
    const listed = new Set([...row!.matchAll(/`bpf_(\w+)`/g)].map((m) => m[1]));
    const want = new Set(helpers.filter((h) => h.class === c).map((h) => h.name));
    expect([...listed].sort()).toEqual([...want].sort());
  }
});
