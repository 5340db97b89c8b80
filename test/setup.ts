// Preloaded before every test file (bunfig.toml): hooks registered here apply
// to all files of the run.
//  - after each test: kill the processes the test started, remove its
//    temporary directories (test/helpers.ts cleanup);
//  - after the whole run: a safety net for what tests left behind anyway —
//    temporary directories under /tmp/bpftime-* and regions (and their
//    metadata) under /dev/shm/bpftime-* that did not exist when the run
//    began, e.g. fixtures built once per file or a region of a test that
//    crashed half-way.
import { afterAll, afterEach } from "bun:test";
import { readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanup } from "./helpers.ts";

const watched = [tmpdir(), "/dev/shm"];
const listed = (dir: string) => {
  try {
    return readdirSync(dir).filter((f) => f.startsWith("bpftime"));
  } catch {
    return [];
  }
};
const before = new Map(watched.map((d) => [d, new Set(listed(d))]));

afterEach(cleanup);

afterAll(async () => {
  await cleanup();
  for (const dir of watched) {
    for (const f of listed(dir)) {
      if (!before.get(dir)!.has(f)) rmSync(join(dir, f), { recursive: true, force: true });
    }
  }
});
