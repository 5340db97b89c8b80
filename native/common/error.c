#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

static _Thread_local char last_message[BPFTIME_ERROR_LEN];
static _Thread_local int last_code;

_Thread_local int bpftime_error_quiet;

int bpftime_set_error(int code, const char *fmt, ...)
{
    last_code = code;
    if (bpftime_error_quiet)
        return code;
    /* Format aside first: the arguments may point into last_message. */
    char buf[BPFTIME_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(last_message, buf, sizeof buf);
    BPFTIME_DEBUG("error %d: %s", code, last_message);
    return code;
}

const char *bpftime_last_error_message(void)
{
    return last_message;
}

int bpftime_last_errno(void)
{
    return last_code;
}

/* Every number in errno.def is the one <errno.h> gives its name. */
#define BPFTIME_ERRNO(num, name, code) \
    _Static_assert((num) == (name), "errno.def: " #name " is not " #num);
#define BPFTIME_ERRNO_EXT(num, name, code)
#include "common/errno.def"
#undef BPFTIME_ERRNO
#undef BPFTIME_ERRNO_EXT
