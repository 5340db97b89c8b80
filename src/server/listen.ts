// `--listen` addresses: HOST:PORT, [IPv6]:PORT or PORT alone (loopback).
import { isIP } from "node:net";
import { BpftimeError } from "../errors.ts";

const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 8787;

export interface ListenAddress {
  host: string;
  port: number;
}

export function parseListen(v: string | undefined): ListenAddress {
  if (v === undefined || v === "") return { host: DEFAULT_HOST, port: DEFAULT_PORT };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d+)$/.exec(v) ?? /^()()(\d+)$/.exec(v);
  if (!m)
    throw new BpftimeError(
      "usage",
      `serve: bad --listen "${v}": use HOST:PORT, [IPV6]:PORT or PORT (e.g. 127.0.0.1:${DEFAULT_PORT})`,
    );
  const host = m[1] || m[2] || DEFAULT_HOST;
  const port = Number(m[3]);
  if (port > 65535) throw new BpftimeError("usage", `serve: port ${port} is out of range`);
  if (m[1] && isIP(m[1]) !== 6)
    throw new BpftimeError("usage", `serve: "${m[1]}" is not an IPv6 address`);
  return { host, port };
}

/** Addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return !!mapped && mapped[1]!.startsWith("127.");
}

/** host:port as it appears in a URL. */
export function hostPort(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}
