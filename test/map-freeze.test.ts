// Frozen maps: `bpftime load` freezes .rodata once its value is written (as
// libbpf does), so the NUL the verifier checked in a bpf_snprintf format, or
// a constant it pruned on, cannot be changed afterwards; `bpftime map freeze`
// freezes any map. Writes are refused with one line (CLI) or a 409 (API).
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, cliOk, compileBpf, regionNames, repoRoot, tempDir } from "./helpers.ts";
import { createApp } from "../src/server/app.ts";

const newRegion = regionNames("freeze");

/** The fixture, compiled into this test's temp dir (removed after each test). */
function object(): string {
  const obj = join(tempDir(), "all_maps.bpf.o");
  compileBpf(join(repoRoot, "test/fixtures/corrupt/all_maps.bpf.c"), obj);
  return obj;
}

function fails(args: string[]): string {
  const r = cli(args);
  expect({ args, failed: r.code !== 0 }).toEqual({ args, failed: true });
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe("frozen maps", () => {
  test(".rodata is frozen after load: map update/delete refuse with one line", () => {
    const shm = newRegion();
    cliOk(["load", object(), "--shm", shm]);
    // 7 bytes without the NUL the verifier checked bpf_printk's format for
    const line = fails(["map", "update", ".rodata", "0", "hex:41414141414141", "--shm", shm]);
    expect(line).toMatch(/^bpftime: .*\.rodata.* is frozen/);
    expect(fails(["map", "delete", ".rodata", "0", "--shm", shm])).toMatch(/is frozen/);
    // the format string the verifier checked is intact: the program still prints with it
    const data = join(tempDir(), "packet.bin");
    writeFileSync(data, Uint8Array.from([1, 2, 3]));
    cliOk(["run", "1", "--shm", shm, "--data", data]);
    const msg = JSON.parse(
      cliOk(["trace", "--count", "1", "--timeout", "5", "--shm", shm, "--json"]),
    );
    expect(msg.message.trim()).toBe("len=3");
    expect(fails(["map", "freeze", ".rodata", "--shm", shm])).toMatch(/already frozen/);
  });

  test("`bpftime map freeze` freezes any map; other maps stay writable", () => {
    const shm = newRegion();
    cliOk(["load", object(), "--shm", shm]);
    cliOk(["map", "update", "by_len", "7", "1", "--shm", shm]);
    expect(cliOk(["map", "freeze", "by_len", "--shm", shm]).trim()).toBe("frozen");
    expect(fails(["map", "update", "by_len", "7", "2", "--shm", shm])).toMatch(/by_len.*is frozen/);
    expect(fails(["map", "delete", "by_len", "7", "--shm", shm])).toMatch(/is frozen/);
    expect(JSON.parse(cliOk(["map", "lookup", "by_len", "7", "--shm", shm, "--json"])).value).toBe(
      1,
    );
    cliOk(["map", "update", "counts", "0", "5", "--shm", shm]); // not frozen
  });

  test("over HTTP a write to a frozen map is 409 with a JSON error", async () => {
    const shm = newRegion();
    cliOk(["load", object(), "--shm", shm]);
    const rodata = JSON.parse(cliOk(["map", "show", ".rodata", "--shm", shm, "--json"])).id;
    const token = "f".repeat(32);
    const { app } = createApp({ shm, token, protectReads: false, allowedHosts: [] });
    const send = (method: string, path: string, body?: unknown) =>
      app.handle(
        new Request(`http://127.0.0.1${path}`, {
          method,
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        }),
      );
    for (const res of [
      await send("PUT", `/v1/maps/${rodata}/entries/0`, { value: "hex:41414141414141" }),
      await send("DELETE", `/v1/maps/${rodata}/entries/0`),
    ]) {
      const json = (await res.json()) as { error: string; message: string };
      expect({ status: res.status, error: json.error }).toEqual({ status: 409, error: "busy" });
      expect(json.message).toMatch(/is frozen/);
    }
    // POST /v1/maps/:id/freeze freezes any map, as `map freeze` does; a second
    // freeze is refused; the token is needed.
    const counts = JSON.parse(cliOk(["map", "show", "counts", "--shm", shm, "--json"])).id;
    expect((await send("PUT", `/v1/maps/${counts}/entries/0`, { value: 5 })).status).toBe(200);
    const frozen = await send("POST", `/v1/maps/${counts}/freeze`);
    expect({ status: frozen.status, body: await frozen.json() }).toEqual({
      status: 200,
      body: { frozen: true },
    });
    const again = await send("POST", `/v1/maps/${counts}/freeze`);
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(((await again.json()) as { message: string }).message).toMatch(/already frozen/);
    const write = await send("PUT", `/v1/maps/${counts}/entries/0`, { value: 6 });
    expect(write.status).toBe(409);
    const anonymous = await app.handle(
      new Request(`http://127.0.0.1/v1/maps/${counts}/freeze`, { method: "POST" }),
    );
    expect(anonymous.status).toBe(401);
  });
});
