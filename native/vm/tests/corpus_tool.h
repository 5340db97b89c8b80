/* Shared by the tools that hand a test file's programs to the LLVM tier's
 * test (tool_jit_diff_corpus.c, tool_vm_conformance_corpus.c): they include
 * a test_*.c for its programs, so they stand in for the harness (running
 * none of its tests) and read the blobs the test compiled. */
#ifndef BPFTIME_VM_TESTS_CORPUS_TOOL_H
#define BPFTIME_VM_TESTS_CORPUS_TOOL_H

#include <stdio.h>
#include <stdlib.h>

#include "test/harness.h"

void test_register(const char *name, test_fn fn)
{
    (void)name, (void)fn;
}
void test_fail(struct test_ctx *t, const char *file, int line, const char *fmt, ...)
{
    (void)t, (void)file, (void)line, (void)fmt;
}
bool test_failed(const struct test_ctx *t)
{
    (void)t;
    return false;
}

/* The whole file, or NULL (no file: the translator refused that program). */
static void *corpus_read_blob(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = n > 0 ? malloc((size_t)n) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = b ? (size_t)n : 0;
    return b;
}

#endif
