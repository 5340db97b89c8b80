// `bpftime map …` against a real region: values in and out through BTF and
// hex, the kernel's update flags and errors, and --watch.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cli, cliOk, regionNames, repoRoot, buildExamples } from "./helpers.ts";

buildExamples();
const newRegion = regionNames("mapcli");

function loaded(): string {
  const shm = newRegion();
  cliOk(["load", join(repoRoot, "examples/build/url_filter.bpf.o"), "--shm", shm]);
  return shm;
}

describe("bpftime map", () => {
  test("update, lookup, dump and delete go through the map's BTF types", () => {
    const shm = loaded();
    cliOk(["map", "update", "verdict_counts", "1", "41", "--shm", shm]);
    cliOk([
      "map",
      "update",
      "verdict_counts",
      "hex:00000000",
      "hex:0700000000000000",
      "--shm",
      shm,
    ]);
    expect(cliOk(["map", "lookup", "verdict_counts", "1", "--shm", shm])).toBe("41\n");
    expect(JSON.parse(cliOk(["map", "dump", "verdict_counts", "--shm", shm, "--json"]))).toEqual([
      { key: 0, value: 7 },
      { key: 1, value: 41 },
    ]);
    const show = JSON.parse(cliOk(["map", "show", "verdict_counts", "--shm", shm, "--json"]));
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
    const shm = loaded();
    // Arrays cannot take BPF_NOEXIST (every index exists) and refuse indexes past the end.
    const noexist = cli([
      "map",
      "update",
      "verdict_counts",
      "0",
      "1",
      "--flag",
      "noexist",
      "--shm",
      shm,
    ]);
    expect(noexist.code).toBe(8);
    const past = cli(["map", "update", "verdict_counts", "2", "1", "--shm", shm]);
    expect(past.code).not.toBe(0);
    expect(past.stderr.trim().split("\n")).toHaveLength(1);
    const badFlag = cli([
      "map",
      "update",
      "verdict_counts",
      "0",
      "1",
      "--flag",
      "sometimes",
      "--shm",
      shm,
    ]);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain('unknown update flag "sometimes"');
  });

  test("bad keys and unknown maps are one clear line", () => {
    const shm = loaded();
    const size = cli(["map", "lookup", "verdict_counts", "hex:0000", "--shm", shm]);
    expect(size.code).toBe(4);
    expect(size.stderr).toBe("bpftime: key is 2 bytes; the map needs 4\n");
    const unknown = cli(["map", "dump", "nope", "--shm", shm]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toBe(
      `bpftime: no map named "nope" in region ${shm}; see \`bpftime map list\`\n`,
    );
    const ringbuf = cli(["map", "dump", "events", "--shm", shm]);
    expect(ringbuf.code).toBe(4);
    expect(ringbuf.stderr).toContain("has no keys to dump");
  });

  test("dump --watch prints the entries again every period", () => {
    const shm = loaded();
    const out = cliOk([
      "map",
      "dump",
      "verdict_counts",
      "--watch",
      "1",
      "--times",
      "2",
      "--shm",
      shm,
    ]);
    expect(out.match(/^--- \d{4}-\d\d-\d\dT/gm)).toHaveLength(2);
    expect(out.match(/^\(2 entries\)$/gm)).toHaveLength(2);
  });
});
