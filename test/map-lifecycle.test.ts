// Map lifetimes end to end: unload frees maps, a process running a program
// holds its maps, `map delete MAP`, pins, --pin-maps/--reuse-maps and
// LIBBPF_PIN_BY_NAME upgrades that keep state through `replace`, tail calls
// into unattached programs under the JIT, global data dumps, queues and stacks.
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cli, cliEntry, cliOk, compileBpf, freePort, regionNames, repoRoot } from "./helpers.ts";
import { startProcess, tempDir, buildExamples } from "./helpers.ts";
import { Region } from "../src/native/runtime.ts";
import { UserspaceEventProvider } from "../src/attach/event-provider.ts";
import { loadIntoRegion } from "../src/ops/load.ts";
import { deleteProgram } from "../src/ops/attach.ts";
import { TARGET_NGINX_URL_FILTER } from "../src/attach/targets.ts";

const examples = buildExamples();
const newRegion = regionNames("maplife");
/** Compiles a fixture into this test's temporary directory (removed after the test). */
const fixture = (n: string): string => {
  const out = join(tempDir("maplife-obj"), `${n}.bpf.o`);
  compileBpf(join(repoRoot, "test", "fixtures", "lifecycle", `${n}.bpf.c`), out);
  return out;
};
const URL_FILTER = join(examples, "url_filter.bpf.o");

const providers: UserspaceEventProvider[] = [];
const regions: Region[] = [];
afterEach(() => {
  for (const p of providers.splice(0)) p.close(); // before the regions they use
  for (const r of regions.splice(0)) r.close();
});

function openRegion(name: string): Region {
  const r = Region.open(name);
  regions.push(r);
  return r;
}

/** This process as a data plane (an nginx worker's attach manager, JIT by default). */
function dataPlane(r: Region) {
  const p = new UserspaceEventProvider(r);
  p.local.enableNginx();
  providers.push(p);
  const target = (arg: string) =>
    p.createTarget(TARGET_NGINX_URL_FILTER, new TextEncoder().encode(arg));
  return { p, target };
}

const u64 = (b: Uint8Array | null): bigint =>
  b ? new DataView(b.buffer, b.byteOffset).getBigUint64(0, true) : -1n;
const mapByName = (r: Region, name: string) => r.mapIds().find((id) => r.map(id).name === name)!;
const key = (k: number) => Uint8Array.of(k, 0, 0, 0);

describe("map lifetimes", () => {
  test("load/unload cycles leave the region's maps and used bytes flat", () => {
    // 64 MiB used to fill up after 232 cycles of this object: unload left its maps behind.
    const shm = newRegion();
    cliOk(["shm", "create", shm, "--size", "8M"]); // room for ~28 copies of its maps
    const r = openRegion(shm);
    const base = r.info().heapUsed;
    for (let i = 0; i < 60; i++) {
      const loaded = loadIntoRegion(URL_FILTER, shm);
      expect(r.mapIds()).toHaveLength(2);
      deleteProgram(r, String(loaded.programs[0]!.id));
      expect(r.mapIds()).toEqual([]);
      expect(r.info().heapUsed).toBe(base);
    }
  });

  test("a map used by a running process survives its program's unload until the process lets go", () => {
    const shm = newRegion();
    const filter = loadIntoRegion(URL_FILTER, shm).programs[0]!.id;
    const other = loadIntoRegion(fixture("counter_v1"), shm).programs[0]!.id;
    const r = openRegion(shm);
    const { p, target } = dataPlane(r);
    const link = p.attach(filter, target("/aaaa"));
    p.instantiate();
    expect(p.local.nginxFilter("/bbbb")).toBe(403);
    const counts = mapByName(r, "verdict_counts");
    // The link moves on, the old program is unloaded, but this process has not
    // refreshed yet: it still runs url_filter against verdict_counts.
    r.replaceLinkProgram(link, other, filter);
    cliOk(["unload", String(filter), "--shm", shm]);
    expect(u64(r.mapLookup(counts, key(0), 8))).toBe(1n);
    const busy = cli(["map", "delete", String(counts), "--shm", shm]);
    expect(busy.code).toBe(8);
    expect(busy.stderr.trim().split("\n")).toHaveLength(1);
    expect(busy.stderr).toContain(`held by process ${process.pid}`);
    // The next request refreshes: url_filter's code goes, and its maps with it.
    expect(p.local.nginxFilter("/bbbb")).toBe(0);
    expect(r.mapIds()).not.toContain(counts);
    expect(r.mapIds().map((id) => r.map(id).name)).toEqual(["hits"]);
  });

  test("map delete MAP removes a map nothing holds and names the holders of one in use", () => {
    const shm = newRegion();
    cliOk(["load", URL_FILTER, "--shm", shm]);
    const r = openRegion(shm);
    const loose = r.createMap({
      name: "loose",
      type: 1, // hash
      keySize: 4,
      valueSize: 8,
      maxEntries: 8,
      flags: 0,
    });
    const held = cli(["map", "delete", "verdict_counts", "--shm", shm]);
    expect(held.code).toBe(8);
    expect(held.stderr.trim().split("\n")).toHaveLength(1);
    expect(held.stderr).toContain("is held by program 1");
    // with KEY it still deletes one entry
    cliOk(["map", "update", "loose", "1", "2", "--shm", shm]);
    cliOk(["map", "update", "loose", "3", "4", "--shm", shm]);
    expect(cliOk(["map", "delete", "loose", "1", "--shm", shm])).toBe("deleted\n");
    expect(cliOk(["map", "dump", "loose", "--shm", shm, "--json"])).toBe(
      '{"entries":[{"key":"03000000","value":"0400000000000000"}],"offset":0,"limit":8,"nextOffset":null}\n',
    );
    expect(cliOk(["map", "delete", "loose", "--shm", shm])).toBe(`removed map ${loose}\n`);
    expect(r.mapIds()).not.toContain(loose);
  });
});

describe("pins", () => {
  test("pin, list, unpin: a pinned map outlives its program and goes with its last pin", () => {
    const shm = newRegion();
    cliOk(["load", URL_FILTER, "--shm", shm]);
    expect(cliOk(["pin", "map", "verdict_counts", "counters/verdicts", "--shm", shm])).toBe(
      "pinned map 1 (verdict_counts) as counters/verdicts\n",
    );
    cliOk(["pin", "prog", "url_filter", "filters/url", "--shm", shm]);
    const pins = JSON.parse(cliOk(["pin", "list", "--shm", shm, "--json"]));
    expect(pins).toEqual([
      { name: "counters/verdicts", kind: "map", id: 1, objectName: "verdict_counts" },
      { name: "filters/url", kind: "prog", id: 1, objectName: "url_filter" },
    ]);
    const dup = cli(["pin", "map", "events", "counters/verdicts", "--shm", shm]);
    expect(dup.code).toBe(8);
    expect(dup.stderr).toContain('pin "counters/verdicts" already names map 1');
    const pinnedProg = cli(["unload", "url_filter", "--shm", shm]);
    expect(pinnedProg.code).toBe(8);
    expect(pinnedProg.stderr).toContain('pinned as "filters/url"');
    cliOk(["unpin", "filters/url", "--shm", shm]);
    cliOk(["map", "update", "counters/verdicts", "1", "7", "--shm", shm]); // a pin names a map
    cliOk(["unload", "url_filter", "--shm", shm]);
    const maps = JSON.parse(cliOk(["map", "list", "--shm", shm, "--json"]));
    expect(maps.map((m: { name: string }) => m.name)).toEqual(["verdict_counts"]);
    expect(cliOk(["map", "lookup", "verdict_counts", "1", "--shm", shm])).toBe("7\n");
    cliOk(["unpin", "counters/verdicts", "--shm", shm]);
    expect(JSON.parse(cliOk(["map", "list", "--shm", shm, "--json"]))).toEqual([]);
    const gone = cli(["unpin", "counters/verdicts", "--shm", shm]);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toContain('no pin named "counters/verdicts"');
  });

  test("LIBBPF_PIN_BY_NAME: the first load pins the map, later loads take it over", () => {
    const shm = newRegion();
    const obj = fixture("pinned");
    const first = JSON.parse(cliOk(["load", obj, "--shm", shm, "--json"]));
    const limits = first.maps.find((m: { name: string }) => m.name === "limits");
    expect(limits).toMatchObject({ reused: false, pin: "limits" });
    cliOk(["map", "update", "limits", "1", "5", "--shm", shm]);
    const second = JSON.parse(cliOk(["load", obj, "--shm", shm, "--json"]));
    expect(second.maps.find((m: { name: string }) => m.name === "limits")).toMatchObject({
      id: limits.id,
      reused: true,
    });
    // scratch has no pinning: each version has its own
    const scratch = second.maps.find((m: { name: string }) => m.name === "scratch");
    expect(scratch.reused).toBe(false);
    expect(cliOk(["map", "lookup", "limits", "1", "--shm", shm])).toBe("5\n");
  });
});

describe("state-preserving replace", () => {
  test("v1 --pin-maps, v2 --reuse-maps, replace: the counter goes on and by-name commands work", () => {
    const shm = newRegion();
    cliOk(["load", fixture("counter_v1"), "--shm", shm, "--pin-maps"]);
    const r = openRegion(shm);
    const { p, target } = dataPlane(r);
    const v1 = r.programIds()[0]!;
    const link = p.attach(v1, target("/"));
    p.instantiate();
    for (let i = 0; i < 3; i++) expect(p.local.nginxFilter(`/v1/${i}`)).toBe(0);
    expect(cliOk(["map", "lookup", "hits", "0", "--shm", shm])).toBe("3\n");

    const v2load = JSON.parse(
      cliOk(["load", fixture("counter_v2"), "--shm", shm, "--reuse-maps", "--json"]),
    );
    expect(v2load.maps).toEqual([
      { id: mapByName(r, "hits"), name: "hits", type: "array", reused: true, pin: "hits" },
    ]);
    cliOk(["replace", String(link), "counter_v2", "--shm", shm]);
    for (let i = 0; i < 2; i++) expect(p.local.nginxFilter(`/v2/${i}`)).toBe(404);
    // one map named hits: no "2 maps are named hits"
    expect(cliOk(["map", "lookup", "hits", "0", "--shm", shm])).toBe("5\n");
    cliOk(["unload", "counter_v1", "--shm", shm]);
    expect(cliOk(["map", "dump", "hits", "--shm", shm, "--json"])).toBe(
      '{"entries":[{"key":0,"value":5}],"offset":0,"limit":1,"nextOffset":null}\n',
    );
  });

  test("a reused map that does not match is refused, naming the field", () => {
    const shm = newRegion();
    cliOk(["load", fixture("counter_v1"), "--shm", shm, "--pin-maps"]);
    const bad = cli(["load", fixture("counter_wide"), "--shm", shm, "--reuse-maps"]);
    expect(bad.code).toBe(4);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toContain(
      "cannot reuse map hits (id 1, pinned as hits): its max_entries is 1, the object's is 2",
    );
    // nothing of the refused load stays
    const listed = JSON.parse(cliOk(["list", "--shm", shm, "--json"]));
    expect(listed.programs.map((x: { name: string }) => x.name)).toEqual(["counter_v1"]);
    expect(listed.maps.map((x: { name: string }) => x.name)).toEqual(["hits"]);
  });
});

describe("tail calls", () => {
  test("under the JIT a linked program tail-calls an unattached one, and follows prog_array changes", () => {
    const shm = newRegion();
    const loaded = loadIntoRegion(fixture("tailcall"), shm);
    const id = (n: string) => loaded.programs.find((x) => x.name === n)!.id;
    const r = openRegion(shm);
    const jmp = mapByName(r, "jmp");
    const calls = mapByName(r, "calls");
    r.mapUpdate(jmp, key(0), key(id("callee_a")));
    const { p, target } = dataPlane(r);
    p.attach(id("entry"), target("/"));
    p.instantiate();
    expect(process.env.BPFTIME_VM ?? "jit").not.toBe("interp");
    expect(p.local.nginxFilter("/x")).toBe(404);
    expect(u64(r.mapLookup(calls, key(0), 8))).toBe(1n);
    // a new target in the prog_array is compiled before it is called
    r.mapUpdate(jmp, key(0), key(id("callee_b")));
    expect(p.local.nginxFilter("/x")).toBe(405);
    expect(u64(r.mapLookup(calls, key(1), 8))).toBe(1n);
    r.mapDeleteElem(jmp, key(0));
    expect(p.local.nginxFilter("/x")).toBe(0);
  });
});

describe("global data, queues and stacks", () => {
  test("map dump .bss and .data print the variables through BTF", () => {
    const shm = newRegion();
    cliOk(["load", fixture("globals"), "--shm", shm]);
    expect(JSON.parse(cliOk(["map", "dump", ".bss", "--shm", shm, "--json"])).entries).toEqual([
      { key: "00000000", value: { requests: 0, last_len: 0 } },
    ]);
    expect(JSON.parse(cliOk(["map", "dump", ".data", "--shm", shm, "--json"])).entries).toEqual([
      { key: "00000000", value: { limit: 1000, tag: "globals" } },
    ]);
    cliOk(["map", "update", ".bss", "hex:00000000", '{"requests":9,"last_len":4}', "--shm", shm]);
    expect(cliOk(["map", "lookup", ".bss", "hex:00000000", "--shm", shm])).toBe(
      '{"requests":9,"last_len":4}\n',
    );
  });

  test("queues and stacks pop and peek from the CLI; empty is one clear line", () => {
    const shm = newRegion();
    cliOk(["load", fixture("queue"), "--shm", shm]);
    for (const v of ["5", "6"]) {
      cliOk(["map", "update", "jobs", v, "--shm", shm]);
      cliOk(["map", "update", "undo", v, "--shm", shm]);
    }
    expect(cliOk(["map", "peek", "jobs", "--shm", shm])).toBe("5\n");
    expect(cliOk(["map", "pop", "jobs", "--shm", shm])).toBe("5\n");
    expect(JSON.parse(cliOk(["map", "pop", "jobs", "--shm", shm, "--json"]))).toEqual({ value: 6 });
    expect(cliOk(["map", "peek", "undo", "--shm", shm])).toBe("6\n");
    expect(cliOk(["map", "pop", "undo", "--shm", shm])).toBe("6\n");
    expect(cliOk(["map", "pop", "undo", "--shm", shm])).toBe("5\n");
    const empty = cli(["map", "pop", "jobs", "--shm", shm]);
    expect(empty.code).toBe(3);
    expect(empty.stderr).toBe("bpftime: map jobs is empty: nothing to pop\n");
    const emptyPeek = cli(["map", "peek", "undo", "--shm", shm]);
    expect(emptyPeek.code).toBe(3);
    expect(emptyPeek.stderr).toBe("bpftime: map undo is empty: nothing to peek\n");
  });
});

describe("bpf_map_delete_elem on arrays", () => {
  test("verifies, and fails at run time with -EINVAL (JIT and interpreter), as in the kernel", () => {
    // the program returns XDP_PASS (2) only if both deletes returned -EINVAL
    const obj = join(tempDir("maplife-obj"), "array_delete.bpf.o");
    compileBpf(join(repoRoot, "src/verifier/testdata/pos/array_delete.bpf.c"), obj);
    for (const engine of ["jit", "interp"]) {
      const out = JSON.parse(cliOk(["run", obj, "--engine", engine, "--json"]));
      expect(out.returnValue).toBe("0x2");
    }
  });
});

describe("over HTTP", () => {
  test("DELETE /v1/maps/:id, pins, pop/peek and load with reuseMaps answer as the CLI", async () => {
    const shm = newRegion();
    cliOk(["load", fixture("queue"), "--shm", shm, "--pin-maps"]);
    const tokenFile = join(tempDir("maplife-serve"), "token");
    const port = await freePort();
    const srv = startProcess([
      process.execPath,
      cliEntry,
      "serve",
      "--listen",
      `127.0.0.1:${port}`,
      "--shm",
      shm,
      "--token-file",
      tokenFile,
    ]);
    await srv.waitFor(/bearer token|token file/);
    const url = `http://127.0.0.1:${port}`;
    const token = readFileSync(tokenFile, "utf8").trim();
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    cliOk(["map", "update", "jobs", "7", "--shm", shm]);
    expect(await call("GET", "/v1/maps/jobs/peek")).toEqual({ status: 200, body: { value: 7 } });
    expect(await call("POST", "/v1/maps/jobs/pop")).toEqual({ status: 200, body: { value: 7 } });
    const empty = await call("POST", "/v1/maps/jobs/pop");
    expect(empty).toEqual({
      status: 404,
      body: { error: "not_found", message: "map jobs is empty: nothing to pop" },
    });
    expect((await call("GET", "/v1/pins")).body.map((p: { name: string }) => p.name)).toEqual([
      "jobs",
      "undo",
    ]);
    // pinned and used by program 1: refused with the holders
    const held = await call("DELETE", "/v1/maps/jobs");
    expect(held.status).toBe(409);
    expect(held.body.message).toContain('held by program 1, pin "jobs"');
    expect(
      await call("POST", "/v1/pins", { kind: "prog", ref: "enqueue", name: "app/enqueue" }),
    ).toEqual({
      status: 201,
      body: { name: "app/enqueue", kind: "prog", id: 1, objectName: "enqueue" },
    });
    expect(await call("DELETE", "/v1/pins/app/enqueue")).toEqual({
      status: 200,
      body: { unpinned: "app/enqueue" },
    });
    // a second version over HTTP takes the pinned maps over
    const upload = await fetch(`${url}/v1/programs?reuseMaps=true&name=queue.bpf.o`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body: readFileSync(fixture("queue")),
    });
    expect(upload.status).toBe(201);
    const loaded = (await upload.json()) as any;
    expect(loaded.maps.map((m: { reused: boolean }) => m.reused)).toEqual([true, true]);
    expect((await call("DELETE", "/v1/programs/1")).status).toBe(200);
    expect((await call("DELETE", "/v1/programs/2")).status).toBe(200);
    expect((await call("DELETE", "/v1/pins/jobs")).status).toBe(200); // last holder: jobs goes
    expect((await call("GET", "/v1/maps")).body.map((m: { name: string }) => m.name)).toEqual([
      "undo",
    ]);
    expect(await call("DELETE", "/v1/pins/undo")).toEqual({
      status: 200,
      body: { unpinned: "undo" },
    });
    const loose = openRegion(shm).createMap({
      name: "loose",
      type: 1,
      keySize: 4,
      valueSize: 4,
      maxEntries: 2,
      flags: 0,
    });
    expect(await call("DELETE", `/v1/maps/${loose}`)).toEqual({
      status: 200,
      body: { deleted: loose },
    });
    expect((await call("GET", "/v1/maps")).body).toEqual([]);
    await srv.stop();
  }, 60_000);
});
