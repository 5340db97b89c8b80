/* What a program linking any bpftime library may call, and how it is marked.
 *
 * Every library is built with -fvisibility=hidden: a function is exported
 * only when its declaration carries BPFTIME_API. The agent is preloaded into
 * arbitrary processes, so an unprefixed internal symbol (shm_alloc, ...)
 * must never be able to interpose on the host's own; everything exported is
 * named bpftime_* or ebpf_* (test/exports.test.ts checks the lists).
 *
 * Errors, the one convention of every component (VM, runtime, attach,
 * patcher, agent, syscall server): a function that fails returns a negative
 * errno-style code (NULL for constructors) and leaves a one-line message,
 * saying what failed and what to do, in thread-local storage. Read it on the
 * same thread before the next bpftime call. */
#ifndef BPFTIME_API_H
#define BPFTIME_API_H

#define BPFTIME_API __attribute__((visibility("default")))

#ifdef __cplusplus
extern "C" {
#endif

/* The calling thread's last error message ("" if none yet). */
BPFTIME_API const char *bpftime_last_error_message(void);
/* The calling thread's last error code (negative errno; 0 if none yet). */
BPFTIME_API int bpftime_last_errno(void);

#ifdef __cplusplus
}
#endif

#endif
