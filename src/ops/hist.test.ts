import { describe, expect, test } from "bun:test";
import {
  bucketRange,
  histogramsInValues,
  histogramsOf,
  histogramLines,
  parseLinearScale,
} from "./hist.ts";

describe("log2 histograms as print_log2_hist prints them", () => {
  test("bucket ranges: 0 -> 1, 2 -> 3, 4 -> 7, 8 -> 15", () => {
    expect([0, 1, 2, 3].map((i) => bucketRange(i))).toEqual([
      { low: 0n, high: 1n },
      { low: 2n, high: 3n },
      { low: 4n, high: 7n },
      { low: 8n, high: 15n },
    ]);
  });

  test("bars scale to the largest count and stop at the last non-empty bucket", () => {
    const lines = histogramLines([1n, 0n, 4n, 2n, 0n, 0n], "usecs");
    expect(lines).toEqual([
      "     usecs               : count    distribution",
      "         0 -> 1          : 1        |**********                              |",
      "         2 -> 3          : 0        |                                        |",
      "         4 -> 7          : 4        |****************************************|",
      "         8 -> 15         : 2        |********************                    |",
    ]);
  });

  test("an empty histogram says so", () => {
    expect(histogramLines([0n, 0n])).toEqual(["(no values counted)"]);
  });

  test("values with a slots array are histograms, one per key", () => {
    const h = histogramsInValues([
      { key: "bash", value: { slots: [0, 3], comm: "bash" } },
      { key: "sh", value: { slots: ["5", 0] } },
    ]);
    expect(h).toEqual([
      { key: "bash", counts: [0n, 3n] },
      { key: "sh", counts: [5n, 0n] },
    ]);
    expect(histogramsInValues([{ key: 1, value: 2 }])).toBeUndefined();
  });

  test("--hist reads integer keys as buckets and values as counts", () => {
    expect(
      histogramsOf(
        [
          { key: 3, value: 7 },
          { key: 0, value: "2" },
        ],
        "lat",
      ),
    ).toEqual([{ counts: [2n, 0n, 0n, 7n] }]);
    expect(() => histogramsOf([{ key: "a", value: 1 }], "lat")).toThrow(/not a histogram/);
    expect(() => histogramsOf([{ key: 500, value: 1 }], "lat")).toThrow(/past bucket 127/);
  });
});

describe("linear histograms (--linear MIN,STEP, as bpftrace's lhist)", () => {
  test("bucket i is [MIN + i*STEP, MIN + (i+1)*STEP - 1], negative MIN included", () => {
    const scale = parseLinearScale("-10,5", "t");
    expect(scale).toEqual({ min: -10n, step: 5n });
    expect([0, 1, 3].map((i) => bucketRange(i, scale))).toEqual([
      { low: -10n, high: -6n },
      { low: -5n, high: -1n },
      { low: 5n, high: 9n },
    ]);
    expect(histogramLines([2n, 0n, 1n], "ms", { min: 100n, step: 50n })).toEqual([
      "     ms                  : count    distribution",
      "       100 -> 149        : 2        |****************************************|",
      "       150 -> 199        : 0        |                                        |",
      "       200 -> 249        : 1        |********************                    |",
    ]);
  });

  test("a bad scale is one clear error naming the form", () => {
    for (const bad of ["", "10", "0,0", "a,b", "1,2,3", "0,-1"])
      expect(() => parseLinearScale(bad, "map dump")).toThrow(
        /^map dump: linear histogram scale ".*" is not MIN,STEP/,
      );
  });
});
