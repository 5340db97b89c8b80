/* The data plane's version, so the control plane can check that it loaded
 * the library built from the same sources (BPFTIME_VERSION comes from
 * package.json through the Makefile). */
#ifndef BPFTIME_VERSION
#define BPFTIME_VERSION "unknown"
#endif

#include "bpftime/api.h"

BPFTIME_API const char *bpftime_native_version(void);

const char *bpftime_native_version(void)
{
    return BPFTIME_VERSION;
}
