/* Writes a one-line error message into a caller's buffer and returns the
 * negative errno-style code, so a failure path is `return bpftime_fail(...)`.
 * err may be NULL (the message is then dropped). */
#ifndef BPFTIME_ERROR_H
#define BPFTIME_ERROR_H

#include <stddef.h>

int bpftime_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
