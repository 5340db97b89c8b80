#include "common/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The log settings are process-wide by nature (one stderr, one host); they
 * are atomics so a data plane running on many threads reads them safely. */
static _Atomic(bpftime_log_callback) log_callback;
static atomic_int log_level = -1;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static int level_from_env(void)
{
    const char *v = getenv("BPFTIME_LOG");
    if (v)
        for (int i = 0; i < 4; i++)
            if (strcmp(v, level_names[i]) == 0)
                return i;
    return BPFTIME_LOG_WARN;
}

void bpftime_log_set_callback(bpftime_log_callback cb)
{
    atomic_store(&log_callback, cb);
}

void bpftime_log_set_level(int level)
{
    atomic_store(&log_level, level);
}

int bpftime_log_get_level(void)
{
    int level = atomic_load(&log_level);
    if (level < 0) {
        level = level_from_env();
        atomic_store(&log_level, level);
    }
    return level;
}

void bpftime_log(int level, const char *fmt, ...)
{
    if (level > bpftime_log_get_level())
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bpftime_log_callback cb = atomic_load(&log_callback);
    if (cb) {
        cb(level, msg);
    } else {
        int l = level < 0 ? 0 : level > 3 ? 3 : level;
        fprintf(stderr, "bpftime: %s: %s\n", level_names[l], msg);
    }
}
