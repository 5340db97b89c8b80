// StrykerJS over `bun test` (command runner), one area per run:
//   MUTATE_AREA=verifier npx stryker run   (scripts/mutate.ts sets it)
// Each area mutates its implementation files and runs only the tests that
// cover it; `--bail` stops bun at the first failure (a killed mutant). The
// kernel differentials are left out (`-t` pattern): they check the tests'
// expectations against the kernel and cannot see a mutant in our code.
// Not run in CI (the CI list of critical mutants is test/mutants.test.ts).
import { fileURLToPath } from "node:url";

export const areas = {
  verifier: {
    mutate: [
      "src/verifier/**/*.ts",
      "!src/verifier/**/*.test.ts",
      "!src/verifier/text.d.ts",
      "!src/verifier/testdata/**",
      // the soundness harness is test code (its reference interpreter and fuzzers)
      "!src/verifier/soundness/**",
    ],
    // the fast test/verifier-*.test.ts files too (global functions, packet
    // metadata, precision: ~8 s); verifier-strength (30 s) only counts insns
    tests: [
      "src/verifier",
      "test/verifier-edges.test.ts",
      "test/verifier-global-funcs.test.ts",
      "test/verifier-packet-meta.test.ts",
      "test/verifier-precision.test.ts",
    ],
    // the soundness tests run the VM (libbpftime-agent.so)
    native: true,
  },
  elf: {
    mutate: ["src/elf/*.ts", "!src/elf/*.test.ts", "!src/elf/testdata.ts"],
    // core-kconfig: the __kconfig externs (externs.ts, kconfig.ts) from a given config
    tests: ["src/elf", "src/btf", "test/core-kconfig.test.ts"],
    // the fuzz test's 24,000 mutated objects take a minute per mutant under load
    env: "BPFTIME_FUZZ_MUTATIONS=2000",
    native: true, // core-kconfig also loads through the CLI
  },
  btf: {
    mutate: ["src/btf/*.ts", "!src/btf/*.test.ts"],
    tests: ["src/btf", "test/btf-declarators.test.ts"],
  },
  server: {
    mutate: ["src/server/*.ts", "!src/server/*.test.ts"],
    // In-process over real HTTP (guard, errors, bodies, listen, token): ~15 s.
    // server.test.ts and cli-api-twins.test.ts (CLI children, nginx, the
    // kernel) cover the routes (not mutated here) at minutes per mutant.
    tests: ["test/server-http.test.ts", "test/api-bodies.test.ts"],
    native: true, // its tests load the native libraries (src/native imports native/build/*.so)
  },
};
// Stryker copies the tree into .stryker-tmp/sandbox-*, but not a symlinked
// node_modules (a worktree's is): run bun by its absolute path (imports then
// resolve up the directory chain to the worktree's node_modules).
const bun = fileURLToPath(new URL("node_modules/.bin/bun", import.meta.url));
const name = process.env.MUTATE_AREA ?? "verifier";
const area = areas[name];
if (!area) throw new Error(`MUTATE_AREA=${name}: choose ${Object.keys(areas).join(", ")}`);
// Optional narrowing: MUTATE_FILES="src/verifier/tnum.ts,src/verifier/verifier.ts:800-870"
// (`npm run mutate -- --sample N` sets it to N sampled lines, one range each).
const only = process.env.MUTATE_FILES?.split(",").filter(Boolean);

export default {
  testRunner: "command",
  commandRunner: {
    command: `${area.env ?? ""} ${bun} test --bail --timeout 120000 -t '^(?!.*(kernel|agrees)).*' ${area.tests.join(" ")}`,
  },
  mutate: only ?? area.mutate,
  coverageAnalysis: "off",
  concurrency: Number(process.env.MUTATE_JOBS ?? 1),
  timeoutFactor: 2,
  timeoutMS: 30000,
  reporters: ["json", "clear-text", "progress"],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  tempDirName: ".stryker-tmp",
  ignorePatterns: [
    "dist",
    ...(area.native ? [] : ["native/build"]),
    "nginx/build",
    "bench/build",
    ".bpftime-cache",
    "reports",
  ],
  cleanTempDir: true,
};
