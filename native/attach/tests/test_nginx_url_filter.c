/* The nginx URL-filter attach implementation (attach/nginx_url_filter.c)
 * with plain C callbacks in place of programs: every attach runs, in attach
 * order, on the URL, the method and its own argument (more attaches than
 * the first allocation holds; after detaching one in the middle, at either
 * end, or all); the verdict table of include/bpftime/nginx_url_filter.h
 * (0 refuses with 403, 400..599 is the status, anything else continues);
 * a failed run is -EFAULT; a linked program's verdict through the attach
 * manager, on the JIT and on the interpreter (BPFTIME_VM=interp). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach/attach_impl.h"
#include "attach/attach_manager.h"
#include "attach/nginx_url_filter.h"
#include "bpftime/nginx_url_filter.h"
#include "runtime/tests/region_fixture.h"
#include "test/harness.h"
#include "vm/tests/insn_macros.h"

TEST_REGION_MAKER("ngxf", 4 << 20)

struct seen {
    char log[512]; /* "arg(len)/" per run, in run order */
    char url[64], method[16];
    uint64_t verdict; /* what every callback returns */
    int fail;         /* the callback fails (a program that could not run) */
};

static int record(void *data, void *ctx_, uint64_t len, uint64_t *ret)
{
    struct seen *s = data;
    const struct nginx_url_ctx *ctx = ctx_;
    if (len != sizeof *ctx)
        return -EINVAL;
    const char *arg = (const char *)(uintptr_t)ctx->arg;
    size_t n = (size_t)(ctx->arg_end - ctx->arg);
    size_t at = strlen(s->log);
    snprintf(s->log + at, sizeof s->log - at, "%.*s(%zu)/", (int)n, arg, n);
    snprintf(s->url, sizeof s->url, "%.*s", (int)(ctx->url_end - ctx->url),
             (const char *)(uintptr_t)ctx->url);
    snprintf(s->method, sizeof s->method, "%.*s", (int)(ctx->method_end - ctx->method),
             (const char *)(uintptr_t)ctx->method);
    *ret = s->verdict;
    return s->fail ? -EFAULT : 0;
}

static int64_t attach(struct bpftime_attach_impl *impl, const char *arg, struct seen *s)
{
    struct bpftime_attach_cb cb = {.run = record, .data = s};
    return bpftime_attach_impl_attach(impl, arg, (uint32_t)strlen(arg), 0, cb);
}

static int run(struct bpftime_attach_impl *impl, struct seen *s, const char *url)
{
    s->log[0] = 0;
    return bpftime_nginx_url_filter_run(impl, url, strlen(url), "POST", 4);
}

TEST(every_attach_runs_in_order_on_its_own_argument)
{
    struct bpftime_attach_impl *ng = bpftime_nginx_url_filter_impl_create();
    struct seen s = {.verdict = BPFTIME_NGINX_ACCEPT};
    const char *args[9] = {"", "a", "bb", "ccc", "dddd", "e", "ff", "ggg", "hhhh"};
    int64_t ids[9];
    for (int i = 0; i < 9; i++) {
        ids[i] = attach(ng, args[i], &s);
        CHECK(ids[i] > 0);
    }
    CHECK_EQ(run(ng, &s, "/x?y=1"), 0);
    CHECK(strcmp(s.log, "(0)/a(1)/bb(2)/ccc(3)/dddd(4)/e(1)/ff(2)/ggg(3)/hhhh(4)/") == 0);
    CHECK(strcmp(s.url, "/x?y=1") == 0);
    CHECK(strcmp(s.method, "POST") == 0);
    /* the middle one, the first and the last */
    CHECK_EQ(bpftime_attach_impl_detach(ng, (uint64_t)ids[4]), 0);
    CHECK_EQ(run(ng, &s, "/"), 0);
    CHECK(strcmp(s.log, "(0)/a(1)/bb(2)/ccc(3)/e(1)/ff(2)/ggg(3)/hhhh(4)/") == 0);
    CHECK_EQ(bpftime_attach_impl_detach(ng, (uint64_t)ids[0]), 0);
    CHECK_EQ(bpftime_attach_impl_detach(ng, (uint64_t)ids[8]), 0);
    CHECK_EQ(run(ng, &s, "/"), 0);
    CHECK(strcmp(s.log, "a(1)/bb(2)/ccc(3)/e(1)/ff(2)/ggg(3)/") == 0);
    CHECK_EQ(bpftime_attach_impl_detach(ng, (uint64_t)ids[8]), -ENOENT);
    for (int i = 1; i < 8; i++)
        if (i != 4)
            CHECK_EQ(bpftime_attach_impl_detach(ng, (uint64_t)ids[i]), 0);
    CHECK_EQ(run(ng, &s, "/"), 0);
    CHECK(strcmp(s.log, "") == 0);
    /* attached again after everything went */
    CHECK(attach(ng, "zz", &s) > 0);
    CHECK_EQ(run(ng, &s, "/"), 0);
    CHECK(strcmp(s.log, "zz(2)/") == 0);
    ng->ops->destroy(ng);
}

TEST(the_verdict_table)
{
    struct bpftime_attach_impl *ng = bpftime_nginx_url_filter_impl_create();
    struct seen s = {0};
    CHECK(attach(ng, "p", &s) > 0);
    const struct {
        uint64_t ret;
        int status;
    } table[] = {{0, 403},
                 {1, 0},
                 {2, 0},
                 {399, 0},
                 {400, 400},
                 {403, 403},
                 {451, 451},
                 {599, 599},
                 {600, 0},
                 {(uint64_t)-1, 0},
                 {(1ull << 32) | 403, 0}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        s.verdict = table[i].ret;
        int got = run(ng, &s, "/");
        if (got != table[i].status)
            test_fail(t, __FILE__, __LINE__, "return %llu: status %d, expected %d",
                      (unsigned long long)table[i].ret, got, table[i].status);
    }
    /* the first refusal decides: later attaches do not run */
    struct seen later = {.verdict = 404};
    CHECK(attach(ng, "q", &later) > 0);
    s.verdict = 451;
    CHECK_EQ(run(ng, &s, "/"), 451);
    CHECK(strcmp(later.log, "") == 0);
    s.verdict = BPFTIME_NGINX_ACCEPT;
    CHECK_EQ(run(ng, &s, "/"), 404);
    /* a run that fails */
    s.fail = 1;
    CHECK_EQ(run(ng, &s, "/"), -EFAULT);
    ng->ops->destroy(ng);
}

/* r0 = 400 + the URL's length. */
static const struct ebpf_inst url_len_prog[] = {
    LDX(BPF_DW, 2, 1, 0),
    LDX(BPF_DW, 0, 1, 8),
    ALU64_REG(BPF_SUB, 0, 2),
    ALU64_IMM(BPF_ADD, 0, 400),
    EXIT(),
};

static void linked_program_decides(struct test_ctx *t, const char *engine)
{
    if (engine)
        setenv("BPFTIME_VM", engine, 1); /* read when the manager compiles */
    struct bpftime_region *r = mk(engine ? engine : "jit");
    CHECK(r != NULL);
    int prog = bpftime_prog_create(r, "u", 0x1001, "GPL", "", url_len_prog,
                                   sizeof url_len_prog / sizeof url_len_prog[0], NULL, 0);
    int tgt = bpftime_target_create(r, BPFTIME_TARGET_NGINX_URL_FILTER, "", 0);
    CHECK(prog > 0 && tgt > 0);
    CHECK(bpftime_link_create(r, (uint32_t)prog, (uint32_t)tgt, 0) > 0);
    struct bpftime_attach_manager *m = bpftime_attach_manager_create(r);
    struct bpftime_attach_impl *ng = bpftime_nginx_url_filter_impl_create();
    CHECK_EQ(bpftime_attach_manager_register_impl(m, ng), 0);
    CHECK_EQ(bpftime_attach_manager_instantiate(m), 1);
    CHECK_EQ(bpftime_nginx_url_filter_run(ng, "/abcdefghijklmnopqrstuvwxyz/12345678901234567890",
                                          48, "GET", 3),
             448);
    CHECK_EQ(bpftime_nginx_url_filter_run(ng, "/", 1, "GET", 3), 401);
    CHECK_EQ(bpftime_nginx_url_filter_run(ng, "", 0, "GET", 3), 400);
    bpftime_attach_manager_destroy(m);
}

TEST(a_linked_program_decides_on_the_jit)
{
    linked_program_decides(t, NULL);
}

TEST(a_linked_program_decides_on_the_interpreter)
{
    linked_program_decides(t, "interp");
}
