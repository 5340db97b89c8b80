// The nginx URL filter's verdict table at every edge, as documented in
// native/include/bpftime/nginx_url_filter.h and the README: 0 → 403,
// 400..599 → that status, anything else (1, 399, 600, -1, 2^32+404, …) lets
// the request continue. Checked in-process (the attach manager's C code
// through bun:ffi) and through a real nginx with the bpftime module. The
// expected statuses are the documented rule, written out by hand.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliOk, compileBpf, regionNames } from "./helpers.ts";
import { nginxSkipReason, requestStatus, startNginx } from "./nginx-harness.ts";
import { RUN_ID } from "./run-id.ts";
import { Region } from "../src/native/runtime.ts";
import { UserspaceEventProvider } from "../src/attach/event-provider.ts";
import { loadIntoRegion } from "../src/ops/load.ts";
import { deleteRegion } from "../src/ops/shm.ts";
import { TARGET_NGINX_URL_FILTER } from "../src/attach/targets.ts";

/** [what the program returns, the HTTP status nginx answers (200: continued)] */
const TABLE: Array<[string, number]> = [
  ["0", 403],
  ["1", 200],
  ["2", 200],
  ["399", 200],
  ["400", 400],
  ["403", 403],
  ["404", 404],
  ["429", 429],
  ["500", 500],
  ["503", 503],
  ["599", 599],
  ["600", 200],
  ["-1", 200],
  ["-404", 200],
  [String(2 ** 32 + 404), 200],
  [String(2 ** 32), 200],
];

const dir = mkdtempSync(join(tmpdir(), `bpftime-${RUN_ID}-verdicts-`));
const obj = join(dir, "verdict.bpf.o");
compileBpf(join(import.meta.dir, "fixtures", "nginx", "verdict.bpf.c"), obj);
const newRegion = regionNames("verdict");

describe("nginx verdicts in-process (attach manager)", () => {
  let r: Region, p: UserspaceEventProvider, name: string;
  beforeAll(() => {
    name = `${RUN_ID}-verdict-inproc`;
    r = Region.create(name, 16 << 20);
    const prog = loadIntoRegion(obj, name).programs[0]!.id;
    p = new UserspaceEventProvider(r);
    p.local.enableNginx();
    p.attach(prog, p.createTarget(TARGET_NGINX_URL_FILTER, new TextEncoder().encode("/")));
    expect(p.instantiate()).toBe(1);
  });
  afterAll(() => {
    p?.close();
    r?.close();
    deleteRegion(name);
  });

  for (const [ret, status] of TABLE)
    test(`the program returns ${ret}: ${status === 200 ? "continue" : status}`, () => {
      expect(p.local.nginxFilter(`/v/${ret}`)).toBe(status === 200 ? 0 : status);
    });
  test("a URL the program does not parse continues (returns 1)", () => {
    expect(p.local.nginxFilter("/index.html")).toBe(0);
  });
});

const skip = nginxSkipReason();
if (skip) console.log(`skip: nginx verdicts through nginx: ${skip}`);
describe.skipIf(!!skip)("nginx verdicts through a real nginx", () => {
  // One nginx for the whole table (the harness stops it after the test).
  test("every verdict of the table gives its status", async () => {
    const shm = newRegion();
    const loaded = JSON.parse(cliOk(["load", obj, "--shm", shm, "--json"]));
    cliOk(["attach", String(loaded.programs[0].id), "nginx", "--prefix", "/", "--shm", shm]);
    // Every /v/N exists as a file, so a continued request answers 200; fail
    // closed, so an internal error shows as 503, never as a pass.
    const files = Object.fromEntries(TABLE.map(([ret]) => [`v/${ret}`, "served\n"]));
    const ngx = await startNginx({ bpftime: "on", shm, fail: "closed", files });
    const got: Array<[string, number]> = [];
    for (const [ret] of TABLE) got.push([ret, await requestStatus(ngx.url(`/v/${ret}`))]);
    expect(got).toEqual(TABLE.map(([ret, status]) => [ret, status]));
    expect(await requestStatus(ngx.url("/v/0?q=1"))).toBe(403);
    expect(ngx.errorLog()).not.toContain("[crit]");
  }, 120_000);
});
