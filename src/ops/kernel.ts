// The kernel event provider's operations as the CLI and the HTTP API (`serve
// --kernel`) use them: load, attach, detach, replace, unload, list and remove
// come straight from src/attach/kernel/; map operations run src/ops/maps.ts's
// code (formatting, lookup, update, delete, pages) on a MapHandle built from
// the kernel's map info and BTF.
import {
  defaultObjectName,
  kernelMapElements,
  loadKernelObject,
  openKernelMap,
  type KernelLoaded,
  type KernelMapHandle,
} from "../attach/index.ts";
import { type MapHandle } from "./maps.ts";
import { withUploadedFile } from "./programs.ts";
import { parseBtf } from "../btf/index.ts";
import type { Region } from "../native/index.ts";

export {
  attachKernel,
  detachKernel,
  kernelSnapshot,
  loadKernelObject,
  removeKernelObject,
  replaceKernel,
  unloadKernel,
} from "../attach/index.ts";

/**
 * A src/ops/maps.ts MapHandle over a pinned kernel map: its element operations
 * go to the kernel (bpf() on the pin), so `map lookup|update|delete --kernel`
 * run the same code as on a region's map.
 */
function kernelMapHandle(m: KernelMapHandle): MapHandle {
  let btf: MapHandle["btf"];
  if (m.btf) {
    try {
      btf = parseBtf(m.btf);
    } catch {
      btf = undefined; // hex then
    }
  }
  const stride = Math.ceil(m.info.valueSize / 8) * 8;
  return {
    r: kernelMapElements(m) as unknown as Region,
    id: m.info.id,
    info: {
      id: m.info.id,
      type: m.info.type,
      keySize: m.info.keySize,
      valueSize: m.info.valueSize,
      maxEntries: m.info.maxEntries,
      flags: m.info.flags,
      mapExtra: 0n,
      createdNs: 0n,
      valueBufSize: m.ncpus > 1 ? stride * m.ncpus : m.info.valueSize,
      ncpus: m.ncpus,
      name: m.name,
    },
    ...(btf ? { btf } : {}),
    meta: {
      ...(btf && m.info.btfKeyTypeId ? { keyType: m.info.btfKeyTypeId } : {}),
      ...(btf && m.info.btfValueTypeId ? { valueType: m.info.btfValueTypeId } : {}),
    },
  };
}

/**
 * `bpftime load --kernel` for an object received as bytes (POST /v1/programs
 * under `serve --kernel`): pinned as `name` (default: the file name without
 * .bpf.o), with the upload's name, not the temporary path, as its file.
 */
export function loadKernelObjectBytes(
  bytes: Uint8Array,
  filename: string | undefined,
  name?: string,
): KernelLoaded {
  return withUploadedFile(bytes, filename, (path, file) => ({
    ...loadKernelObject(path, name ?? defaultObjectName(file)),
    file,
  }));
}

/** A pinned kernel map (name, OBJECT/NAME or kernel id) as a MapHandle (`map lookup|update|delete --kernel`). */
export function openKernelMapHandle(ref: string): MapHandle {
  return kernelMapHandle(openKernelMap(ref));
}
