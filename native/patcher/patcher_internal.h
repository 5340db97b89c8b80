/* Internal pieces of the patcher: instruction relocation (relocator.c),
 * executable memory near a target (code_alloc.c), the assembly stubs
 * (stub.c) and the dispatcher they call (patcher.c). */
#ifndef BPFTIME_PATCHER_INTERNAL_H
#define BPFTIME_PATCHER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "patcher/patcher.h"

#define PATCHER_HIDDEN __attribute__((visibility("hidden")))

/* ---- /proc/self/maps ---------------------------------------------------- */

struct patcher_mapping {
    uint64_t start, end;
    int prot; /* PROT_* */
};

/* Finds the mapping containing addr. Returns 0 or -ENOENT. */
PATCHER_HIDDEN int patcher_find_mapping(uint64_t addr, struct patcher_mapping *out);

/* ---- executable memory near a target ----------------------------------- */

#define PATCHER_REL32_REACH ((int64_t)0x7fff0000) /* a little under 2 GiB, for margin */

/* Returns `size` bytes (16-byte aligned) of executable memory, preferably
 * within rel32 reach of `near` (*is_near says whether it is). The memory is
 * never freed: a thread may be executing it at any time. Protected RX; write
 * it through patcher_code_write(). Caller holds the patcher lock. */
PATCHER_HIDDEN uint8_t *patcher_code_alloc(uint64_t near, size_t size, bool *is_near);

/* Copies bytes into code memory from patcher_code_alloc(). The page stays
 * executable the whole time (RWX briefly), so other threads running other
 * trampolines on the same page are unaffected. */
PATCHER_HIDDEN int patcher_code_write(uint8_t *dst, const void *src, size_t len);

/* Stores an aligned 8-byte literal in code memory as one write (a thread
 * reading it sees the old value or the new). */
PATCHER_HIDDEN int patcher_code_store64(uint64_t *dst, uint64_t value);

/* ---- relocation --------------------------------------------------------- */

#define PATCHER_MAX_PATCH 32 /* bytes of original code we may overwrite */
#define PATCHER_MAX_INSNS 16

struct patcher_plan {
    uint64_t func;           /* function start (reported as rip) */
    uint64_t patch_addr;     /* where the jump is written (after an endbr64) */
    size_t need;             /* bytes the jump needs (5 or 14) */
    size_t patch_len;        /* bytes overwritten and saved (>= need) */
    size_t reloc_len;        /* bytes of instructions relocated (patch_len, or less
                           * when the tail of the patch is padding after a ret) */
    bool ends_in_terminator; /* last relocated instruction never falls through */
    bool is_nop;             /* trap plans: the displaced instruction is a nop (emulated) */
};

/* Map from original instruction offsets to relocated ones (for moving a
 * thread whose rip is inside the patched bytes). */
struct patcher_reloc_map {
    int n;
    uint8_t orig_off[PATCHER_MAX_INSNS];
    uint16_t new_off[PATCHER_MAX_INSNS];
};

/* Decides what to overwrite at `patch_addr` for a jump of `need` bytes and
 * refuses what cannot be hooked safely: functions too short, branches from the
 * rest of the function back into the overwritten bytes, undecodable code.
 * func_size 0 = unknown. */
PATCHER_HIDDEN int patcher_plan_patch(uint64_t func, uint64_t patch_addr, size_t func_size,
                                      size_t need, struct patcher_plan *plan);

/* The trap path's plan: only the instruction at `patch_addr` is displaced
 * (int3 goes over its first byte), so nothing around it matters — neither the
 * function's length nor branches into what follows. need = 1, patch_len =
 * reloc_len = that instruction's length. Fails only when the instruction
 * cannot be decoded (or is itself an int3). */
PATCHER_HIDDEN int patcher_plan_trap(uint64_t patch_addr, struct patcher_plan *plan);

/* Writes the relocated instructions [patch_addr, patch_addr + reloc_len) into
 * `out` (which will execute at out_addr), followed by a jump back to
 * patch_addr + patch_len unless the last instruction never falls through.
 * Returns the emitted length or a negative errno. */
PATCHER_HIDDEN int patcher_relocate(const struct patcher_plan *plan, uint8_t *out,
                                    uint64_t out_addr, size_t cap, struct patcher_reloc_map *map);

/* Emits `jmp target` at `at` into buf: rel32 (5 bytes) when reachable, else
 * the 14-byte `jmp [rip]; .quad target`. Returns the length. */
PATCHER_HIDDEN size_t patcher_emit_jmp(uint8_t *buf, uint64_t at, uint64_t target);

/* True when `insn` at `addr` is an endbr64. */
PATCHER_HIDDEN bool patcher_is_endbr64(const uint8_t *code);

/* ---- stubs (stub.c) and dispatcher (patcher.c) -------------------------- */

/* A hooked function's context; never freed (threads may hold it in a shadow
 * stack entry or be inside its trampoline at any time). Layout of the first
 * field is used by the assembly stub. */
struct patcher_fn;

PATCHER_HIDDEN extern char bpftime_patcher_enter_stub[];
PATCHER_HIDDEN extern char bpftime_patcher_leave_stub[];
/* The thunk's stub while the site's one listener is on_leave with a fast
 * path: pushes the shadow entry and calls the function (stub.c). */
PATCHER_HIDDEN extern char bpftime_patcher_leave_only_stub[];

/* How the stub leaves (the dispatcher writes it into the frame, slot 176). */
#define STUB_EXIT_JMP 0         /* jmp to the continuation */
#define STUB_EXIT_CALL 1        /* call it: the function, returning into the leave stub */
#define STUB_EXIT_RET 2         /* ret to it: the caller, whose call the RSB remembers */
#define STUB_FRAME_EXIT_SLOT 22 /* in uint64_t, from the pt_regs frame */

/* Offsets the enter stub's fast path reads (checked in patcher.c). */
#define PATCHER_FN_FUNC 0      /* struct patcher_fn */
#define PATCHER_FN_RELOCATED 8 /* struct patcher_fn */
#define PATCHER_FN_FAST 24     /* struct patcher_fn */
#define PATCHER_FN_FAST_LEAVE 32
#define PATCHER_TLS_ST 0     /* struct patcher_tls (the thread's bpftime_patcher_tls) */
#define PATCHER_TLS_BUSY 8   /* struct patcher_tls */
#define PATCHER_STATE_SEQ 0  /* struct thread_state */
#define PATCHER_FAST_FN 0    /* struct bpftime_hook_fast */
#define PATCHER_FAST_GATE 8  /* struct bpftime_hook_fast */
#define PATCHER_STATE_TOP 24 /* struct thread_state: int, shadow entries in use */
#define PATCHER_STATE_SHADOW 32
#define PATCHER_SHADOW_SHIFT 5 /* log2 sizeof(struct shadow_entry) */
#define PATCHER_SHADOW_RET 0
#define PATCHER_SHADOW_SLOT 8
#define PATCHER_SHADOW_FN 16
#define PATCHER_SHADOW_CALLED 24
#define PATCHER_SHADOW_DEPTH 1024

PATCHER_HIDDEN uint64_t bpftime_patcher_dispatch_enter(struct patcher_fn *fn,
                                                       struct bpftime_hook_regs *regs);
PATCHER_HIDDEN uint64_t bpftime_patcher_dispatch_leave(struct bpftime_hook_regs *regs);

#endif
