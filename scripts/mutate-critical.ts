// The fixed list of critical mutants CI runs (test/mutants.test.ts): each is
// a one-line change to a bounds check, a range computation, the verdict
// mapping, authentication, ring buffer positions or the hook's register
// save slots, with the test that must fail when it is applied. A mutant
// whose `find` text no longer occurs exactly once fails CI as "stale": edit
// the entry together with the code.
import { bunTest, cTest, type Mutant } from "./mutate-lib.ts";

const edges = bunTest(["test/verifier-edges.test.ts"], "^(?!.*agrees)");
const negative = bunTest(["src/verifier/negative.test.ts"], "^refused with the expected reason");
const verdicts = bunTest(["test/nginx-verdicts.test.ts"], "in-process");
const auth = bunTest(["test/server.test.ts"], "wrong token|another Host");
const declarators = bunTest(["test/btf-declarators.test.ts"]);
const sixArgs = bunTest(["test/uprobe.test.ts"], "six arguments");

export interface CriticalMutant extends Mutant {
  /**
   * Set while the mutant is known to survive, with who is killing it: the
   * CI test then expects it to survive (test.failing) and fails as soon as
   * it is killed, so the marker is removed in the same change.
   */
  survivesUntil?: string;
}

export const CRITICAL: CriticalMutant[] = [
  // ---- verifier: memory bounds (the JIT has no bounds checks of its own)
  {
    id: "verifier: map value upper bound allows one byte past the end",
    file: "src/verifier/verifier.ts",
    find: "if (lo < 0 || hi > m.valueSize)",
    replace: "if (lo < 0 || hi > m.valueSize + 1)",
    test: edges,
  },
  {
    id: "verifier: map value lower bound allows offset -1",
    file: "src/verifier/verifier.ts",
    find: "if (lo < 0 || hi > m.valueSize)",
    replace: "if (lo < -1 || hi > m.valueSize)",
    test: edges,
  },
  {
    id: "verifier: variable offset's lower bound subtracted",
    file: "src/verifier/verifier.ts",
    find: "const lo = p.off + off + p.s.sminN;",
    replace: "const lo = p.off + off - p.s.sminN;",
    test: edges,
  },
  {
    id: "verifier: helper memory (ringbuf reserve) allows one byte past the end",
    file: "src/verifier/verifier.ts",
    find: "if (lo < 0 || hi > p.size)",
    replace: "if (lo < 0 || hi > p.size + 1)",
    test: edges,
  },
  {
    id: "verifier: packet bound allows one byte past the checked range",
    file: "src/verifier/verifier.ts",
    find: "if (o < 0 || o + size > p.range)",
    replace: "if (o < 0 || o + size > p.range + 1)",
    test: negative,
  },
  {
    id: "verifier: stack access above r10 allowed",
    file: "src/verifier/verifier.ts",
    find: "if (o < -STACK_SIZE || o + size > 0)",
    replace: "if (o < -STACK_SIZE || o + size > 8)",
    test: edges,
  },
  {
    id: "verifier: stack access below the 512-byte frame allowed",
    file: "src/verifier/verifier.ts",
    find: "if (o < -STACK_SIZE || o + size > 0)",
    replace: "if (o < -STACK_SIZE - 8 || o + size > 0)",
    test: negative,
  },
  {
    id: "verifier: multiply range umax = a.umax * b.umin",
    file: "src/verifier/scalar-reference.ts",
    find: "r.umax = a.umax * b.umax;",
    replace: "r.umax = a.umax * b.umin;",
    // killed by the VM-based soundness fuzz (src/verifier/soundness)
    test: bunTest(["src/verifier"], "^(?!.*(kernel|agrees)).*"),
  },
  // ---- nginx verdict mapping
  {
    id: "nginx: verdict range 400..599 cut to 400..499",
    file: "native/attach/nginx_url_filter.c",
    find: "if (r >= 400 && r <= 599)",
    replace: "if (r >= 400 && r < 500)",
    test: verdicts,
  },
  {
    id: "nginx: verdict 400 not a refusal",
    file: "native/attach/nginx_url_filter.c",
    find: "if (r >= 400 && r <= 599)",
    replace: "if (r > 400 && r <= 599)",
    test: verdicts,
  },
  {
    id: "nginx: verdict 600 a refusal",
    file: "native/attach/nginx_url_filter.c",
    find: "if (r >= 400 && r <= 599)",
    replace: "if (r >= 400 && r <= 600)",
    test: verdicts,
  },
  {
    id: "nginx: verdict 0 answers 404 instead of 403",
    file: "native/attach/nginx_url_filter.c",
    find: "            return 403;",
    replace: "            return 404;",
    test: verdicts,
  },
  {
    id: "nginx: a program returning -1 is taken for a failed run",
    file: "native/attach/nginx_url_filter.c",
    find: "        if (err < 0)\n            return err;",
    replace: "        if (err < 0 || r == UINT64_MAX)\n            return -EFAULT;",
    test: verdicts,
  },
  {
    id: "nginx: verdict truncated to 32 bits",
    file: "native/attach/nginx_url_filter.c",
    find: "        if (r == BPFTIME_NGINX_REFUSE)",
    replace: "        r = (uint32_t)r;\n        if (r == BPFTIME_NGINX_REFUSE)",
    test: verdicts,
  },
  // ---- HTTP API authentication
  {
    id: "auth: bearer token compared by length only",
    file: "src/server/token.ts",
    find: "return a.length === b.length && timingSafeEqual(a, b);",
    replace: "return a.length === b.length;",
    test: auth,
  },
  {
    id: "auth: Host check disabled",
    file: "src/server/guard.ts",
    find: "if (!o.allowedHosts.includes(host)) {",
    replace: "if (false) {",
    test: auth,
  },
  // ---- ring buffer
  {
    id: "ringbuf: the commit never wakes a waiting consumer",
    file: "native/runtime/ringbuf.c",
    find: "futex(&w->wake_seq, FUTEX_WAKE, INT32_MAX, NULL);",
    replace: "(void)0;",
    test: cTest("test_ringbuf", ["poll_wakes_consumer_in_another_process"]),
  },
  {
    id: "ringbuf: wake only with two waiters",
    file: "native/runtime/ringbuf.c",
    find: "atomic_load(&w->waiters) > 0",
    replace: "atomic_load(&w->waiters) > 1",
    test: cTest("test_ringbuf"),
  },
  {
    id: "ringbuf: full check off by one record",
    file: "native/runtime/ringbuf.c",
    find: "if (prod + pad + total - cons > rb->data_size) {",
    replace: "if (prod + pad + total - cons > rb->data_size + 8) {",
    test: cTest("test_ringbuf"),
  },
  {
    id: "ringbuf: consumer advances by the length without the header",
    file: "native/runtime/ringbuf.c",
    find: "atomic_store_explicit(cons_pos(rb), cons + round_up8(len + RB_HDR_SZ),",
    replace: "atomic_store_explicit(cons_pos(rb), cons + round_up8(len),",
    test: cTest("test_ringbuf"),
  },
  {
    id: "ringbuf: wrap padding not written",
    file: "native/runtime/ringbuf.c",
    find: "uint64_t pad = off + total > rb->data_size ? rb->data_size - off : 0;",
    replace: "uint64_t pad = 0;",
    test: cTest("test_ringbuf"),
  },
  // ---- maps
  {
    id: "maps: array lookup index bound off by one",
    file: "native/runtime/maps.c",
    find: "        if (idx >= h->max_entries)\n            return NULL;\n        return array_elem(h, idx) + cpu_off;",
    replace:
      "        if (idx > h->max_entries)\n            return NULL;\n        return array_elem(h, idx) + cpu_off;",
    test: cTest("test_maps"),
  },
  // ---- helpers (expectations from the kernel's bpf_snprintf)
  {
    id: "helpers: %px printed as 0x…",
    file: "native/runtime/helpers.c",
    find: 'snprintf(addr, sizeof addr, "%016llx", (unsigned long long)a);',
    replace: 'snprintf(addr, sizeof addr, "0x%llx", (unsigned long long)a);',
    test: cTest("test_helpers"),
  },
  {
    id: "helpers: unreadable %s printed as (fault)",
    file: "native/runtime/helpers.c",
    find: "                str[0] = 0;",
    replace: '                snprintf(str, sizeof str, "(fault)");',
    test: cTest("test_helpers"),
  },
  // ---- VM
  {
    id: "vm: region access allowed one byte past its end",
    file: "native/vm/interp.c",
    find: "if (off < r->len && r->len - off >= size && (!write || r->writable))",
    replace: "if (off < r->len && r->len - off + 1 >= size && (!write || r->writable))",
    test: cTest("test_vm_errors"),
  },
  {
    id: "vm: read-only region writable",
    file: "native/vm/interp.c",
    find: "if (off < r->len && r->len - off >= size && (!write || r->writable))",
    replace: "if (off < r->len && r->len - off >= size)",
    test: cTest("test_vm_errors"),
  },
  {
    id: "vm: jump target one past the last instruction accepted",
    file: "native/vm/validate.c",
    find: "if (target < 0 || target >= (int64_t)n) {",
    replace: "if (target < 0 || target > (int64_t)n) {",
    test: cTest("test_vm_errors"),
  },
  // ---- hook register save slots (pt_regs seen by uprobe programs)
  {
    id: "hook: rdx saved into the rsi slot",
    file: "native/patcher/stub.c",
    find: '"movq %rsi, 104(%rsp)\\n\\t"',
    replace: '"movq %rdx, 104(%rsp)\\n\\t"',
    test: sixArgs,
  },
  {
    id: "hook: r9 saved into the r8 slot",
    file: "native/patcher/stub.c",
    find: '"movq %r8, 72(%rsp)\\n\\t"',
    replace: '"movq %r9, 72(%rsp)\\n\\t"',
    test: sixArgs,
  },
  {
    id: "hook: rcx not saved",
    file: "native/patcher/stub.c",
    find: '"movq %rcx, 88(%rsp)\\n\\t"',
    replace: '"nop\\n\\t"',
    test: sixArgs,
  },
  // ---- the trap path (int3 + SIGTRAP) and USDT argument specs
  {
    id: "trap: a callback's write to rdi does not reach the thread",
    file: "native/patcher/patcher.c",
    find: "    g[REG_RDI] = (greg_t)regs.rdi;",
    replace: "    (void)regs.rdi;",
    test: cTest("test_trap", ["nop_in_the_middle_of_a_function_sees_its_registers"]),
  },
  {
    id: "trap: every displaced instruction skipped as if it were a nop",
    file: "native/patcher/patcher.c",
    find: "        if (plan.is_nop) /* emulated: resume right after it */",
    replace: "        if (1) /* emulated: resume right after it */",
    test: cTest("test_trap", ["rip_relative_instruction_runs_out_of_line"]),
  },
  {
    id: "usdt: %rdi read from the rsi slot of pt_regs",
    file: "native/attach/usdt_args.c",
    find: '{{"rdi", "edi", "di", "dil"}, 112}',
    replace: '{{"rdi", "edi", "di", "dil"}, 104}',
    test: cTest("test_usdt_args"),
  },
  // ---- syscall targets (Syscall User Dispatch)
  {
    id: "sud: a signal mask that blocks SIGSYS is applied (the next SUD SIGSYS kills the process)",
    file: "native/attach/syscall_sud.c",
    find: "(1ull << (SIGSTOP - 1)) | SIGSYS_BIT);",
    replace: "(1ull << (SIGSTOP - 1)));",
    test: cTest("test_syscall_sud", ["threads_started_later_and_before_are_caught"]),
  },
  {
    id: "syscall: the tracepoint context's id is not the syscall number",
    file: "native/attach/syscall_tracepoint.c",
    find: ".id = c->nr};",
    replace: ".id = c->nr + 1};",
    test: cTest("test_syscall_tracepoint", ["tracepoint_contexts_have_the_kernel_layout"]),
  },
  {
    id: "syscall: bpf_override_return from an enter program is ignored",
    file: "native/attach/syscall_tracepoint.c",
    find: "if (!is_exit && inv.override_set) {",
    replace: "if (is_exit && inv.override_set) {",
    test: cTest("test_syscall_tracepoint", ["override_skips_and_the_exit_programs_see_the_value"]),
  },
  // ---- BTF printing
  {
    id: "btf: pointer to array printed without parentheses",
    file: "src/btf/format.ts",
    find: 'if (target.kind === "array" || target.kind === "func_proto") inner = `(${inner})`;',
    replace: 'if (target.kind === "func_proto") inner = `(${inner})`;',
    test: declarators,
  },
  {
    id: "btf: pointer to function printed without parentheses",
    file: "src/btf/format.ts",
    find: 'if (target.kind === "array" || target.kind === "func_proto") inner = `(${inner})`;',
    replace: 'if (target.kind === "array") inner = `(${inner})`;',
    test: declarators,
  },
  {
    id: "btf: const pointer printed as pointer to const",
    file: "src/btf/format.ts",
    find: 'if (target.kind === "ptr") return declare(btf, t.type, `${t.kind} ${name}`.trim(), depth + 1);',
    replace:
      'if (target.kind === "ptr") return `${t.kind} ${declare(btf, t.type, name, depth + 1)}`;',
    test: declarators,
  },
];
