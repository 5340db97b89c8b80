// `bpftime attach --kernel PROG usdt`: the kernel provider attaches a USDT
// probe as libbpf's bpf_program__attach_usdt does (every site, spec map
// entries, link cookies = spec ids, semaphores through ref_ctr_offset). The
// same object (examples/usdt.bpf.c, built on libbpf's usdt.bpf.h) counts the
// fixture's probes once on the kernel and once under bpftime: the `stats`
// maps must be equal (hits, argument sums, last values, arg_cnt, cookie).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, compileBpf, compileNative, repoRoot, run, skipReason, waitUntil } from "./helpers.ts";
import { RUN_ID, runName } from "./run-id.ts";
import { kernelUprobesUnavailable, privateBpffs } from "./uprobe-fixture.ts";

const fixtures = join(import.meta.dir, "fixtures", "usdt");
const N = 100;
const T = 90_000;
const skip = skipReason(kernelUprobesUnavailable(), "kernel USDT attach tests");
const bpffs = privateBpffs();

let dir = "";
const target = () => join(dir, "target");
const obj = () => join(dir, "stats.bpf.o");
function compile(): void {
  if (dir) return;
  dir = mkdtempSync(join(tmpdir(), `bpftime-${RUN_ID}-usdt-kernel-`));
  compileNative([
    "cc",
    "-O2",
    "-g",
    "-o",
    target(),
    join(fixtures, "target.c"),
    join(fixtures, "gated.c"),
  ]);
  compileBpf(join(repoRoot, "examples", "usdt.bpf.c"), obj());
}
const regions: string[] = [];
afterAll(() => {
  for (const r of regions) cli(["shm", "remove", "--shm", r]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function ok(args: string[]): string {
  const r = cli(args, { env: bpffs.env });
  if (r.code !== 0) throw new Error(`bpftime ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** The fixture run plainly: what it prints (sema_enabled=0|1 first). */
function runTarget(): string {
  const r = run([target(), "calls", String(N)]);
  if (r.code !== 0) throw new Error(`target: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** The stats map's one value: a region's (["--shm", R]) or a kernel object's (["--kernel"], "OBJ/stats"). */
const stats = (args: string[], map = "stats") =>
  (JSON.parse(ok(["map", "dump", map, "--json", ...args])) as { value: unknown }[])[0]!.value;

/** Each probe counted by bpftime (a region, `bpftime start`): the stats map afterwards. */
function underBpftime(probe: string, cookie: number): unknown {
  const shm = runName(`usdtk-${regions.length}`);
  regions.push(shm);
  ok(["load", obj(), "--shm", shm]);
  ok([
    "attach",
    "usdt_stats",
    "usdt",
    "--arg",
    `${target()}:${probe}`,
    "--cookie",
    `${cookie}`,
    "--shm",
    shm,
  ]);
  const r = cli(["start", "--quiet", "--shm", shm, "--", target(), "calls", String(N)]);
  expect(r.code).toBe(0);
  return stats(["--shm", shm]);
}

/** The object loaded into the kernel as `name`, its program attached to the fixture's `probe`. */
function onKernel(name: string, probe: string, cookie: number) {
  ok(["load", "--kernel", obj(), "--name", name]);
  const arg = `${target()}:${probe}`;
  const attach = ["attach", "--kernel", `${name}/usdt_stats`, "usdt", "--arg", arg];
  return JSON.parse(ok([...attach, "--cookie", `${cookie}`, "--json"])) as {
    linkId: number;
    linkIds: number[];
    pin: string;
  };
}

describe.skipIf(skip)("usdt on the kernel provider", () => {
  test(
    "every site of a probe, with usdt.bpf.h's specs and cookie: the kernel counts as bpftime",
    () => {
      compile();
      // bpftime first: its agent does not hook a site that has a kernel uprobe
      const ours = underBpftime("bpftime_test:plain", 99);
      const name = runName("usdtk");
      const a = onKernel(name, "bpftime_test:plain", 99);
      // the fixture has the probe at two sites (plain_odd, plain_even): two links
      expect(a.linkIds).toHaveLength(2);
      expect(readdirSync(a.pin).sort()).toEqual(["spec-0", "spec-1"]);
      const list = ok(["list", "--kernel", "--json"]);
      const links = (JSON.parse(list) as { links: { id: number; targetType: string }[] }).links;
      expect(links.map((l) => [l.id, l.targetType])).toEqual(a.linkIds.map((id) => [id, "usdt"]));
      expect(runTarget()).toContain("sema_enabled=0");
      const kernel = stats(["--kernel"], `${name}/stats`);
      expect(kernel).toMatchObject({ hits: N, arg_cnt: 5, cookie: 99 });
      expect(kernel).toEqual(ours);

      ok(["detach", "--kernel", String(a.linkId)]);
      expect(readdirSync(join(bpffs.root, name, "links"))).toEqual([]);
      runTarget();
      expect(stats(["--kernel"], `${name}/stats`)).toEqual(kernel); // no site fires any more
    },
    T,
  );

  test(
    "a probe behind a semaphore: raised while the kernel's uprobe exists, lowered after",
    async () => {
      compile();
      const ours = underBpftime("bpftime_test:gated", 0);
      const name = runName("usdtk-sema");
      const a = onKernel(name, "bpftime_test:gated", 0);
      expect(runTarget()).toContain("sema_enabled=1");
      const kernel = stats(["--kernel"], `${name}/stats`);
      expect(kernel).toMatchObject({ hits: N, arg_cnt: 1 });
      expect(kernel).toEqual(ours);
      ok(["detach", "--kernel", String(a.linkId)]);
      // the kernel drops the uprobe (and the semaphore) after the link, asynchronously
      await waitUntil("the semaphore is lowered", () => runTarget().includes("sema_enabled=0"));
    },
    T,
  );
});
