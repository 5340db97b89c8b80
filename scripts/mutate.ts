// `npm run mutate [-- --areas verifier,elf,btf,server,vm,runtime,attach,patcher] [--sample N]`
// Mutation testing over the critical code: StrykerJS (command runner over
// `bun test`, stryker.config.mjs) for the TypeScript areas, the C driver
// (scripts/mutate-c.ts) for the data plane. Prints one score line per area
// and ends with `mutants: K killed of N`. Long (hours for everything): CI
// runs only the fixed list of critical mutants (test/mutants.test.ts).
// --sample N limits each C component to a deterministic sample of N mutants;
// MUTATE_FILES narrows a Stryker area (see stryker.config.mjs).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runC, type AreaScore } from "./mutate-c.ts";
import { repoRoot } from "./mutate-lib.ts";

const TS_AREAS = ["verifier", "elf", "btf", "server"];
const C_AREAS = ["vm", "runtime", "attach", "patcher"];

/** Killed (or timed out: the tests hung) out of the mutants a test could judge. */
export function strykerScore(area: string): AreaScore {
  const report = join(repoRoot, "reports", "mutation", `${area}.json`);
  const json = JSON.parse(readFileSync(report, "utf8")) as {
    files: Record<string, { mutants: Array<{ status: string }> }>;
  };
  let killed = 0;
  let total = 0;
  for (const f of Object.values(json.files))
    for (const m of f.mutants) {
      if (m.status === "Killed" || m.status === "Timeout") killed++;
      if (["Killed", "Timeout", "Survived", "NoCoverage"].includes(m.status)) total++;
    }
  return { area: `src/${area}`, killed, total, survivors: [] };
}

function main(): void {
  const args = process.argv.slice(2);
  let areas = [...TS_AREAS, ...C_AREAS];
  let sampleN: number | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--areas") areas = args[++i]!.split(",");
    else if (args[i] === "--sample") sampleN = Number(args[++i]);
    else {
      console.error(`mutate: unknown argument ${args[i]}`);
      process.exit(2);
    }
  }
  const scores: AreaScore[] = [];
  for (const area of areas.filter((a) => TS_AREAS.includes(a))) {
    console.log(`\n=== stryker: src/${area}`);
    const r = spawnSync(join(repoRoot, "node_modules", ".bin", "stryker"), ["run"], {
      cwd: repoRoot,
      stdio: "inherit",
      env: { ...process.env, MUTATE_AREA: area },
    });
    const report = join(repoRoot, "reports", "mutation", `${area}.json`);
    if (r.status !== 0 || !existsSync(report)) {
      console.error(`mutate: stryker failed for src/${area} (exit ${r.status})`);
      process.exit(1);
    }
    const s = strykerScore(area);
    console.log(`src/${area}: ${s.killed} killed of ${s.total}`);
    scores.push(s);
  }
  const cAreas = areas.filter((a) => C_AREAS.includes(a));
  if (cAreas.length) {
    console.log(`\n=== C driver: ${cAreas.map((a) => `native/${a}`).join(" ")}`);
    scores.push(...runC({ components: cAreas, sample: sampleN }));
  }
  const unknown = areas.filter((a) => !TS_AREAS.includes(a) && !C_AREAS.includes(a));
  if (unknown.length) {
    console.error(`mutate: unknown area ${unknown.join(", ")}`);
    process.exit(2);
  }
  console.log("");
  for (const s of scores)
    console.log(
      `${s.area}: ${s.killed} killed of ${s.total} (${s.total ? ((100 * s.killed) / s.total).toFixed(1) : "–"}%)`,
    );
  const killed = scores.reduce((n, s) => n + s.killed, 0);
  const total = scores.reduce((n, s) => n + s.total, 0);
  console.log(`mutants: ${killed} killed of ${total}`);
}

if (import.meta.main) main();
