// When things go wrong the CLI helps (issue 16): usage without a command,
// "did you mean" for commands, programs, maps and regions, errors that name
// the key, `eject --shm`, and help examples that name files which exist.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { buildExamples, cli, compileBpf, repoRoot, tempDir } from "./helpers.ts";
import { runName } from "./run-id.ts";
import { commands } from "../src/cli/commands.ts";
import type { Command } from "../src/cli/command.ts";

const examples = buildExamples();
// One region for the whole file (removed at the end), named with the run id.
const shm = runName("clihelp");
const load = cli(["load", join(examples, "url_filter.bpf.o"), "--shm", shm]);
afterAll(() => cli(["shm", "remove", "--shm", shm]));

/** The one error line of a failed command. */
function failure(args: string[]): { code: number; line: string } {
  const r = cli(args);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  return { code: r.code, line: lines[0]! };
}

describe("CLI help when things go wrong", () => {
  test("the fixture region loaded", () => expect(load.code).toBe(0));

  test("no command: usage on stderr, exit 2", () => {
    const r = cli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("Commands:");
  });

  test("a mistyped command suggests the one it resembles", () => {
    expect(failure(["lod"])).toEqual({
      code: 2,
      line: 'bpftime: unknown command "lod" (did you mean "load"?); see `bpftime --help`',
    });
    expect(failure(["map", "lokup"]).line).toContain('(did you mean "lookup"?)');
    // Nothing close: no suggestion.
    expect(failure(["frobnicate"]).line).not.toContain("did you mean");
  });

  test("a mistyped map or program name suggests the one that exists", () => {
    const m = failure(["map", "dump", "verdict_cnts", "--shm", shm]);
    expect(m.line).toContain('no map named "verdict_cnts"');
    expect(m.line).toContain('(did you mean "verdict_counts"?)');
    const p = failure(["unload", "url_filtr", "--shm", shm]);
    expect(p.line).toContain('(did you mean "url_filter"?)');
  });

  test("a wrong --shm names the regions that exist", () => {
    const typo = `${shm}x`;
    const r = failure(["list", "--shm", typo]);
    expect(r.line).toContain(`does not exist`);
    expect(r.line).toContain(`(did you mean "${shm}"?)`);
    expect(r.line).toMatch(/regions here: /);
    // The file name instead of the region name.
    expect(failure(["list", "--shm", `bpftime-${shm}`]).line).toContain(`(did you mean "${shm}"?)`);
  });

  test("shm list shows the region", () => {
    const r = cli(["shm", "list", "--json"]);
    expect(r.code).toBe(0);
    const mine = JSON.parse(r.stdout).find((x: { name: string }) => x.name === shm);
    expect(mine).toMatchObject({ name: shm, path: `/dev/shm/bpftime-${shm}` });
    expect(mine.size).toBeGreaterThan(0);
  });

  test("a bad key is called a key, a bad value a value", () => {
    expect(failure(["map", "lookup", "verdict_counts", "zz", "--shm", shm]).line).toBe(
      'bpftime: key: "zz" is not an integer',
    );
    expect(failure(["map", "update", "verdict_counts", "1", "zz", "--shm", shm]).line).toBe(
      'bpftime: value: "zz" is not an integer',
    );
  });

  test("eject --shm refuses a process that has no agent on that region", () => {
    const r = failure(["eject", String(process.pid), "--shm", shm]);
    expect(r.code).not.toBe(0);
    expect(r.line).toBe(
      `bpftime: eject: process ${process.pid} has no agent on region ${shm}; see \`bpftime list --shm ${shm}\``,
    );
  });

  test("disasm names helpers and maps, and the verifier log prints the same", () => {
    const r = cli(["disasm", join(examples, "url_filter.bpf.o")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("\tr1 = map[verdict_counts]\n");
    expect(r.stdout).toContain("\tcall bpf_map_lookup_elem\n");
    expect(r.stdout).toContain("\tr1 = map[events]\n");
    expect(r.stdout).toContain("\tcall bpf_ringbuf_reserve\n");
    const log = cli(["verify", join(examples, "url_filter.bpf.o"), "--log"]);
    expect(log.code).toBe(0);
    expect(log.stdout).toMatch(/\) call bpf_map_lookup_elem ;/);
  });

  test("map dump prints histogram-shaped values as print_log2_hist does; --hist reads bucket -> count", () => {
    const obj = join(tempDir("hist"), "hist.bpf.o");
    compileBpf(join(import.meta.dir, "fixtures", "hist", "hist.bpf.c"), obj);
    expect(cli(["load", obj, "--shm", shm]).code).toBe(0);
    const put = (m: string, k: string, v: string) =>
      expect(cli(["map", "update", m, k, v, "--shm", shm]).code).toBe(0);
    put("hists", "7", '{"slots":[1,0,4,2,0,0,0,0]}');
    for (const [k, v] of [
      ["0", "3"],
      ["2", "6"],
    ])
      put("buckets", k!, v!);
    const auto = cli(["map", "dump", "hists", "--shm", shm]);
    expect(auto.code).toBe(0);
    expect(auto.stdout).toBe(
      [
        "7:",
        "     value               : count    distribution",
        "         0 -> 1          : 1        |**********                              |",
        "         2 -> 3          : 0        |                                        |",
        "         4 -> 7          : 4        |****************************************|",
        "         8 -> 15         : 2        |********************                    |",
        "",
      ].join("\n"),
    );
    const forced = cli(["map", "dump", "buckets", "--hist", "--json", "--shm", shm]);
    expect(JSON.parse(forced.stdout)).toEqual({
      histograms: [
        {
          counts: ["3", "0", "6"],
          buckets: [
            { low: "0", high: "1", count: "3" },
            { low: "2", high: "3", count: "0" },
            { low: "4", high: "7", count: "6" },
          ],
        },
      ],
    });
    // The same counts on a linear scale: bucket i is [0 + i*10, 0 + (i+1)*10).
    const linear = cli(["map", "dump", "buckets", "--hist", "--linear", "0,10", "--shm", shm]);
    expect(linear.stdout).toBe(
      [
        "     value               : count    distribution",
        "         0 -> 9          : 3        |********************                    |",
        "        10 -> 19         : 0        |                                        |",
        "        20 -> 29         : 6        |****************************************|",
        "",
      ].join("\n"),
    );
    const noHist = cli(["map", "dump", "buckets", "--linear", "0,10", "--shm", shm]);
    expect([noHist.code, noHist.stderr]).toEqual([
      2,
      "bpftime: bpftime map dump: --linear goes with --hist\n",
    ]);
    const badScale = cli(["map", "dump", "buckets", "--hist", "--linear", "5", "--shm", shm]);
    expect(badScale.code).not.toBe(0);
    expect(badScale.stderr).toContain('linear histogram scale "5" is not MIN,STEP');
    // An array of zero counts reads as an empty histogram.
    const empty = cli(["map", "dump", "verdict_counts", "--hist", "--shm", shm]);
    expect(empty.stdout).toBe("(no values counted)\n");
  });

  test('map lookup --json names the key as map dump does (1, not the "1" typed)', () => {
    const got = JSON.parse(
      cli(["map", "lookup", "verdict_counts", "0x1", "--shm", shm, "--json"]).stdout,
    );
    const dumped = JSON.parse(
      cli(["map", "dump", "verdict_counts", "--shm", shm, "--json"]).stdout,
    ).entries;
    expect(got).toEqual(dumped.find((e: { key: unknown }) => e.key === 1));
    expect(got.key).toBe(1);
  });

  test("with --json an error is JSON too, shaped as the API's error body", () => {
    const r = cli(["map", "dump", "verdict_cnts", "--shm", shm, "--json"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    const body = JSON.parse(r.stderr);
    expect(Object.keys(body).sort()).toEqual(["error", "message"]);
    expect(body.error).toBe("not_found");
    expect(body.message).toContain('no map named "verdict_cnts"');
    // After `--`, --json belongs to the program started, not to bpftime.
    expect(failure(["start", "--shm", shm, "--", "/nonexistent/prog", "--json"]).line).toMatch(
      /^bpftime: /,
    );
  });

  test("every file a help example names exists", () => {
    const named: string[] = [];
    const walk = (cmds: Command[]) => {
      for (const c of cmds) {
        for (const e of c.examples ?? [])
          for (const m of e.matchAll(/\b(examples\/[\w./-]+)/g)) named.push(m[1]!);
        if (c.subcommands) walk(c.subcommands);
      }
    };
    walk(commands);
    const top = cli(["--help"]).stdout;
    for (const m of top.matchAll(/\b(examples\/[\w./-]+)/g)) named.push(m[1]!);
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((f) => !existsSync(join(repoRoot, f)))).toEqual([]);
  });
});
