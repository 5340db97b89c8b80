// __kconfig externs, kernel vs bpftime: the same object
// (test/fixtures/core/kconfig.bpf.c) copies LINUX_KERNEL_VERSION,
// LINUX_HAS_*, and CONFIG_* values of every kind (bool, tristate, int, u64,
// string, missing weak ones) into a map; libbpf fills them for the kernel,
// bpftime for itself, from the same kernel: the maps must be equal.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, compileBpf, skipReason, compileNative } from "./helpers.ts";
import { readFileSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { loadObject } from "../src/elf/index.ts";
import { BpftimeError } from "../src/errors.ts";
import { runName } from "./run-id.ts";
import { RUN_ID } from "./run-id.ts";
import { kernelUprobeUnavailable, mapOnBothSides } from "./core-diff.ts";

const fixtures = join(import.meta.dir, "fixtures", "core");
const T = 60_000;
const noConfig = ["/proc/config.gz", `/boot/config-${release()}`].some((p) => existsSync(p))
  ? undefined
  : "the kernel publishes no config (/proc/config.gz, /boot/config-*)";
const skip = skipReason(kernelUprobeUnavailable() ?? noConfig, "kconfig kernel differential tests");

const dir = mkdtempSync(join(tmpdir(), `bpftime-${RUN_ID}-kconfig-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(skip)("__kconfig externs, kernel vs bpftime", () => {
  test(
    "every extern has the value libbpf gives it for the kernel",
    () => {
      const target = join(dir, "strings");
      compileNative(["cc", "-O2", "-g", "-o", target, join(fixtures, "strings.c")]);
      const obj = join(dir, "kconfig.bpf.o");
      compileBpf(join(fixtures, "kconfig.bpf.c"), obj);
      const links = [{ prog: "kconfig_values", type: "uprobe", arg: `${target}:take` }];
      const { k, u } = mapOnBothSides<{ key: number; value: number }>(obj, links, [target], "vals");
      // LINUX_HAS_SYSCALL_WRAPPER (key 2) is bpftime's design, not the
      // kernel's: its syscall programs see the arguments in the context's
      // registers, so BPF_KSYSCALL must not look for a wrapper's pt_regs.
      // (libbpf says 0 on kernels without kprobes, 1 where it can probe one.)
      const others = (rows: typeof k) => rows.filter((e) => e.key !== 2);
      expect(others(u)).toEqual(others(k));
      expect(u.find((e) => e.key === 2)?.value).toBe(0);
      // Not vacuous: the version and a config option are set.
      const v = new Map(k.map((e) => [e.key, e.value]));
      expect(v.get(0)).toBeGreaterThan(0x30000); // LINUX_KERNEL_VERSION >= 3.0
      expect(v.get(3)).toBe(1); // CONFIG_BPF_SYSCALL=y
      expect(v.get(8)).toBe(0); // a weak option the kernel lacks
    },
    T,
  );
});

// With a config written here (BPFTIME_KCONFIG), the values are known: each
// kind of value, libbpf's layout of the .kconfig map (alignment descending,
// size ascending, then name: worked out by hand below), weak and strong
// externs the config lacks.
describe.skipIf(skipReason(Bun.which("clang") ? undefined : "no clang", "kconfig unit tests"))(
  "__kconfig externs from a given config",
  () => {
    const obj = join(dir, "kconfig-unit.bpf.o");
    const config = join(dir, "config");
    function loadWith(text: string) {
      if (!existsSync(obj)) compileBpf(join(fixtures, "kconfig.bpf.c"), obj);
      writeFileSync(config, text);
      const old = process.env.BPFTIME_KCONFIG;
      process.env.BPFTIME_KCONFIG = config;
      try {
        return loadObject(new Uint8Array(readFileSync(obj)), obj);
      } finally {
        if (old === undefined) delete process.env.BPFTIME_KCONFIG;
        else process.env.BPFTIME_KCONFIG = old;
      }
    }

    test("bool, tristate, int, u64 and string values land where the program reads them", () => {
      const spec = loadWith(
        [
          "CONFIG_BPF_SYSCALL=y",
          "CONFIG_BPF_JIT=m",
          "CONFIG_HZ=-100",
          "CONFIG_NR_CPUS=0x40",
          'CONFIG_DEFAULT_HOSTNAME="a-rather-long-hostname"',
          "# CONFIG_BPFTIME_NO_SUCH_OPTION is not set",
          "",
        ].join("\n"),
      );
      const m = spec.maps.find((x) => x.name === ".kconfig")!;
      expect(m).toMatchObject({ readOnly: true, maxEntries: 1, valueSize: 44 });
      const d = new DataView(m.initialData!.buffer, m.initialData!.byteOffset);
      // align 8: CONFIG_NR_CPUS @0
      expect(d.getBigUint64(0, true)).toBe(0x40n);
      // align 4, by name: CONFIG_BPFTIME_NO_SUCH_INT @8, CONFIG_BPF_JIT @12,
      // CONFIG_HZ @16, LINUX_KERNEL_VERSION @20
      expect(d.getInt32(8, true)).toBe(0); // weak, absent
      expect(d.getUint32(12, true)).toBe(2); // TRI_MODULE
      expect(d.getInt32(16, true)).toBe(-100);
      const [maj, min, pat] = release().split(/[.-]/).map(Number);
      expect(d.getUint32(20, true)).toBe((maj! << 16) + (min! << 8) + Math.min(pat!, 255));
      // align 1 size 1, by name: CONFIG_BPFTIME_NO_SUCH_OPTION @24,
      // CONFIG_BPF_SYSCALL @25, LINUX_HAS_BPF_COOKIE @26, LINUX_HAS_SYSCALL_WRAPPER @27
      expect([...m.initialData!.subarray(24, 28)]).toEqual([0, 1, 1, 0]);
      // the string, cut to 15 bytes and a NUL
      expect(Buffer.from(m.initialData!.subarray(28, 44)).toString("latin1")).toBe(
        "a-rather-long-h\0",
      );
      // the program's lddw of an extern points into the map
      const p = spec.programs[0]!;
      expect(p.mapRefs).toContain(spec.maps.indexOf(m));
    });

    test("a strong extern the config lacks is one clear error; a bad value too", () => {
      const strong = (text: string) => {
        try {
          loadWith(text);
        } catch (e) {
          expect(e).toBeInstanceOf(BpftimeError);
          return (e as BpftimeError).message;
        }
        throw new Error("loaded");
      };
      const missing = strong("CONFIG_HZ=100\n");
      expect(missing).toContain("extern CONFIG_BPF_SYSCALL (__kconfig): not set in");
      expect(missing).toContain("declare it __weak");
      expect(missing).not.toContain("\n");
      expect(strong("CONFIG_BPF_SYSCALL=m\n")).toContain("value 'm' is not a bool");
      expect(strong("CONFIG_BPF_SYSCALL=y\nCONFIG_HZ=12abc\n")).toContain("is not an integer");
      expect(strong("CONFIG_BPF_SYSCALL=y\nCONFIG_HZ=0x100000000\n")).toContain(
        "does not fit in 4 bytes",
      );
      // through the CLI: a non-zero exit and one line
      writeFileSync(config, "CONFIG_HZ=100\n");
      const shm = runName("kconfig-cli");
      const r = cli(["load", obj, "--shm", shm], { env: { BPFTIME_KCONFIG: config } });
      cli(["shm", "remove", "--shm", shm]);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain("CONFIG_BPF_SYSCALL");
    });

    test("an integer extern of a size no config value has (16 bytes) is refused, in one line", () => {
      // libbpf's find_kcfg_type takes integers of 1, 2, 4 or 8 bytes only.
      const src = join(dir, "kconfig-int128.bpf.c");
      const out = join(dir, "kconfig-int128.bpf.o");
      writeFileSync(
        src,
        [
          "#include <linux/bpf.h>",
          "#include <bpf/bpf_helpers.h>",
          "extern unsigned __int128 CONFIG_BPFTIME_WIDE __kconfig __weak;",
          'SEC("uprobe") int wide(void *ctx) { return CONFIG_BPFTIME_WIDE != 0; }',
          'char LICENSE[] SEC("license") = "GPL";',
          "",
        ].join("\n"),
      );
      compileBpf(src, out);
      let message = "";
      try {
        loadObject(new Uint8Array(readFileSync(out)), out);
      } catch (e) {
        expect(e).toBeInstanceOf(BpftimeError);
        message = (e as BpftimeError).message;
      }
      expect(message).toBe(
        `${out}: extern CONFIG_BPFTIME_WIDE (__kconfig): type unsigned __int128 is not one a kconfig value can have (bool, enum libbpf_tristate, char, an integer, a char array)`,
      );
    });
  },
);
