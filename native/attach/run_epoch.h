/* Which threads may still run a program the attach manager retired.
 *
 * Every program run counts itself on its own thread's record (two plain
 * stores on a cache line no other thread writes: no atomic read-modify-write
 * on a shared counter, which costs every hook hit a locked instruction and,
 * with many threads, a cache line bouncing between cores). The manager,
 * which retires programs, checks the records later without stopping anyone:
 * a retired program is free once every thread that was inside a run when
 * it looked has left that run (or is idle).
 *
 * Runs nest (a hook hit from a helper, a SIGSYS handler interrupting a
 * run): `active` counts the nesting, `exits` counts outermost exits. A
 * signal handler's runs are balanced, so the plain increments are safe
 * against a handler on the same thread. */
#ifndef BPFTIME_RUN_EPOCH_H
#define BPFTIME_RUN_EPOCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "patcher/patcher.h"

struct run_thread {
    _Atomic uint64_t active; /* runs in progress on the thread (nesting) */
    _Atomic uint64_t exits;  /* outermost runs finished */
    atomic_bool in_use;
    struct run_thread *next; /* every record ever made (never freed: reused) */
} __attribute__((aligned(64)));

/* This thread's record (NULL until its first run). initial-exec: one
 * %fs-relative load, no __tls_get_addr. */
extern __thread struct run_thread *bpftime_run_self __attribute__((tls_model("initial-exec")));

/* Claims a record for the calling thread (first run on it). Async-signal
 * safe: records come from mmap, never malloc. NULL if none can be made. */
struct run_thread *bpftime_run_thread_claim(void);

/* Counts a run on t (the caller's record, claimed: NULL counts nothing,
 * when no record could be made). */
static inline void bpftime_run_enter(struct run_thread *t)
{
    if (!t)
        return;
    uint64_t a = atomic_load_explicit(&t->active, memory_order_relaxed);
    atomic_store_explicit(&t->active, a + 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
}

static inline void bpftime_run_exit(struct run_thread *t)
{
    if (!t)
        return;
    atomic_signal_fence(memory_order_seq_cst);
    uint64_t a = atomic_load_explicit(&t->active, memory_order_relaxed);
    if (a == 1) {
        uint64_t e = atomic_load_explicit(&t->exits, memory_order_relaxed);
        atomic_store_explicit(&t->exits, e + 1, memory_order_relaxed);
    }
    atomic_store_explicit(&t->active, a - 1, memory_order_release);
}

/* The threads inside a run now, to be waited for: runs counted here, and
 * runs from inside a hook callback, which the patcher's per-thread sequence
 * already counts (run_preserving_vectors: they skip the record). */
struct run_snapshot {
    size_t n;
    struct {
        struct run_thread *t;
        uint64_t exits;
    } * busy;
    struct bpftime_hook_grace *hooks; /* threads inside hook callbacks (patcher.h) */
    bool failed;                      /* out of memory: never passes (the program stays) */
};

/* Takes the snapshot (the caller frees it with run_snapshot_free). */
void bpftime_run_snapshot(struct run_snapshot *s);
/* True once every thread of the snapshot has left the run it was in. */
bool bpftime_run_snapshot_passed(const struct run_snapshot *s);
void bpftime_run_snapshot_free(struct run_snapshot *s);

/* After fork: only the calling thread survives; the others' records are
 * idle from now on. */
void bpftime_run_after_fork(void);

#endif
