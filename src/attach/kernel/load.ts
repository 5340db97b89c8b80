// Loading an object into the kernel (libbpf opens and loads it, every
// program, map and the metadata pinned under <root>/<name>/) and removing it
// again (its directory: every pin, links included).
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BpftimeError } from "../../errors.ts";
import {
  BpfObject,
  ensureLibbpf,
  ERRNO,
  KernelError,
  mapInfo,
  pinFd,
  progInfo,
} from "../../native/index.ts";
import { formatAttachHint, loadObject } from "../../elf/index.ts";
import { mapTypeName } from "../../enums.ts";
import { programTypeOf } from "../program-types.ts";
import { kernelProgTypeName, writeMeta, type KernelMeta } from "./metadata.ts";
import {
  checkBpffs,
  checkName,
  defaultObjectName,
  entries,
  objectDir,
  pinName,
  pinRoot,
} from "./pins.ts";
import { waitLinkGone } from "./attach.ts";

export interface KernelLoaded {
  file: string;
  /** The object's pin directory name (the kernel's "region"). */
  region: string;
  pinDir: string;
  programs: Array<{ id: number; name: string; section: string; type: string; insnCount: number }>;
  maps: Array<{ id: number; name: string; type: string }>;
}

/** One line from libbpf's log explaining a failed load (verifier's last words). */
function explainLoadFailure(e: KernelError): string {
  const log = e.log;
  const end = log.findIndex((l) => /-- END PROG LOAD LOG --/.test(l));
  let detail = "";
  if (end > 0) {
    for (let i = end - 1; i >= 0 && !/-- BEGIN PROG LOAD LOG --/.test(log[i]!); i--) {
      const l = log[i]!.trim();
      if (l && !/^(processed|verification time|stack depth|libbpf:)/.test(l)) {
        detail = l;
        break;
      }
    }
  }
  const prog = log
    .map((l) => /prog '([^']+)': (?:BPF program load failed|failed to load)/.exec(l))
    .find((m) => m)?.[1];
  if (!detail && (e.errno === ERRNO("EPERM") || e.errno === ERRNO("EACCES")))
    detail = "bpf() needs root (CAP_BPF, CAP_PERFMON) and a kernel that allows eBPF";
  if (!detail) {
    const last = [...log]
      .reverse()
      .find((l) => /libbpf: /.test(l) && !/created successfully|failed to load object/.test(l));
    detail = last ? last.replace(/^libbpf: /, "") : "";
  }
  const verifier = log.some((l) => /-- BEGIN PROG LOAD LOG --/.test(l));
  const what = verifier ? "refused by the kernel verifier" : e.message.replace(/^load: /, "");
  return [prog ? `program ${prog}` : "", what, detail].filter(Boolean).join(": ");
}

export function loadKernelObject(file: string, name?: string): KernelLoaded {
  if (!existsSync(file)) throw new BpftimeError("not_found", `${file}: no such file`);
  const objName = name ?? defaultObjectName(file);
  checkName(objName, "object name");
  ensureLibbpf();
  const root = pinRoot();
  checkBpffs(root);
  const dir = objectDir(objName);
  if (existsSync(dir))
    throw new BpftimeError(
      "exists",
      `kernel object "${objName}" is already loaded (${dir}): remove it with \`bpftime shm remove --kernel ${objName}\` or load with --name OTHER`,
    );

  // Our own parse for section kinds and attach hints; libbpf decides what loads.
  const hints = new Map<string, { type: string; attachHint: string }>();
  try {
    const spec = loadObject(new Uint8Array(readFileSync(file)), file);
    for (const p of spec.programs)
      hints.set(p.name, { type: programTypeOf(p), attachHint: formatAttachHint(p.attach) });
  } catch {
    /* libbpf may accept what our loader does not: no hints then */
  }

  const obj = BpfObject.open(file);
  try {
    try {
      obj.load();
    } catch (e) {
      if (e instanceof KernelError) {
        const why = explainLoadFailure(e);
        const msg = `load ${file} into the kernel: ${why}`;
        // A verifier log means the kernel verifier refused a program (EACCES/EINVAL).
        if (e.log.some((l) => /-- BEGIN PROG LOAD LOG --/.test(l)))
          throw new BpftimeError("verifier", msg, { log: e.log });
        throw new KernelError(e.errno, msg, e.log);
      }
      throw e;
    }
    const progs = obj.programs();
    const maps = obj.maps();
    mkdirSync(root, { recursive: true, mode: 0o700 });
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST")
        throw new BpftimeError(
          "exists",
          `kernel object "${objName}" was loaded meanwhile (${dir})`,
        );
      throw new BpftimeError("io", `mkdir ${dir}: ${(e as Error).message}`);
    }
    try {
      for (const sub of ["progs", "maps", "links"]) mkdirSync(join(dir, sub), { mode: 0o700 });
      const out: KernelLoaded = { file, region: objName, pinDir: dir, programs: [], maps: [] };
      const meta: KernelMeta = {
        version: 1,
        object: realpathSync(file),
        loadedAt: new Date().toISOString(),
        programs: {},
      };
      for (const m of maps) {
        pinFd(m.fd, join(dir, "maps", pinName(m.name)));
        const info = mapInfo(m.fd);
        out.maps.push({ id: info.id, name: m.name, type: mapTypeName(info.type) });
      }
      for (const p of progs) {
        if (p.fd < 0) continue; // autoload off
        pinFd(p.fd, join(dir, "progs", pinName(p.name)));
        const info = progInfo(p.fd);
        const h = hints.get(p.name);
        const type = h?.type ?? kernelProgTypeName(info.type);
        meta.programs[p.name] = { section: p.section, type, attachHint: h?.attachHint ?? "" };
        out.programs.push({
          id: info.id,
          name: p.name,
          section: p.section,
          type,
          insnCount: p.insnCount,
        });
      }
      writeMeta(dir, meta);
      return out;
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  } finally {
    obj.close();
  }
}

export function removeKernelObject(name: string): { region: string; links: number[] } {
  checkName(name, "object name");
  const dir = objectDir(name);
  if (!existsSync(dir))
    throw new BpftimeError(
      "not_found",
      `no kernel object "${name}" under ${pinRoot()}; see \`bpftime list --kernel\``,
    );
  const links = entries(join(dir, "links"))
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
  rmSync(dir, { recursive: true, force: true });
  for (const l of links) waitLinkGone(l);
  return { region: name, links };
}
