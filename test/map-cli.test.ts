// `bpftime map …` against a real region: values in and out through BTF and
// hex, the kernel's update flags and errors, and --watch.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cli, cliOk, regionNames, repoRoot, buildExamples } from "./helpers.ts";

buildExamples();
const newRegion = regionNames("mapcli");

/**
 * A new region with examples/url_filter loaded, and `bpftime map ARGS --shm
 * REGION` on it: `map` returns the whole result, `mapOk` the stdout of a
 * success (a failure fails the test).
 */
function loaded() {
  const shm = newRegion();
  cliOk(["load", join(repoRoot, "examples/build/url_filter.bpf.o"), "--shm", shm]);
  return {
    shm,
    map: (...args: string[]) => cli(["map", ...args, "--shm", shm]),
    mapOk: (...args: string[]) => cliOk(["map", ...args, "--shm", shm]),
  };
}

describe("bpftime map", () => {
  test("update, lookup, dump and delete go through the map's BTF types", () => {
    const { mapOk } = loaded();
    mapOk("update", "verdict_counts", "1", "41");
    mapOk("update", "verdict_counts", "hex:00000000", "hex:0700000000000000");
    expect(mapOk("lookup", "verdict_counts", "1")).toBe("41\n");
    expect(JSON.parse(mapOk("dump", "verdict_counts", "--json")).entries).toEqual([
      { key: 0, value: 7 },
      { key: 1, value: 41 },
    ]);
    const show = JSON.parse(mapOk("show", "verdict_counts", "--json"));
    expect(show).toMatchObject({
      type: "array",
      keySize: 4,
      valueSize: 8,
      keyType: "__u32",
      valueType: "__u64",
      entries: 2,
    });
  });

  test("the kernel's update flags and errors", () => {
    const { map } = loaded();
    // Arrays cannot take BPF_NOEXIST (every index exists) and refuse indexes past the end.
    const noexist = map("update", "verdict_counts", "0", "1", "--flag", "noexist");
    expect(noexist.code).toBe(8);
    const past = map("update", "verdict_counts", "2", "1");
    expect(past.code).not.toBe(0);
    expect(past.stderr.trim().split("\n")).toHaveLength(1);
    const badFlag = map("update", "verdict_counts", "0", "1", "--flag", "sometimes");
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain('unknown update flag "sometimes"');
  });

  test("bad keys and unknown maps are one clear line", () => {
    const { shm, map } = loaded();
    const size = map("lookup", "verdict_counts", "hex:0000");
    expect(size.code).toBe(4);
    expect(size.stderr).toBe("bpftime: key is 2 bytes; the map needs 4\n");
    const unknown = map("dump", "nope");
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toBe(
      `bpftime: no map named "nope" in region ${shm}; see \`bpftime map list\`\n`,
    );
    const ringbuf = map("dump", "events");
    expect(ringbuf.code).toBe(4);
    expect(ringbuf.stderr).toContain("has no keys to dump");
  });

  test("dump --watch prints the entries again every period", () => {
    const { mapOk } = loaded();
    const out = mapOk("dump", "verdict_counts", "--watch", "1", "--times", "2");
    expect(out.match(/^--- \d{4}-\d\d-\d\dT/gm)).toHaveLength(2);
    expect(out.match(/^\(2 entries\)$/gm)).toHaveLength(2);
  });
});
