// The C data plane's mutation driver: operator, bound and constant mutants
// of native/{vm,runtime,attach,patcher}/*.c, each applied alone to a private
// copy of the tree, rebuilt, and checked against that component's tests.
//
//   bun scripts/mutate-c.ts [--component vm|runtime|attach|patcher]...
//                           [--file native/vm/validate.c]... [--sample N] [--seed S]
//
// Prints one line per surviving mutant, one score line per component and
// ends with `mutants: K killed of N`. --sample takes a deterministic sample
// of N mutants per component (the full set is thousands: minutes each).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bunTest, repoRoot, TreeCopy, type Mutant, type Outcome } from "./mutate-lib.ts";

/** Each component's tests: its C test binaries and the bun tests that drive it. */
export const COMPONENTS: Record<string, { tests: string[][] }> = {
  vm: {
    // native_code.c (the LLVM tier's loader) is driven from TypeScript only;
    // the bun test runs only when the C tests pass (`&&`), so it costs ~30 s
    // per surviving mutant, not per mutant
    tests: [cBins("vm"), bunTest(["test/llvm-tier.test.ts"], "refus|edge cases")],
  },
  runtime: {
    // the maps' differentials against the kernel and the map-type tests
    // (about 2 s together); the slow CLI and lifecycle files are left out
    tests: [
      cBins("runtime"),
      bunTest([
        "test/maps-kernel.test.ts",
        "test/maps-lpm.test.ts",
        "test/maps-bloom.test.ts",
        "test/maps-stack-trace.test.ts",
        "test/maps-of-maps-kernel.test.ts",
      ]),
    ],
  },
  attach: {
    tests: [
      cBins("attach"),
      bunTest(
        ["test/attach-manager.test.ts", "test/nginx-verdicts.test.ts"],
        "^(?!.*nginx answers)",
      ),
    ],
  },
  patcher: {
    tests: [cBins("patcher"), bunTest(["test/uprobe.test.ts"], "six arguments|uretprobe sees")],
  },
};

function cBins(component: string): string[] {
  // listed when the command runs, in the copy (not when this module loads:
  // the working tree may gain or lose tests meanwhile); every binary runs
  // (a failure in one must not hide the others' output)
  return [
    "sh",
    "-c",
    `for s in native/${component}/tests/test_*.c; do ` +
      `"native/build/tests/$(basename "$s" .c)" || fail=1; done; exit \${fail:-0}`,
  ];
}

/** Operator swaps: [pattern, replacement], applied at one occurrence per mutant. */
const OPERATORS: Array<[RegExp, string]> = [
  [/(?<![<>=!-])<=(?!=)/g, "<"],
  [/(?<![<>=!-])>=(?!=)/g, ">"],
  [/(?<![<>=-])<(?![<=])/g, "<="],
  [/(?<![<>=-])>(?![>=])/g, ">="],
  [/==/g, "!="],
  [/!=/g, "=="],
  [/&&/g, "||"],
  [/\|\|/g, "&&"],
  [/ \+ /g, " - "],
  [/ - /g, " + "],
  [/\+\+/g, "--"],
  [/ & /g, " | "],
  [/<</g, ">>"],
];
const CONSTANT = /(?<![\w.])(\d+)(?![\w.])/g;

/** Lines that are code: not comments, preprocessor, includes or asm strings. */
function codeLines(text: string): Array<{ n: number; line: string }> {
  const out: Array<{ n: number; line: string }> = [];
  let inComment = false;
  text.split("\n").forEach((raw, i) => {
    let line = raw;
    if (inComment) {
      const end = line.indexOf("*/");
      if (end < 0) return;
      inComment = false;
      line = " ".repeat(end + 2) + line.slice(end + 2);
    }
    const start = line.indexOf("/*");
    if (start >= 0 && line.indexOf("*/", start) < 0) {
      inComment = true;
      line = line.slice(0, start);
    }
    const t = line.trim();
    if (!t || t.startsWith("#") || t.startsWith("//") || t.startsWith("*") || t.startsWith('"'))
      return;
    if (/_Static_assert|BPFTIME_(ERROR|WARN|INFO|DEBUG)|snprintf|rt_err\(/.test(t)) return;
    out.push({ n: i, line: raw });
  });
  return out;
}

/**
 * Mutants that change no code: a digit or operator inside a comment on a
 * code line, or the `&&label` of a computed-goto table (an address, not a
 * logical and). They stay in the list so a seed samples the same mutants
 * as before they were recognised, and are dropped after sampling.
 */
export const notCode = new WeakSet<Mutant>();

/** The comment parts of one line, as [start, end) ranges. */
function commentRanges(code: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const close = code.indexOf("*/");
  const open = code.indexOf("/*");
  if (close >= 0 && (open < 0 || close < open)) out.push([0, close + 2]);
  for (const m of code.matchAll(/\/\*.*?(?:\*\/|$)|\/\/.*$/g))
    out.push([m.index!, m.index! + m[0].length]);
  return out;
}

/**
 * Every mutant of one file: one change on one line, the line's text made
 * unique by context. `root` is the tree the mutants are applied to (the
 * copy: the working tree may change while a run lasts).
 */
export function mutantsOf(file: string, test: string[], root = repoRoot): Mutant[] {
  const text = readFileSync(join(root, file), "utf8");
  const lines = text.split("\n");
  const out: Mutant[] = [];
  for (const { n, line } of codeLines(text)) {
    const code = line.replace(/"(?:[^"\\]|\\.)*"/g, (s) => "\u0000".repeat(s.length));
    const comments = commentRanges(code);
    const junk = (at: number, op: string) =>
      comments.some(([a, b]) => at >= a && at < b) ||
      (op === "&&" && /[=,{[]\s*$/.test(code.slice(0, at)));
    const variants: Array<[string, string, boolean]> = [];
    for (const [re, rep] of OPERATORS)
      for (const m of code.matchAll(re))
        variants.push([
          `${m[0]} → ${rep.trim()}`,
          line.slice(0, m.index) + rep + line.slice(m.index! + m[0].length),
          junk(m.index!, m[0]),
        ]);
    for (const m of code.matchAll(CONSTANT)) {
      const v = Number(m[1]);
      if (!Number.isSafeInteger(v)) continue;
      variants.push([
        `${v} → ${v + 1}`,
        line.slice(0, m.index) + String(v + 1) + line.slice(m.index! + m[1]!.length),
        junk(m.index!, m[1]!),
      ]);
    }
    // context: enough neighbouring lines to make `find` unique in the file
    for (const [what, mutated, isJunk] of variants) {
      let lo = n,
        hi = n;
      const block = () => lines.slice(lo, hi + 1).join("\n");
      while (text.split(block()).length - 1 > 1 && (lo > 0 || hi < lines.length - 1)) {
        if (lo > 0) lo--;
        if (hi < lines.length - 1) hi++;
      }
      const find = block();
      const replace = [...lines.slice(lo, n), mutated, ...lines.slice(n + 1, hi + 1)].join("\n");
      const m: Mutant = { id: `${file}:${n + 1}: ${what}`, file, find, replace, test };
      if (isJunk) notCode.add(m);
      out.push(m);
    }
  }
  return out;
}

/** Deterministic sample (xorshift on the seed). */
export function sample<T>(items: T[], n: number, seed: number): T[] {
  if (n >= items.length) return items;
  let x = seed || 1;
  const pool = [...items];
  const out: T[] = [];
  while (out.length < n) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.push(pool.splice((x >>> 0) % pool.length, 1)[0]!);
  }
  return out;
}

export interface AreaScore {
  area: string;
  killed: number;
  total: number;
  survivors: Outcome[];
}

export function runC(opts: {
  components: string[];
  files?: string[];
  sample?: number;
  seed?: number;
  log?: (s: string) => void;
}): AreaScore[] {
  const log = opts.log ?? console.log;
  const copy = new TreeCopy("mutate-c");
  const scores: AreaScore[] = [];
  try {
    const b = copy.rebuildNative();
    if (!b.ok) throw new Error(`the copy does not build:\n${b.output}`);
    for (const c of opts.components) {
      const comp = COMPONENTS[c];
      if (!comp) throw new Error(`unknown component ${c}: ${Object.keys(COMPONENTS).join(", ")}`);
      const test = ["sh", "-c", comp.tests.map((t) => t.map(shq).join(" ")).join(" && ")];
      const files =
        opts.files?.filter((f) => f.startsWith(`native/${c}/`)) ??
        Array.from(new Bun.Glob("*.c").scanSync(join(copy.dir, "native", c)))
          .sort()
          .map((f) => `native/${c}/${f}`);
      let mutants = files.flatMap((f) => mutantsOf(f, test, copy.dir));
      if (opts.sample) mutants = sample(mutants, opts.sample, opts.seed ?? 18);
      const junk = mutants.filter((m) => notCode.has(m)).length;
      if (junk) log(`native/${c}: ${junk} sampled mutants change only a comment or label: skipped`);
      mutants = mutants.filter((m) => !notCode.has(m));
      const score: AreaScore = { area: `native/${c}`, killed: 0, total: 0, survivors: [] };
      for (const [i, m] of mutants.entries()) {
        const o = copy.tryMutant(m, {
          BPFTIME_TEST_RUN: `${process.env.BPFTIME_TEST_RUN ?? "mc"}c${i}`,
        });
        score.total++;
        if (o.killed) score.killed++;
        else {
          score.survivors.push(o);
          log(`survived: ${m.id}`);
        }
      }
      log(`native/${c}: ${score.killed} killed of ${score.total}`);
      scores.push(score);
    }
  } finally {
    copy.rebuildNative(); // leave nothing mutated behind in the copy's objects
    copy.dispose();
  }
  return scores;
}

function shq(s: string): string {
  return /^[\w./=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const components: string[] = [];
  const files: string[] = [];
  let sampleN: number | undefined;
  let seed: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--component") components.push(args[++i]!);
    else if (a === "--file") files.push(args[++i]!);
    else if (a === "--sample") sampleN = Number(args[++i]);
    else if (a === "--seed") seed = Number(args[++i]);
    else {
      console.error(`mutate-c: unknown argument ${a}`);
      process.exit(2);
    }
  }
  if (!components.length)
    for (const f of files) {
      const c = f.split("/")[1]!;
      if (!components.includes(c)) components.push(c);
    }
  const scores = runC({
    components: components.length ? components : Object.keys(COMPONENTS),
    files: files.length ? files : undefined,
    sample: sampleN,
    seed,
  });
  const killed = scores.reduce((s, x) => s + x.killed, 0);
  const total = scores.reduce((s, x) => s + x.total, 0);
  console.log(`mutants: ${killed} killed of ${total}`);
}
