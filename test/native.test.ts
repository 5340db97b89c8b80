// Runs the C unit tests (native/*/tests/test_*.c) as part of `bun test`, one
// bun test per C test, so a single count covers both languages — twice: as
// built for production, and built with ASan+UBSan (`make SANITIZE=1`), so
// memory errors in the data plane fail the suite, not just crash a test.
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const nativeDir = join(import.meta.dir, "..", "native");

const variants = [
  { label: "C", make: [] as string[], dir: join(nativeDir, "build", "tests") },
  { label: "C asan+ubsan", make: ["SANITIZE=1"], dir: join(nativeDir, "build", "san", "tests") },
];

function testBinTargets(make: string[]): string[] {
  const out = Bun.spawnSync(["make", "-s", "-C", nativeDir, "-pn", ...make], { stdout: "pipe" });
  const m = out.stdout.toString().match(/^TEST_BINS := (.*)$/m);
  return m?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
}

for (const v of variants) {
  // Build only (make test would also run them); they run below, each once.
  const build = Bun.spawnSync(
    ["make", "-s", "-C", nativeDir, "-j2", ...v.make, "all", ...testBinTargets(v.make)],
    { stderr: "pipe", stdout: "pipe" },
  );

  test(`${v.label}: native build succeeds`, () => {
    if (build.exitCode !== 0) console.error(build.stderr.toString());
    expect(build.exitCode).toBe(0);
  });

  const binaries =
    build.exitCode === 0 ? readdirSync(v.dir).filter((f) => f.startsWith("test_")) : [];
  for (const bin of binaries) {
    const path = join(v.dir, bin);
    const names = Bun.spawnSync([path, "--list"]).stdout.toString().split("\n").filter(Boolean);
    const run = Bun.spawnSync([path], { stdout: "pipe", stderr: "pipe", env: { ...process.env } });
    const lines = new Map<string, string>();
    for (const line of run.stdout.toString().split("\n")) {
      const m = line.match(/^(ok|not ok) [^/]+\/([^:]+)(?::\s*(.*))?$/);
      if (m) lines.set(m[2]!, m[1] === "ok" ? "ok" : (m[3] ?? "failed"));
    }
    describe(`${v.label} ${bin}`, () => {
      for (const name of names) {
        test(name, () => {
          const result = lines.get(name) ?? "did not report (binary crashed?)";
          if (result !== "ok") console.error(run.stderr.toString().slice(0, 4000));
          expect(result).toBe("ok");
        });
      }
    });
  }
}
