// The event provider interface on the control-plane side: "create program,
// create attach target, attach, detach, instantiate, deinstantiate" — the same
// operations as native/attach/event_provider.h. UserspaceEventProvider keeps
// everything in a shared-memory region (what nginx workers and hooked
// processes instantiate); the kernel provider (kernel/) takes the
// same programs to the kernel's bpf() syscall.
import type { ProgramCreate, Region } from "../native/index.ts";
import { NativeEventProvider } from "../native/index.ts";

export type ProgramInput = ProgramCreate;

export interface EventProvider {
  createProgram(p: ProgramInput): number;
  createTarget(type: number, arg: Uint8Array): number;
  attach(progId: number, targetId: number, cookie?: bigint): number;
  detach(linkId: number): void;
  /** Runs what is attached in this process (returns links attached). */
  instantiate(): number;
  deinstantiate(): void;
}

export class UserspaceEventProvider implements EventProvider {
  private native?: NativeEventProvider;

  constructor(readonly region: Region) {}

  createProgram(p: ProgramInput): number {
    return this.region.createProgram(p);
  }

  createTarget(type: number, arg: Uint8Array): number {
    return this.region.createTarget(type, arg);
  }

  attach(progId: number, targetId: number, cookie = 0n): number {
    return this.region.createLink(progId, targetId, cookie);
  }

  detach(linkId: number): void {
    this.region.deleteLink(linkId);
  }

  /** This process's attach manager (created on first use). */
  get local(): NativeEventProvider {
    this.native ??= new NativeEventProvider(this.region);
    return this.native;
  }

  instantiate(): number {
    return this.local.instantiate();
  }

  deinstantiate(): void {
    this.native?.deinstantiate();
  }

  close(): void {
    this.native?.close();
    this.native = undefined;
  }
}
