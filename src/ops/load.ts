// `bpftime load FILE.o`: read the object, verify every program, then store
// maps and programs in the region. Nothing is stored unless every program
// passes the verifier; a failure half-way removes what was created.
import { BpftimeError } from "../errors.ts";
import type { MapSpec, ObjectSpec, ProgramSpec } from "../elf/index.ts";
import { parseElf } from "../elf/index.ts";
import { formatAttachHint } from "../elf/index.ts";
import { CORE_POISON_HELPER, typeName } from "../btf/index.ts";
import {
  verify,
  rewriteContextAccesses,
  mapInfosOf,
  type VerifyResult,
} from "../verifier/index.ts";
import { contextSpec, globalFuncsOf } from "../verifier/index.ts";
import { programKind, programTypeOf } from "../attach/index.ts";
import { Region } from "../native/index.ts";
import { readObjectFile } from "./files.ts";
import { writeMeta, removeMeta, type MapMeta } from "./metadata.ts";
import { mapToReuse, wantsPin, type ReuseOptions } from "./map-reuse.ts";
import { optimize, type Engine } from "./optimize.ts";

export interface VerifiedProgram {
  spec: ProgramSpec;
  kind: ReturnType<typeof programKind>;
  result: VerifyResult;
  /** Bytecode to store: context accesses rewritten to the native layout. */
  insns: Uint8Array;
}

export interface LoadedObject {
  file: string;
  region: string;
  programs: Array<{
    id: number;
    name: string;
    section: string;
    type: string;
    insnCount: number;
    /** Runs only in the kernel: stored as a stub, never attached here (`attach` says why). */
    kernelOnly?: boolean;
    /** The code processes run: the LLVM tier's (`--opt`) or the JIT's. */
    engine: Engine;
    /** --opt: why the JIT runs it (the tier refused it, or no clang). */
    engineNote?: string;
  }>;
  maps: Array<{
    id: number;
    name: string;
    type: string;
    /** Taken over from a live map (pinned, or --reuse-maps) rather than created. */
    reused: boolean;
    /** The pin holding it, if any. */
    pin: string | null;
  }>;
}

/** Verifies one program; throws BpftimeError('verifier') naming program, instruction and reason. */
export function verifyProgram(
  spec: ObjectSpec,
  p: ProgramSpec,
  opts: { log?: boolean; allowWriteUser?: boolean } = {},
): VerifiedProgram {
  const kind = programKind(p);
  const result = verify(
    {
      insts: p.instructions,
      type: kind.name,
      maps: mapInfosOf(spec.maps),
      lineInfo: p.lineInfo,
      globalFuncs: globalFuncsOf(p, spec.btf, contextSpec(kind.name).struct),
    },
    opts,
  );
  if (!result.ok) {
    // A reachable instruction that a failed CO-RE relocation poisoned: say which.
    const relo = p.coreRelos.find((r) => r.poisoned && r.insn === result.error?.index);
    const why = relo
      ? `; CO-RE relo #${relo.relo} poisoned this instruction: ${relo.text} (the kernel's BTF has no such field or type: guard the access with bpf_core_field_exists()/bpf_core_type_exists())`
      : "";
    const err = new BpftimeError(
      "verifier",
      `program ${p.name} (section ${p.section}): verifier: ${result.error?.message ?? "refused"}${why}`,
      result,
    );
    throw err;
  }
  return {
    spec: p,
    kind,
    result,
    insns: neutralizePoisoned(
      rewriteContextAccesses(p.instructions, kind.name, result.ctxAccesses),
      p,
    ),
  };
}

/**
 * A program whose type only runs in the kernel (fentry, cgroup, …; see
 * KERNEL_ONLY in src/elf/sections.ts): it loads with its object so the rest
 * of the object works here and the listings show it, but bpftime has no
 * context to verify it against and nothing to attach it to. What is stored
 * is `r0 = 0; exit`, never the program's code: nothing unverified can run
 * (a tail call, `bpftime run ID`); `attach` says why it cannot attach.
 * `load --kernel` reads the object file again and loads the real code.
 */
function kernelOnlyProgram(p: ProgramSpec): VerifiedProgram {
  const kind = programKind(p);
  const insns = new Uint8Array(16);
  insns[0] = 0xb7; // mov64 r0, 0
  insns[8] = 0x95; // exit
  // verified like any other code (the stub, as a program with no context)
  const result = verify({ insts: insns, type: "raw", maps: [] });
  return { spec: p, kind, result, insns };
}

/**
 * After the verifier accepted the program, no poisoned instruction (a failed
 * CO-RE relocation's `call 0xbad2310`) is reachable; the VM, which refuses
 * calls to unknown helpers anywhere, gets `ja +0` there instead (the kernel
 * similarly rewrites dead code).
 */
function neutralizePoisoned(insns: Uint8Array, p: ProgramSpec): Uint8Array {
  const poisoned = p.coreRelos.filter((r) => r.poisoned);
  if (poisoned.length === 0) return insns;
  const out = insns.slice();
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (const r of poisoned) {
    for (let slot = r.insn; slot < r.insn + 2 && slot * 8 < out.length; slot++) {
      if (out[slot * 8] !== 0x85 || dv.getInt32(slot * 8 + 4, true) !== CORE_POISON_HELPER) break;
      out.fill(0, slot * 8, slot * 8 + 8);
      out[slot * 8] = 0x05; // ja +0
    }
  }
  return out;
}

/** The object at `file`, bytes and parsed, for loading. */
export function readObjectBytes(file: string): { bytes: Uint8Array; spec: ObjectSpec } {
  return readObjectFile(file, ": compile it with clang -O2 -g -target bpf -c");
}

function btfSection(bytes: Uint8Array): string | undefined {
  try {
    const s = parseElf(bytes).section(".BTF");
    return s ? Buffer.from(s.data).toString("base64") : undefined;
  } catch {
    return undefined;
  }
}

/** A data map's DATASEC as the loader fixed it up (sizes and offsets from the ELF). */
function datasecFixup(spec: ObjectSpec, typeId: number | undefined): Partial<MapMeta> {
  const t = spec.btf && typeId ? spec.btf.type(typeId) : undefined;
  if (t?.kind !== "datasec") return {};
  return { datasec: { size: t.size, offsets: t.vars.map((v) => v.offset) } };
}

/** Verifies and stores the object's programs (all, or those named) and maps. */
export function loadIntoRegion(
  file: string,
  regionName: string | undefined,
  opts: {
    programs?: string[];
    allowWriteUser?: boolean;
    objectName?: string;
    /** Compile each program with the LLVM tier (`load --opt`). */
    opt?: boolean;
  } & ReuseOptions = {},
): LoadedObject {
  const { bytes, spec } = readObjectBytes(file);
  const sha256 = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
  let chosen = spec.programs;
  if (opts.programs?.length) {
    chosen = spec.programs.filter((p) => opts.programs!.includes(p.name));
    const missing = opts.programs.filter((n) => !spec.programs.some((p) => p.name === n));
    if (missing.length)
      throw new BpftimeError(
        "not_found",
        `${file} has no program ${missing.join(", ")}; it has: ${spec.programs.map((p) => p.name).join(", ")}`,
      );
  }
  if (chosen.length === 0) throw new BpftimeError("bad_object", `${file} has no programs to load`);
  const verified = chosen.map((p) =>
    programKind(p).kernelOnly
      ? kernelOnlyProgram(p)
      : verifyProgram(spec, p, { allowWriteUser: opts.allowWriteUser ?? false }),
  );

  const region = Region.openOrCreate(regionName);
  const mapIds: number[] = [];
  const created = new Set<number>();
  const pinsMade: string[] = [];
  const progIds: number[] = [];
  const engines: Array<{ engine: Engine; engineNote?: string }> = [];
  try {
    const btf = spec.btf ? btfSection(bytes) : undefined;
    const reuse = spec.maps.map((m) => mapToReuse(region, file, m, opts));
    for (const [i, m] of spec.maps.entries()) {
      const reused = reuse[i];
      if (reused !== undefined) {
        mapIds.push(reused);
        if (wantsPin(m, opts) && !region.pins().some((p) => p.name === m.name)) {
          region.createPin(m.name, "map", reused);
          pinsMade.push(m.name);
        }
        continue;
      }
      const id = createSpecMap(region, m);
      mapIds.push(id);
      created.add(id);
      if (wantsPin(m, opts)) {
        region.createPin(m.name, "map", id);
        pinsMade.push(m.name);
      }
      if (m.initialData) {
        const key = new Uint8Array(4);
        region.mapUpdate(id, key, m.initialData);
      }
      // As libbpf does for .rodata: frozen once its value is in, so what the
      // verifier checked (a bpf_snprintf format's NUL, a constant it pruned
      // on) stays true; `map update` on it then fails.
      if (m.readOnly) region.mapFreeze(id);
      writeMeta(region.name, "map", id, {
        object: file,
        ...(btf ? { btf } : {}),
        ...(m.keyType !== undefined ? { keyType: m.keyType } : {}),
        ...(m.valueType !== undefined ? { valueType: m.valueType } : {}),
        ...(spec.btf && m.keyType ? { keyTypeName: typeName(spec.btf, m.keyType) } : {}),
        ...(spec.btf && m.valueType ? { valueTypeName: typeName(spec.btf, m.valueType) } : {}),
        ...datasecFixup(spec, m.valueType),
      });
    }
    fillInnerMapSlots(region, spec.maps, mapIds);
    for (const v of verified) {
      const id = region.createProgram({
        name: v.spec.name,
        type: v.kind.id,
        license: v.spec.license || spec.license,
        attachHint:
          v.kind.name === "nginx_url_filter"
            ? `nginx ${v.spec.section.slice("nginx/".length)}`
            : formatAttachHint(v.spec.attach),
        insns: v.insns,
        mapIds,
      });
      progIds.push(id);
      engines.push(
        opts.opt && !v.kind.kernelOnly
          ? optimize(region, id, v.spec.name, v.insns)
          : { engine: "jit" },
      );
      const st = v.result.stats;
      writeMeta(region.name, "prog", id, {
        object: file,
        sha256,
        ...(opts.objectName !== undefined ? { objectName: opts.objectName } : {}),
        section: v.spec.section,
        ...(v.spec.signature ? { signature: v.spec.signature } : {}),
        verifier: {
          insnsProcessed: st.insnsProcessed,
          statesExplored: st.statesExplored,
          statesPruned: st.statesPruned,
          peakStates: st.peakStates,
        },
        mapNames: spec.maps.map((m) => m.name),
      });
    }
    return {
      file,
      region: region.name,
      programs: verified.map((v, i) => ({
        id: progIds[i]!,
        name: v.spec.name,
        section: v.spec.section,
        type: programTypeOf(v.spec),
        insnCount: v.insns.length / 8,
        ...(v.kind.kernelOnly ? { kernelOnly: true } : {}),
        ...engines[i]!,
      })),
      maps: spec.maps.map((m, i) => ({
        id: mapIds[i]!,
        name: m.name,
        type: m.typeName,
        reused: !created.has(mapIds[i]!),
        pin: region.pins().find((p) => p.kind === "map" && p.objectId === mapIds[i])?.name ?? null,
      })),
    };
  } catch (e) {
    for (const id of progIds.reverse()) {
      try {
        region.deleteProgram(id);
        removeMeta(region.name, "prog", id);
      } catch {
        /* best effort */
      }
    }
    for (const name of pinsMade) {
      try {
        region.deletePin(name);
      } catch {
        /* best effort */
      }
    }
    for (const id of [...created].reverse()) {
      removeMeta(region.name, "map", id);
      try {
        region.deleteMap(id);
      } catch {
        /* best effort (deleting its programs may have freed it already) */
      }
    }
    throw e;
  } finally {
    region.close();
  }
}

/**
 * A map of the object. An outer map takes its template from a map made from
 * its inner definition and deleted right after, as libbpf does.
 */
function createSpecMap(region: Region, m: MapSpec, innerId?: number): number {
  if (m.inner && innerId === undefined) {
    const template = createSpecMap(region, m.inner);
    try {
      return createSpecMap(region, m, template);
    } finally {
      region.deleteMap(template);
    }
  }
  return region.createMap({
    name: m.name,
    type: m.type,
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: m.maxEntries,
    flags: m.flags,
    ...(m.mapExtra !== undefined ? { mapExtra: BigInt(m.mapExtra) } : {}),
    ...(innerId !== undefined ? { innerId } : {}),
  });
}

/** libbpf's static initialisation of outer maps: `.values = { [i] = &map }`. */
function fillInnerMapSlots(region: Region, maps: readonly MapSpec[], ids: readonly number[]): void {
  maps.forEach((m, i) => {
    for (const { slot, map } of m.initSlots ?? []) {
      const key = new Uint8Array(m.keySize);
      new DataView(key.buffer).setUint32(0, slot, true);
      const value = new Uint8Array(4);
      new DataView(value.buffer).setUint32(0, ids[map]!, true);
      region.mapUpdate(ids[i]!, key, value);
    }
  });
}
