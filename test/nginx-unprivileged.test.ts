// nginx as in production: the master starts as root, the workers run as an
// unprivileged user (`user nobody nogroup;`). A region they cannot open must
// never fail silently: every state change (missing, permission denied,
// opened) is one error-log line with the real reason, `bpftime_fail closed`
// refuses requests meanwhile, and a region created for the workers' group
// (`bpftime shm create --group nogroup --mode 0660`) filters. Skipped, with
// the reason, where nginx is missing or users cannot be switched (not root,
// no nobody/nogroup).
import { describe, expect, test } from "bun:test";
import { chmodSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { cli, cliOk, regionNames, repoRoot, run, skipReason, buildExamples } from "./helpers.ts";
import { nginxSkipReason, requestStatus, startNginx, type Nginx } from "./nginx-harness.ts";

function whyNot(): string | undefined {
  const n = nginxSkipReason();
  if (n) return n;
  if (process.getuid?.() !== 0) return "not root: nginx cannot switch its workers to nobody";
  for (const [db, name] of [
    ["passwd", "nobody"],
    ["group", "nogroup"],
  ] as const)
    if (run(["getent", db, name]).code !== 0) return `no ${db} entry ${name}`;
  return undefined;
}
const skip = skipReason(whyNot(), "nginx unprivileged-worker tests");
const idOf = (db: "passwd" | "group", name: string) =>
  Number(run(["getent", db, name]).stdout.split(":")[2]);

const urlFilter = join(repoRoot, "examples", "build", "url_filter.bpf.o");
if (!skip) buildExamples();
const newRegion = regionNames("unpriv");
const T = 30_000;
const files = { "aaaa/index.html": "a\n", "bbbb/index.html": "b\n" };

/** The harness's temp directory is 0700 root: let the nobody workers read the document root. */
function openUp(ngx: Nginx): void {
  const walk = (p: string) => {
    chmodSync(p, statSync(p).isDirectory() ? 0o755 : 0o644);
    if (statSync(p).isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  chmodSync(ngx.dir, 0o755);
  walk(join(ngx.dir, "www"));
}

async function startUnprivileged(shm: string, fail: "open" | "closed"): Promise<Nginx> {
  const ngx = await startNginx({ bpftime: "on", shm, fail, files, user: "nobody nogroup" });
  openUp(ngx);
  // The workers really are unprivileged.
  for (const pid of ngx.workerPids())
    expect(run(["ps", "-o", "user=", "-p", String(pid)]).stdout.trim()).toBe("nobody");
  return ngx;
}

function load(shm: string): void {
  const prog = JSON.parse(cliOk(["load", urlFilter, "--shm", shm, "--json"])).programs[0].id;
  cliOk(["attach", String(prog), "nginx", "--prefix", "/aaaa", "--shm", shm]);
}

/** Polls until the error log matches (the workers log on a request's retry). */
async function logShows(ngx: Nginx, re: RegExp, poke: () => Promise<unknown>): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const line = ngx
      .errorLog()
      .split("\n")
      .find((l) => re.test(l));
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no log line ${re}; log:\n${ngx.errorLog()}`);
    await poke();
    await Bun.sleep(100);
  }
}

describe.skipIf(skip)("nginx with workers as nobody", () => {
  test(
    "a root-only region present at start is opened by the master for its workers: it filters",
    async () => {
      const shm = newRegion();
      cliOk(["shm", "create", "--shm", shm]); // 0600 root: the workers could not open it
      load(shm);
      const ngx = await startUnprivileged(shm, "closed");
      expect(await requestStatus(ngx.url("/aaaa/"))).toBe(200);
      expect(await requestStatus(ngx.url("/bbbb/"))).toBe(403);
      expect(ngx.errorLog()).toContain(
        `bpftime: region /dev/shm/bpftime-${shm} opened (by the master)`,
      );
      const list = JSON.parse(cliOk(["list", "--shm", shm, "--json"]));
      expect(list.links[0].pids).toEqual(ngx.workerPids());
    },
    T,
  );

  test(
    "replaced by a root-only region: said once, the old programs serve; a reload picks the new one",
    async () => {
      const shm = newRegion();
      cliOk(["shm", "create", "--shm", shm]);
      load(shm);
      const ngx = await startUnprivileged(shm, "closed");
      const get = (p: string) => requestStatus(ngx.url(p));
      expect(await get("/bbbb/")).toBe(403);
      // Recreated root-only with a program that lets everything through.
      cliOk(["shm", "remove", "--shm", shm]);
      cliOk(["shm", "create", "--shm", shm]);
      const re = new RegExp(
        `bpftime: replacement of the region /dev/shm/bpftime-${shm}: permission denied`,
      );
      const line = await logShows(ngx, re, () => get("/bbbb/"));
      expect(line).toContain(`uid ${idOf("passwd", "nobody")} gid ${idOf("group", "nogroup")}`);
      expect(line).toContain("mode 0600");
      expect(line).toContain("(13: Permission denied)");
      expect(line).toContain("keeping the programs of the old region");
      expect(await get("/bbbb/")).toBe(403); // the old region's filter, not fail-open
      await Bun.sleep(1100); // past a retry: the same failure is not logged again
      expect(await get("/bbbb/")).toBe(403);
      expect(
        ngx
          .errorLog()
          .split("\n")
          .filter((l) => re.test(l)),
      ).toHaveLength(1);
      await ngx.reload(); // the master opens the new region for the new workers
      expect(await get("/bbbb/")).toBe(200); // empty region: nothing refuses
      expect(ngx.errorLog()).toContain(`region /dev/shm/bpftime-${shm} opened (by the master)`);
    },
    T,
  );

  test(
    "missing at start, then created root-only, then for the workers' group: each change logged; then it filters",
    async () => {
      const shm = newRegion();
      const ngx = await startUnprivileged(shm, "closed");
      const get = () => requestStatus(ngx.url("/aaaa/"));
      await logShows(
        ngx,
        new RegExp(`region /dev/shm/bpftime-${shm} missing: .*No such file`),
        get,
      );
      expect(await get()).toBe(503);
      cliOk(["shm", "create", "--shm", shm]);
      await logShows(ngx, new RegExp(`region /dev/shm/bpftime-${shm}: permission denied`), get);
      expect(await get()).toBe(503);
      cliOk(["shm", "remove", "--shm", shm]);
      cliOk(["shm", "create", "--shm", shm, "--group", "nogroup", "--mode", "0660"]);
      load(shm);
      await logShows(ngx, new RegExp(`region /dev/shm/bpftime-${shm} opened`), get);
      expect(await requestStatus(ngx.url("/aaaa/"))).toBe(200);
      expect(await requestStatus(ngx.url("/bbbb/"))).toBe(403);
      const list = JSON.parse(cliOk(["list", "--shm", shm, "--json"]));
      expect(list.links[0].pids).toEqual(ngx.workerPids());
    },
    T,
  );

  test(
    "shm create --group/--mode gives the region to the group; bad values create nothing",
    () => {
      const shm = newRegion();
      cliOk([
        "shm",
        "create",
        "--shm",
        shm,
        "--owner",
        "nobody",
        "--group",
        "nogroup",
        "--mode",
        "660",
      ]);
      const st = statSync(`/dev/shm/bpftime-${shm}`);
      expect([st.uid, st.gid, st.mode & 0o777]).toEqual([
        idOf("passwd", "nobody"),
        idOf("group", "nogroup"),
        0o660,
      ]);
      cliOk(["shm", "remove", "--shm", shm]);
      for (const [args, code] of [
        [["--group", "no-such-group-xyz"], 3],
        [["--mode", "0777"], 4],
        [["--mode", "rw"], 2],
      ] as const) {
        const r = cli(["shm", "create", "--shm", shm, ...args]);
        expect(r.code).toBe(code);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        expect(() => statSync(`/dev/shm/bpftime-${shm}`)).toThrow();
      }
    },
    T,
  );
});
