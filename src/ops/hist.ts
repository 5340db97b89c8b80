// Map values read as log2 histograms, as bcc's libbpf-tools
// (`print_log2_hist`) and bpftrace's `hist()` print them: bucket i counts the
// values in [2^i, 2^(i+1)) (bucket 0 also holds 0). Two shapes are read:
//   - one histogram per entry whose value has an integer array `slots`
//     (libbpf-tools' `struct hist { __u32 slots[N]; … }`), or is itself an
//     integer array — recognised automatically;
//   - with --hist, a map of integer keys (the bucket) to integer counts.
// Buckets are log2 unless the reader gives a linear scale (--linear MIN,STEP:
// bucket i counts [MIN + i*STEP, MIN + (i+1)*STEP), as bpftrace's lhist()
// and bcc's linear histograms): a map holds only the counts, so the scale
// cannot be read from it.
import { BpftimeError } from "../errors.ts";

export interface Histogram {
  /** The entry the histogram comes from (its key), or undefined for a key → count map. */
  key?: unknown;
  /** Count per log2 bucket. */
  counts: bigint[];
}

const isInteger = (v: unknown) =>
  typeof v === "number"
    ? Number.isInteger(v)
    : typeof v === "bigint" || (typeof v === "string" && /^\d+$/.test(v));
const toBig = (v: unknown) => BigInt(v as number | bigint | string);
const integerArray = (v: unknown): v is unknown[] =>
  Array.isArray(v) && v.length > 0 && v.every(isInteger);

/** The bucket array of a value shaped like a histogram, or undefined. */
function slotsOf(value: unknown): unknown[] | undefined {
  if (integerArray(value)) return value;
  if (value && typeof value === "object" && "slots" in value) {
    const slots = (value as { slots: unknown }).slots;
    if (integerArray(slots)) return slots;
  }
  return undefined;
}

/** The histograms in a dump whose values look like histograms (automatic), or undefined. */
export function histogramsInValues(
  entries: ReadonlyArray<{ key: unknown; value: unknown }>,
): Histogram[] | undefined {
  if (!entries.length) return undefined;
  const all = entries.map((e) => ({ key: e.key, slots: slotsOf(e.value) }));
  if (all.some((h) => !h.slots)) return undefined;
  return all.map((h) => ({ key: h.key, counts: h.slots!.map(toBig) }));
}

/**
 * The histograms of a dump for `--hist`: those in the values, else the whole
 * map read as bucket → count. Throws when the map has neither shape.
 */
export function histogramsOf(
  entries: ReadonlyArray<{ key: unknown; value: unknown }>,
  mapName: string,
): Histogram[] {
  const inValues = histogramsInValues(entries);
  if (inValues) return inValues;
  if (!entries.every((e) => isInteger(e.key) && isInteger(e.value)))
    throw new BpftimeError(
      "invalid_argument",
      `map ${mapName} is not a histogram: --hist needs integer keys (the log2 bucket) with ` +
        "integer counts, or values with an integer array `slots`",
    );
  const counts: bigint[] = [];
  for (const e of entries) {
    const bucket = Number(toBig(e.key));
    if (bucket > 127)
      throw new BpftimeError(
        "invalid_argument",
        `map ${mapName} is not a log2 histogram: key ${bucket} is past bucket 127`,
      );
    while (counts.length <= bucket) counts.push(0n);
    counts[bucket] = counts[bucket]! + toBig(e.value);
  }
  return [{ counts }];
}

/** A linear histogram's scale: bucket i counts [min + i*step, min + (i+1)*step). */
export interface LinearScale {
  min: bigint;
  step: bigint;
}

/** `MIN,STEP` (--linear, ?linear=) as a scale; a bad one is one clear error. */
export function parseLinearScale(text: string, where: string): LinearScale {
  const m = /^\s*(-?\d+)\s*,\s*(\d+)\s*$/.exec(text);
  if (!m || BigInt(m[2]!) === 0n)
    throw new BpftimeError(
      "invalid_argument",
      `${where}: linear histogram scale "${text}" is not MIN,STEP (integers, STEP at least 1), e.g. 0,10`,
    );
  return { min: BigInt(m[1]!), step: BigInt(m[2]!) };
}

/** Bucket i's range: linear, or log2 as print_log2_hist prints it (0 -> 1, 2 -> 3, 4 -> 7, …). */
export function bucketRange(i: number, linear?: LinearScale): { low: bigint; high: bigint } {
  if (linear) {
    const low = linear.min + BigInt(i) * linear.step;
    return { low, high: low + linear.step - 1n };
  }
  const high = (1n << BigInt(i + 1)) - 1n;
  const low = (1n << BigInt(i + 1)) >> 1n;
  return { low: low === high ? low - 1n : low, high };
}

/** A histogram as data (`--json`): each non-empty bucket up to the last with its range. */
export function histogramBuckets(
  counts: readonly bigint[],
  linear?: LinearScale,
): Array<{ low: bigint; high: bigint; count: bigint }> {
  let last = -1;
  counts.forEach((c, i) => c > 0n && (last = i));
  return counts.slice(0, last + 1).map((count, i) => ({ ...bucketRange(i, linear), count }));
}

/** The text lines of one histogram, in print_log2_hist's layout (linear buckets alike). */
export function histogramLines(
  counts: readonly bigint[],
  unit = "value",
  linear?: LinearScale,
): string[] {
  let last = -1;
  counts.forEach((c, i) => c > 0n && (last = i));
  if (last < 0) return ["(no values counted)"];
  const wide = last > 32;
  const width = wide ? 20 : 10;
  const stars = wide ? 20 : 40;
  let max = 0n;
  for (let i = 0; i <= last; i++) if (counts[i]! > max) max = counts[i]!;
  const lines = [
    `${" ".repeat(wide ? 15 : 5)}${unit.padEnd(wide ? 29 : 19)} : count    distribution`,
  ];
  for (let i = 0; i <= last; i++) {
    const { low, high } = bucketRange(i, linear);
    const c = counts[i] ?? 0n;
    const n = Number((c * BigInt(stars)) / max);
    const bar = "*".repeat(n).padEnd(stars);
    lines.push(
      `${String(low).padStart(width)} -> ${String(high).padEnd(width)} : ${String(c).padEnd(8)} |${bar}|`,
    );
  }
  return lines;
}

/**
 * Histograms as JSON: `bpftime map dump --hist --json` and GET
 * /v1/maps/:id/histograms print this one shape, counts as decimal strings
 * (64-bit counters); null when the values are not histogram-shaped.
 */
export function histogramsView(hists: readonly Histogram[] | undefined, linear?: LinearScale) {
  const text = (n: bigint) => String(n);
  return {
    histograms:
      hists?.map((h) => ({
        ...(h.key !== undefined ? { key: h.key } : {}),
        counts: h.counts.map(text),
        buckets: histogramBuckets(h.counts, linear).map((b) => ({
          low: text(b.low),
          high: text(b.high),
          count: text(b.count),
        })),
      })) ?? null,
  };
}
