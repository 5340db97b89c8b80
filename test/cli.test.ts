import { describe, expect, test } from "bun:test";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { bpftimeBin, cli, run, tempDir } from "./helpers.ts";
import { commands } from "../src/cli/commands.ts";
import type { Command } from "../src/cli/command.ts";
import pkg from "../package.json" with { type: "json" };

describe("bpftime CLI", () => {
  test("--version prints the package version", () => {
    const r = cli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`bpftime ${pkg.version}`);
  });

  test("--help lists every command with its summary", () => {
    const r = cli(["--help"]);
    expect(r.code).toBe(0);
    for (const c of commands)
      expect(r.stdout).toMatch(new RegExp(`^  ${c.name} +${escape(c.summary)}$`, "m"));
  });

  // Every command and subcommand answers --help with its usage.
  const all: Array<[string, Command]> = [];
  const walk = (cmds: Command[], prefix: string) => {
    for (const c of cmds) {
      all.push([`${prefix} ${c.name}`.trim(), c]);
      if (c.subcommands) walk(c.subcommands, `${prefix} ${c.name}`);
    }
  };
  walk(commands, "");
  for (const [path, c] of all) {
    test(`${path} --help`, () => {
      const r = cli([...path.split(" "), "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout.startsWith(`bpftime ${path}`)).toBe(true);
      expect(r.stdout).toContain(c.description ?? c.summary);
    });
  }

  test("an unknown command is one clear line and exit code 2", () => {
    const r = cli(["no-such-command"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual([
      'bpftime: unknown command "no-such-command"; see `bpftime --help`',
    ]);
  });

  test("an unknown option is one clear line and exit code 2", () => {
    const r = cli(["version", "--frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--frobnicate");
    expect(r.stderr.trim().split("\n").length).toBe(1);
  });
});

describe("the single binary", () => {
  test("dist/bpftime works when copied alone into an empty directory", () => {
    expect(existsSync(bpftimeBin)).toBe(true);
    const dir = tempDir();
    const copy = join(dir, "bpftime");
    copyFileSync(bpftimeBin, copy);
    run(["chmod", "+x", copy]);
    const v = run([copy, "--version"], { cwd: dir });
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe(`bpftime ${pkg.version}`);
    // The embedded native library loads from inside the binary.
    const n = run([copy, "version", "--json"], { cwd: dir });
    expect(n.code).toBe(0);
    expect(JSON.parse(n.stdout)).toMatchObject({ version: pkg.version, native: pkg.version });
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
