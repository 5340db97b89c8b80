// `bpftime completion`: the bash script completes commands, subcommands and
// options from the command table, run in a real bash; zsh and fish scripts
// name every command.
import { describe, expect, test } from "bun:test";
import { cli, run } from "./helpers.ts";
import { commands } from "../src/cli/commands.ts";

const bash = cli(["completion", "bash"]);

/** What bash completes after `bpftime WORDS…` (the last word is the one being typed). */
function complete(words: string[]): string[] {
  const q = (w: string) => `'${w.replace(/'/g, "'\\''")}'`;
  const script =
    `${bash.stdout}\nCOMP_WORDS=(bpftime ${words.map(q).join(" ")}); ` +
    `COMP_CWORD=${words.length}; _bpftime; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = run(["bash", "-c", script]);
  expect(r.stderr).toBe("");
  return r.stdout.split("\n").filter(Boolean).sort();
}

describe("shell completion", () => {
  test("bash: commands, subcommands after their command, options of the command typed", () => {
    expect(bash.code).toBe(0);
    expect(complete(["ma"])).toEqual(["man", "map"]);
    expect(complete(["map"])).toEqual(["map"]);
    expect(complete(["map", "d"])).toEqual(["delete", "dump"]);
    expect(complete(["map", "dump", "--h"])).toEqual(["--help", "--hist"]);
    expect(complete(["--shm", "demo", "map", "fr"])).toEqual(["freeze"]);
    expect(complete(["map", "dump", "counts", "--sh"])).toEqual(["--shm"]);
    expect(complete(["shm", "l"])).toEqual(["list", "ls"]);
    expect(complete(["--v"])).toEqual(["--version"]);
    // Every top-level command of the table completes from nothing.
    const all = complete([""]);
    for (const c of commands) expect(all).toContain(c.name);
  });

  test("zsh and fish scripts name every command; an unknown shell is one line", () => {
    const zsh = cli(["completion", "zsh"]);
    expect(zsh.stdout).toContain("bashcompinit");
    const fish = cli(["completion", "fish"]);
    for (const c of commands) {
      expect(zsh.stdout).toContain(`'${c.name}')`);
      expect(fish.stdout).toContain(`-a ${c.name} -d`);
    }
    expect(fish.stdout).toContain("__fish_seen_subcommand_from map");
    const bad = cli(["completion", "tcsh"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('bpftime: completion: unknown shell "tcsh": choose bash, zsh, fish\n');
  });
});

describe("manual page", () => {
  const page = cli(["man"]);
  test("bpftime man has a section for every command and subcommand of the table", () => {
    expect(page.code).toBe(0);
    expect(page.stdout.startsWith(".TH BPFTIME 1 ")).toBe(true);
    const paths: string[] = [];
    const walk = (cmds: typeof commands, prefix: string) => {
      for (const c of cmds) {
        const path = `${prefix} ${c.name}`;
        if (c.run || !c.subcommands) paths.push(path);
        walk(c.subcommands ?? [], path);
      }
    };
    walk(commands, "bpftime");
    for (const p of paths) expect(page.stdout).toContain(`.SS "${p.replace(/-/g, "\\-")}"`);
    expect(page.stdout).toContain("\\fB\\-\\-shm\\fR \\fINAME\\fR");
    expect(page.stdout).toContain(".SH EXIT STATUS");
  });

  const groff = Bun.which("groff");
  if (!groff) console.log("skip: the manual page through groff: groff is not installed");
  test.skipIf(!groff)("groff formats it without a warning", () => {
    const r = run(["sh", "-c", "groff -man -Tutf8 -ww -z"], { stdin: page.stdout });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});
