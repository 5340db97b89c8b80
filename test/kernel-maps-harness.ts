// What the kernel-map differential tests (test/maps-*.test.ts) share: the
// independent probe of whether this machine lets us create kernel maps, and
// the bpftime region the other side of each comparison lives in.
import { afterAll, beforeAll } from "bun:test";
import { Region, removeRegion } from "../src/native/runtime.ts";
import * as K from "../src/native/kernel-maps.ts";
import { runName } from "./run-id.ts";

const BPF_MAP_TYPE_ARRAY = 2;

/**
 * Why kernel maps cannot be created here, or undefined. Asked of the kernel
 * with a one-entry array through the raw bindings, never of the code under
 * test.
 */
export function kernelMapsUnavailable(): string | undefined {
  if (process.arch !== "x64") return "the raw bpf() bindings are x86-64 only";
  if (process.getuid?.() !== 0) return "creating kernel maps needs root";
  const fd = K.kernelMapCreate({
    type: BPF_MAP_TYPE_ARRAY,
    keySize: 4,
    valueSize: 8,
    maxEntries: 1,
  });
  if (fd < 0) return `the kernel refuses BPF_MAP_CREATE here (errno ${-fd})`;
  K.kernelClose(fd);
  return undefined;
}

/**
 * A 16 MiB region named after this run (`what` tells the files apart),
 * created before the file's tests and removed after them; none when the file
 * is skipped. Read `.region` inside a test.
 */
export function regionForFile(what: string, skip: boolean): { readonly region: Region } {
  const name = runName(what);
  let region: Region | undefined;
  beforeAll(() => {
    if (!skip) region = Region.create(name, 16 << 20);
  });
  afterAll(() => {
    region?.close();
    if (region) removeRegion(name);
  });
  return {
    get region(): Region {
      if (!region) throw new Error(`region ${name} used outside a test, or while skipped`);
      return region;
    },
  };
}
