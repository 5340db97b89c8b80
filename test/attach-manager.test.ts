// The attach manager and the userspace event provider in this process: the
// same C code an nginx worker runs, driven through bun:ffi without nginx.
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cli, cliOk, buildExamples } from "./helpers.ts";
import { Region } from "../src/native/runtime.ts";
import { UserspaceEventProvider } from "../src/attach/event-provider.ts";
import { loadIntoRegion } from "../src/ops/load.ts";
import { deleteRegion } from "../src/ops/shm.ts";
import { TARGET_NGINX_URL_FILTER } from "../src/attach/targets.ts";
import { runName } from "./run-id.ts";

const examples = buildExamples();
const obj = (n: string) => join(examples, `${n}.bpf.o`);

const open: Array<{ p: UserspaceEventProvider; r: Region; name: string }> = [];
let seq = 0;
function setup() {
  const name = runName(`am-${++seq}`);
  const r = Region.create(name, 16 << 20);
  const filter = loadIntoRegion(obj("url_filter"), name).programs[0]!.id;
  const blocklist = loadIntoRegion(obj("url_blocklist"), name).programs[0]!.id;
  const p = new UserspaceEventProvider(r);
  p.local.enableNginx();
  open.push({ p, r, name });
  const prefix = (s: string) =>
    p.createTarget(TARGET_NGINX_URL_FILTER, new TextEncoder().encode(s));
  return { r, p, filter, blocklist, prefix };
}
afterEach(() => {
  for (const { p, r, name } of open.splice(0)) {
    p.close();
    r.close();
    deleteRegion(name);
  }
});

describe("attach manager (in-process, nginx URL-filter implementation)", () => {
  test("instantiate attaches the links; the filter gives each program's verdict", () => {
    const { p, filter, prefix } = setup();
    expect(p.local.nginxFilter("/aaaa/x")).toBe(0); // nothing attached: continue
    p.attach(filter, prefix("/aaaa"));
    expect(p.instantiate()).toBe(1);
    expect(p.local.nginxFilter("/aaaa/x")).toBe(0);
    expect(p.local.nginxFilter("/bbbb")).toBe(403);
    expect(p.local.nginxFilter("/aaa")).toBe(403);
  });

  test("refresh follows attach, replace and detach by the region's generation", () => {
    const { r, p, filter, blocklist, prefix } = setup();
    p.instantiate();
    const link = p.attach(filter, prefix("/aaaa"));
    expect(p.local.nginxFilter("/bbbb")).toBe(403); // picked up without instantiate
    expect(p.local.attached()).toBe(1);
    r.replaceLinkProgram(link, blocklist, filter);
    expect(p.local.nginxFilter("/aaaa/x")).toBe(404);
    expect(p.local.nginxFilter("/bbbb")).toBe(0);
    p.detach(link);
    expect(p.local.nginxFilter("/aaaa/x")).toBe(0);
    expect(p.local.attached()).toBe(0);
  });

  test("several links run in link order and the first refusal decides", () => {
    const { p, filter, blocklist, prefix } = setup();
    p.attach(blocklist, prefix("/aaaa/secret")); // 404 under /aaaa/secret
    p.attach(filter, prefix("/aaaa")); // 403 outside /aaaa
    expect(p.instantiate()).toBe(2);
    expect(p.local.nginxFilter("/aaaa/secret/x")).toBe(404);
    expect(p.local.nginxFilter("/aaaa/public")).toBe(0);
    expect(p.local.nginxFilter("/other")).toBe(403);
  });

  test("the process registers as an instance listing its links; deinstantiate detaches all", () => {
    const { r, p, filter, prefix } = setup();
    const link = p.attach(filter, prefix("/aaaa"));
    p.instantiate();
    const mine = r
      .instanceIds()
      .map((id) => r.instance(id))
      .find((i) => i.pid === process.pid);
    expect(mine?.alive).toBe(true);
    expect(mine?.linkIds).toEqual([link]);
    p.deinstantiate();
    expect(p.local.attached()).toBe(0);
  });

  test("the program's maps are shared with the control plane", () => {
    const { r, p, filter, prefix } = setup();
    p.attach(filter, prefix("/aaaa"));
    p.instantiate();
    for (const u of ["/aaaa/1", "/x", "/y", "/aaaa/2", "/z"]) p.local.nginxFilter(u);
    const counts = r
      .mapIds()
      .map((id) => r.map(id))
      .find((m) => m.name === "verdict_counts")!;
    const read = (k: number) => {
      const v = r.mapLookup(counts.id, Uint8Array.of(k, 0, 0, 0), counts.valueBufSize)!;
      return new DataView(v.buffer, v.byteOffset).getBigUint64(0, true);
    };
    expect([read(0), read(1)]).toEqual([3n, 2n]);
  });
});

describe("run statistics", () => {
  test("with stats on, every run is counted and timed; `bpftime metrics` and `list` show it", () => {
    const { r, p, filter, prefix } = setup();
    p.attach(filter, prefix("/aaaa"));
    p.instantiate();
    p.local.nginxFilter("/before-stats"); // not counted: stats are off
    expect(cliOk(["stats", "on", "--shm", r.name])).toBe("run statistics on\n");
    for (let i = 0; i < 7; i++) p.local.nginxFilter(`/aaaa/${i}`);
    const info = r.program(filter);
    expect(info.runCount).toBe(7n);
    expect(info.runTimeNs).toBeGreaterThan(0n);
    const metrics = cliOk(["metrics", "--shm", r.name]);
    expect(metrics).toContain(
      `bpftime_program_run_count_total{id="${filter}",name="url_filter",type="nginx_url_filter"} 7\n`,
    );
    const listed = JSON.parse(cliOk(["list", "--shm", r.name, "--json"]));
    expect(listed.programs.find((x: { id: number }) => x.id === filter).runCount).toBe("7");
    cliOk(["stats", "off", "--shm", r.name]);
    p.local.nginxFilter("/aaaa/after");
    expect(r.program(filter).runCount).toBe(7n);
  });

  test("unload removes an unlinked program and refuses a linked one", () => {
    const { r, p, filter, blocklist, prefix } = setup();
    p.attach(filter, prefix("/aaaa"));
    const busy = cli(["unload", String(filter), "--shm", r.name]);
    expect(busy.code).toBe(8);
    expect(busy.stderr).toContain("is still linked");
    expect(cliOk(["unload", String(blocklist), "--shm", r.name])).toBe(
      `removed program ${blocklist}\n`,
    );
    expect(r.programIds()).toEqual([filter]);
  });
});
