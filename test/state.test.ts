// Declarative state (issue 16, "fleet-ready state"): `bpftime apply FILE`,
// `bpftime export` and PUT|GET /v1/state, on real regions with the shipped
// examples (the nginx URL filter, the malloc uprobe) and objects compiled
// here (two versions of one filter, one the verifier refuses). What the region
// holds is read back through the ordinary commands (`list --json`, `pin
// list`, `map lookup`), never through apply's own report alone.
import { describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createApp } from "../src/server/app.ts";
// processes and files
import { bpftimeBin, cli, cliOk, run, skipReason, tempDir } from "./helpers.ts";
// the objects and regions under test
import { buildExamples, compileBpf, regionNames, repoRoot } from "./helpers.ts";

const examples = buildExamples();
const urlFilter = join(examples, "url_filter.bpf.o");
const malloc = join(examples, "malloc.bpf.o");
const newRegion = regionNames("state");
const json = (args: string[]) => JSON.parse(cliOk([...args, "--json"]));
// response bodies, read as the tests need them
const bodyOf = async (r: Response): Promise<any> => r.json();

interface Snapshot {
  generation: string;
  programs: Array<{ id: number; name: string; links: number[] }>;
  links: Array<{ id: number; progId: number; targetType: string; arg: string }>;
  maps: Array<{ id: number; name: string }>;
}
const snapshot = (shm: string): Snapshot => json(["list", "--shm", shm]);
const pins = (shm: string): Array<{ name: string; id: number; objectName: string }> =>
  json(["pin", "list", "--shm", shm]);
const lookup = (shm: string, map: string, key: string) =>
  json(["map", "lookup", map, key, "--shm", shm]).value;

/** A state file in a new directory; returns its path. */
function stateFile(text: string, dir = tempDir("state"), name = "state.yaml"): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The filter, the malloc counter, a pinned map and one entry in each. */
const BASIC = `
apiVersion: bpftime/v1
objects:
  - name: filter
    path: ${urlFilter}
  - path: ${malloc}
links:
  - program: filter/url_filter
    type: nginx
    arg: /aaaa
  - program: count_malloc
    type: uprobe
pins:
  - name: verdicts
    map: filter/verdict_counts
entries:
  - map: verdicts
    key: 1
    value: 5
  - map: malloc/malloc_calls
    key: 42
    value: 7
`;

describe("bpftime apply", () => {
  test("creates what the file says; applying it again changes nothing", () => {
    const shm = newRegion();
    const file = stateFile(BASIC);
    const first = json(["apply", file, "--shm", shm]);
    expect(first.dryRun).toBe(false);
    expect(
      first.changes.map((c: { action: string; kind: string }) => `${c.action} ${c.kind}`),
    ).toEqual([
      "create object",
      "create object",
      "create pin",
      "update entry",
      "update entry",
      "create link",
      "create link",
    ]);
    const s = snapshot(shm);
    expect(s.programs.map((p) => p.name).sort()).toEqual(["count_malloc", "url_filter"]);
    const byName = (n: string) => s.programs.find((p) => p.name === n)!.id;
    expect(s.links.map((l) => [l.progId, l.targetType, l.arg]).sort()).toEqual(
      [
        [byName("url_filter"), "nginx", "/aaaa"],
        [byName("count_malloc"), "uprobe", "libc.so.6:malloc"],
      ].sort(),
    );
    const verdicts = s.maps.find((m) => m.name === "verdict_counts")!.id;
    expect(pins(shm).map((p) => [p.name, p.id])).toEqual([["verdicts", verdicts]]);
    expect(lookup(shm, "verdicts", "1")).toBe(5);
    expect(lookup(shm, "malloc_calls", "42")).toBe(7);

    // The second apply: an empty plan, and the region did not move at all.
    const again = cli(["apply", file, "--shm", shm]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`region ${shm} already holds what ${file} says: nothing to do`);
    expect(json(["apply", file, "--shm", shm]).changes).toEqual([]);
    expect(snapshot(shm)).toEqual(s);
  });

  test("--dry-run prints the plan and changes nothing, even the region's existence", () => {
    const shm = newRegion();
    const file = stateFile(BASIC);
    const r = cli(["apply", file, "--dry-run", "--shm", shm]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`plan for region ${shm} (dry run): 7 changes`);
    expect(r.stdout).toContain(`+ object filter: load ${urlFilter}`);
    expect(r.stdout).toContain('+ link filter/url_filter: nginx "/aaaa"');
    expect(cli(["list", "--shm", shm]).code).not.toBe(0); // no region was created

    cliOk(["apply", file, "--shm", shm]);
    const before = snapshot(shm);
    // an edited entry and prefix: the plan names both, the region keeps the old ones
    const edited = stateFile(BASIC.replace("value: 5", "value: 6").replace("/aaaa", "/bbbb"));
    const plan = json(["apply", edited, "--dry-run", "--shm", shm]);
    expect(
      plan.changes.map((c: { action: string; name: string }) => `${c.action} ${c.name}`),
    ).toEqual([
      "update filter/verdict_counts[1]",
      "create filter/url_filter",
      "delete filter/url_filter",
    ]);
    expect(snapshot(shm)).toEqual(before);
    expect(lookup(shm, "verdicts", "1")).toBe(5);
  });

  test("the links of the file's objects are exactly those listed: a changed prefix moves the link", () => {
    const shm = newRegion();
    cliOk(["apply", stateFile(BASIC), "--shm", shm]);
    const old = snapshot(shm).links.find((l) => l.targetType === "nginx")!;
    const r = json(["apply", stateFile(BASIC.replace("/aaaa", "/bbbb")), "--shm", shm]);
    expect(r.changes.map((c: { action: string; kind: string }) => `${c.action} ${c.kind}`)).toEqual(
      ["create link", "delete link"],
    );
    const nginx = snapshot(shm).links.filter((l) => l.targetType === "nginx");
    expect(nginx.map((l) => l.arg)).toEqual(["/bbbb"]);
    expect(nginx[0]!.id).not.toBe(old.id);
  });

  test("a changed object is replaced: its links move to the new program, the old one is unloaded", () => {
    const dir = tempDir("state-versions");
    const src = readFileSync(join(repoRoot, "examples", "url_filter.bpf.c"), "utf8");
    writeFileSync(join(dir, "v.bpf.c"), src);
    compileBpf(join(dir, "v.bpf.c"), join(dir, "v1.bpf.o"));
    writeFileSync(join(dir, "v.bpf.c"), `// version 2: one line more, other line info\n${src}`);
    compileBpf(join(dir, "v.bpf.c"), join(dir, "v2.bpf.o"));
    copyFileSync(join(dir, "v1.bpf.o"), join(dir, "filter.bpf.o"));
    const file = stateFile(
      "objects:\n  - path: filter.bpf.o\nlinks:\n  - {program: filter/url_filter, type: nginx, arg: /x}\n",
      dir,
    );
    const shm = newRegion();
    cliOk(["apply", file, "--shm", shm]);
    const v1 = snapshot(shm);
    const link = v1.links[0]!;

    copyFileSync(join(dir, "v2.bpf.o"), join(dir, "filter.bpf.o")); // the file changed in place
    const r = cli(["apply", file, "--shm", shm]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/~ object filter: the file changed \(sha256 \w+ → \w+\)/);
    expect(r.stdout).toContain(`move links ${link.id} to the new programs`);
    const v2 = snapshot(shm);
    expect(v2.programs.map((p) => p.name)).toEqual(["url_filter"]);
    expect(v2.programs[0]!.id).not.toBe(link.progId);
    // the same link (same id, same target), now running the new program
    expect(v2.links).toEqual([{ ...link, progId: v2.programs[0]!.id }]);
    expect(json(["apply", file, "--shm", shm]).changes).toEqual([]);
  });

  test("objects and pins the file does not mention are left alone, and removed with --prune", () => {
    const shm = newRegion();
    cliOk(["apply", stateFile(BASIC), "--shm", shm]);
    const only = stateFile(`objects:\n  - name: filter\n    path: ${urlFilter}\n`);
    const kept = cli(["apply", only, "--shm", shm]);
    expect(kept.code).toBe(0);
    // the filter's link is not in this file: the file's objects have exactly its links
    expect(kept.stdout).toContain("- link filter/url_filter");
    expect(kept.stdout).toContain(
      `left alone (not in ${only}; --prune removes them): object malloc, pin verdicts (filter/verdict_counts)`,
    );
    expect(
      snapshot(shm)
        .programs.map((p) => p.name)
        .sort(),
    ).toEqual(["count_malloc", "url_filter"]);

    const pruned = json(["apply", only, "--prune", "--shm", shm]);
    expect(
      pruned.changes.map(
        (c: { action: string; kind: string; name: string }) => `${c.action} ${c.kind} ${c.name}`,
      ),
    ).toEqual(["delete pin verdicts", "delete object malloc"]);
    const s = snapshot(shm);
    expect(s.programs.map((p) => p.name)).toEqual(["url_filter"]);
    expect(s.links).toEqual([]);
    expect(pins(shm)).toEqual([]);
    expect(json(["apply", only, "--prune", "--shm", shm]).changes).toEqual([]);
  });

  test("a failure stops the apply, says what was applied; the next apply converges", () => {
    const dir = tempDir("state-bad");
    writeFileSync(
      join(dir, "bad.bpf.c"),
      `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "${join(repoRoot, "test", "fixtures", "map_def.h")}"
DEFINE_MAP(m, BPF_MAP_TYPE_ARRAY, __u32, __u64, 1);
SEC("uprobe") int unchecked(void *ctx) {
    __u32 k = 0;
    __u64 *v = bpf_map_lookup_elem(&m, &k);
    return *v; /* no NULL check: the verifier refuses it */
}
char LICENSE[] SEC("license") = "GPL";
`,
    );
    compileBpf(join(dir, "bad.bpf.c"), join(dir, "bad.bpf.o"));
    const objects = (middle: string) => `
objects:
  - name: filter
    path: ${urlFilter}
${middle}  - name: malloc
    path: ${malloc}
links:
  - {program: filter/url_filter, type: nginx, arg: /a}
`;
    const shm = newRegion();
    const r = cli(["apply", stateFile(objects("  - path: bad.bpf.o\n"), dir), "--shm", shm]);
    expect(r.code).toBe(6); // the verifier's exit code
    const line = r.stderr.trim();
    expect(line.split("\n")).toHaveLength(1);
    expect(line).toContain('apply stopped at "+ object bad: load');
    expect(line).toContain("program unchecked (section uprobe): verifier:");
    expect(line).toContain("1 change was applied before it (+ object filter: load");
    expect(line).toContain("apply again");
    // what was applied stays; nothing after the failure was done
    expect(snapshot(shm).programs.map((p) => p.name)).toEqual(["url_filter"]);
    expect(snapshot(shm).links).toEqual([]);

    // without the bad object, the next apply carries on from there
    const fixed = stateFile(objects(""), dir, "fixed.yaml");
    const next = json(["apply", fixed, "--shm", shm]);
    expect(
      next.changes.map(
        (c: { action: string; kind: string; name: string }) => `${c.action} ${c.kind} ${c.name}`,
      ),
    ).toEqual(["create object malloc", "create link filter/url_filter"]);
    expect(json(["apply", fixed, "--shm", shm]).changes).toEqual([]);
  });

  test("a bad target of an object already loaded is refused before anything changes", () => {
    const shm = newRegion();
    cliOk(["apply", stateFile(`objects: [{path: ${malloc}}]\n`), "--shm", shm]);
    const before = snapshot(shm);
    const r = cli([
      "apply",
      stateFile(
        `objects: [{path: ${malloc}}, {path: ${urlFilter}}]\n` +
          `links: [{program: count_malloc, type: uprobe, arg: "libc.so.6:no_such_function_here"}]\n`,
      ),
      "--shm",
      shm,
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("links/0: uprobe target libc.so.6:no_such_function_here:");
    expect(r.stderr).not.toContain("apply stopped");
    expect(snapshot(shm)).toEqual(before); // url_filter was not loaded
  });

  test("a bad file is one line naming every bad field with its path; nothing is changed", () => {
    const shm = newRegion();
    const bad = cli([
      "apply",
      stateFile(
        `objects:\n  - path: 3\n    prefix: /x\n  - name: "a b"\n    path: x.o\nlinks:\n  - program: p\nbogus: 1\n`,
      ),
      "--shm",
      shm,
    ]);
    expect(bad.code).toBe(4);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    for (const part of [
      "bogus: unknown field",
      "objects/0/prefix: unknown field",
      "objects/0/path: expected string",
      "objects/1/name: a name is letters, digits and _ . + -",
      "links/0/type: missing",
    ])
      expect(bad.stderr).toContain(part);

    // well-formed, but naming what is not there: every reference at once
    const refs = cli([
      "apply",
      stateFile(
        `objects:\n  - path: ${urlFilter}\n  - path: ${join(tempDir(), "missing.bpf.o")}\n    name: gone\n` +
          `links:\n  - {program: url_filter/nope, type: nginx, arg: /}\n` +
          `pins:\n  - {name: p, map: other/m}\n` +
          `entries:\n  - {map: url_filter/events, key: 1, value: 1}\n`,
      ),
      "--shm",
      shm,
    ]);
    expect(refs.code).toBe(4);
    for (const part of [
      "objects/1/path: object file",
      "does not exist",
      'links/0/program: object url_filter has no program "nope" (it has url_filter)',
      'pins/0/map: no object "other" in the file',
      "entries/0/map: map url_filter/events has no keys",
    ])
      expect(refs.stderr).toContain(part);
    expect(cli(["list", "--shm", shm]).code).not.toBe(0);
  });
});

describe("bpftime export", () => {
  test("export → apply to a new region → export again gives the same file (YAML and JSON)", () => {
    const a = newRegion();
    cliOk(["apply", stateFile(BASIC), "--shm", a]);
    // and something `bpftime load`/`attach`/`pin` made by hand
    cliOk(["load", urlFilter, "--shm", a]);
    const ids = snapshot(a)
      .programs.filter((p) => p.name === "url_filter")
      .map((p) => p.id);
    cliOk(["attach", String(Math.max(...ids)), "nginx", "--prefix", "/hand", "--shm", a]);
    const dir = tempDir("state-export");
    for (const format of ["yaml", "json"]) {
      const first = join(dir, `a.${format}`);
      cliOk(["export", "--shm", a, "-o", first]);
      const text = readFileSync(first, "utf8");
      if (format === "json") expect(() => JSON.parse(text)).not.toThrow();
      const b = newRegion();
      cliOk(["apply", first, "--shm", b]);
      const second = cliOk(["export", "--shm", b, "--format", format]);
      expect(second).toBe(text);
      // the new region holds the same things, by name
      const names = (s: Snapshot) => s.programs.map((p) => p.name).sort();
      expect(names(snapshot(b))).toEqual(names(snapshot(a)));
      expect(
        snapshot(b)
          .links.map((l) => [l.targetType, l.arg])
          .sort(),
      ).toEqual(
        snapshot(a)
          .links.map((l) => [l.targetType, l.arg])
          .sort(),
      );
      expect(lookup(b, "verdicts", "1")).toBe(5);
      // and the export applied to the region it came from is already there
      expect(json(["apply", first, "--shm", a]).changes).toEqual([]);
    }
    const yaml = readFileSync(join(dir, "a.yaml"), "utf8");
    expect(yaml).toContain("name: url_filter\n"); // the hand-loaded object, named after its file
    expect(yaml).toContain("arg: /hand");
  });
});

test("export --schema prints the JSON Schema the API documents for PUT /v1/state", async () => {
  const schema = JSON.parse(cliOk(["export", "--schema"]));
  const app = createApp({ token: "x".repeat(32), protectReads: false, allowedHosts: [] }).app;
  const doc = await bodyOf(await app.handle(new Request("http://127.0.0.1/docs/json")));
  expect(doc.paths["/v1/state"].put.requestBody.content["application/json"].schema).toEqual(schema);
  expect(schema.additionalProperties).toBe(false);
  expect(schema.properties.objects.items.required).toEqual(["path"]);
});

// Debian's python3.11 has USDT probes (a pyenv shim on $PATH would not)
const python = "/usr/bin/python3.11";
test.skipIf(
  skipReason(existsSync(python) ? undefined : `${python} is not installed`, "usdt round trip"),
)("export round trip keeps a USDT link's cookie (kept in its spec) and syscall targets", () => {
  const a = newRegion();
  cliOk(["load", join(examples, "usdt.bpf.o"), "--shm", a]);
  const target = `${python}:python:function__entry`;
  cliOk(["attach", "usdt_stats", "usdt", "--arg", target, "--cookie", "7", "--shm", a]);
  cliOk(["load", join(examples, "opensnoop.bpf.o"), "--attach", "--shm", a]);
  const file = join(tempDir("state-usdt"), "a.yaml");
  cliOk(["export", "--shm", a, "-o", file]);
  const state = Bun.YAML.parse(readFileSync(file, "utf8")) as { links: unknown[] };
  expect(state.links).toEqual([
    { program: "usdt/usdt_stats", type: "usdt", arg: target, cookie: 7 },
    { program: "opensnoop/handle_enter", type: "sys_enter", arg: "openat" },
    { program: "opensnoop/handle_exit", type: "sys_exit", arg: "openat" },
  ]);
  const b = newRegion();
  cliOk(["apply", file, "--shm", b]);
  expect(cliOk(["export", "--shm", b])).toBe(readFileSync(file, "utf8"));
  expect(json(["apply", file, "--shm", a]).changes).toEqual([]);
});

describe("PUT and GET /v1/state", () => {
  const TOKEN = "s".repeat(32);
  const appOn = (shm: string) =>
    createApp({ shm, token: TOKEN, protectReads: false, allowedHosts: [] }).app;
  const put = (app: ReturnType<typeof appOn>, body: string, query = "", token = TOKEN) =>
    app.handle(
      new Request(`http://127.0.0.1/v1/state${query}`, {
        method: "PUT",
        body,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      }),
    );

  test("applies behind the token, ?dryRun=1 plans, the second PUT is empty, GET exports", async () => {
    const shm = newRegion();
    const app = appOn(shm);
    const denied = await put(app, BASIC, "", "");
    expect(denied.status).toBe(401);
    expect(cli(["list", "--shm", shm]).code).not.toBe(0);

    const plan = await put(app, BASIC, "?dryRun=1");
    expect(plan.status).toBe(200);
    const p = await bodyOf(plan);
    expect(p.dryRun).toBe(true);
    expect(p.changes).toHaveLength(7);
    expect(cli(["list", "--shm", shm]).code).not.toBe(0);

    const applied = await put(app, JSON.stringify(Bun.YAML.parse(BASIC)));
    expect(applied.status).toBe(200);
    expect((await bodyOf(applied)).changes).toEqual(p.changes);
    expect(lookup(shm, "verdicts", "1")).toBe(5);
    expect((await bodyOf(await put(app, BASIC))).changes).toEqual([]);

    const got = await app.handle(new Request("http://127.0.0.1/v1/state"));
    expect(got.status).toBe(200);
    const exported = JSON.parse(cliOk(["export", "--format", "json", "--shm", shm]));
    expect(await got.json()).toEqual(exported);
    const yaml = await app.handle(new Request("http://127.0.0.1/v1/state?format=yaml"));
    expect(yaml.headers.get("content-type")).toContain("application/yaml");
    expect(await yaml.text()).toBe(cliOk(["export", "--shm", shm]));
  });

  test("a bad body is a 400 naming every bad field; a failing apply is its error's 4xx", async () => {
    const shm = newRegion();
    const app = appOn(shm);
    const bad = await put(app, "objects: [{path: 3, x: 1}]\nlinks: [{}]\n");
    expect(bad.status).toBe(400);
    const body = await bodyOf(bad);
    expect(body.error).toBe("invalid_argument");
    for (const part of [
      "objects/0/x: unknown field",
      "objects/0/path: expected string",
      "links/0/program: missing",
      "links/0/type: missing",
    ])
      expect(body.message).toContain(part);
    expect((await put(app, "{{{")).status).toBe(400);
    // as every JSON body: an object, nested at most 32 levels
    const list = await put(app, "[1, 2]");
    expect(list.status).toBe(400);
    expect((await bodyOf(list)).message).toContain("must be a JSON object");
    const deep = await put(
      app,
      `entries: [{map: m, key: ${"[".repeat(40)}${"]".repeat(40)}, value: 1}]`,
    );
    expect(deep.status).toBe(400);
    expect((await bodyOf(deep)).message).toContain('field "entries" nests deeper than 32 levels');
    const missing = await put(app, `objects: [{path: ${join(tempDir(), "none.o")}}]`);
    expect(missing.status).toBe(400);
    expect((await bodyOf(missing)).message).toContain("does not exist");
    const target = await put(
      app,
      `objects: [{path: ${malloc}}]\nlinks: [{program: count_malloc, type: uprobe, arg: "libc.so.6:no_such_function_here"}]\n`,
    );
    expect(target.status).toBe(404);
    const why = (await bodyOf(target)).message;
    expect(why).toContain(
      "apply stopped at planning the links, pins and entries: links/0: uprobe target",
    );
    expect(why).toContain("1 change was applied before it (+ object malloc: load");
  });

  test("the OpenAPI document describes the body with the state schema", async () => {
    const app = appOn(newRegion());
    const doc = await bodyOf(await app.handle(new Request("http://127.0.0.1/docs/json")));
    const schema = doc.paths["/v1/state"].put.requestBody.content["application/json"].schema;
    expect(Object.keys(schema.properties).sort()).toEqual(
      ["apiVersion", "entries", "links", "objects", "pins"].sort(),
    );
    expect(schema.properties.links.items.required).toEqual(["program", "type"]);
  });
});

describe("deploy/", () => {
  const unit = join(repoRoot, "deploy", "bpftime-apply.service");
  const noSystemd = Bun.which("systemd-analyze") ? undefined : "systemd-analyze is not installed";
  test.skipIf(skipReason(noSystemd, "systemd unit check"))(
    "the systemd unit passes systemd-analyze verify (with the built binary)",
    () => {
      const dir = tempDir("state-unit");
      const copy = join(dir, "bpftime-apply.service");
      writeFileSync(
        copy,
        readFileSync(unit, "utf8").replaceAll("/usr/local/bin/bpftime", bpftimeBin),
      );
      const r = run(["systemd-analyze", "verify", copy]);
      expect(`${r.stdout}${r.stderr}`.trim()).toBe("");
      expect(r.code).toBe(0);
    },
  );

  test("the DaemonSet runs apply then serve with hostPID, /dev/shm and the state file mounted", () => {
    const docs = readFileSync(join(repoRoot, "deploy", "daemonset.yaml"), "utf8")
      .split(/^---$/m)
      .map((d) => Bun.YAML.parse(d) as Record<string, any>)
      .filter(Boolean);
    const ds = docs.find((d) => d.kind === "DaemonSet")!;
    const pod = ds.spec.template.spec;
    expect(pod.hostPID).toBe(true);
    const volumes = Object.fromEntries(pod.volumes.map((v: any) => [v.name, v]));
    const mounts = (c: any) =>
      Object.fromEntries(c.volumeMounts.map((m: any) => [m.mountPath, m.name]));
    const init = pod.initContainers[0];
    expect(init.command.concat(init.args ?? [])).toEqual(
      expect.arrayContaining(["apply", "/etc/bpftime/state.yaml"]),
    );
    const main = pod.containers[0];
    expect(main.command.concat(main.args ?? [])).toContain("serve");
    for (const c of [init, main]) {
      expect(volumes[mounts(c)["/dev/shm"]].hostPath.path).toBe("/dev/shm");
    }
    expect(volumes[mounts(init)["/etc/bpftime"]].configMap.name).toBe(
      docs.find((d) => d.kind === "ConfigMap")!.metadata.name,
    );
    // the ConfigMap's state file is a valid one (its objects are on the image)
    const cm = docs.find((d) => d.kind === "ConfigMap")!;
    const check = cli(["apply", "-", "--dry-run", "--shm", newRegion()], {
      stdin: cm.data["state.yaml"],
    });
    expect(check.stderr).not.toContain("not a valid state file");
  });
});
