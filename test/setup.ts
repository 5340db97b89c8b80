// Preloaded before every test file (bunfig.toml): hooks registered here apply
// to all files of the run.
//  - after each test: kill the processes the test started, remove its
//    temporary directories (test/helpers.ts cleanup);
//  - after the whole run: a safety net for what tests left behind anyway
//    (fixtures built once per file, a region of a test that crashed half-way).
//    It removes only entries named with this run's id (test/run-id.ts): a
//    region, pin or directory of a user or of another run on the same
//    machine is never touched. Anything else named bpftime-* that appeared
//    during the run is reported, not removed (a leak to fix, not to hide).
import { afterAll, afterEach } from "bun:test";
import { tmpdir } from "node:os";
import { cleanup } from "./helpers.ts";
import { RUN_ID } from "./run-id.ts";
import { listBpftimeEntries, sweepRun } from "./sweep.ts";

const watched = [tmpdir(), "/dev/shm", "/sys/fs/bpf"];
const before = new Map(watched.map((d) => [d, new Set(listBpftimeEntries(d))]));

afterEach(cleanup);

afterAll(async () => {
  await cleanup();
  for (const dir of watched) {
    const { foreign } = sweepRun(dir, RUN_ID, before.get(dir)!);
    for (const f of foreign) console.warn(`test run left ${dir}/${f} (not this run's name: kept)`);
  }
});
