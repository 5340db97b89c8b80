// Runs the C unit tests (native/*/tests/test_*.c) as part of `bun test`, one
// bun test per C test, so a single count covers both languages.
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const nativeDir = join(import.meta.dir, "..", "native");
const testsDir = join(nativeDir, "build", "tests");

const build = Bun.spawnSync(["make", "-s", "-C", nativeDir, "-j2", "all", ...testBinTargets()], {
  stderr: "pipe",
  stdout: "pipe",
});

function testBinTargets(): string[] {
  // `make test` would also run them; we only build here and run them below.
  const out = Bun.spawnSync(["make", "-s", "-C", nativeDir, "-pn"], { stdout: "pipe" });
  const m = out.stdout.toString().match(/^TEST_BINS := (.*)$/m);
  return m?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
}

test("native build succeeds", () => {
  if (build.exitCode !== 0) console.error(build.stderr.toString());
  expect(build.exitCode).toBe(0);
});

const binaries =
  build.exitCode === 0 ? readdirSync(testsDir).filter((f) => f.startsWith("test_")) : [];

for (const bin of binaries) {
  const path = join(testsDir, bin);
  const names = Bun.spawnSync([path, "--list"]).stdout.toString().split("\n").filter(Boolean);
  const run = Bun.spawnSync([path], { stdout: "pipe", stderr: "pipe", env: { ...process.env } });
  const lines = new Map<string, string>();
  for (const line of run.stdout.toString().split("\n")) {
    const m = line.match(/^(ok|not ok) [^/]+\/([^:]+)(?::\s*(.*))?$/);
    if (m) lines.set(m[2]!, m[1] === "ok" ? "ok" : (m[3] ?? "failed"));
  }
  describe(`C ${bin}`, () => {
    for (const name of names) {
      test(name, () => {
        const result = lines.get(name) ?? "did not report (binary crashed?)";
        if (result !== "ok") console.error(run.stderr.toString().slice(0, 4000));
        expect(result).toBe("ok");
      });
    }
  });
}
