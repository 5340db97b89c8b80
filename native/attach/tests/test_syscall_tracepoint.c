/* The syscall enter/exit attach implementations (attach/syscall_tracepoint.c)
 * in this process: the context each format builds (offsets as the kernel's
 * trace_event_raw_sys_enter/_exit, bpf_raw_tracepoint_args and pt_regs
 * declare them), the syscall filter, override, and detach. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attach/syscall_names.h"
#include "attach/syscall_tracepoint.h"
#include "runtime/bpftime_runtime.h"
#include "test/harness.h"

/* kernel struct pt_regs (x86-64): word index of each register */
enum { PT_DX = 12, PT_SI = 13, PT_DI = 14, PT_ORIG_AX = 15, PT_AX = 10, PT_R10 = 7 };

struct seen {
    int runs;
    unsigned char ctx[512];
    uint64_t len;
    uint64_t regs[21]; /* what a pt_regs pointer in the context pointed at */
    int64_t override;  /* != 0: call bpf_override_return's equivalent */
};

static int record(void *data, void *ctx, uint64_t len, uint64_t *ret)
{
    struct seen *s = data;
    s->runs++;
    s->len = len;
    memcpy(s->ctx, ctx, len < sizeof s->ctx ? len : sizeof s->ctx);
    if (s->override) {
        struct bpftime_invocation *inv = bpftime_invocation_get();
        inv->override_set = 1;
        inv->override_value = (uint64_t)s->override;
    }
    *ret = 0;
    return 0;
}

static int64_t attach(struct bpftime_attach_impl *impl, const char *arg, struct seen *s)
{
    struct bpftime_attach_cb cb = {.run = record, .data = s};
    return bpftime_attach_impl_attach(impl, arg, (uint32_t)strlen(arg), 7, cb);
}

TEST(tracepoint_contexts_have_the_kernel_layout)
{
    struct bpftime_attach_impl *en = bpftime_syscall_impl_create(0);
    struct bpftime_attach_impl *ex = bpftime_syscall_impl_create(1);
    struct seen s_en = {0}, s_ex = {0};
    int64_t a = attach(en, "tp:close", &s_en);
    int64_t b = attach(ex, "tp:close", &s_ex);
    CHECK(a > 0);
    CHECK(b > 0);
    long r = syscall(SYS_close, (long)-5);
    getppid(); /* another syscall: not close, no run */
    CHECK_EQ(en->ops->detach(en, (uint64_t)a), 0);
    CHECK_EQ(ex->ops->detach(ex, (uint64_t)b), 0);
    CHECK_EQ(r, -1);
    CHECK_EQ(s_en.runs, 1);
    CHECK_EQ(s_ex.runs, 1);
    CHECK_EQ(s_en.len, 512);
    int32_t pid;
    int64_t id, arg0, ret;
    memcpy(&pid, s_en.ctx + 4, 4);
    memcpy(&id, s_en.ctx + 8, 8);
    memcpy(&arg0, s_en.ctx + 16, 8);
    CHECK_EQ(pid, (int32_t)syscall(SYS_gettid));
    CHECK_EQ(id, SYS_close);
    CHECK_EQ(arg0, -5);
    memcpy(&id, s_ex.ctx + 8, 8);
    memcpy(&ret, s_ex.ctx + 16, 8);
    CHECK_EQ(id, SYS_close);
    CHECK_EQ(ret, -EBADF);
    en->ops->destroy(en);
    ex->ops->destroy(ex);
}

TEST(raw_and_ksys_contexts_carry_pt_regs)
{
    struct bpftime_attach_impl *en = bpftime_syscall_impl_create(0);
    struct bpftime_attach_impl *ex = bpftime_syscall_impl_create(1);
    struct seen raw = {0}, ksys = {0}, kret = {0};
    CHECK(attach(en, "raw:all", &raw) > 0);
    CHECK(attach(en, "ksys:lseek", &ksys) > 0);
    CHECK(attach(ex, "ksys:lseek", &kret) > 0);
    /* the hooks copy the pt_regs a context points at only while it lives:
     * check what raw.ctx's args say about the last syscall (lseek) */
    long r = syscall(SYS_lseek, (long)-3, 11L, 2L);
    en->ops->destroy(en);
    ex->ops->destroy(ex);
    CHECK_EQ(r, -1);
    CHECK_EQ(raw.len, 96);
    uint64_t args[2];
    memcpy(args, raw.ctx, sizeof args);
    CHECK(args[0] != 0); /* the caller's pt_regs (valid during the run) */
    CHECK(raw.runs >= 1);
    CHECK_EQ(ksys.runs, 1);
    CHECK_EQ(kret.runs, 1);
    uint64_t outer[21], exit_regs[21];
    memcpy(outer, ksys.ctx, sizeof outer);
    memcpy(exit_regs, kret.ctx, sizeof exit_regs);
    CHECK_EQ(ksys.len, sizeof outer);
    CHECK(outer[PT_DI] != 0);   /* points at the syscall's own registers */
    CHECK_EQ(outer[PT_SI], 11); /* the rest as the syscall had them */
    CHECK_EQ(outer[PT_DX], 2);
    CHECK_EQ(outer[PT_ORIG_AX], SYS_lseek);
    CHECK_EQ((int64_t)exit_regs[PT_AX], -EBADF);
    CHECK_EQ(exit_regs[PT_ORIG_AX], SYS_lseek);
}

TEST(override_skips_and_the_exit_programs_see_the_value)
{
    struct bpftime_attach_impl *en = bpftime_syscall_impl_create(0);
    struct bpftime_attach_impl *ex = bpftime_syscall_impl_create(1);
    struct seen s_en = {.override = 1234}, s_ex = {0};
    CHECK(attach(en, "tp:dup", &s_en) > 0);
    CHECK(attach(ex, "tp:dup", &s_ex) > 0);
    long r = syscall(SYS_dup, 0);
    en->ops->destroy(en);
    ex->ops->destroy(ex);
    CHECK_EQ(r, 1234); /* no new fd was made: dup was skipped */
    int64_t ret;
    memcpy(&ret, s_ex.ctx + 16, 8);
    CHECK_EQ(ret, 1234);
}

TEST(bad_arguments_are_refused_with_a_reason)
{
    struct bpftime_attach_impl *en = bpftime_syscall_impl_create(0);
    struct seen s = {0};
    CHECK_EQ(attach(en, "tp:nosuchcall", &s), -ENOENT);
    CHECK(strstr(bpftime_last_error_message(), "nosuchcall") != NULL);
    CHECK_EQ(attach(en, "xx:openat", &s), -EINVAL);
    CHECK_EQ(attach(en, "openat", &s), -EINVAL);
    en->ops->destroy(en);
}

/* The table's first entry (read, 0), one in the middle and its last
 * (set_mempolicy_home_node, 450) give the numbers of the system headers. */
TEST(syscall_numbers_are_the_system_headers_numbers)
{
    CHECK_EQ(bpftime_syscall_nr("read"), SYS_read);
    CHECK_EQ(bpftime_syscall_nr("openat"), SYS_openat);
    CHECK_EQ(bpftime_syscall_nr("set_mempolicy_home_node"), SYS_set_mempolicy_home_node);
    CHECK_EQ(bpftime_syscall_nr("nosuchcall"), -1);
    CHECK_EQ(bpftime_syscall_nr(""), -1);
}
