// `bpftime attach … usdt`: the target "BINARY:PROVIDER:NAME" is checked here
// (the binary exists, the probe is in its .note.stapsdt), and programs built
// with libbpf's usdt.bpf.h get their argument specs, as libbpf's usdt.c
// writes them when it attaches:
//   - one `struct __bpf_usdt_spec` per site (native/attach/usdt_args.h parses
//     the note's argument string into exactly that layout) goes into the
//     object's `__bpf_usdt_specs` array at ids BASE, BASE+1, … (sites in note
//     order; ids BASE.. not used by another USDT link of a program sharing
//     the map);
//   - the link's cookie is BASE: the agent gives each site the cookie
//     BASE + its index (native/attach/uprobe.h), so bpf_get_attach_cookie()
//     is the site's spec id, which is how usdt.bpf.h finds the spec when
//     LINUX_HAS_BPF_COOKIE is true (bpftime has cookies);
//   - the user's --cookie goes into each spec's usdt_cookie (bpf_usdt_cookie()).
// The IP → spec id map (`__bpf_usdt_ip_to_spec_id`, libbpf's fallback for
// kernels without cookies) is not filled: a site's address differs in every
// process (ASLR), and bpftime always has cookies.
import { existsSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { BpftimeError } from "../errors.ts";
import { type Region, type UsdtSite } from "../native/index.ts";
import { probeSites, resolveBinary, TARGET_USDT } from "../attach/index.ts";
import { USDT_SPEC_COOKIE_OFF, USDT_SPECS_MAP, usdtSpecEntries } from "../attach/index.ts";

const FORM = "expected BINARY:PROVIDER:NAME, e.g. /usr/bin/python3.11:python:function__entry";

interface UsdtTarget {
  binary: string;
  file: string;
  provider: string;
  name: string;
}

function parse(arg: string, cwd: string): UsdtTarget {
  const m = /^(.+):([^:\s]+):([^:\s]+)$/.exec(arg);
  if (!m) throw new BpftimeError("invalid_argument", `usdt target "${arg}": ${FORM}`);
  let binary = m[1]!;
  let file: string;
  if (binary.includes("/")) {
    binary = isAbsolute(binary) ? binary : resolve(cwd, binary);
    if (!existsSync(binary) || !statSync(binary).isFile())
      throw new BpftimeError("not_found", `usdt target ${arg}: no such file ${binary}`);
    file = binary;
  } else {
    file = resolveBinary(binary);
  }
  return { binary, file, provider: m[2]!, name: m[3]! };
}

function sitesOf(t: UsdtTarget, arg: string): UsdtSite[] {
  return probeSites(t.file, t.provider, t.name, arg);
}

/** A USDT target "BINARY:PROVIDER:NAME" checked and as the link stores it (BINARY made absolute against `cwd`). */
export function usdtTargetArg(arg: string, cwd = process.cwd()): string {
  const t = parse(arg, cwd);
  sitesOf(t, arg);
  return `${t.binary}:${t.provider}:${t.name}`;
}

/**
 * The cookie the user gave `attach` for a USDT link: for a program using
 * usdt.bpf.h the link's own cookie is its first spec id and the user's is in
 * that spec (read back here); otherwise the link's cookie.
 */
export function usdtUserCookie(r: Region, progId: number, linkCookie: bigint): bigint {
  const specsMap = r.programMapIds(progId).find((id) => r.map(id).name === USDT_SPECS_MAP);
  if (specsMap === undefined) return linkCookie;
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, Number(linkCookie), true);
  const spec = r.mapLookup(specsMap, key, r.map(specsMap).valueBufSize);
  if (!spec || spec.length < USDT_SPEC_COOKIE_OFF + 8) return 0n;
  return new DataView(spec.buffer, spec.byteOffset).getBigUint64(USDT_SPEC_COOKIE_OFF, true);
}

/**
 * Checks a USDT target and, for a program using usdt.bpf.h, stores its specs.
 * Returns the target argument as the link stores it and the link's cookie.
 */
export function prepareUsdtTarget(
  r: Region,
  progId: number,
  arg: string,
  cookie: bigint,
  cwd = process.cwd(),
): { arg: string; linkCookie: bigint } {
  const t = parse(arg, cwd);
  const stored = `${t.binary}:${t.provider}:${t.name}`;
  const sites = sitesOf(t, arg);
  const specsMap = r.programMapIds(progId).find((id) => r.map(id).name === USDT_SPECS_MAP);
  if (specsMap === undefined) return { arg: stored, linkCookie: cookie }; // no usdt.bpf.h
  // Spec ids in use: every USDT link of a program that shares this map.
  let base = 0;
  for (const id of r.linkIds()) {
    const l = r.link(id);
    const target = r.target(l.targetId);
    if (target.type !== TARGET_USDT || !r.programMapIds(l.progId).includes(specsMap)) continue;
    const other = new TextDecoder().decode(target.arg);
    const n = sitesOf(parse(other, "/"), other).length;
    base = Math.max(base, Number(l.cookie) + n);
  }
  const max = r.map(specsMap).maxEntries;
  for (const [key, value] of usdtSpecEntries(sites, base, cookie, max, arg))
    r.mapUpdate(specsMap, key, value);
  return { arg: stored, linkCookie: BigInt(base) };
}
