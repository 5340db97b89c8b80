/* Logging for the C data plane.
 *
 * Level comes from BPFTIME_LOG (error|warn|info|debug, default warn). When Bun
 * hosts the library, TypeScript installs a callback and messages go through
 * the one TypeScript logger; in processes without Bun (nginx, hooked
 * programs) they go to stderr with a "bpftime:" prefix. */
#ifndef BPFTIME_LOG_H
#define BPFTIME_LOG_H

#include "bpftime/api.h"

enum bpftime_log_level {
    BPFTIME_LOG_ERROR = 0,
    BPFTIME_LOG_WARN = 1,
    BPFTIME_LOG_INFO = 2,
    BPFTIME_LOG_DEBUG = 3,
};

typedef void (*bpftime_log_callback)(int level, const char *message);

/* NULL restores stderr output. */
BPFTIME_API void bpftime_log_set_callback(bpftime_log_callback cb);
BPFTIME_API void bpftime_log_set_level(int level);
BPFTIME_API int bpftime_log_get_level(void);
void bpftime_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define BPFTIME_ERROR(...) bpftime_log(BPFTIME_LOG_ERROR, __VA_ARGS__)
#define BPFTIME_WARN(...) bpftime_log(BPFTIME_LOG_WARN, __VA_ARGS__)
#define BPFTIME_INFO(...) bpftime_log(BPFTIME_LOG_INFO, __VA_ARGS__)
#define BPFTIME_DEBUG(...) bpftime_log(BPFTIME_LOG_DEBUG, __VA_ARGS__)

#endif
