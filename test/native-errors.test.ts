// One C error convention (bpftime_set_error / bpftime_last_error_message) read
// once by the FFI (nativeError in src/native/lib.ts) and mapped to the CLI's
// error codes by native/common/errno.def: one real failure per component, its
// code and its message as the C side wrote it.
import { afterEach, describe, expect, test } from "bun:test";
import { BpftimeError, bpftimeErrorOf, type ErrorCode } from "../src/errors.ts";
import { Vm } from "../src/native/vm.ts";
import { Region } from "../src/native/runtime.ts";
import { NativeEventProvider } from "../src/native/attach.ts";
import { ejectAgent } from "../src/native/agent.ts";
import { ERRNO, NativeError } from "../src/native/errno.ts";
import { regionNames, startProcess } from "./helpers.ts";

const region = regionNames("errs");
const opened: Array<{ close(): void }> = [];
afterEach(() => {
  for (const o of opened.splice(0).reverse()) o.close();
});

const failure = bpftimeErrorOf;

function expectFailure(e: BpftimeError, code: ErrorCode, message: RegExp, errno?: string) {
  expect(e.code).toBe(code);
  expect(e.message).toMatch(message);
  expect(e.message).not.toContain("\n");
  if (errno) expect((e as NativeError).errno).toBe(ERRNO(errno));
}

describe("C failures through the FFI", () => {
  test("vm: malformed bytecode is bad_bytecode naming the instruction", () => {
    const code = new Uint8Array(16);
    code[0] = 0xff; // no such opcode
    code[8] = 0x95; // exit
    expectFailure(
      failure(() => new Vm(code)),
      "bad_bytecode",
      /instruction 0/,
    );
  });

  test("runtime: opening a region that does not exist is not_found (ENOENT) and says how to create it", () => {
    const name = region();
    const e = failure(() => Region.open(name));
    expect(e).toBeInstanceOf(NativeError);
    expectFailure(
      e,
      "not_found",
      new RegExp(`bpftime-${name} does not exist.*bpftime shm`),
      "ENOENT",
    );
  });

  test("runtime: a test run of a program that does not exist is not_found", () => {
    const r = Region.create(region(), 16 << 20);
    opened.push(r);
    expectFailure(
      failure(() => r.testRun(4242, false, new Uint8Array(4), 1)),
      "not_found",
      /4242/,
      "ENOENT",
    );
  });

  test("attach manager: a second implementation for one target type is exists (EEXIST), not io", () => {
    const r = Region.create(region(), 16 << 20);
    opened.push(r);
    const p = new NativeEventProvider(r);
    opened.push(p);
    p.enableNginx();
    expectFailure(
      failure(() => p.enableNginx()),
      "exists",
      /attach implementation for target type 1 is already registered/,
      "EEXIST",
    );
  });

  test("agent: ejecting from a process without the agent is not_found (ESRCH)", async () => {
    const child = startProcess(["sleep", "60"]);
    try {
      expectFailure(
        failure(() => ejectAgent(child.pid)),
        "not_found",
        new RegExp(`no bpftime agent is loaded in process ${child.pid}`),
        "ESRCH",
      );
    } finally {
      await child.stop();
    }
  });
});
