// Section names → program type and attach hint (sections.ts), as libbpf's
// SEC() conventions define them (libbpf's section_defs and its docs
// "Program types and ELF Sections"); kernel program type numbers checked
// against the kernel's own enum bpf_prog_type in <linux/bpf.h>.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { BpftimeError } from "../errors.ts";
import {
  formatAttachHint,
  kernelProgTypes,
  programInfoForSection,
  type AttachHint,
} from "./sections.ts";

const hint = (sec: string) => programInfoForSection(sec).attach;

/** The section's error message (bad_object), or fails. */
function refused(sec: string): string {
  try {
    programInfoForSection(sec);
  } catch (e) {
    expect(e).toBeInstanceOf(BpftimeError);
    expect((e as BpftimeError).code).toBe("bad_object");
    return (e as Error).message;
  }
  throw new Error(`section ${sec} was accepted`);
}

describe("program sections", () => {
  test("probes: kprobe/kretprobe with function and offset, ksyscall, uprobes, usdt", () => {
    expect(programInfoForSection("kprobe/do_sys_open")).toEqual({
      type: "kprobe",
      attach: { kind: "kprobe", retprobe: false, function: "do_sys_open", offset: 0 },
    });
    expect(hint("kretprobe/f+0x10")).toEqual({
      kind: "kprobe",
      retprobe: true,
      function: "f",
      offset: 16,
    });
    expect(hint("kprobe/0x1234")).toEqual({ kind: "kprobe", retprobe: false, offset: 0x1234 });
    expect(hint("kprobe")).toEqual({ kind: "kprobe", retprobe: false, offset: 0 });
    expect(hint("kprobe/f+12")).toMatchObject({ function: "f", offset: 12 });
    expect(refused("kprobe/f+zz")).toBe("section kprobe/f+zz: bad offset 'zz' in 'f+zz'");
    expect(refused("kprobe/f+")).toBe("section kprobe/f+: bad offset '' in 'f+'");
    expect(hint("ksyscall/openat")).toEqual({ kind: "ksyscall", retprobe: false, name: "openat" });
    expect(hint("kretsyscall/read")).toEqual({ kind: "ksyscall", retprobe: true, name: "read" });
    expect(hint("ksyscall")).toEqual({ kind: "ksyscall", retprobe: false, name: undefined });
    expect(programInfoForSection("ksyscall/x").type).toBe("kprobe");
    expect(hint("uprobe")).toEqual({
      kind: "uprobe",
      retprobe: false,
      offset: 0,
      sleepable: false,
    });
    expect(hint("uretprobe.s")).toEqual({
      kind: "uprobe",
      retprobe: true,
      offset: 0,
      sleepable: true,
    });
    // libbpf: "uprobe/func" names no binary; the target comes at attach time
    expect(hint("uprobe/func")).toEqual({
      kind: "uprobe",
      retprobe: false,
      offset: 0,
      sleepable: false,
    });
    expect(programInfoForSection("uprobex").type).toBe("raw");
    expect(hint("usdt")).toEqual({ kind: "usdt" });
    expect(programInfoForSection("usdt//usr/bin/python3:python:gc__start")).toEqual({
      type: "kprobe",
      attach: { kind: "usdt", binary: "/usr/bin/python3", provider: "python", name: "gc__start" },
    });
    for (const bad of ["usdt/libc.so.6:setjmp", "usdt/a:b:", "usdt/:p:n"])
      expect(refused(bad)).toBe(
        `section ${bad}: expected usdt/BINARY:PROVIDER:NAME, e.g. usdt/libc.so.6:libc:setjmp`,
      );
  });

  test("tracepoints, raw tracepoints, tp_btf syscalls", () => {
    expect(programInfoForSection("tracepoint/syscalls/sys_enter_openat")).toEqual({
      type: "tracepoint",
      attach: { kind: "tracepoint", category: "syscalls", name: "sys_enter_openat" },
    });
    expect(hint("tp/sched/sched_switch")).toEqual({
      kind: "tracepoint",
      category: "sched",
      name: "sched_switch",
    });
    expect(hint("tracepoint")).toEqual({ kind: "tracepoint" });
    for (const bad of ["tp/sched", "tp/sched/", "tp//x", "tp/a/b/c"])
      expect(refused(bad)).toBe(`section ${bad}: expected tp/CATEGORY/NAME`);
    expect(refused("tracepoint/x")).toBe("section tracepoint/x: expected tracepoint/CATEGORY/NAME");
    for (const s of ["raw_tp/sys_enter", "raw_tracepoint/sys_enter", "tp_btf/sys_enter"])
      expect(programInfoForSection(s)).toEqual({
        type: "raw_tracepoint",
        attach: { kind: "raw_tracepoint", name: "sys_enter" },
      });
    expect(hint("tp_btf/sys_exit")).toEqual({ kind: "raw_tracepoint", name: "sys_exit" });
    expect(hint("raw_tp")).toEqual({ kind: "raw_tracepoint", name: undefined });
    // any other tp_btf is BTF-typed in the kernel only
    expect(hint("tp_btf/sched_switch")).toMatchObject({
      kind: "kernel",
      kernelTypeName: "tracing",
    });
  });

  test("xdp, socket, tc, perf_event, nginx, anything else raw", () => {
    expect(programInfoForSection("xdp")).toEqual({ type: "xdp", attach: { kind: "xdp" } });
    expect(programInfoForSection("xdp.frags").type).toBe("xdp");
    expect(programInfoForSection("socket")).toEqual({
      type: "socket_filter",
      attach: { kind: "socket" },
    });
    for (const s of ["tc", "classifier", "action"])
      expect(programInfoForSection(s)).toEqual({
        type: "sched_cls",
        attach: { kind: "tc", direction: undefined },
      });
    expect(hint("tc/ingress")).toEqual({ kind: "tc", direction: "ingress" });
    expect(programInfoForSection("perf_event")).toEqual({
      type: "perf_event",
      attach: { kind: "perf_event" },
    });
    expect(hint("nginx/url_filter")).toEqual({ kind: "nginx", hook: "url_filter" });
    expect(programInfoForSection(".text")).toEqual({ type: "raw", attach: { kind: "none" } });
  });

  test("kernel-only sections: a prefix at a boundary, with <linux/bpf.h>'s program type", () => {
    for (const [sec, name] of [
      ["fentry/do_unlinkat", "tracing"],
      ["fexit/x", "tracing"],
      ["fmod_ret/x", "tracing"],
      ["iter/task", "tracing"],
      ["freplace/f", "ext"],
      ["struct_ops/x", "struct_ops"],
      ["struct_ops.s/x", "struct_ops"],
      ["lsm/file_open", "lsm"],
      ["lsm.s/file_open", "lsm"],
      ["lsm_cgroup/x", "lsm"],
      ["kprobe.multi/f*", "kprobe"],
      ["kretprobe.multi/f*", "kprobe"],
      ["kprobe.session/f", "kprobe"],
      ["cgroup_skb/ingress", "cgroup_skb"],
      ["cgroup/skb", "cgroup_skb"],
      ["cgroup/sock_create", "cgroup_sock"],
      ["cgroup/post_bind4", "cgroup_sock"],
      ["cgroup/dev", "cgroup_device"],
      ["cgroup/sysctl", "cgroup_sysctl"],
      ["cgroup/getsockopt", "cgroup_sockopt"],
      ["cgroup/setsockopt", "cgroup_sockopt"],
      ["cgroup/connect4", "cgroup_sock_addr"],
      ["sockops", "sock_ops"],
      ["sk_skb/stream_parser", "sk_skb"],
      ["sk_msg", "sk_msg"],
      ["lirc_mode2", "lirc_mode2"],
      ["sk_reuseport/migrate", "sk_reuseport"],
      ["flow_dissector", "flow_dissector"],
      ["lwt_in", "lwt_in"],
      ["lwt_out", "lwt_out"],
      ["lwt_xmit", "lwt_xmit"],
      ["lwt_seg6local", "lwt_seg6local"],
      ["sk_lookup", "sk_lookup"],
      ["syscall", "syscall"],
      ["netfilter", "netfilter"],
      ["tcx/ingress", "sched_cls"],
      ["netkit/primary", "sched_cls"],
    ] as const) {
      const a = hint(sec);
      expect({
        sec,
        kind: a.kind,
        name: (a as { kernelTypeName?: string }).kernelTypeName,
      }).toEqual({ sec, kind: "kernel", name });
      expect(programInfoForSection(sec).type).toBe("kernel_only");
      expect((a as { section: string }).section).toBe(sec);
    }
    // no boundary after the prefix: not that section
    for (const sec of ["fentryx", "sockopsy", "syscalls", "lsmx/y"])
      expect({ sec, type: programInfoForSection(sec).type }).toEqual({ sec, type: "raw" });
  });

  const header = "/usr/include/linux/bpf.h";
  test.skipIf(!existsSync(header))(
    "program type numbers are the kernel's enum bpf_prog_type",
    () => {
      const text = readFileSync(header, "utf8");
      const body = /enum bpf_prog_type \{([^}]*)\}/.exec(text)![1]!;
      const names = body
        .split(",")
        .map((s) => s.replace(/\/\*.*?\*\//g, "").trim())
        .filter((s) => s.startsWith("BPF_PROG_TYPE_"))
        .map((s) =>
          s
            .replace(/\s*=.*$/, "")
            .slice("BPF_PROG_TYPE_".length)
            .toLowerCase(),
        );
      // a type newer than the installed header is not in it: -1 stands for "unknown"
      const number = (name: string) => names.indexOf(name);
      expect(names.slice(0, 3)).toEqual(["unspec", "socket_filter", "kprobe"]);
      for (const [type, n] of Object.entries(kernelProgTypes))
        if (n !== undefined) expect({ type, n }).toEqual({ type, n: number(type) });
      for (const sec of ["fentry/x", "freplace/x", "struct_ops/x", "lsm/x", "kprobe.multi/x"]) {
        const a = hint(sec) as Extract<AttachHint, { kind: "kernel" }>;
        expect({ sec, n: a.kernelType }).toEqual({ sec, n: number(a.kernelTypeName) });
      }
      for (const sec of ["cgroup_skb/x", "cgroup/sock", "cgroup/dev", "cgroup/sysctl"])
        expect((hint(sec) as { kernelType: number }).kernelType).toBe(
          number((hint(sec) as { kernelTypeName: string }).kernelTypeName),
        );
      for (const sec of ["cgroup/getsockopt", "cgroup/bind4", "sockops", "sk_skb", "sk_msg"])
        expect((hint(sec) as { kernelType: number }).kernelType).toBe(
          number((hint(sec) as { kernelTypeName: string }).kernelTypeName),
        );
      for (const sec of ["lirc_mode2", "sk_reuseport", "flow_dissector", "lwt_in", "lwt_out"])
        expect((hint(sec) as { kernelType: number }).kernelType).toBe(
          number((hint(sec) as { kernelTypeName: string }).kernelTypeName),
        );
      for (const sec of ["lwt_xmit", "lwt_seg6local", "sk_lookup", "syscall", "tcx"])
        expect((hint(sec) as { kernelType: number }).kernelType).toBe(
          number((hint(sec) as { kernelTypeName: string }).kernelTypeName),
        );
    },
  );
});

describe("attach hints in words", () => {
  test("every kind", () => {
    const cases: Array<[string, string]> = [
      ["uprobe//usr/bin/bash:readline", "uprobe /usr/bin/bash:readline"],
      ["uretprobe//bin/x:f+0x10", "uretprobe /bin/x:f+0x10"],
      ["uprobe//bin/x:0x1234", "uprobe /bin/x:0x1234"],
      ["uprobe", "uprobe (manual)"],
      ["uretprobe", "uretprobe (manual)"],
      ["usdt/libc.so.6:libc:setjmp", "usdt libc.so.6:libc:setjmp"],
      ["usdt", "usdt (manual)"],
      ["kprobe/f", "kprobe f"],
      ["kretprobe/f+0x20", "kretprobe f+0x20"],
      ["kprobe/0x40", "kprobe 0x40"],
      ["kretprobe", "kretprobe"],
      ["ksyscall/openat", "ksyscall openat"],
      ["kretsyscall", "kretsyscall"],
      ["fentry/f", "kernel fentry/f"],
      ["tp/sched/sched_switch", "tracepoint sched:sched_switch"],
      ["tracepoint", "tracepoint"],
      ["raw_tp/sys_enter", "raw_tracepoint sys_enter"],
      ["raw_tp", "raw_tracepoint"],
      ["tc/egress", "tc egress"],
      ["tc", "tc"],
      ["nginx/url_filter", "nginx url_filter"],
      ["nginx", "nginx"],
      ["other", "-"],
      ["xdp", "xdp"],
      ["socket", "socket"],
      ["perf_event", "perf_event"],
    ];
    for (const [sec, words] of cases)
      expect({ sec, words: formatAttachHint(hint(sec)) }).toEqual({ sec, words });
  });
});
