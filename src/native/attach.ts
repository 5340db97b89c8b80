// bun:ffi face of the userspace event provider (native/attach/event_provider.h):
// this process's attach manager over a region. Used by the TypeScript event
// provider's instantiate/deinstantiate, and by tests that run the nginx
// URL-filter implementation in-process exactly as an nginx worker does.
import { FFIType, ptr, type Pointer } from "bun:ffi";
import { nativeError, openLibrary } from "./lib.ts";
import { BpftimeError } from "../errors.ts";
import type { Region } from "./runtime.ts";

const { ptr: P, i32, u64, void: V } = FFIType;

const lib = openLibrary({
  bpftime_shm_event_provider_create: { args: [P], returns: P },
  bpftime_shm_event_provider_manager: { args: [P], returns: P },
  bpftime_event_provider_instantiate: { args: [P], returns: i32 },
  bpftime_event_provider_deinstantiate: { args: [P], returns: V },
  bpftime_event_provider_destroy: { args: [P], returns: V },
  bpftime_event_provider_add_nginx: { args: [P, P], returns: i32 },
  bpftime_attach_manager_refresh: { args: [P], returns: i32 },
  bpftime_attach_manager_attached: { args: [P], returns: i32 },
  bpftime_attach_manager_set_single_threaded: { args: [P, i32], returns: V },
  bpftime_nginx_url_filter_run: { args: [P, P, u64, P, u64], returns: i32 },
});
const s = lib.symbols;

/** This process's attach manager over `region` (which must stay open). */
export class NativeEventProvider {
  private h: Pointer | null;
  private manager: Pointer;
  private nginx: Pointer | null = null;

  constructor(region: Region) {
    const h = s.bpftime_shm_event_provider_create(region.handle) as Pointer | null;
    if (!h) throw new BpftimeError("internal", "cannot create the event provider: out of memory");
    this.h = h;
    this.manager = s.bpftime_shm_event_provider_manager(h) as Pointer;
    // Hooks run on this (JavaScript) thread only: retired code can go at once.
    s.bpftime_attach_manager_set_single_threaded(this.manager, 1);
  }

  private get handle(): Pointer {
    if (!this.h) throw new BpftimeError("internal", "event provider used after close");
    return this.h;
  }

  /** Registers the nginx URL-filter attach implementation in this process. */
  enableNginx(): void {
    const out = new BigUint64Array(1);
    const rc = s.bpftime_event_provider_add_nginx(this.handle, ptr(out));
    if (rc < 0) throw nativeError(rc, "cannot register the nginx implementation");
    this.nginx = Number(out[0]) as unknown as Pointer;
  }

  instantiate(): number {
    const n = s.bpftime_event_provider_instantiate(this.handle);
    if (n < 0) throw nativeError(n);
    return n;
  }

  /** Follows region changes: true if it re-synced. */
  refresh(): boolean {
    const rc = s.bpftime_attach_manager_refresh(this.manager);
    if (rc < 0) throw nativeError(rc);
    return rc > 0;
  }

  attached(): number {
    return s.bpftime_attach_manager_attached(this.manager);
  }

  deinstantiate(): void {
    s.bpftime_event_provider_deinstantiate(this.handle);
  }

  /** Runs the nginx URL filter like a worker does: 0 = continue, else an HTTP status. */
  nginxFilter(url: string, method = "GET"): number {
    if (!this.nginx)
      throw new BpftimeError("internal", "the nginx implementation is not registered");
    this.refresh();
    const u = new TextEncoder().encode(url + "\0");
    const m = new TextEncoder().encode(method + "\0");
    return s.bpftime_nginx_url_filter_run(this.nginx, ptr(u), u.length - 1, ptr(m), m.length - 1);
  }

  close(): void {
    if (this.h) s.bpftime_event_provider_destroy(this.h);
    this.h = null;
  }
}
