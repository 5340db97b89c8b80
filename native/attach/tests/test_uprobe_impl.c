/* The uprobe / uretprobe attach implementations (attach/uprobe.c) with a
 * plain C callback in place of an eBPF program: registers as pt_regs,
 * invocation context, override, uretprobe return value, several attaches
 * on one function, detach, dormant targets. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/sdt.h>
#include <unistd.h>

#include "attach/attach_manager.h"
#include "attach/uprobe.h"
#include "patcher/patcher.h"
#include "runtime/bpftime_runtime.h"
#include "test/harness.h"

__attribute__((noinline, used)) int uprobe_impl_add(int a, int b)
{
    __asm__ volatile("" ::: "memory");
    return a + b;
}
/* Called through a volatile pointer so the compiler cannot fold the calls. */
static int (*volatile add_fn)(int, int) = uprobe_impl_add;

/* A USDT probe of this binary (<sys/sdt.h>: a nop and a .note.stapsdt). */
__attribute__((noinline, used)) void uprobe_impl_usdt(long a)
{
    STAP_PROBE1(bpftime_impl, hit, a);
    __asm__ volatile("" ::: "memory");
}
static void (*volatile usdt_fn)(long) = uprobe_impl_usdt;

struct seen {
    int calls;
    uint64_t rdi, rsi, rax, func_ip, cookie;
    int override; /* if set, override the return value with 1000 + rdi */
};

static int record(void *data, void *ctx, uint64_t ctx_len, uint64_t *ret)
{
    *ret = 0;
    struct seen *s = data;
    struct bpftime_hook_regs *regs = ctx;
    struct bpftime_invocation *inv = bpftime_invocation_get();
    if (ctx_len != sizeof *regs || !inv)
        return -EINVAL;
    s->calls++;
    s->rdi = regs->rdi;
    s->rsi = regs->rsi;
    s->rax = regs->rax;
    s->func_ip = inv->func_ip;
    s->cookie = inv->cookie;
    if (s->override) {
        inv->override_set = 1;
        inv->override_value = 1000 + regs->rdi;
    }
    return 0;
}

static void target_arg(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    snprintf(buf, len, "%s:uprobe_impl_add", exe);
}

TEST(uprobe_sees_arguments_and_context)
{
    struct bpftime_attach_impl *up = bpftime_uprobe_impl_create(0);
    char arg[PATH_MAX + 32];
    target_arg(arg, sizeof arg);
    struct seen s = {0};
    int64_t id = bpftime_attach_impl_attach(up, arg, (uint32_t)strlen(arg), 99,
                                            (struct bpftime_attach_cb){record, &s, NULL, NULL});
    CHECK(id > 0);
    CHECK_EQ(bpftime_uprobe_impl_active(up), 1);
    CHECK_EQ(add_fn(3, 4), 7);
    CHECK_EQ(s.calls, 1);
    CHECK_EQ(s.rdi, 3);
    CHECK_EQ(s.rsi, 4);
    CHECK_EQ(s.func_ip, (uintptr_t)&uprobe_impl_add);
    CHECK_EQ(s.cookie, 99);
    CHECK(bpftime_invocation_get() == NULL); /* restored after the run */
    s.override = 1;
    CHECK_EQ(add_fn(5, 6), 1005);
    CHECK_EQ(bpftime_attach_impl_detach(up, (uint64_t)id), 0);
    CHECK_EQ(add_fn(5, 6), 11);
    CHECK_EQ(s.calls, 2);
    up->ops->destroy(up);
}

TEST(uretprobe_sees_the_return_value_and_ignores_override)
{
    struct bpftime_attach_impl *ret = bpftime_uprobe_impl_create(1);
    struct bpftime_attach_impl *up = bpftime_uprobe_impl_create(0);
    CHECK_EQ(ret->ops->target_type, BPFTIME_TARGET_URETPROBE);
    CHECK_EQ(up->ops->target_type, BPFTIME_TARGET_UPROBE);
    char arg[PATH_MAX + 32];
    target_arg(arg, sizeof arg);
    struct seen r = {.override = 1}, e = {0}, e2 = {0};
    int64_t a = bpftime_attach_impl_attach(ret, arg, (uint32_t)strlen(arg), 0,
                                           (struct bpftime_attach_cb){record, &r, NULL, NULL});
    int64_t b = bpftime_attach_impl_attach(up, arg, (uint32_t)strlen(arg), 0,
                                           (struct bpftime_attach_cb){record, &e, NULL, NULL});
    int64_t c = bpftime_attach_impl_attach(up, arg, (uint32_t)strlen(arg), 0,
                                           (struct bpftime_attach_cb){record, &e2, NULL, NULL});
    CHECK(a > 0 && b > 0 && c > 0);
    for (int i = 0; i < 10; i++)
        CHECK_EQ(add_fn(i, 100), i + 100);
    CHECK_EQ(r.calls, 10);
    CHECK_EQ(r.rax, 109);
    CHECK_EQ(r.func_ip, (uintptr_t)&uprobe_impl_add);
    CHECK_EQ(e.calls, 10);
    CHECK_EQ(e2.calls, 10);
    CHECK_EQ(bpftime_attach_impl_detach(up, (uint64_t)b), 0);
    add_fn(1, 1);
    CHECK_EQ(e.calls, 10);
    CHECK_EQ(e2.calls, 11);
    CHECK_EQ(r.calls, 11);
    ret->ops->destroy(ret); /* destroy unhooks what is left */
    up->ops->destroy(up);
    add_fn(1, 1);
    CHECK_EQ(r.calls, 11);
    CHECK_EQ(e2.calls, 11);
}

TEST(libc_malloc)
{
    struct bpftime_attach_impl *up = bpftime_uprobe_impl_create(0);
    struct seen s = {0};
    const char *arg = "libc.so.6:malloc";
    int64_t id = bpftime_attach_impl_attach(up, arg, (uint32_t)strlen(arg), 0,
                                            (struct bpftime_attach_cb){record, &s, NULL, NULL});
    CHECK(id > 0);
    void *volatile p = malloc(12345);
    free(p);
    int calls = s.calls;
    CHECK_EQ(bpftime_attach_impl_detach(up, (uint64_t)id), 0);
#ifndef __SANITIZE_ADDRESS__ /* ASan replaces malloc: libc's is not called */
    CHECK(calls >= 1);
#else
    (void)calls;
#endif
    up->ops->destroy(up);
}

TEST(dormant_and_failing_targets)
{
    struct bpftime_attach_impl *up = bpftime_uprobe_impl_create(0);
    struct seen s = {0};
    const char *missing = "libnot-loaded-here.so.1:f";
    int64_t id = bpftime_attach_impl_attach(up, missing, (uint32_t)strlen(missing), 0,
                                            (struct bpftime_attach_cb){record, &s, NULL, NULL});
    CHECK(id > 0); /* dormant: not an error */
    CHECK_EQ(bpftime_uprobe_impl_active(up), 0);
    char why[256] = "";
    CHECK_EQ(up->ops->waiting(up, (uint64_t)id, why, sizeof why), 1);
    CHECK_STR_CONTAINS(why, "libnot-loaded-here.so.1 is not loaded in this process");
    CHECK(strstr(why, ":f") == NULL);
    CHECK_EQ(bpftime_uprobe_impl_retry(up), 0);
    const char *bad = "libc.so.6:no_such_function_xyz";
    CHECK_EQ(bpftime_attach_impl_attach(up, bad, (uint32_t)strlen(bad), 0,
                                        (struct bpftime_attach_cb){record, &s, NULL, NULL}),
             -ENOENT);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "symbol no_such_function_xyz not found");
    CHECK_EQ(bpftime_attach_impl_detach(up, (uint64_t)id), 0);
    CHECK_EQ(bpftime_attach_impl_detach(up, 12345), -ENOENT);
    up->ops->destroy(up);
}

TEST(usdt_fires_and_a_dormant_one_names_its_binary)
{
    struct bpftime_attach_impl *u = bpftime_usdt_impl_create();
    struct seen s = {0};
    char exe[PATH_MAX], arg[PATH_MAX + 32], why[256] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    snprintf(arg, sizeof arg, "%s:bpftime_impl:hit", exe);
    int64_t id = bpftime_attach_impl_attach(u, arg, (uint32_t)strlen(arg), 0,
                                            (struct bpftime_attach_cb){record, &s, NULL, NULL});
    CHECK(id > 0);
    CHECK_EQ(u->ops->waiting(u, (uint64_t)id, why, sizeof why), 0);
    usdt_fn(5);
    usdt_fn(6);
    CHECK_EQ(s.calls, 2);
    const char *missing = "libnot-loaded-here.so.1:prov:name";
    int64_t dormant =
        bpftime_attach_impl_attach(u, missing, (uint32_t)strlen(missing), 0,
                                   (struct bpftime_attach_cb){record, &s, NULL, NULL});
    CHECK(dormant > 0);
    CHECK_EQ(u->ops->waiting(u, (uint64_t)dormant, why, sizeof why), 1);
    CHECK_STR_CONTAINS(why, "libnot-loaded-here.so.1 is not loaded in this process");
    CHECK(strstr(why, "prov") == NULL);
    const char *absent = "libc.so.6:no_such_provider:no_such_probe";
    CHECK(bpftime_attach_impl_attach(u, absent, (uint32_t)strlen(absent), 0,
                                     (struct bpftime_attach_cb){record, &s, NULL, NULL}) < 0);
    CHECK_EQ(bpftime_attach_impl_detach(u, (uint64_t)id), 0);
    CHECK_EQ(bpftime_attach_impl_detach(u, (uint64_t)dormant), 0);
    usdt_fn(7);
    CHECK_EQ(s.calls, 2);
    u->ops->destroy(u);
}
