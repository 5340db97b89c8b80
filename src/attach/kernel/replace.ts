// `bpftime replace --kernel LINK PROG`: another program on a kernel link's
// probe. The kernel cannot swap the program of a uprobe link (BPF_LINK_UPDATE
// is for link types with update_prog: cgroup, XDP, netfilter…; a perf-event
// link has none), so the replacement is make-before-break: the new program is
// attached at the same file offset, with the same direction and cookie, and
// only then is the old link detached. No hit is missed; a hit in between may
// run both programs. The link gets a new kernel id (returned as linkId, the
// old one as oldLinkId).
import { rmSync } from "node:fs";
import { BpftimeError } from "../../errors.ts";
import { ensureLibbpf, linkInfo, progInfo } from "../../native/index.ts";
import { kernelProgTypeName } from "./metadata.ts";
import { resolvePinned, withPinned } from "./pins.ts";
import { linkProbe, pinnedLink, waitLinkGone } from "./attach.ts";
import { describeOffset } from "./uprobe-target.ts";
import { isUsdtGroup } from "./usdt.ts";

export interface KernelReplaced {
  /** The new link's kernel id. */
  linkId: number;
  oldProgId: number;
  newProgId: number;
  /** The replaced link's id (detached). */
  oldLinkId: number;
  /** The object directory the new link is pinned in (the new program's). */
  region: string;
  arg: string;
}

export function replaceKernel(linkRef: string, progRef: string): KernelReplaced {
  ensureLibbpf();
  const old = pinnedLink(linkRef);
  if (isUsdtGroup(old.path))
    throw new BpftimeError(
      "unsupported",
      `kernel link ${linkRef} is a USDT probe (one link per site): replace it with detach --kernel, then attach --kernel`,
    );
  const info = withPinned(old.path, linkInfo);
  if (!info.uprobe)
    throw new BpftimeError(
      "unsupported",
      `kernel link ${info.id} is not a uprobe link: replace it with detach --kernel, then attach --kernel`,
    );
  const probe = info.uprobe;
  const prog = resolvePinned("progs", progRef);
  return withPinned(prog.path, (progFd) => {
    const p = progInfo(progFd);
    if (p.type !== 2)
      throw new BpftimeError(
        "invalid_argument",
        `program ${prog.name} is a ${kernelProgTypeName(p.type)} program and cannot run on link ${info.id}'s ${probe.retprobe ? "uretprobe" : "uprobe"}`,
      );
    const { linkId } = linkProbe(progFd, probe, prog.object);
    // The new program runs at the probe: now the old link may go.
    rmSync(old.path);
    waitLinkGone(info.id);
    return {
      linkId,
      oldProgId: info.progId,
      newProgId: p.id,
      oldLinkId: info.id,
      region: prog.object,
      arg: describeOffset(probe.file, probe.offset),
    };
  });
}
