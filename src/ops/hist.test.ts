import { describe, expect, test } from "bun:test";
import { bucketRange, histogramsInValues, histogramsOf, log2HistogramLines } from "./hist.ts";

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
    const lines = log2HistogramLines([1n, 0n, 4n, 2n, 0n, 0n], "usecs");
    expect(lines).toEqual([
      "     usecs               : count    distribution",
      "         0 -> 1          : 1        |**********                              |",
      "         2 -> 3          : 0        |                                        |",
      "         4 -> 7          : 4        |****************************************|",
      "         8 -> 15         : 2        |********************                    |",
    ]);
  });

  test("an empty histogram says so", () => {
    expect(log2HistogramLines([0n, 0n])).toEqual(["(no values counted)"]);
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
