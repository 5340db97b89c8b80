// What each native library exports. The libraries are built with
// -fvisibility=hidden and only declarations marked BPFTIME_API are exported
// (native/include/bpftime/api.h): the agent is preloaded into arbitrary
// processes, so an internal symbol (shm_alloc, table_slot, …) must never be
// able to interpose on a host's own. Decision: everything exported is
// bpftime_* or ebpf_*, except the syscall server's libc interposers (the
// entry points of an unmodified libbpf application under `bpftime load --
// APP`, native/syscall-server/interpose.c; they pass through untouched
// unless that command started the process).
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { skipReason } from "./helpers.ts";

const nativeDir = join(import.meta.dir, "..", "native");
const buildDir = join(nativeDir, "build");
const srcDir = join(import.meta.dir, "..", "src", "native");

/** Source folders whose objects each library contains (as native/Makefile links them). */
const CORE = ["common", "vm", "runtime", "attach", "patcher", "include"];
const LIBRARIES: Record<string, string[]> = {
  "libbpftime.so": CORE,
  "libbpftime-agent.so": [...CORE, "agent"],
  "libbpftime-syscall-server.so": [...CORE, "syscall-server"],
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== "tests") out.push(...sourceFiles(p));
    } else if (/\.[ch]$/.test(name)) {
      out.push(p);
    }
  }
  return out;
}

/** Names declared with BPFTIME_API at the start of a line, per top-level folder of native/. */
function markedApi(): Map<string, Set<string>> {
  const byDir = new Map<string, Set<string>>();
  for (const dir of [...new Set(Object.values(LIBRARIES).flat())]) {
    const names = new Set<string>();
    for (const file of sourceFiles(join(nativeDir, dir))) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/^BPFTIME_API\s[^;{(]*?\b(\w+)\s*\(/gm)) names.add(m[1]!);
    }
    byDir.set(dir, names);
  }
  return byDir;
}

/** The libc functions a library intentionally interposes on. */
const INTERPOSERS: Record<string, string[]> = {
  "libbpftime-syscall-server.so": [
    "close",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "fcntl64",
    "ioctl",
    "mmap",
    "mmap64",
    "munmap",
    "syscall",
  ],
};

const nm = Bun.which("nm");
const noNm = nm ? undefined : "nm (binutils) is not installed";

function exported(lib: string): string[] {
  const r = Bun.spawnSync([nm!, "-D", "--defined-only", join(buildDir, lib)], { stdout: "pipe" });
  if (r.exitCode !== 0) throw new Error(`nm -D ${lib} failed`);
  return r.stdout
    .toString()
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[2])
    .filter((s): s is string => !!s)
    .sort();
}

describe.skipIf(skipReason(noNm, "exported symbols"))("exported symbols", () => {
  const api = markedApi();

  for (const [lib, dirs] of Object.entries(LIBRARIES)) {
    test(`${lib} exports exactly its BPFTIME_API declarations, all bpftime_* or ebpf_*`, () => {
      const expected = [...new Set(dirs.flatMap((d) => [...api.get(d)!]))].sort();
      const actual = exported(lib);
      expect(actual.filter((s) => !/^(bpftime|ebpf)_/.test(s))).toEqual(INTERPOSERS[lib] ?? []);
      expect(actual).toEqual(expected);
    });
  }

  // A library that is dlopen()ed (nginx loads its module, which links the
  // syscall server) gets its thread-locals from the small static TLS surplus:
  // a 64 KiB thread-local buffer made nginx fail with "cannot allocate memory
  // in static TLS block". Keep thread-locals small (allocate big buffers).
  test.skipIf(
    skipReason(Bun.which("readelf") ? undefined : "readelf is not installed", "TLS size"),
  )("every library's thread-local storage is small enough to be dlopen()ed", () => {
    for (const lib of Object.keys(LIBRARIES)) {
      const r = Bun.spawnSync(["readelf", "-lW", join(buildDir, lib)], { stdout: "pipe" });
      const tls = r.stdout
        .toString()
        .split("\n")
        .find((l) => l.trim().startsWith("TLS"));
      const memsz = tls ? parseInt(tls.trim().split(/\s+/)[5]!, 16) : 0;
      expect({ lib, memsz: memsz <= 4096 }).toEqual({ lib, memsz: true });
    }
  });

  test("internal helpers of the runtime are not exported (issue 13's list)", () => {
    const all = new Set(Object.keys(LIBRARIES).flatMap(exported));
    for (const s of ["shm_alloc", "table_slot", "rb_reserve", "bpftime_set_error", "gen_bump"])
      expect(all.has(s)).toBe(false);
  });

  test("every symbol the TypeScript FFI declares is exported by libbpftime.so", () => {
    const declared = new Set<string>();
    for (const f of readdirSync(srcDir).filter((n) => n.endsWith(".ts"))) {
      const text = readFileSync(join(srcDir, f), "utf8");
      if (!text.includes("openLibrary(")) continue; // other libraries (libbpf, libc, libubpf)
      for (const m of text.matchAll(/^\s+((?:bpftime|ebpf)_\w+): \{ args:/gm)) declared.add(m[1]!);
    }
    expect(declared.size).toBeGreaterThan(10);
    const lib = new Set(exported("libbpftime.so"));
    const missing = [...declared].filter((s) => !lib.has(s));
    expect(missing).toEqual([]);
  });

  test("the nginx module finds every bpftime symbol it calls in the syscall server", () => {
    const src = readFileSync(
      join(import.meta.dir, "..", "nginx", "ngx_http_bpftime_module.c"),
      "utf8",
    );
    const called = new Set([...src.matchAll(/\b(bpftime_\w+)\(/g)].map((m) => m[1]!));
    expect(called.size).toBeGreaterThan(0);
    const lib = new Set(exported("libbpftime-syscall-server.so"));
    expect([...called].filter((s) => !lib.has(s))).toEqual([]);
  });

  test("the source lists above are the folders native/Makefile builds from", () => {
    const dirs = readdirSync(nativeDir).filter(
      (d) => statSync(join(nativeDir, d)).isDirectory() && !["build", "test"].includes(d),
    );
    const covered = new Set(Object.values(LIBRARIES).flat());
    expect(dirs.filter((d) => !covered.has(d)).map((d) => relative(nativeDir, d))).toEqual([]);
  });
});
