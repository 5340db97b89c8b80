// The kernel event provider: the same eBPF objects and the same verbs
// (load, attach, detach, list, map dump, remove) against the real kernel,
// through the system libbpf (src/native/kernel.ts). It is both a feature
// (`bpftime … --kernel`) and the baseline userspace figures are compared with.
//
// Design
// - The kernel is the region. A loaded object lives in bpffs, pinned so it
//   survives the CLI process, under one directory per object:
//       <root>/<name>/progs/<program>   BPF_OBJ_PIN of each program
//       <root>/<name>/maps/<map>        each map (libbpf's names, .bss etc. too)
//       <root>/<name>/links/<link id>   each attach link (kernel link id)
//       <root>/<name>/meta              bpftime's metadata (see below)
//   <root> is /sys/fs/bpf/bpftime ($BPFTIME_BPFFS overrides it, for tests);
//   <name> defaults to the object's basename without .bpf.o / .o.
// - Metadata the kernel does not keep (the object path, each program's
//   SEC() and attach hint) is a one-element array map "bpftime_meta" pinned as
//   `meta`: a u32 length then JSON. Kept in the kernel, it lives exactly as
//   long as the pins: there is no sidecar file to go stale.
// - Ids are the kernel's: program, map and link ids as bpftool shows them.
//   Commands take a name ("count_malloc"), "OBJECT/NAME" when a name is in
//   several objects, or a kernel id.
// - Attach: uprobe/uretprobe only (the kernel has no nginx hook). The target
//   "BINARY:SYMBOL[+OFF]" or "BINARY:0xADDR[+OFF]" is resolved to a file and
//   a file offset by the C resolver the userspace provider uses too
//   (uprobe-target.ts → native/attach/elf_symbols.h; an IFUNC is the
//   implementation the dynamic linker picks, in both providers), then
//   perf_event_open(uprobe PMU, pid -1: every process) + BPF_LINK_CREATE,
//   and the link is pinned. No --arg: the program's SEC("uprobe/BIN:SYM").
//   --cookie N is the link's bpf_cookie (bpf_get_attach_cookie()).
// - Detach unpins the link and waits (briefly) until the kernel has freed it,
//   so the uprobe is gone when the command returns. Removing an object
//   (`bpftime shm remove --kernel NAME`) removes its directory: every pin,
//   links included, so its programs detach and everything is freed.
// - A kernel uprobe and a userspace (bpftime agent) hook on the same function
//   do not mix; both orders are refused with one line: attach --kernel where
//   a process has bpftime's patch (patched-sites.ts), and the agent hooking
//   code where the kernel's int3 is (native/attach/uprobe.c).
// - Map dumps read the pinned map with BPF_MAP_GET_NEXT_KEY / LOOKUP_ELEM and
//   print keys and values through the BTF the kernel holds for the map (the
//   object's BTF, fetched by id), with the userspace formatting rules
//   (src/ops/maps.ts); per-CPU values as one array element per CPU.
//
// Files: pins.ts (layout, lookup by name or id), metadata.ts, load.ts (load,
// remove), uprobe-target.ts (target resolution), attach.ts (attach, detach), usdt.ts (USDT on the kernel),
// patched-sites.ts (is bpftime's patch where a kernel uprobe would go?),
// list.ts, maps.ts.
export { checkBpffs, defaultObjectName, objectNames, pinName, pinRoot } from "./pins.ts";
export { readMeta, type KernelMeta } from "./metadata.ts";
export { loadKernelObject, removeKernelObject, type KernelLoaded } from "./load.ts";
export {
  describeOffset,
  resolveBinary,
  resolveUprobeTarget,
  type ResolvedTarget,
} from "./uprobe-target.ts";
export { attachKernel, detachKernel, type KernelAttached, type KernelDetached } from "./attach.ts";
export { kernelSnapshot, type KernelSnapshot } from "./list.ts";
export {
  kernelMapElements,
  kernelMapEntries,
  openKernelMap,
  type KernelMapHandle,
} from "./maps.ts";
