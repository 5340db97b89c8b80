/* base_attach_impl: one kind of hook in one process.
 *
 * An attach implementation knows how to make a hook fire (an nginx request,
 * a function entry) and nothing about programs, maps or shared memory: when
 * its hook fires it calls the callback it was given at attach time with a
 * context, and the callback runs the linked program (see attach_manager.h).
 * Implementations know nothing of each other; the attach manager routes each
 * attach target to the implementation registered for its type. */
#ifndef BPFTIME_ATTACH_IMPL_H
#define BPFTIME_ATTACH_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Attach target types (stored in the region's target table). */
enum bpftime_target_type {
    BPFTIME_TARGET_NGINX_URL_FILTER = 1, /* arg: the accepted prefix (bytes) */
    BPFTIME_TARGET_UPROBE = 2,           /* arg: "path:symbol[+off]" or "path:0xaddr" */
    BPFTIME_TARGET_URETPROBE = 3,        /* arg: as uprobe */
    BPFTIME_TARGET_SYSCALL_ENTER = 4,    /* arg: "tp|raw|ksys:NAME|all" (syscall_tracepoint.h) */
    BPFTIME_TARGET_SYSCALL_EXIT = 5,     /* arg: as syscall enter */
    BPFTIME_TARGET_USDT = 6,             /* arg: "path:provider:name" */
};

/* Runs the linked program on ctx: 0 with its r0 in *ret, or a negative errno
 * when the program could not run (an interpreter fault). The failure is out
 * of band because every r0 value, UINT64_MAX included, is a valid result. */
struct bpftime_invocation;
struct bpftime_hook_fast;
struct bpftime_attach_cb {
    int (*run)(void *data, void *ctx, uint64_t ctx_len, uint64_t *ret);
    void *data;
    /* Optional: the same run, but leaving every vector register as it found
     * it (and touching none unless it must: see BPFTIME_HOOK_F_GPR_ONLY in
     * patcher/patcher.h), for hooks that interrupt code whose vector
     * registers are live (function entry). Only from inside a patcher
     * callback (whose grace period covers the run). It makes inv the thread's
     * invocation context (bpftime_invocation_set) for as long as the program
     * can read it, i.e. when it calls helpers: a program that calls none
     * runs without the two TLS round trips. NULL: such hooks save the
     * vector registers and set the invocation themselves. */
    int (*run_preserving_vectors)(void *data, void *ctx, uint64_t ctx_len, uint64_t *ret,
                                  struct bpftime_invocation *inv);
    /* Optional: run_preserving_vectors' own fast case as a direct call for
     * a function hook's stub (patcher.h, bpftime_hook_fast): the program's
     * JIT code when it calls nothing, gated by statistics and syscall
     * links. Lives as long as data. */
    const struct bpftime_hook_fast *fast;
};

struct bpftime_attach_impl;

struct bpftime_attach_impl_ops {
    const char *name;
    uint32_t target_type;
    /* Enables a hook for target argument arg; on success *attach_id is the
     * id that detach takes. Returns 0 or a negative errno (message through
     * bpftime_set_error, common/error.h). */
    int (*attach)(struct bpftime_attach_impl *impl, const void *arg, uint32_t arg_len,
                  uint64_t cookie, struct bpftime_attach_cb cb, uint64_t attach_id);
    int (*detach)(struct bpftime_attach_impl *impl, uint64_t attach_id);
    void (*destroy)(struct bpftime_attach_impl *impl);
    /* Optional: 1 (with why) if attach_id is attached but cannot fire yet
     * (a uprobe whose binary this process has not loaded), a negative errno
     * (with why) if a later try to enable it failed, else 0. */
    int (*waiting)(struct bpftime_attach_impl *impl, uint64_t attach_id, char *why, size_t len);
};

struct bpftime_attach_impl {
    const struct bpftime_attach_impl_ops *ops;
    uint64_t next_attach_id; /* allocated by bpftime_attach_impl_attach */
};

/* Allocates an attach id and attaches; returns the id (> 0) or a negative errno. */
int64_t bpftime_attach_impl_attach(struct bpftime_attach_impl *impl, const void *arg,
                                   uint32_t arg_len, uint64_t cookie, struct bpftime_attach_cb cb);
int bpftime_attach_impl_detach(struct bpftime_attach_impl *impl, uint64_t attach_id);

#endif
