// The product end to end: the CLI loads and attaches eBPF programs into a
// region, a real Debian nginx with the bpftime module filters requests with
// them, JIT-compiled in every worker. Loopback only.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  cli,
  cliOk,
  regionNames,
  repoRoot,
  startProcess,
  waitUntil,
  buildExamples,
} from "./helpers.ts";
import { nginxSkipReason, requestStatus, startNginx } from "./nginx-harness.ts";
import { Region } from "../src/native/runtime.ts";
import { runName } from "./run-id.ts";

const skip = nginxSkipReason();
if (skip) console.log(`skip: nginx end-to-end tests: ${skip}`);

const examples = buildExamples();
const urlFilter = join(examples, "url_filter.bpf.o");
const blocklist = join(examples, "url_blocklist.bpf.o");

const newRegion = regionNames("e2e");
const ok = (args: string[]) => cliOk(args);

/** Loads url_filter and attaches it with prefix /aaaa; returns the link id. */
function loadAndAttach(shm: string, prefix = "/aaaa"): { linkId: number; progId: number } {
  const loaded = JSON.parse(ok(["load", urlFilter, "--shm", shm, "--json"]));
  const progId = loaded.programs[0].id;
  const link = JSON.parse(
    ok(["attach", String(progId), "nginx", "--prefix", prefix, "--shm", shm, "--json"]),
  );
  return { linkId: link.linkId, progId };
}

const files = { "aaaa/index.html": "a\n", "bbbb/index.html": "b\n", "aaaa/deep/x.txt": "x\n" };

describe.skipIf(!!skip)("nginx URL filter end to end", () => {
  test("accepts URLs under the prefix and refuses the rest with 403", async () => {
    const shm = newRegion();
    loadAndAttach(shm);
    const ngx = await startNginx({ bpftime: "on", shm, files });
    expect(await requestStatus(ngx.url("/aaaa/"))).toBe(200);
    expect(await requestStatus(ngx.url("/aaaa/deep/x.txt"))).toBe(200);
    expect(await requestStatus(ngx.url("/aaaa/index.html?q=1"))).toBe(200);
    expect(await requestStatus(ngx.url("/bbbb/"))).toBe(403);
    expect(await requestStatus(ngx.url("/"))).toBe(403);
    expect(await requestStatus(ngx.url("/aaa"))).toBe(403);
  });

  test("two workers both filter, and both are listed as instances of the link", async () => {
    const shm = newRegion();
    const { linkId } = loadAndAttach(shm);
    const ngx = await startNginx({ bpftime: "on", shm, files, workers: 2 });
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => requestStatus(ngx.url(i % 2 ? "/aaaa/" : "/bbbb/"))),
    );
    expect(statuses.filter((s) => s === 200).length).toBe(20);
    expect(statuses.filter((s) => s === 403).length).toBe(20);
    const list = JSON.parse(ok(["list", "--shm", shm, "--json"]));
    const link = list.links.find((l: { id: number }) => l.id === linkId);
    expect([...link.pids].sort()).toEqual(ngx.workerPids().sort());
  });

  test("events arrive for every request and the verdict counts equal the requests sent", async () => {
    const shm = newRegion();
    loadAndAttach(shm);
    const ngx = await startNginx({ bpftime: "on", shm, files });
    // The harness's readiness probe was a request too: start from what it left.
    const dump = () =>
      JSON.parse(ok(["map", "dump", "verdict_counts", "--shm", shm, "--json"])).entries as Array<{
        key: number;
        value: number;
      }>;
    const before = dump();
    cli(["events", "events", "--shm", shm, "--timeout", "1"]);
    const urls = ["/aaaa/", "/bbbb/", "/aaaa/deep/x.txt", "/cccc", "/bbbb/"];
    for (const u of urls) await requestStatus(ngx.url(u));
    const after = dump();
    expect(after.map((e, i) => e.value - before[i]!.value)).toEqual([3, 2]);
    const ev = cli(["events", "events", "--shm", shm, "--count", "5", "--timeout", "5", "--json"]);
    expect(ev.code).toBe(0);
    const records = ev.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).data);
    expect(records.map((r: { url: string }) => r.url)).toEqual(urls);
    expect(records.map((r: { verdict: number }) => r.verdict)).toEqual([1, 0, 1, 0, 0]);
  });

  test("detach lets everything through; attach again filters again", async () => {
    const shm = newRegion();
    const { linkId, progId } = loadAndAttach(shm);
    const ngx = await startNginx({ bpftime: "on", shm, files });
    expect(await requestStatus(ngx.url("/bbbb/"))).toBe(403);
    ok(["detach", String(linkId), "--shm", shm]);
    expect(await requestStatus(ngx.url("/bbbb/"))).toBe(200);
    ok(["attach", String(progId), "nginx", "--prefix", "/bbbb", "--shm", shm]);
    expect(await requestStatus(ngx.url("/bbbb/"))).toBe(200);
    expect(await requestStatus(ngx.url("/aaaa/"))).toBe(403);
  });

  test("replacing the program under steady load fails no request; each answer matches the program in force", async () => {
    const shm = newRegion();
    const { linkId } = loadAndAttach(shm);
    const v2 = JSON.parse(ok(["load", blocklist, "--shm", shm, "--json"])).programs[0].id;
    const ngx = await startNginx({ bpftime: "on", shm, files, workers: 2 });
    // url_filter answers /aaaa/ 200 and /bbbb/ 403; url_blocklist answers 404 and 200.
    const expectA: Record<string, number> = { "/aaaa/": 200, "/bbbb/": 403 };
    const expectB: Record<string, number> = { "/aaaa/": 404, "/bbbb/": 200 };
    type Sample = { url: string; start: number; end: number; status: number };
    const samples: Sample[] = [];
    let stop = false;
    let failures = 0;
    const client = async (id: number) => {
      for (let i = 0; !stop; i++) {
        const url = (i + id) % 2 ? "/aaaa/" : "/bbbb/";
        const start = performance.now();
        try {
          const status = await requestStatus(ngx.url(url));
          samples.push({ url, start, end: performance.now(), status });
        } catch {
          failures++;
        }
      }
    };
    const clients = [client(0), client(1), client(2), client(3)];
    await waitUntil("20 answers before the replace", () => samples.length >= 20, 30_000);
    const replaceStart = performance.now();
    const r = Bun.spawn([
      process.execPath,
      join(repoRoot, "src/cli/main.ts"),
      "replace",
      String(linkId),
      String(v2),
      "--shm",
      shm,
    ]);
    expect(await r.exited).toBe(0);
    const replaceEnd = performance.now();
    await waitUntil(
      "20 requests started after the replace",
      () => samples.filter((s) => s.start > replaceEnd).length >= 20,
      30_000,
    );
    stop = true;
    await Promise.all(clients);
    expect(failures).toBe(0);
    const before = samples.filter((s) => s.end < replaceStart);
    const after = samples.filter((s) => s.start > replaceEnd);
    const during = samples.filter((s) => !before.includes(s) && !after.includes(s));
    expect(before.length).toBeGreaterThan(10);
    expect(after.length).toBeGreaterThan(10);
    for (const s of before) expect(s.status).toBe(expectA[s.url]!);
    for (const s of after) expect(s.status).toBe(expectB[s.url]!);
    for (const s of during) expect([expectA[s.url], expectB[s.url]]).toContain(s.status);
  });

  test("nginx keeps filtering after the controller process is killed", async () => {
    const shm = newRegion();
    loadAndAttach(shm);
    const ngx = await startNginx({ bpftime: "on", shm, files });
    // A long-running controller (following events), killed with SIGKILL.
    const controller = startProcess([
      process.execPath,
      join(repoRoot, "src/cli/main.ts"),
      "events",
      "events",
      "--shm",
      shm,
    ]);
    await requestStatus(ngx.url("/aaaa/"));
    await controller.waitFor("/aaaa/");
    process.kill(controller.pid, "SIGKILL");
    await controller.exited;
    expect(await requestStatus(ngx.url("/aaaa/"))).toBe(200);
    expect(await requestStatus(ngx.url("/bbbb/"))).toBe(403);
  });

  test("nginx -s reload keeps filtering (new workers instantiate the links)", async () => {
    const shm = newRegion();
    loadAndAttach(shm);
    const ngx = await startNginx({ bpftime: "on", shm, files, workers: 2 });
    expect(await requestStatus(ngx.url("/bbbb/"))).toBe(403);
    await ngx.reload();
    for (let i = 0; i < 6; i++) {
      expect(await requestStatus(ngx.url("/bbbb/"))).toBe(403);
      expect(await requestStatus(ngx.url("/aaaa/"))).toBe(200);
    }
  });
});

describe("attach errors are one clear line", () => {
  test("unknown program id", () => {
    const shm = newRegion();
    loadAndAttach(shm);
    const r = cli(["attach", "42", "nginx", "--prefix", "/x", "--shm", shm]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      `bpftime: no program with id 42 in region ${shm}; see \`bpftime list\`\n`,
    );
  });

  test("over-long target argument", () => {
    const shm = newRegion();
    const { progId } = loadAndAttach(shm);
    const r = cli([
      "attach",
      String(progId),
      "nginx",
      "--prefix",
      "/" + "a".repeat(300),
      "--shm",
      shm,
    ]);
    expect(r.code).toBe(4);
    expect(r.stderr).toBe("bpftime: the nginx target argument is 301 bytes; the limit is 255\n");
  });

  test("missing region", () => {
    const r = cli(["attach", "1", "nginx", "--prefix", "/x", "--shm", runName("absent")]);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`${runName("absent")} does not exist`);
  });

  test("a program of the wrong type", () => {
    const shm = newRegion();
    const loaded = JSON.parse(
      ok(["load", join(examples, "checksum.bpf.o"), "--shm", shm, "--json"]),
    );
    const r = cli([
      "attach",
      String(loaded.programs[0].id),
      "nginx",
      "--prefix",
      "/x",
      "--shm",
      shm,
    ]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("cannot attach to a nginx target");
  });

  test("unknown link for detach and replace", () => {
    const shm = newRegion();
    loadAndAttach(shm);
    expect(cli(["detach", "9", "--shm", shm]).stderr).toBe(
      `bpftime: no link with id 9 in region ${shm}; see \`bpftime list\`\n`,
    );
    expect(cli(["replace", "9", "1", "--shm", shm]).code).toBe(3);
  });
});

void Region;
