import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { BpftimeError } from "../errors.ts";
import { BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE } from "./object.ts";
import { type ObjectSpec, type ProgramSpec, loadObject, loadObjectFile } from "./object.ts";
import { parseElf } from "./elf.ts";
import { formatObjectSummary, objectSummary } from "./summary.ts";
import { programInfoForSection } from "./sections.ts";
import { haveCompiler, objectBytes, objectPath, testObjectNames } from "./testdata.ts";
import { objectTestGate, tool } from "./testdata.ts";

const { skip, t } = objectTestGate("object.test.ts");

function load(name: string, cc = "clang"): ObjectSpec {
  return loadObject(objectBytes(name, cc), `${name}.bpf.o`);
}

function prog(spec: ObjectSpec, name: string): ProgramSpec {
  const p = spec.programs.find((x) => x.name === name);
  if (!p) throw new Error(`no program ${name}`);
  return p;
}

function insn(p: ProgramSpec, i: number) {
  const dv = new DataView(p.instructions.buffer, p.instructions.byteOffset + i * 8, 8);
  return {
    op: dv.getUint8(0),
    dst: dv.getUint8(1) & 0xf,
    src: dv.getUint8(1) >> 4,
    off: dv.getInt16(2, true),
    imm: dv.getInt32(4, true),
  };
}

/** Relocations from `llvm-readelf -r`: section → [{offset, type, symbol}]. */
function readelfRelocs(path: string): Map<string, { offset: number; type: string; sym: string }[]> {
  const out = new Map<string, { offset: number; type: string; sym: string }[]>();
  const text = tool(["llvm-readelf", "-r", path]) ?? "";
  let cur: { offset: number; type: string; sym: string }[] | undefined;
  for (const line of text.split("\n")) {
    const head = /^Relocation section '\.rel(.*)' at offset/.exec(line);
    if (head) {
      cur = [];
      out.set(head[1]!, cur);
      continue;
    }
    const m = /^([0-9a-f]{16})\s+[0-9a-f]{16}\s+(\S+)\s+[0-9a-f]{16}\s+(.*)$/.exec(line.trim());
    if (m && cur) cur.push({ offset: parseInt(m[1]!, 16), type: m[2]!, sym: m[3]!.trim() });
  }
  return out;
}

describe("loadObject", () => {
  t("maps.bpf.o: BTF maps of several types and global data", () => {
    const spec = load("maps");
    expect(spec.license).toBe("Dual BSD/GPL");
    const byName = Object.fromEntries(spec.maps.map((m) => [m.name, m]));
    expect(spec.maps.map((m) => m.name)).toEqual([
      "events",
      "counters",
      "rb",
      "sized",
      "percpu",
      ".rodata",
      ".data",
      ".bss",
    ]);
    expect(byName.events).toMatchObject({
      type: 1,
      typeName: "hash",
      keySize: 4,
      valueSize: 40,
      maxEntries: 1024,
      origin: "btf",
    });
    expect(byName.counters).toMatchObject({ typeName: "array", valueSize: 8, flags: 1 << 7 });
    expect(byName.rb).toMatchObject({
      typeName: "ringbuf",
      keySize: 0,
      valueSize: 0,
      maxEntries: 4096,
    });
    expect(byName.sized).toMatchObject({
      typeName: "lru_hash",
      keySize: 8,
      valueSize: 16,
      maxEntries: 64,
      pinning: 1,
    });
    expect(byName.sized!.keyType).toBeUndefined();
    expect(byName.percpu).toMatchObject({
      typeName: "percpu_hash",
      keySize: 8,
      valueSize: 8,
      flags: 1,
    });
    const btf = spec.btf!;
    expect(btf.type(byName.events!.valueType!).name).toBe("event");

    const ro = byName[".rodata"]!;
    expect(ro).toMatchObject({ typeName: "array", keySize: 4, maxEntries: 1, readOnly: true });
    expect(ro.valueSize).toBe(ro.initialData!.length);
    const roText = new TextDecoder().decode(ro.initialData!);
    expect(roText).toContain("hello from rodata");
    expect(new DataView(ro.initialData!.buffer).getUint32(0, true)).toBe(42);
    expect(byName[".data"]!.initialData).toEqual(new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0]));
    expect(byName[".bss"]!.initialData!.every((b) => b === 0)).toBe(true);
    expect(byName[".bss"]!.readOnly).toBe(false);
  });

  t("maps.bpf.o: lddw relocations become map / map-value references", () => {
    const spec = load("maps");
    const idx = (n: string) => spec.maps.findIndex((m) => m.name === n);
    const elf = parseElf(objectBytes("maps"));
    const relocs = readelfRelocs(objectPath("maps"));
    for (const p of spec.programs) {
      const rs = relocs.get(p.section) ?? [];
      expect(rs.length).toBeGreaterThan(0);
      const sec = elf.section(p.section)!;
      for (const r of rs) {
        if (r.type === "R_BPF_64_32") {
          expect(insn(p, r.offset / 8)).toMatchObject({ op: 0x85, src: 1 });
          continue;
        }
        expect(r.type).toBe("R_BPF_64_64");
        const i = r.offset / 8;
        const ins = insn(p, i);
        const origImm = new DataView(sec.data.buffer, sec.data.byteOffset + r.offset).getInt32(
          4,
          true,
        );
        const sym =
          elf.symbols.find((s) => s.name === r.sym) ??
          elf.symbols.find((s) => s.type === 3 && elf.sections[s.shndx]!.name === r.sym)!;
        const secName = elf.sections[sym.shndx]!.name;
        if (secName === ".maps") {
          expect(ins.src).toBe(BPF_PSEUDO_MAP_IDX);
          expect(ins.imm).toBe(idx(r.sym));
        } else {
          expect(ins.src).toBe(BPF_PSEUDO_MAP_IDX_VALUE);
          expect(ins.imm).toBe(idx(secName));
          expect(insn(p, i + 1).imm).toBe(sym.value + origImm);
        }
      }
      expect(p.mapRefs.length).toBeGreaterThan(0);
    }
    const readline = prog(spec, "handle_readline");
    expect(readline.mapRefs).toEqual(
      [idx("events"), idx("counters"), idx(".rodata"), idx(".data"), idx(".bss")].sort(
        (a, b) => a - b,
      ),
    );
    // Instructions without relocations are copied unchanged.
    const sec = elf.section(readline.section)!;
    const relocated = new Set((relocs.get(readline.section) ?? []).map((r) => r.offset / 8));
    for (let i = 0; i < sec.size / 8; i++) {
      if (relocated.has(i) || relocated.has(i - 1) || readline.instructions[i * 8] === 0x85)
        continue;
      expect(readline.instructions.subarray(i * 8, i * 8 + 8)).toEqual(
        sec.data.subarray(i * 8, i * 8 + 8),
      );
    }
  });

  t("maps.bpf.o: relocations inside an appended .text subprogram, per program", () => {
    const spec = load("maps");
    const idx = (n: string) => spec.maps.findIndex((m) => m.name === n);
    const relocs = readelfRelocs(objectPath("maps")).get(".text")!;
    expect(relocs.map((r) => r.sym)).toEqual(["counters", "hits"]);
    for (const name of ["handle_readline", "handle_malloc_ret"]) {
      const p = prog(spec, name);
      const bump = p.subprograms.find((s) => s.name === "bump")!;
      expect(bump).toBeDefined();
      const m = insn(p, bump.insn + relocs[0]!.offset / 8);
      expect(m).toMatchObject({ op: 0x18, src: BPF_PSEUDO_MAP_IDX, imm: idx("counters") });
      const d = insn(p, bump.insn + relocs[1]!.offset / 8);
      expect(d).toMatchObject({ op: 0x18, src: BPF_PSEUDO_MAP_IDX_VALUE, imm: idx(".data") });
      expect(p.mapRefs).toContain(idx("counters"));
      // The call into bump lands on its first instruction.
      let calls = 0;
      for (let i = 0; i < bump.insn; i++) {
        const c = insn(p, i);
        if (c.op === 0x85 && c.src === 1) {
          expect(i + c.imm + 1).toBe(bump.insn);
          calls++;
        }
      }
      expect(calls).toBe(1);
      // func_info covers the main function and the subprogram at its new place.
      expect(p.funcInfo.map((f) => f.insn)).toEqual([0, bump.insn]);
      expect(spec.btf!.type(p.funcInfo[1]!.typeId).name).toBe("bump");
    }
  });

  t("maps.bpf.o: program types, attach hints, signatures", () => {
    const spec = load("maps");
    const r = prog(spec, "handle_readline");
    expect(r.type).toBe("kprobe");
    expect(r.kernelType).toBe(2);
    expect(r.attach).toEqual({
      kind: "uprobe",
      retprobe: false,
      binary: "/usr/bin/bash",
      symbol: "readline",
      offset: 0,
      sleepable: false,
    });
    expect(r.signature).toBe("int handle_readline(void *ctx)");
    expect(r.license).toBe("Dual BSD/GPL");
    expect(r.insnCount).toBe(r.instructions.length / 8);
    const m = prog(spec, "handle_malloc_ret");
    expect(m.attach).toMatchObject({
      kind: "uprobe",
      retprobe: true,
      binary: "libc.so.6",
      symbol: "malloc",
    });
    expect(r.funcInfo[0]).toEqual({ insn: 0, typeId: r.btfFuncId! });
    expect(r.lineInfo.length).toBeGreaterThan(0);
  });

  t("calls.bpf.o: bpf-to-bpf calls append subprograms transitively", () => {
    const spec = load("calls");
    expect(spec.programs.map((p) => p.name).sort()).toEqual(
      [
        "bare_uprobe",
        "kp",
        "sock",
        "tp",
        "uprobe_off",
        "uret",
        "url_filter",
        "xdp_drop",
        "xdp_pass",
      ].sort(),
    );
    const elf = parseElf(objectBytes("calls"));
    const text = elf.section(".text")!;
    const funcSym = (n: string) => elf.symbols.find((s) => s.name === n)!;
    const xp = prog(spec, "xdp_pass");
    expect(xp.subprograms.map((s) => s.name)).toEqual(["middle", "leaf"]);
    // Each call lands on the start of the subprogram it called in .text.
    const bodyOf = (p: ProgramSpec, name: string) => {
      const s = p.subprograms.find((x) => x.name === name)!;
      const sym = funcSym(name);
      return { at: s.insn, bytes: text.data.subarray(sym.value, sym.value + sym.size) };
    };
    const checkCalls = (p: ProgramSpec) => {
      for (let i = 0; i < p.insnCount; i++) {
        const c = insn(p, i);
        if (c.op !== 0x85 || c.src !== 1) continue;
        const target = i + c.imm + 1;
        const sub = p.subprograms.find((s) => s.insn === target);
        expect(sub).toBeDefined();
      }
      for (const s of p.subprograms) {
        const { at, bytes } = bodyOf(p, s.name);
        // Same length, same opcodes (call imms differ after relocation).
        for (let i = 0; i < bytes.length / 8; i++) {
          expect(p.instructions[(at + i) * 8]).toBe(bytes[i * 8]!);
        }
      }
    };
    for (const p of spec.programs) checkCalls(p);
    expect(prog(spec, "xdp_drop").subprograms.map((s) => s.name)).toEqual(["other"]);
    expect(prog(spec, "bare_uprobe").subprograms.map((s) => s.name)).toEqual(["leaf"]);
    expect(prog(spec, "uret").subprograms.map((s) => s.name)).toEqual(["other"]);
    expect(prog(spec, "url_filter").subprograms.map((s) => s.name)).toEqual(["middle", "leaf"]);
    expect(prog(spec, "sock").subprograms).toEqual([]);
    // Two programs in one section are split by function symbol.
    expect(prog(spec, "xdp_pass").section).toBe("xdp");
    expect(prog(spec, "xdp_drop").section).toBe("xdp");
    const xdpSize = elf.section("xdp")!.size / 8;
    expect(prog(spec, "xdp_pass").insnCount - 12 + prog(spec, "xdp_drop").insnCount - 3).toBe(
      xdpSize,
    );
  });

  t("calls.bpf.o: every SEC form", () => {
    const spec = load("calls");
    expect(prog(spec, "bare_uprobe").attach).toEqual({
      kind: "uprobe",
      retprobe: false,
      offset: 0,
      sleepable: false,
    });
    expect(prog(spec, "uprobe_off").attach).toMatchObject({
      binary: "/usr/lib/libfoo.so",
      symbol: "foo_func",
      offset: 0x10,
    });
    expect(prog(spec, "uret").attach).toMatchObject({
      retprobe: true,
      binary: "/bin/true",
      symbol: "main",
    });
    expect(prog(spec, "sock")).toMatchObject({ type: "socket_filter", kernelType: 1 });
    expect(prog(spec, "tp")).toMatchObject({
      type: "tracepoint",
      attach: { kind: "tracepoint", category: "syscalls", name: "sys_enter_openat" },
    });
    expect(prog(spec, "kp")).toMatchObject({
      type: "kprobe",
      attach: { kind: "kprobe", function: "do_sys_open", retprobe: false },
    });
    expect(prog(spec, "url_filter")).toMatchObject({
      type: "nginx_url_filter",
      kernelType: undefined,
      attach: { kind: "nginx", hook: "url_filter" },
      signature: "int url_filter(struct nginx_url_ctx *ctx)",
    });
    expect(prog(spec, "xdp_pass")).toMatchObject({ type: "xdp", kernelType: 6 });
    expect(prog(spec, "xdp_pass").signature).toBe("int xdp_pass(struct xdp_md *ctx)");
  });

  t("callback.bpf.o: function addresses (bpf_loop callbacks) become BPF_PSEUDO_FUNC", () => {
    const spec = load("callback");
    const p = prog(spec, "loop");
    expect(p.subprograms.map((s) => s.name)).toEqual(["cb2", "cb"]);
    const lddws = [1, 7].map((i) => ({ i, ...insn(p, i) }));
    for (const l of lddws) {
      expect(l.op).toBe(0x18);
      expect(l.src).toBe(BPF_PSEUDO_FUNC);
    }
    expect(1 + lddws[0]!.imm + 1).toBe(p.subprograms[0]!.insn);
    expect(7 + lddws[1]!.imm + 1).toBe(p.subprograms[1]!.insn);
  });

  t("legacy.bpf.o: struct bpf_map_def maps", () => {
    const spec = load("legacy");
    expect(spec.maps).toHaveLength(2);
    expect(spec.maps[0]).toMatchObject({
      name: "legacy_hash",
      type: 1,
      keySize: 4,
      valueSize: 8,
      maxEntries: 128,
      origin: "legacy",
      section: "maps",
    });
    expect(spec.maps[1]).toMatchObject({ name: "legacy_array", typeName: "array", maxEntries: 2 });
    const p = prog(spec, "legacy_prog");
    expect(p.mapRefs).toEqual([0, 1]);
    const relocs = readelfRelocs(objectPath("legacy")).get("socket")!;
    expect(relocs.map((r) => r.sym)).toEqual(["legacy_hash", "legacy_array"]);
    relocs.forEach((r, n) => {
      expect(insn(p, r.offset / 8)).toMatchObject({ op: 0x18, src: BPF_PSEUDO_MAP_IDX, imm: n });
    });
  });

  t("core.bpf.o: CO-RE relocations on known context types are accepted", () => {
    const spec = load("core");
    expect(spec.btfExt!.coreRelos.size).toBeGreaterThan(0);
    const names = [...spec.btfExt!.coreRelos.values()]
      .flat()
      .map((r) => spec.btf!.resolve(r.typeId).name);
    expect(new Set(names)).toEqual(new Set(["nginx_url_ctx", "xdp_md"]));
    // local == target: compiled offsets are kept.
    const p = prog(spec, "core_nginx");
    expect(insn(p, 0)).toMatchObject({ op: 0x61, off: 8 });
  });

  /** Runs `fn` with BPFTIME_KERNEL_BTF set to `value` (the CO-RE target). */
  function withKernelBtf<T>(value: string, fn: () => T): T {
    const old = process.env.BPFTIME_KERNEL_BTF;
    process.env.BPFTIME_KERNEL_BTF = value;
    try {
      return fn();
    } finally {
      if (old === undefined) delete process.env.BPFTIME_KERNEL_BTF;
      else process.env.BPFTIME_KERNEL_BTF = old;
    }
  }

  t("core.bpf.o: context types resolve without kernel BTF (compiled offsets kept)", () => {
    const spec = withKernelBtf("none", () => load("core"));
    const p = prog(spec, "core_nginx");
    expect(insn(p, 0)).toMatchObject({ op: 0x61, off: 8 });
    expect(p.coreRelos).toMatchObject([{ insn: 0, poisoned: false }]);
    expect(prog(spec, "core_xdp").coreRelos.every((r) => !r.poisoned)).toBe(true);
  });

  t("core_unknown.bpf.o: without kernel BTF, a kernel type poisons only its instruction", () => {
    const spec = withKernelBtf("none", () => load("core_unknown"));
    const p = prog(spec, "core_task");
    expect(p.coreRelos).toHaveLength(1);
    const r = p.coreRelos[0]!;
    expect(r).toMatchObject({ relo: 0, kind: "field_byte_offset", poisoned: true });
    expect(r.text).toContain("struct task_struct.tgid");
    // libbpf's poison: call 0xbad2310; the other instructions are untouched.
    expect(insn(p, r.insn)).toMatchObject({ op: 0x85, src: 0, imm: 0xbad2310 });
    expect(insn(p, r.insn + 1).op).toBe(0x95); // exit
  });

  const vmlinux = "/sys/kernel/btf/vmlinux";
  const noBtf = !existsSync(vmlinux) ? "no kernel BTF" : !Bun.which("bpftool") ? "no bpftool" : "";
  if (noBtf) console.log(`object.test.ts: ${noBtf}: skipping the kernel-BTF CO-RE test`);
  (noBtf || skip ? test.skip : test)(
    "core_unknown.bpf.o: with kernel BTF, the load takes the kernel's offset (as bpftool reads it)",
    () => {
      // Oracle: bpftool's own dump of the kernel's task_struct.
      const raw = tool(["bpftool", "btf", "dump", "file", vmlinux, "format", "raw"])!;
      const body = raw.slice(raw.indexOf("STRUCT 'task_struct' size="));
      const m = /'tgid' type_id=\d+ bits_offset=(\d+)/.exec(body.slice(0, body.indexOf("\n[")))!;
      const off = Number(m[1]) / 8;
      const spec = withKernelBtf(vmlinux, () => load("core_unknown"));
      const p = prog(spec, "core_task");
      expect(p.coreRelos).toMatchObject([{ poisoned: false }]);
      expect(insn(p, p.coreRelos[0]!.insn)).toMatchObject({ op: 0x61, off });
    },
  );

  t("an unreadable BPFTIME_KERNEL_BTF is one clear error", () => {
    let err: unknown;
    try {
      withKernelBtf("/nonexistent/vmlinux", () => load("core_unknown"));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpftimeError);
    expect((err as BpftimeError).message).toContain("kernel BTF /nonexistent/vmlinux");
    expect((err as BpftimeError).message).not.toContain("\n");
  });

  const noObjdump = !Bun.which("llvm-objdump");
  if (noObjdump) console.log("object.test.ts: llvm-objdump not found: skipping the comparison");
  (noObjdump ? test.skip : t)("every program of every object agrees with llvm-objdump -dr", () => {
    let checked = 0;
    for (const name of testObjectNames()) {
      // ksym: its relocated lddw is the constant 0 (the "weak __ksym externs" test)
      if (name === "core_unknown" || name === "extern" || name === "ksym") continue;
      const spec = load(name);
      const elf = parseElf(objectBytes(name));
      const text = tool(["llvm-objdump", "-dr", objectPath(name)])!;
      // section → insn index → { bytes, reloc type }
      const dis = new Map<string, Map<number, { bytes: number[]; reloc?: string }>>();
      let cur: Map<number, { bytes: number[]; reloc?: string }> | undefined;
      let last: { bytes: number[]; reloc?: string } | undefined;
      for (const line of text.split("\n")) {
        const sec = /^Disassembly of section (.*):$/.exec(line);
        if (sec) {
          cur = new Map();
          dis.set(sec[1]!, cur);
          continue;
        }
        const ins = /^\s+(\d+):\t((?:[0-9a-f]{2} )+)/.exec(line);
        if (ins && cur) {
          last = {
            bytes: ins[2]!
              .trim()
              .split(" ")
              .map((h) => parseInt(h, 16)),
          };
          cur.set(Number(ins[1]), last);
          continue;
        }
        const rel = /^\s+[0-9a-f]{16}:\s+(R_BPF_\w+)\s/.exec(line);
        if (rel && last) last.reloc = rel[1];
      }
      for (const p of spec.programs) {
        const sym = elf.symbols.find((s) => s.name === p.name)!;
        const start = sym.value / 8;
        const insns = dis.get(p.section)!;
        for (const [idx, d] of insns) {
          const i = idx - start;
          if (i < 0 || i >= sym.size / 8) continue;
          const ours = [...p.instructions.subarray(i * 8, i * 8 + d.bytes.length)];
          checked++;
          if (d.reloc === "R_BPF_64_64") {
            expect(ours[0]).toBe(0x18);
            expect([BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE]).toContain(
              ours[1]! >> 4,
            );
          } else if (d.reloc === "R_BPF_64_32" || (d.bytes[0] === 0x85 && d.bytes[1]! >> 4 === 1)) {
            expect(ours.slice(0, 4)).toEqual(d.bytes.slice(0, 4));
          } else {
            expect(d.reloc).toBeUndefined();
            expect(ours).toEqual(d.bytes);
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  const noClang19 = !haveCompiler("clang-19");
  if (noClang19) console.log("object.test.ts: clang-19 not found: skipping the v3/v4 objects");
  (noClang19 ? test.skip : t)("objects from clang-19 (ISA v3 and v4) load the same way", () => {
    for (const [name, cc] of testObjectNames().flatMap((n) => [
      [n, "clang-19"],
      [n, "clang-19-v4"],
    ])) {
      if (name === "core_unknown" || name === "extern") continue;
      const a = load(name!);
      const b = load(name!, cc);
      expect(b.programs.map((p) => p.name).sort()).toEqual(a.programs.map((p) => p.name).sort());
      expect(b.maps.map((m) => [m.name, m.keySize, m.valueSize])).toEqual(
        a.maps.map((m) => [m.name, m.keySize, m.valueSize]),
      );
    }
  });

  t("loadObjectFile reads a file and names it in errors", async () => {
    const spec = await loadObjectFile(objectPath("calls"));
    expect(spec.fileName).toBe(objectPath("calls"));
    await expect(loadObjectFile("/nonexistent/x.o")).rejects.toMatchObject({ code: "not_found" });
  });
});

describe("weak __ksym externs", () => {
  t("a weak __ksym variable's address is 0: a plain ldimm64 of 0, no map", () => {
    const p = loadObject(objectBytes("ksym")).programs[0]!;
    expect(p.name).toBe("weak_ksym");
    const code = p.instructions;
    // insn 1-2: r1 = &bpf_prog_active (lddw); source register 0 = a plain constant
    expect(code[8]).toBe(0x18);
    expect(code[9]! >> 4).toBe(0);
    expect([...code.subarray(12, 16), ...code.subarray(20, 24)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(p.mapRefs).toEqual([]);
  });
});

describe("objectSummary", () => {
  t("summarises programs, maps and license", () => {
    const s = objectSummary(load("maps"));
    expect(s.license).toBe("Dual BSD/GPL");
    expect(s.programs[0]).toMatchObject({
      name: "handle_readline",
      section: "uprobe//usr/bin/bash:readline",
      type: "kprobe",
      attach: "uprobe /usr/bin/bash:readline",
      signature: "int handle_readline(void *ctx)",
    });
    const events = s.maps.find((m) => m.name === "events")!;
    expect(events).toMatchObject({
      type: "hash",
      keySize: 4,
      keyType: "u32",
      valueSize: 40,
      valueType: "struct event",
      maxEntries: 1024,
    });
    expect(s.maps.find((m) => m.name === ".rodata")!.valueType).toBe('SEC(".rodata")');
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    const text = formatObjectSummary(s);
    expect(text).toContain("license: Dual BSD/GPL");
    expect(text).toMatch(/handle_readline\s+uprobe\/\/usr\/bin\/bash:readline\s+kprobe/);
    expect(text).toMatch(/events\s+hash\s+4 \(u32\)\s+40 \(struct event\)\s+1024/);
    expect(text).toContain("pin:by_name");
    // each table: a header row naming the columns, every cell starting under its header
    const lines = text.split("\n");
    const aligned = (title: string, headers: string[], rowStart: string, cells: string[]) => {
      const head = lines[lines.findIndex((l) => l.startsWith(title)) + 1]!;
      expect(head.split(/\s+/)).toEqual(headers);
      const row = lines.find((l) => l.startsWith(rowStart))!;
      let from = 0;
      headers.forEach((h, i) => {
        const at = row.indexOf(cells[i]!, from);
        expect({ h, at }).toEqual({ h, at: head.indexOf(h) });
        from = at + cells[i]!.length;
      });
    };
    aligned("maps (", ["NAME", "TYPE", "KEY", "VALUE", "MAX", "FLAGS"], "events ", [
      "events",
      "hash",
      "4 (u32)",
      "40 (struct event)",
      "1024",
      "0",
    ]);
    aligned(
      "programs (",
      ["NAME", "SECTION", "TYPE", "ATTACH", "INSNS", "SIGNATURE"],
      "handle_readline ",
      [
        "handle_readline",
        "uprobe//usr/bin/bash:readline",
        "kprobe",
        "uprobe /usr/bin/bash:readline",
        String(s.programs[0]!.insnCount),
        "int handle_readline(void *ctx)",
      ],
    );
  });
});

describe("section names", () => {
  test("uprobe forms", () => {
    expect(programInfoForSection("uprobe//usr/bin/bash:readline").attach).toMatchObject({
      binary: "/usr/bin/bash",
      symbol: "readline",
      offset: 0,
    });
    expect(programInfoForSection("uretprobe/libc.so.6:malloc").attach).toMatchObject({
      retprobe: true,
      binary: "libc.so.6",
      symbol: "malloc",
    });
    expect(programInfoForSection("uprobe//bin/x:0x1234").attach).toMatchObject({
      binary: "/bin/x",
      symbol: undefined,
      offset: 0x1234,
    });
    expect(programInfoForSection("uprobe.s//bin/x:f+16").attach).toMatchObject({
      sleepable: true,
      symbol: "f",
      offset: 16,
    });
    expect(programInfoForSection("nginx/url_filter")).toEqual({
      type: "nginx_url_filter",
      attach: { kind: "nginx", hook: "url_filter" },
    });
    expect(programInfoForSection("something_else").type).toBe("raw");
    // libbpf loads "uprobe/func" (no binary): the target comes at attach time
    expect(programInfoForSection("uprobe/nocolon")).toEqual({
      type: "kprobe",
      attach: { kind: "uprobe", retprobe: false, offset: 0, sleepable: false },
    });
    expect(() => programInfoForSection("uprobe//bin/x:f+zz")).toThrow(BpftimeError);
    expect(() => programInfoForSection("tracepoint/onlyone")).toThrow(BpftimeError);
  });
});
