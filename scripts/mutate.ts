// `npm run mutate [-- --areas verifier,elf,btf,server,vm,runtime,attach,patcher] [--sample N]`
// Mutation testing over the critical code: StrykerJS (command runner over
// `bun test`, stryker.config.mjs) for the TypeScript areas, the C driver
// (scripts/mutate-c.ts) for the data plane. Prints one score line per area
// and ends with `mutants: K killed of N`. Long (hours for everything): CI
// runs only the fixed list of critical mutants (test/mutants.test.ts).
// --sample N limits each C component to a deterministic sample of N mutants,
// and each Stryker area to every mutant on N sampled lines of code (Stryker
// cannot sample mutants itself; a line is the unit it can be narrowed to);
// --seed S changes both samples. MUTATE_FILES narrows a Stryker area by hand
// (see stryker.config.mjs).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runC, sample, type AreaScore } from "./mutate-c.ts";
import { repoRoot } from "./mutate-lib.ts";
// @ts-expect-error: a plain .mjs config without types
import { areas as strykerAreas } from "../stryker.config.mjs";

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

/** Lines Stryker could mutate: code, not blanks, comments, imports or types. */
function codeLines(file: string): number[] {
  const out: number[] = [];
  let inComment = false;
  readFileSync(join(repoRoot, file), "utf8")
    .split("\n")
    .forEach((raw, i) => {
      const t = raw.trim();
      if (inComment) {
        if (t.includes("*/")) inComment = false;
        return;
      }
      if (t.startsWith("/*")) {
        inComment = !t.includes("*/");
        return;
      }
      if (t === "" || t.startsWith("//") || /^[{}()[\];,]*$/.test(t)) return;
      if (/^(import|export \{|export type|type |export interface|interface )/.test(t)) return;
      out.push(i + 1);
    });
  return out;
}

/** `file:L-L` ranges of n lines sampled over the area's files (deterministic). */
export function sampledRanges(area: string, n: number, seed: number): string[] {
  const globs = (strykerAreas as Record<string, { mutate: string[] }>)[area]!.mutate;
  const excluded = globs.filter((g) => g.startsWith("!")).map((g) => new Bun.Glob(g.slice(1)));
  const files = new Set<string>();
  for (const g of globs.filter((g) => !g.startsWith("!")))
    for (const f of new Bun.Glob(g).scanSync(repoRoot))
      if (!excluded.some((x) => x.match(f))) files.add(f);
  const lines = [...files].sort().flatMap((f) => codeLines(f).map((l) => `${f}:${l}-${l}`));
  return sample(lines, n, seed);
}

function main(): void {
  const args = process.argv.slice(2);
  let areas = [...TS_AREAS, ...C_AREAS];
  let sampleN: number | undefined;
  let seed = 18;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--areas") areas = args[++i]!.split(",");
    else if (args[i] === "--sample") sampleN = Number(args[++i]);
    else if (args[i] === "--seed") seed = Number(args[++i]);
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
      env: {
        ...process.env,
        MUTATE_AREA: area,
        ...(sampleN ? { MUTATE_FILES: sampledRanges(area, sampleN, seed).join(",") } : {}),
      },
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
    scores.push(...runC({ components: cAreas, sample: sampleN, seed }));
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
