// Following what programs report: `bpftime trace` (bpf_printk) and
// `bpftime events` on a perf event array and a ringbuf, fed by real runs of
// a stored program.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cliOk, compileBpf, regionNames, repoRoot, tempDir } from "./helpers.ts";
import { writeFileSync } from "node:fs";

const newRegion = regionNames("trace");

function setup(): { shm: string; id: string; data: (bytes: number[]) => string } {
  const dir = tempDir();
  const obj = join(dir, "report.bpf.o");
  compileBpf(join(repoRoot, "test/fixtures/trace/report.bpf.c"), obj);
  const shm = newRegion();
  const id = String(JSON.parse(cliOk(["load", obj, "--shm", shm, "--json"])).programs[0].id);
  let n = 0;
  const data = (bytes: number[]) => {
    const p = join(dir, `in${n++}.bin`);
    writeFileSync(p, Uint8Array.from(bytes));
    return p;
  };
  return { shm, id, data };
}

describe("trace and events", () => {
  test("bpf_printk messages arrive in order in `bpftime trace`", () => {
    const { shm, id, data } = setup();
    cliOk(["run", id, "--shm", shm, "--data", data([0xab, 1, 2])]);
    cliOk(["run", id, "--shm", shm, "--data", data([0x07])]);
    const out = cliOk(["trace", "--shm", shm, "--count", "2", "--timeout", "5", "--json"]);
    const msgs = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(msgs.map((m) => m.message.trim())).toEqual(["len=3 first=0xab", "len=1 first=0x7"]);
    expect(msgs[0].pid).toBeGreaterThan(0);
  });

  test("perf event array and ringbuf records, decoded through BTF", () => {
    const { shm, id, data } = setup();
    for (const bytes of [[1, 2, 3, 4], [9]])
      cliOk(["run", id, "--shm", shm, "--data", data(bytes)]);
    for (const map of ["perf_reports", "ring_reports"]) {
      const out = cliOk(["events", map, "--shm", shm, "--count", "2", "--timeout", "5", "--json"]);
      const recs = out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      // A perf event array has one buffer per CPU (as in the kernel): records
      // of runs on different CPUs come out CPU by CPU, so compare in order of
      // length there; the ringbuf is one buffer and keeps submission order.
      const got = recs.map((r) => r.data as { len: number; first: number });
      if (map === "perf_reports") got.sort((a, b) => b.len - a.len);
      expect({ map, data: got }).toEqual({
        map,
        data: [
          { len: 4, first: 1 },
          { len: 1, first: 9 },
        ],
      });
    }
  });
});
