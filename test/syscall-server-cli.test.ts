// `bpftime load -- PROGRAM` as a parent: the program's exit status and
// death by signal become bpftime's, signals sent to bpftime reach it, its
// stdout is ours (inherited, not a pipe), and PROGRAM without `--` runs when
// it is an executable rather than an eBPF object.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cli, loadAppArgv, startProcess, tempDir } from "./helpers.ts";
import { runName } from "./run-id.ts";

const region = runName("load-cli");
afterAll(() => {
  cli(["shm", "remove", "--shm", region]);
});
const load = (...argv: string[]) => cli(["load", "--shm", region, ...argv]);

describe("bpftime load -- PROGRAM", () => {
  test("exits with the program's status", () => {
    expect(load("--", "sh", "-c", "exit 7").code).toBe(7);
    expect(load("--", "sh", "-c", "exit 0").code).toBe(0);
  });

  test("a program killed by signal N makes bpftime exit with 128 + N", () => {
    expect(load("--", "sh", "-c", "kill -TERM $$").code).toBe(128 + 15);
  });

  test("without --, an executable runs and its options are its own", () => {
    const r = load("/bin/sh", "-c", "echo $0 $1; exit 5", "x", "--json");
    expect(r.code).toBe(5);
    expect(r.stdout).toBe("x --json\n");
  });

  test("the program's stdout is bpftime's own descriptor, not a pipe", () => {
    const out = join(tempDir("load-stdout"), "out.txt");
    const r = Bun.spawnSync(loadAppArgv(region, "sh", "-c", "readlink /proc/$$/fd/1"), {
      stdout: Bun.file(out),
      stderr: "pipe",
    });
    expect(r.exitCode).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(`${out}\n`);
  });

  test("SIGINT sent to bpftime reaches the program", async () => {
    const p = startProcess(
      loadAppArgv(
        region,
        "sh",
        "-c",
        'trap "echo got INT; exit 3" INT; echo ready; while :; do sleep 0.05; done',
      ),
    );
    await p.waitFor("ready");
    p.proc.kill("SIGINT"); // bpftime's pid only: the program is its child
    expect(await p.exited).toBe(3);
    expect(p.output()).toContain("got INT");
  });

  test("a program that does not exist: one line, not found", () => {
    const r = load("--", "/nonexistent/app");
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain('program "/nonexistent/app" not found');
  });
});
