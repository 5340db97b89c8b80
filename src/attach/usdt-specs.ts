// What both providers write into a usdt.bpf.h program's `__bpf_usdt_specs`
// map when a USDT probe is attached, as libbpf's usdt.c does: one
// `struct __bpf_usdt_spec` per site at spec ids BASE, BASE+1, … with the
// user's cookie as its usdt_cookie (bpf_usdt_cookie()).
import { BpftimeError } from "../errors.ts";
import { NativeError, usdtSites, type UsdtSite } from "../native/index.ts";

/** The sites of USDT probe PROVIDER:NAME in `file` (note order); failures name the target `arg`. */
export function probeSites(file: string, provider: string, name: string, arg: string): UsdtSite[] {
  try {
    return usdtSites(file, provider, name);
  } catch (e) {
    if (e instanceof NativeError)
      throw new BpftimeError(
        e.errno === 2 ? "not_found" : "invalid_argument",
        `usdt target ${arg}: ${e.message}`,
      );
    throw e;
  }
}

export const USDT_SPECS_MAP = "__bpf_usdt_specs";
/** offsetof(struct __bpf_usdt_spec, usdt_cookie) */
export const USDT_SPEC_COOKIE_OFF = 192;

/** The (key, value) of each site's spec from id `base`; throws if the map has too few entries. */
export function usdtSpecEntries(
  sites: readonly UsdtSite[],
  base: number,
  cookie: bigint,
  maxEntries: number,
  arg: string,
): Array<[Uint8Array, Uint8Array]> {
  if (base + sites.length > maxEntries)
    throw new BpftimeError(
      "invalid_argument",
      `usdt target ${arg}: ${sites.length} site(s) need spec ids ${base}..${base + sites.length - 1} but ${USDT_SPECS_MAP} has ${maxEntries} entries (define BPF_USDT_MAX_SPEC_CNT larger)`,
    );
  return sites.map((site, i) => {
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, base + i, true);
    const value = site.spec.slice();
    new DataView(value.buffer).setBigUint64(USDT_SPEC_COOKIE_OFF, BigInt.asUintN(64, cookie), true);
    return [key, value];
  });
}
