// The nginx module against the real Debian nginx on loopback: loading,
// directives and their inheritance, the fail policy when the region is
// missing, reload and several workers. Filtering by real eBPF programs is
// covered end to end where the CLI loads and attaches them.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { cli, repoRoot, skipReason, waitUntil, buildExamples } from "./helpers.ts";
import { runName } from "./run-id.ts";
import {
  nginxSkipReason,
  requestStatus,
  startNginx,
  testNginxConfig,
  type Nginx,
} from "./nginx-harness.ts";

const skip = skipReason(nginxSkipReason(), "nginx module tests");

/** A region name that does not exist. */
function missingRegion(): string {
  for (;;) {
    const name = runName(Math.random().toString(36).slice(2, 8));
    if (!existsSync(`/dev/shm/bpftime-${name}`)) return name;
  }
}

function missingLines(ngx: Nginx, name: string): string[] {
  return ngx
    .errorLog()
    .split("\n")
    .filter((l) => l.includes(`bpftime: region /dev/shm/bpftime-${name} missing:`));
}

const T = 20_000;

function createRegion(name: string): void {
  const r = cli(["shm", "create", "--shm", name]);
  if (r.code !== 0) throw new Error(`bpftime shm create --shm ${name}: ${r.stderr}`);
  regions.add(name);
}
const regions = new Set<string>();
afterEach(() => {
  for (const name of regions) cli(["shm", "remove", "--shm", name]);
  regions.clear();
});

describe.skipIf(skip)("nginx module", () => {
  test(
    "loads into the installed nginx and passes requests by default (bpftime off)",
    async () => {
      const ngx = await startNginx();
      expect(await requestStatus(ngx.url("/"))).toBe(200);
      expect(await (await fetch(ngx.url("/"), { headers: { connection: "close" } })).text()).toBe(
        "ok\n",
      );
      // off everywhere: the module does not even look for a region
      expect(ngx.errorLog()).not.toContain("bpftime:");
    },
    T,
  );

  test(
    "bpftime off passes everything, even with fail closed and no region",
    async () => {
      const shm = missingRegion();
      const ngx = await startNginx({ bpftime: "off", fail: "closed", shm, files: { "a/b": "b" } });
      for (const path of ["/", "/a/b", "/a/b?x=1", "/nope"])
        expect(await requestStatus(ngx.url(path))).toBe(path === "/nope" ? 404 : 200);
      expect(missingLines(ngx, shm)).toHaveLength(0);
    },
    T,
  );

  test(
    "region missing + bpftime_fail open: requests pass and one clear line is logged",
    async () => {
      const shm = missingRegion();
      const ngx = await startNginx({ bpftime: "on", fail: "open", shm, files: { "a/b": "b" } });
      for (const path of ["/", "/a/b", "/a/b?q", "/"])
        expect(await requestStatus(ngx.url(path))).toBe(200);
      // Requests over more than the 1 s retry interval: the retries are silent.
      const end = Date.now() + 1100;
      while (Date.now() < end) expect(await requestStatus(ngx.url("/"))).toBe(200);
      const lines = missingLines(ngx, shm);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain("[error]");
      expect(lines[0]).toContain("failing open");
    },
    T,
  );

  test(
    "region missing + bpftime_fail closed: 503",
    async () => {
      const shm = missingRegion();
      const ngx = await startNginx({ bpftime: "on", fail: "closed", shm });
      expect(await requestStatus(ngx.url("/"))).toBe(503);
      expect(await requestStatus(ngx.url("/anything?x=y"))).toBe(503);
      const lines = missingLines(ngx, shm);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain("failing closed");
    },
    T,
  );

  test(
    "directives inherit: location overrides of bpftime and bpftime_fail",
    async () => {
      const shm = missingRegion();
      const ngx = await startNginx({
        bpftime: "on",
        shm,
        files: { "open/x": "x", "closed/x": "x", "off/x": "x" },
        server: [
          "    location /closed/ { bpftime_fail closed; }",
          "    location /off/ { bpftime off; bpftime_fail closed; }",
          "    location /open/ { }",
        ].join("\n"),
      });
      expect(await requestStatus(ngx.url("/open/x"))).toBe(200);
      expect(await requestStatus(ngx.url("/closed/x"))).toBe(503);
      expect(await requestStatus(ngx.url("/off/x"))).toBe(200);
      expect(missingLines(ngx, shm)[0]).toContain("bpftime_fail");
    },
    T,
  );

  test(
    "reload keeps serving; the new workers look for the region again",
    async () => {
      const shm = missingRegion();
      const ngx = await startNginx({ bpftime: "on", fail: "open", shm });
      const before = ngx.workerPids();
      expect(await requestStatus(ngx.url("/"))).toBe(200);
      await ngx.reload();
      const after = ngx.workerPids();
      expect(after).toHaveLength(1);
      expect(after[0]).not.toBe(before[0]);
      for (let i = 0; i < 5; i++) expect(await requestStatus(ngx.url("/"))).toBe(200);
      await ngx.reload();
      expect(await requestStatus(ngx.url("/"))).toBe(200);
      // one line per generation of workers
      expect(missingLines(ngx, shm)).toHaveLength(3);
    },
    T,
  );

  test(
    "two workers: all serve, one line for the missing region",
    async () => {
      const shm = missingRegion();
      const ngx = await startNginx({ workers: 2, bpftime: "on", fail: "closed", shm });
      expect(ngx.workerPids()).toHaveLength(2);
      const statuses = await Promise.all(
        Array.from({ length: 40 }, () => requestStatus(ngx.url("/"))),
      );
      expect(new Set(statuses)).toEqual(new Set([503]));
      expect(missingLines(ngx, shm)).toHaveLength(1);
      await ngx.reload();
      expect(ngx.workerPids()).toHaveLength(2);
      expect(await requestStatus(ngx.url("/"))).toBe(503);
    },
    T,
  );

  test(
    "the cache manager process stays out of the region",
    async () => {
      const shm = missingRegion();
      const ngx = await startNginx({
        bpftime: "on",
        shm,
        http: "  proxy_cache_path cache keys_zone=bpftime_test:1m;",
      });
      await waitUntil("the cache manager to start", () =>
        ngx.errorLog().includes("start cache manager process"),
      );
      expect(await requestStatus(ngx.url("/"))).toBe(200);
      expect(missingLines(ngx, shm)).toHaveLength(1);
    },
    T,
  );

  test("configuration errors are reported by nginx -t", () => {
    const bad = testNginxConfig({ bpftime: "on", fail: "maybe" as "open" });
    expect(bad.code).not.toBe(0);
    expect(bad.output).toContain('invalid value "maybe"');
    const slash = testNginxConfig({ bpftime: "on", shm: "a/b" });
    expect(slash.code).not.toBe(0);
    expect(slash.output).toContain('"bpftime_shm" directive must not contain "/"');
    const good = testNginxConfig({ bpftime: "on", shm: "x", fail: "closed" });
    expect(good.output).toContain("test is successful");
    expect(good.code).toBe(0);
  });
});

describe.skipIf(skip)("nginx module with a region", () => {
  test(
    "an existing region with no programs: requests pass, even with fail closed",
    async () => {
      const shm = missingRegion();
      createRegion(shm);
      const ngx = await startNginx({ workers: 2, bpftime: "on", fail: "closed", shm });
      for (let i = 0; i < 10; i++) expect(await requestStatus(ngx.url(`/?i=${i}`))).toBe(200);
      expect(missingLines(ngx, shm)).toHaveLength(0);
      expect(ngx.errorLog()).toContain(`bpftime: region /dev/shm/bpftime-${shm} opened`);
    },
    T,
  );

  test(
    "a region removed keeps working; one created again replaces it",
    async () => {
      const shm = missingRegion();
      createRegion(shm);
      const ngx = await startNginx({ bpftime: "on", fail: "closed", shm });
      expect(await requestStatus(ngx.url("/"))).toBe(200);
      expect(cli(["shm", "remove", "--shm", shm]).code).toBe(0);
      // Requests over more than one check interval (1 s): still mapped.
      const end = Date.now() + 1100;
      while (Date.now() < end) expect(await requestStatus(ngx.url("/"))).toBe(200);
      createRegion(shm);
      const replaced = `bpftime: region /dev/shm/bpftime-${shm} was replaced; reopening`;
      // The worker checks the region (at most once a second) when a request comes.
      await waitUntil("the worker to reopen the region", async () => {
        expect(await requestStatus(ngx.url("/"))).toBe(200);
        return ngx.errorLog().includes(replaced);
      });
      const log = ngx.errorLog();
      expect(log.split(`bpftime: region /dev/shm/bpftime-${shm} opened`)).toHaveLength(3);
    },
    T,
  );

  test(
    "a region created after nginx started is picked up",
    async () => {
      const shm = missingRegion();
      const ngx = await startNginx({ bpftime: "on", fail: "closed", shm });
      expect(await requestStatus(ngx.url("/"))).toBe(503);
      createRegion(shm);
      await waitUntil(
        "requests to pass once the region exists",
        async () => (await requestStatus(ngx.url("/"))) === 200,
      );
      expect(ngx.errorLog()).toMatch(
        new RegExp(`\\[notice\\].*bpftime: region /dev/shm/bpftime-${shm} opened`),
      );
      expect(missingLines(ngx, shm)).toHaveLength(1);
    },
    T,
  );
});

const exampleObj = join(repoRoot, "examples", "build", "url_filter.bpf.o");
buildExamples();

describe.skipIf(skip)("nginx module with a program", () => {
  test(
    "url_filter attached while nginx runs: 200 under /aaaa, 403 elsewhere, in every worker",
    async () => {
      const shm = missingRegion();
      createRegion(shm);
      const ngx = await startNginx({
        workers: 2,
        bpftime: "on",
        fail: "closed",
        shm,
        files: { "aaaa/x": "x", other: "o", "denied.html": "denied\n" },
        server: "    error_page 403 /denied.html;",
      });
      expect(await requestStatus(ngx.url("/other"))).toBe(200); // nothing attached yet

      const load = cli(["load", exampleObj, "--shm", shm, "--json"]);
      expect(load.stderr).toBe("");
      expect(load.code).toBe(0);
      const prog = (
        JSON.parse(load.stdout) as { programs: Array<{ id: number; name: string }> }
      ).programs.find((p) => p.name === "url_filter");
      expect(prog).toBeDefined();
      const attach = cli(["attach", String(prog!.id), "nginx", "--prefix", "/aaaa", "--shm", shm]);
      expect(attach.stderr).toBe("");
      expect(attach.code).toBe(0);

      // No reload: the workers follow the region's generation counter.
      const paths = ["/aaaa/x", "/aaaa/x?q=1", "/other", "/", "/aaa"];
      for (let round = 0; round < 4; round++)
        for (const path of paths)
          expect(await requestStatus(ngx.url(path))).toBe(path.startsWith("/aaaa") ? 200 : 403);

      // error_page: the internal redirect to /denied.html is not filtered again
      const denied = await fetch(ngx.url("/other"), { headers: { connection: "close" } });
      expect(denied.status).toBe(403);
      expect(await denied.text()).toBe("denied\n");

      await ngx.reload(); // new workers instantiate the link at start
      expect(await requestStatus(ngx.url("/aaaa/x"))).toBe(200);
      expect(await requestStatus(ngx.url("/other"))).toBe(403);
      expect(ngx.errorLog()).not.toContain("[crit]");
      expect(ngx.errorLog()).not.toContain("URL filter failed");
    },
    120_000, // `bpftime load` verifies the program: seconds on a busy machine
  );
});
