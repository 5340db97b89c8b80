/* The one way C code reports a failure (see bpftime/api.h for the reading
 * side): a failure path is `return bpftime_set_error(-EINVAL, "...", ...);`.
 * The message may quote the previous one (bpftime_last_error_message()) to
 * add context: it is formatted before it replaces the stored text. */
#ifndef BPFTIME_ERROR_H
#define BPFTIME_ERROR_H

#include "bpftime/api.h"

#define BPFTIME_ERROR_LEN 512

/* Stores code and the formatted message for this thread; returns code. */
int bpftime_set_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* While non-zero on a thread, bpftime_set_error stores only the code: the
 * helpers set it around map operations whose failures are a program's
 * expected results (BPF_NOEXIST on an existing key, ...), not worth formatting. */
extern _Thread_local int bpftime_error_quiet;

#endif
