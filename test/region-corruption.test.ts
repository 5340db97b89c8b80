// A damaged or truncated region never crashes a reader. A region with
// programs, an array, a hash, a ringbuf, trace messages and a link is copied;
// in each copy one field the readers trust (as the runtime itself lists them:
// native/runtime/tests/tool_region_fields.c) gets a hostile value, or the file
// is truncated; then `list`, `map dump`, `map lookup`, `run`, `events` and
// `trace` run against it. Each must succeed or fail with one clear line —
// never die of a signal. The C tests (test_corruption.c, also under ASan)
// cover the same fields with every hostile value.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, openSync, readFileSync, closeSync, writeSync } from "node:fs";
import { truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, cliEntry, cliOk, compileBpf, regionNames, repoRoot, run } from "./helpers.ts";
import { tempDir } from "./helpers.ts";
import { runName } from "./run-id.ts";

const newRegion = regionNames("corrupt");
const fieldsTool = join(repoRoot, "native/build/tools/tool_region_fields");

interface Field {
  field: string;
  off: number;
  width: number;
}

let base = "";
let dataFile = "";
let fields: Field[] = [];
let regionSize = 0;

const regionPath = (name: string) => `/dev/shm/bpftime-${name}`;

beforeAll(() => {
  const dir = tempDir();
  const obj = join(dir, "all_maps.bpf.o");
  compileBpf(join(repoRoot, "test/fixtures/corrupt/all_maps.bpf.c"), obj);
  base = runName("corrupt-base"); // shared by the tests: removed after the file
  cliOk(["load", obj, "--shm", base]);
  cliOk(["run", "1", "--shm", base, "--data", packet()]);
  cliOk(["run", "1", "--shm", base, "--data", packet()]);
  cliOk(["attach", "on_main", "uprobe", "--arg", "libc.so.6:malloc", "--shm", base]);
  const r = run([fieldsTool, base]);
  if (r.code !== 0) throw new Error(`${fieldsTool} failed: ${r.stderr}`);
  fields = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Field);
  regionSize = Bun.file(regionPath(base)).size;
});

afterAll(() => {
  cli(["shm", "remove", base]);
});

/** The data file `run` reads (temp dirs are removed after each test). */
function packet(): string {
  if (!existsSync(dataFile)) {
    dataFile = join(tempDir(), "packet.bin");
    writeFileSync(dataFile, Uint8Array.from([1, 2, 3]));
  }
  return dataFile;
}

const READERS = ["list", "dump", "lookup", "run", "events", "trace"] as const;
type Reader = (typeof READERS)[number];

function readerArgs(shm: string, name: Reader): string[] {
  const all: Record<Reader, string[]> = {
    list: ["list", "--shm", shm],
    dump: ["map", "dump", "by_len", "--shm", shm],
    lookup: ["map", "lookup", "counts", "0", "--shm", shm],
    run: ["run", "1", "--shm", shm, "--data", packet()],
    events: ["events", "events", "--count", "1", "--timeout", "1", "--shm", shm],
    trace: ["trace", "--count", "1", "--timeout", "1", "--shm", shm],
  };
  return all[name];
}

/**
 * The readers a damaged field is tried with: all six for truncation;
 * otherwise `list` (it reads every object) and the reader of the damaged
 * structure — for the header, which every reader checks the same way at
 * open, one of the others in turn. The suite's two cores are shared: six CLI
 * runs for each of some 50 fields would take minutes.
 */
function readers(shm: string, field?: string, i = 0): string[][] {
  if (field === undefined) return READERS.map((n) => readerArgs(shm, n));
  const byStructure: Array<[RegExp, Reader]> = [
    [/^trace_ring /, "trace"],
    [/^prog /, "run"],
    [/^map 1\./, "lookup"],
    [/^(map|hash) 2\./, "dump"],
    [/^(map|ringbuf) 3\./, "events"],
  ];
  const own = byStructure.find(([re]) => re.test(field))?.[1] ?? READERS[1 + (i % 5)]!;
  return [readerArgs(shm, "list"), readerArgs(shm, own)];
}

/** Fields whose damage takes the same code path as one already tried are left to the C test. */
function worthTrying(f: Field): boolean {
  return !/table_(off|cap)\[[234]\]|^map 4\.|^link /.test(f.field);
}

interface Outcome {
  args: string[];
  code: number | null;
  signal: string | number | null;
  stderr: string;
}

async function runReaders(shm: string, field?: string, i = 0): Promise<Outcome[]> {
  return Promise.all(
    readers(shm, field, i).map(async (args) => {
      const p = Bun.spawn([process.execPath, cliEntry, ...args], {
        stdout: "ignore",
        stderr: "pipe",
        env: { ...process.env, BPFTIME_LOG: "error" },
      });
      const stderr = await new Response(p.stderr).text();
      await p.exited;
      return { args, code: p.exitCode, signal: p.signalCode, stderr };
    }),
  );
}

/** Succeeded, or failed with exactly one `bpftime: …` line; never a signal. */
function expectCleanOutcomes(what: string, outcomes: Outcome[]): number {
  let failed = 0;
  for (const o of outcomes) {
    const lines = o.stderr.trim() === "" ? [] : o.stderr.trim().split("\n");
    const summary = {
      what,
      cmd: o.args.slice(0, 2).join(" "),
      signal: o.signal,
      code: o.code !== null && o.code >= 128 ? "killed" : "exited",
      oneLine: o.code === 0 || (lines.length === 1 && lines[0]!.startsWith("bpftime: ")),
    };
    expect(summary).toEqual({ ...summary, signal: null, code: "exited", oneLine: true });
    if (o.code !== 0) failed++;
  }
  return failed;
}

function copyOf(src: string): string {
  const name = newRegion();
  copyFileSync(regionPath(src), regionPath(name));
  return name;
}

function writeField(name: string, f: Field, value: bigint): void {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(value & 0xffffffffffffffffn);
  const fd = openSync(regionPath(name), "r+");
  try {
    writeSync(fd, buf, 0, f.width, f.off);
  } finally {
    closeSync(fd);
  }
}

describe("a damaged region never crashes a reader", () => {
  test("the intact copy reads cleanly (the harness itself works)", async () => {
    const failed = expectCleanOutcomes("intact", await runReaders(copyOf(base)));
    expect(failed).toBe(0);
    expect(fields.length).toBeGreaterThan(40);
  });

  test("hostile values in every trusted field: one clear line or success, no signal", async () => {
    const size = BigInt(regionSize);
    // Each field gets one of the hostile values in turn (the C test gives
    // every field every value): 0, size-1, size, huge, negative as unsigned,
    // and an offset overlapping the object tables.
    const hostile = [0n, size - 1n, size, 1n << 62n, -1n, -8n, 4096n];
    let reported = 0;
    const one = async (f: Field, i: number) => {
      const value = hostile[i % hostile.length]!;
      const copy = copyOf(base);
      writeField(copy, f, value);
      const failed = expectCleanOutcomes(
        `${f.field} = ${value}`,
        await runReaders(copy, f.field, i),
      );
      if (failed) reported++;
      cli(["shm", "remove", copy]);
    };
    // three copies at a time: most of a case's time is `events`/`trace`
    // waiting out their one-second timeout, not CPU
    const tried = fields.filter(worthTrying);
    for (let i = 0; i < tried.length; i += 3)
      await Promise.all(tried.slice(i, i + 3).map((f, j) => one(f, i + j)));
    // Damage is reported, not read as data, for most fields.
    expect(reported).toBeGreaterThan(tried.length / 2);
  }, 600_000);

  test("a region truncated below its header, a table or a ringbuf: one clear line", async () => {
    const ring = fields.find(
      (f) => f.field.endsWith("first_record_len") && f.field.startsWith("ringbuf"),
    )!;
    for (const size of [100, 8192, ring.off + 100]) {
      const copy = copyOf(base);
      truncateSync(regionPath(copy), size);
      const outcomes = await runReaders(copy);
      expect(expectCleanOutcomes(`truncated to ${size}`, outcomes)).toBe(outcomes.length);
      for (const o of outcomes) expect(o.stderr).toContain("truncated");
      cli(["shm", "remove", copy]);
    }
  }, 120_000);

  test("a region truncated while `events` waits on it: one clear line, no SIGBUS", async () => {
    const copy = copyOf(base);
    const p = Bun.spawn(
      [
        process.execPath,
        cliEntry,
        "events",
        "events",
        "--count",
        "3",
        "--timeout",
        "60",
        "--shm",
        copy,
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    // the two records already there come out first: then it is waiting
    const reader = p.stdout.getReader();
    let out = "";
    while (out.split("\n").length < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    // Truncate while the reader sleeps in its futex wait (the kernel names
    // that in /proc/PID/wchan): the runtime checks the file size each time it
    // wakes. A truncation landing in the microseconds between that check and
    // the read it guards still raises SIGBUS — the limit of detecting with
    // fstat (see rt_check_truncated in native/runtime/region.c).
    const deadline = Date.now() + 30_000;
    while (!readFileSync(`/proc/${p.pid}/wchan`, "utf8").includes("futex")) {
      if (Date.now() > deadline) throw new Error("events never waited on its ringbuf");
      await Bun.sleep(2); // polling a process state, not a synchronisation by time
    }
    truncateSync(regionPath(copy), 8192);
    const stderr = await new Response(p.stderr).text();
    await p.exited;
    expect({ signal: p.signalCode, code: p.exitCode === 0 ? 0 : "failed" }).toEqual({
      signal: null,
      code: "failed",
    });
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toContain("was truncated");
  }, 60_000);

  test("the agent refuses a damaged region with a log line; the hooked process runs unharmed", () => {
    // a map's storage header: not part of what open checks, only of what
    // the agent validates before a hooked process trusts the region
    const copy = copyOf(base);
    writeField(
      copy,
      fields.find((f) => f.field === "hash 2.elems_off")!,
      -1n,
    );
    const r = cli(["start", "--shm", copy, "--", "/bin/echo", "still here"]);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: "still here\n" });
    expect(r.stderr).toMatch(/agent: region .* is damaged \(map 2: .*\).*runs without bpftime/);
  });
});
