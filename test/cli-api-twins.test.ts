// Every CLI data command with --json and its HTTP API twin print the same
// JSON: one serializer (src/ops) produces both. Reads run on one region and
// are compared byte for byte (the CLI's stdout is the API's body and a
// newline). Mutations run twice, on two regions built alike: the CLI changes
// one, the API the other, and both answers, then both regions' snapshots,
// must be deep-equal. Normalised, because inherently different: the region's
// name (two regions) and a run's averageNs (a time). Nothing else.
// The kernel provider (`--kernel`, `serve --kernel`) the same way for reads;
// its changes cannot be made twice alike (the kernel gives every object a
// new id), so each change is made once through the API, its answer has the
// fields the CLI's answer to the same kind of change has, and its effect is
// read back through the CLI and bpftool.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import {
  cli,
  cliOk,
  compileBpf,
  regionNames,
  repoRoot,
  run,
  skipReason,
  tempDir,
} from "./helpers.ts";
import {
  kernelUprobesUnavailable,
  privateBpffs,
  uprobeFixtureUnlessSkipped,
} from "./uprobe-fixture.ts";
import { createApp } from "../src/server/app.ts";
import { findToolchain } from "../src/llvm/index.ts";

const newRegion = regionNames("twins");
const TOKEN = "t".repeat(32);

/** The fixture, compiled into this test's temp dir. */
function fixture(): string {
  const obj = join(tempDir(), "twins.bpf.o");
  compileBpf(join(repoRoot, "test/fixtures/twins/twins.bpf.c"), obj);
  return obj;
}

interface Api {
  /** The raw answer: status and body text. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }>;
  json(method: string, path: string, body?: unknown): Promise<unknown>;
}

function apiFor(shm: string, kernel = false): Api {
  const { app } = createApp({
    shm,
    token: TOKEN,
    protectReads: false,
    allowedHosts: [],
    ...(kernel ? { kernel } : {}),
  });
  const call = async (method: string, path: string, body?: unknown) => {
    const isBytes = body instanceof Uint8Array;
    const res = await app.handle(
      new Request(`http://127.0.0.1${path}`, {
        method,
        ...(body === undefined ? {} : { body: isBytes ? body : JSON.stringify(body) }),
        headers: {
          authorization: `Bearer ${TOKEN}`,
          "content-type": isBytes ? "application/octet-stream" : "application/json",
        },
      }),
    );
    return { status: res.status, text: await res.text() };
  };
  return {
    call,
    async json(method, path, body) {
      const r = await call(method, path, body);
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
      return JSON.parse(r.text);
    },
  };
}

/** `bpftime ARGS --json` (stdout), failing the test if the command fails. */
const cliJson = (args: string[], cwd?: string) => cliOk([...args, "--json"], cwd ? { cwd } : {});

/** The same state in a region: entries, a link, a pin. */
function populate(shm: string): void {
  const at = ["--shm", shm];
  cliOk([
    "map",
    "update",
    "points",
    "1",
    '{"x":1,"big":"18446744073709551615","tag":"one"}',
    ...at,
  ]);
  cliOk(["map", "update", "points", "7", '{"x":7,"big":"9007199254740993","tag":"seven"}', ...at]);
  cliOk(["map", "update", "points", "3", '{"x":3,"big":9007199254740991,"tag":""}', ...at]);
  cliOk(["map", "update", "counts", "2", "42", ...at]);
  cliOk(["map", "update", "per_cpu", "1", "5", ...at]);
  cliOk(["map", "update", "jobs", "11", ...at]);
  cliOk(["map", "update", "jobs", "12", ...at]);
  cliOk(["attach", "accept_all", "nginx", "--prefix", "/twins", ...at]);
  cliOk(["pin", "map", "counts", "twins/counts", ...at]);
}

describe("CLI --json and the API: reads", () => {
  test("every read command prints the API's body, byte for byte", async () => {
    const shm = newRegion();
    cliOk(["load", fixture(), "--shm", shm]);
    populate(shm);
    const api = apiFor(shm);
    const pairs: Array<[string[], string]> = [
      [["list"], "/v1/snapshot"],
      [["prog", "list"], "/v1/programs"],
      [["prog", "show", "accept_all"], "/v1/programs/accept_all"],
      [["prog", "show", "3"], "/v1/programs/3"],
      [["map", "list"], "/v1/maps"],
      [["map", "show", "points"], "/v1/maps/points"],
      [["map", "show", "jobs"], "/v1/maps/jobs"],
      // the whole map: a page as large as max_entries
      [["map", "dump", "points"], "/v1/maps/points/entries?limit=8"],
      [["map", "dump", "points", "--limit", "2"], "/v1/maps/points/entries?limit=2"],
      [
        ["map", "dump", "points", "--offset", "1", "--limit", "1"],
        "/v1/maps/points/entries?offset=1&limit=1",
      ],
      [["map", "dump", "per_cpu"], "/v1/maps/per_cpu/entries?limit=2"],
      [["map", "dump", "counts"], "/v1/maps/counts/entries?limit=4"],
      // the array read as bucket -> count (a log2 histogram)
      [["map", "dump", "counts", "--hist"], "/v1/maps/counts/histograms?keyed=true"],
      [
        ["map", "dump", "counts", "--hist", "--linear=-5,3"],
        "/v1/maps/counts/histograms?keyed=true&linear=-5,3",
      ],
      [["map", "lookup", "points", "1"], "/v1/maps/points/entries/1"],
      [["map", "lookup", "points", "0x7"], "/v1/maps/points/entries/0x7"],
      [["map", "lookup", "per_cpu", "1"], "/v1/maps/per_cpu/entries/1"],
      [["map", "peek", "jobs"], "/v1/maps/jobs/peek"],
      [["pin", "list"], "/v1/pins"],
      [["shm", "info"], "/v1/region"],
    ];
    for (const [args, path] of pairs) {
      const fromCli = cliJson([...args, "--shm", shm]);
      const fromApi = await api.call("GET", path);
      expect({ args, path, status: fromApi.status }).toEqual({ args, path, status: 200 });
      expect({ args, path, json: fromCli }).toEqual({ args, path, json: `${fromApi.text}\n` });
    }
    // links, targets and instances are sections of `list --json`
    const listed = JSON.parse(cliJson(["list", "--shm", shm]));
    expect(listed.links).toEqual(await api.json("GET", "/v1/links"));
    expect(listed.targets).toEqual(await api.json("GET", "/v1/targets"));
    expect(listed.instances).toEqual(await api.json("GET", "/v1/instances"));
    // the state file: `export --format json` (indented for reading) is GET /v1/state's value
    expect(JSON.parse(cliOk(["export", "--format", "json", "--shm", shm]))).toEqual(
      await api.json("GET", "/v1/state"),
    );
    // Prometheus text: the same renderer
    expect(cliOk(["metrics", "--shm", shm])).toBe((await api.call("GET", "/metrics")).text);
    // The fixture's edges are printed, so a diverging serializer shows here:
    // a u64 above 2^53 is a decimal string, below it a number; counters are strings.
    const big = JSON.parse(cliJson(["map", "lookup", "points", "1", "--shm", shm]));
    expect(big).toEqual({ key: 1, value: { x: 1, big: "18446744073709551615", tag: "one" } });
    expect(listed.programs.map((p: { runCount: unknown }) => typeof p.runCount)).toEqual([
      "string",
      "string",
      "string",
    ]);
  });

  test("errors: --json prints the API's error body", async () => {
    const shm = newRegion();
    cliOk(["load", fixture(), "--shm", shm]);
    const api = apiFor(shm);
    const pairs: Array<[string[], string, number]> = [
      [["map", "show", "nope"], "/v1/maps/nope", 404],
      [["prog", "show", "nope"], "/v1/programs/nope", 404],
      [["map", "lookup", "points", "5"], "/v1/maps/points/entries/5", 404],
      [["map", "peek", "jobs"], "/v1/maps/jobs/peek", 404],
    ];
    for (const [args, path, status] of pairs) {
      const r = cli([...args, "--shm", shm, "--json"]);
      const fromApi = await api.call("GET", path);
      expect({ args, status: fromApi.status, stdout: r.stdout }).toEqual({
        args,
        status,
        stdout: "",
      });
      expect({ args, error: JSON.parse(r.stderr) }).toEqual({
        args,
        error: JSON.parse(fromApi.text),
      });
    }
  });
});

/** Strings naming either region become "<region>"; averageNs (a time) becomes 0. */
function normalise(v: unknown, regions: string[]): unknown {
  if (typeof v === "string") {
    let s = v;
    for (const r of regions) s = s.split(r).join("<region>");
    return s;
  }
  if (Array.isArray(v)) return v.map((x) => normalise(x, regions));
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, k === "averageNs" ? 0 : normalise(x, regions)]),
    );
  return v;
}

describe("CLI --json and the API: changes", () => {
  test("each change answers alike from both faces and leaves both regions alike", async () => {
    const obj = fixture();
    const [a, b] = [newRegion(), newRegion()];
    const api = apiFor(b);
    const same = (what: string, fromCli: string, fromApi: unknown) =>
      expect({ what, json: normalise(JSON.parse(fromCli), [a, b]) }).toEqual({
        what,
        json: normalise(fromApi, [a, b]),
      });
    const viaCli = (args: string[]) => cliJson([...args, "--shm", a], dirname(obj));

    // load: the CLI reads the file, the API receives its bytes under its name
    same(
      "load",
      viaCli(["load", basename(obj)]),
      await api.json("POST", `/v1/programs?name=${basename(obj)}`, await Bun.file(obj).bytes()),
    );
    populate(a);
    populate(b);
    const data = join(tempDir(), "packet.bin");
    writeFileSync(data, Uint8Array.of(1, 2, 3));
    const steps: Array<[string, string[], string, string, unknown?]> = [
      [
        "attach",
        ["attach", "accept_all", "nginx", "--prefix", "/x"],
        "POST",
        "/v1/links",
        {
          program: "accept_all",
          type: "nginx",
          arg: "/x",
        },
      ],
      [
        "replace",
        ["replace", "2", "refuse_all"],
        "PATCH",
        "/v1/links/2",
        { program: "refuse_all" },
      ],
      [
        "update",
        ["map", "update", "points", "2", '{"x":2,"big":2,"tag":"two"}'],
        "PUT",
        "/v1/maps/points/entries/2",
        { value: { x: 2, big: 2, tag: "two" } },
      ],
      ["delete entry", ["map", "delete", "points", "1"], "DELETE", "/v1/maps/points/entries/1"],
      ["pop", ["map", "pop", "jobs"], "POST", "/v1/maps/jobs/pop"],
      [
        "pin",
        ["pin", "map", "points", "twins/points"],
        "POST",
        "/v1/pins",
        {
          kind: "map",
          ref: "points",
          name: "twins/points",
        },
      ],
      ["unpin", ["unpin", "twins/points"], "DELETE", "/v1/pins/twins/points"],
      ["stats", ["stats", "on"], "POST", "/v1/region/stats", { enabled: true }],
      ["run", ["run", "3", "--data", data], "POST", "/v1/programs/3/run", { hex: "010203" }],
      ["freeze", ["map", "freeze", "counts"], "POST", "/v1/maps/counts/freeze"],
      ["detach", ["detach", "2"], "DELETE", "/v1/links/2"],
      ["unload", ["unload", "refuse_all"], "DELETE", "/v1/programs/refuse_all"],
    ];
    for (const [what, args, method, path, body] of steps)
      same(what, viaCli(args), await api.json(method, path, body));
    // after the same changes, the same regions
    same("snapshot", viaCli(["list"]), await api.json("GET", "/v1/snapshot"));
    same(
      "dump",
      viaCli(["map", "dump", "points"]),
      await api.json("GET", "/v1/maps/points/entries?limit=8"),
    );
  });
});

const { root, env } = privateBpffs();
const skipKernel = skipReason(
  kernelUprobesUnavailable(),
  "kernel twins (--kernel, serve --kernel)",
);
const kfix = uprobeFixtureUnlessSkipped(
  skipKernel,
  "twins",
  join(repoRoot, "test/fixtures/kernel/target.c"),
  { count: join(repoRoot, "test/fixtures/kernel/count.bpf.c") },
);

const noClang = skipReason(
  findToolchain() ? undefined : "no clang >= 14 installed",
  "load --opt twins",
);

describe.skipIf(noClang)("CLI --json and the API: load --opt", () => {
  test("load --opt and POST /v1/programs?opt=true store and answer alike", async () => {
    const obj = join(repoRoot, "examples", "build", "checksum.bpf.o");
    run(["make", "-s", "-C", join(repoRoot, "examples")]);
    const [a, b] = [newRegion(), newRegion()];
    const fromCli = JSON.parse(cliJson(["load", basename(obj), "--opt", "--shm", a], dirname(obj)));
    const fromApi = await apiFor(b).json(
      "POST",
      `/v1/programs?name=${basename(obj)}&opt=true`,
      await Bun.file(obj).bytes(),
    );
    expect(fromCli.programs[0].engine).toBe("llvm");
    expect(normalise(fromApi, [a, b])).toEqual(normalise(fromCli, [a, b]));
    const list = (shm: string) => JSON.parse(cliOk(["list", "--shm", shm, "--json"]));
    expect(normalise(list(b), [a, b])).toEqual(normalise(list(a), [a, b]));
  });
});

describe.skipIf(skipKernel)("CLI --kernel --json and serve --kernel", () => {
  test("reads print the API's body byte for byte; changes answer with the CLI's fields", async () => {
    // the in-process server reads the pin root from the environment, as the CLI does
    const before = process.env.BPFTIME_BPFFS;
    process.env.BPFTIME_BPFFS = root;
    try {
      const kcli = (args: string[]) => {
        const r = cli([...args, "--json"], { env });
        if (r.code !== 0) throw new Error(`bpftime ${args.join(" ")}: ${r.stderr}`);
        return r.stdout;
      };
      const api = apiFor(newRegion(), true);
      const keys = (v: unknown) => Object.keys(v as object).sort();
      const fieldsAlike = (what: string, fromCli: string, fromApi: unknown) =>
        expect({ what, fields: keys(fromApi) }).toEqual({
          what,
          fields: keys(JSON.parse(fromCli)),
        });

      // load: the CLI's object "count", the API's "count2" (the upload's file name)
      const obj = kfix.obj("count");
      const viaCli = kcli(["load", "--kernel", obj]);
      const viaApi = (await api.json(
        "POST",
        "/v1/programs?name=count2.bpf.o",
        await Bun.file(obj).bytes(),
      )) as { region: string; programs: Array<{ name: string; id: number }> };
      fieldsAlike("load", viaCli, viaApi);
      expect(viaApi.region).toBe("count2");
      const cliAttach = kcli([
        "attach",
        "--kernel",
        "count/count_work",
        "uprobe",
        "--arg",
        `${kfix.target}:work`,
      ]);
      const link = (await api.json("POST", "/v1/links", {
        program: "count2/count_work",
        type: "uprobe",
        arg: `${kfix.target}:work`,
        cookie: 9,
      })) as { linkId: number; cookie: string; progId: number };
      fieldsAlike("attach", cliAttach, link);
      expect(link.cookie).toBe("9");
      const shown = JSON.parse(
        run(["bpftool", "link", "show", "id", String(link.linkId), "-j"]).stdout,
      );
      expect(shown.prog_id).toBe(link.progId);
      const pid = Number(/done pid=(\d+)/.exec(run([kfix.target, "work", "5"]).stdout)![1]);
      await api.json("PUT", "/v1/maps/count2%2Fcalls/entries/1", { value: 41 });

      // reads: the same state through both faces
      const pairs: Array<[string[], string]> = [
        [["list", "--kernel"], "/v1/snapshot"],
        [["prog", "list", "--kernel"], "/v1/programs"],
        [["map", "list", "--kernel"], "/v1/maps"],
        [["map", "show", "--kernel", "count2/calls"], "/v1/maps/count2%2Fcalls"],
        [["map", "dump", "--kernel", "count2/calls"], "/v1/maps/count2%2Fcalls/entries?limit=1024"],
        [["map", "dump", "--kernel", "count2/hits"], "/v1/maps/count2%2Fhits/entries?limit=1"],
        [["map", "lookup", "--kernel", "count2/calls", "1"], "/v1/maps/count2%2Fcalls/entries/1"],
        [
          ["map", "lookup", "--kernel", "count2/calls", String(pid)],
          `/v1/maps/count2%2Fcalls/entries/${pid}`,
        ],
      ];
      for (const [args, path] of pairs) {
        const fromApi = await api.call("GET", path);
        expect({ args, status: fromApi.status }).toEqual({ args, status: 200 });
        expect({ args, json: kcli(args) }).toEqual({ args, json: `${fromApi.text}\n` });
      }
      expect(JSON.parse(kcli(["map", "lookup", "--kernel", "count2/calls", String(pid)]))).toEqual({
        key: pid,
        value: 5,
      });

      // replace, detach, unload: the API's answers have the CLI's fields
      const cliLink = JSON.parse(cliAttach).linkId as number;
      const cliReplaced = kcli(["replace", "--kernel", String(cliLink), "count/count_work"]);
      const replaced = (await api.json("PATCH", `/v1/links/${link.linkId}`, {
        program: "count/count_work",
      })) as { linkId: number; oldLinkId: number };
      fieldsAlike("replace", cliReplaced, replaced);
      expect(replaced.oldLinkId).toBe(link.linkId);
      expect(run(["bpftool", "link", "show", "id", String(link.linkId)]).code).not.toBe(0);
      const cliDetached = kcli(["detach", "--kernel", String(JSON.parse(cliReplaced).linkId)]);
      fieldsAlike("detach", cliDetached, await api.json("DELETE", `/v1/links/${replaced.linkId}`));
      const cliUnloaded = kcli(["unload", "--kernel", "count/work_ret"]);
      const unloaded = await api.json("DELETE", "/v1/programs/count2%2Fwork_ret");
      fieldsAlike("unload", cliUnloaded, unloaded);
      // both objects look alike again: the same programs left, no links
      const snap = JSON.parse(kcli(["list", "--kernel"])) as {
        programs: Array<{ name: string; region: string }>;
        links: unknown[];
      };
      expect(snap.links).toEqual([]);
      expect(snap.programs.map((p) => `${p.region}/${p.name}`).sort()).toEqual([
        "count/count_work",
        "count2/count_work",
      ]);
      // the routes only a region has are not served over the kernel
      expect((await api.call("GET", "/v1/instances")).status).toBe(404);
    } finally {
      if (before === undefined) delete process.env.BPFTIME_BPFFS;
      else process.env.BPFTIME_BPFFS = before;
      for (const o of ["count", "count2"]) cli(["shm", "remove", "--kernel", o], { env });
    }
  }, 120_000);
});
