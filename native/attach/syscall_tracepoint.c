/* Syscall enter / exit attach implementations: see syscall_tracepoint.h.
 *
 * The entry lists are read by the SIGSYS handler on any thread while the
 * manager's thread changes them: entries are added at the head with one
 * atomic store and unlinked with one; an unlinked entry is kept (its next
 * pointer still leads into the list) until no link is left and dispatch is
 * stopped, which waits for every running hook. */
#include "attach/syscall_tracepoint.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "attach/syscall_names.h"
#include "attach/syscall_sud.h"
#include "common/log.h"
#include "runtime/bpftime_runtime.h"

enum ctx_format { FMT_TP, FMT_RAW, FMT_KSYS };

struct sc_entry {
    uint64_t attach_id;
    long nr; /* -1: every syscall */
    enum ctx_format format;
    uint64_t cookie;
    struct bpftime_attach_cb cb;
    const struct bpftime_attach_impl *owner;
    _Atomic(struct sc_entry *) next;
    struct sc_entry *dead_next;
};

struct sc_impl {
    struct bpftime_attach_impl base;
    bool exit;
};

/* The kernel's struct pt_regs (x86-64), as kprobe and raw_tracepoint programs read it. */
struct k_pt_regs {
    uint64_t r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs,
        flags, sp, ss;
};

/* trace_event_raw_sys_enter / _exit (the tracepoint context). */
struct tp_common {
    uint16_t type;
    uint8_t flags;
    uint8_t preempt_count;
    int32_t pid;
};
struct tp_sys_enter {
    struct tp_common common;
    int64_t id;
    uint64_t args[6];
};
struct tp_sys_exit {
    struct tp_common common;
    int64_t id;
    int64_t ret;
};

/* The verifier lets tracepoint programs read anywhere in the first 512
 * bytes and raw_tracepoint programs in the first 96: the buffers are that
 * big and zero past the real fields. */
#define TP_CTX_SIZE 512
#define RAW_CTX_SIZE 96

static _Atomic(struct sc_entry *) lists[2]; /* [0] enter, [1] exit */
static struct sc_entry *dead;
static int live; /* links in both lists (manager thread) */

static int enter_hook(const struct bpftime_sud_call *c, int64_t *ret);
static void exit_hook(const struct bpftime_sud_call *c, int64_t ret);
static const struct bpftime_sud_hooks hooks = {.enter = enter_hook, .exit = exit_hook};

static void fill_regs(struct k_pt_regs *r, const struct bpftime_sud_call *c)
{
    const greg_t *g = ((const mcontext_t *)c->mctx)->gregs;
    *r = (struct k_pt_regs){
        .r15 = (uint64_t)g[REG_R15],
        .r14 = (uint64_t)g[REG_R14],
        .r13 = (uint64_t)g[REG_R13],
        .r12 = (uint64_t)g[REG_R12],
        .bp = (uint64_t)g[REG_RBP],
        .bx = (uint64_t)g[REG_RBX],
        .r11 = (uint64_t)g[REG_EFL], /* syscall puts rflags in r11 */
        .r10 = c->args[3],
        .r9 = c->args[5],
        .r8 = c->args[4],
        .ax = (uint64_t)-ENOSYS, /* as the kernel's entry code leaves it */
        .cx = c->site,           /* syscall puts the return address in rcx */
        .dx = c->args[2],
        .si = c->args[1],
        .di = c->args[0],
        .orig_ax = (uint64_t)c->nr,
        .ip = c->site,
        .cs = 0x33,
        .flags = (uint64_t)g[REG_EFL],
        .sp = (uint64_t)g[REG_RSP],
        .ss = 0x2b,
    };
}

/* Runs e's program on the context for call c; returns the override, if any. */
static bool run_one(struct sc_entry *e, const struct bpftime_sud_call *c, bool is_exit, int64_t ret,
                    int64_t *override)
{
    struct k_pt_regs regs, outer;
    fill_regs(&regs, c);
    if (is_exit)
        regs.ax = (uint64_t)ret;
    _Alignas(8) unsigned char buf[TP_CTX_SIZE];
    void *ctx = buf;
    uint64_t len;
    switch (e->format) {
    case FMT_TP: {
        memset(buf, 0, sizeof buf);
        struct tp_common common = {
            .pid = (int32_t)syscall(SYS_gettid), /* the handler's syscalls are not caught */
        };
        if (is_exit) {
            struct tp_sys_exit t = {.common = common, .id = c->nr, .ret = ret};
            memcpy(buf, &t, sizeof t);
        } else {
            struct tp_sys_enter t = {.common = common, .id = c->nr};
            memcpy(t.args, c->args, sizeof t.args);
            memcpy(buf, &t, sizeof t);
        }
        len = TP_CTX_SIZE;
        break;
    }
    case FMT_RAW: {
        memset(buf, 0, RAW_CTX_SIZE);
        uint64_t args[2] = {(uint64_t)(uintptr_t)&regs, is_exit ? (uint64_t)ret : (uint64_t)c->nr};
        memcpy(buf, args, sizeof args);
        len = RAW_CTX_SIZE;
        break;
    }
    default: /* FMT_KSYS */
        if (is_exit) {
            ctx = &regs;
        } else {
            outer = regs;
            outer.di = (uint64_t)(uintptr_t)&regs;
            ctx = &outer;
        }
        len = sizeof regs;
        break;
    }
    struct bpftime_invocation inv = {.func_ip = 0, .cookie = e->cookie, .regs = &regs};
    struct bpftime_invocation *prev = bpftime_invocation_get();
    bpftime_invocation_set(&inv);
    uint64_t r0;
    (void)e->cb.run(e->cb.data, ctx, len, &r0); /* a failed run is logged by the manager */
    bpftime_invocation_set(prev);
    if (!is_exit && inv.override_set) {
        *override = (int64_t)inv.override_value;
        return true;
    }
    return false;
}

static int enter_hook(const struct bpftime_sud_call *c, int64_t *ret)
{
    bool skip = false;
    for (struct sc_entry *e = atomic_load(&lists[0]); e; e = atomic_load(&e->next))
        if (e->nr < 0 || e->nr == c->nr)
            skip |= run_one(e, c, false, 0, ret);
    return skip;
}

static void exit_hook(const struct bpftime_sud_call *c, int64_t ret)
{
    int64_t ignored;
    for (struct sc_entry *e = atomic_load(&lists[1]); e; e = atomic_load(&e->next))
        if (e->nr < 0 || e->nr == c->nr)
            run_one(e, c, true, ret, &ignored);
}

/* Frees unlinked entries once dispatch is stopped (no hook can hold one). */
static void free_dead(void)
{
    while (dead) {
        struct sc_entry *e = dead;
        dead = e->dead_next;
        free(e);
    }
}

/* "FORMAT:NAME" → format and syscall number (-1: all). */
static int parse_arg(const char *what, const void *arg, uint32_t arg_len, enum ctx_format *fmt,
                     long *nr)
{
    char s[96];
    if (arg_len == 0 || arg_len >= sizeof s)
        return bpftime_set_error(
            -EINVAL, "%s target: expected FORMAT:SYSCALL (tp:openat), got %u bytes", what, arg_len);
    memcpy(s, arg, arg_len);
    s[arg_len] = 0;
    char *colon = strchr(s, ':');
    if (!colon)
        return bpftime_set_error(-EINVAL, "%s target \"%s\": expected FORMAT:SYSCALL (tp:openat)",
                                 what, s);
    *colon = 0;
    const char *name = colon + 1;
    if (strcmp(s, "tp") == 0)
        *fmt = FMT_TP;
    else if (strcmp(s, "raw") == 0)
        *fmt = FMT_RAW;
    else if (strcmp(s, "ksys") == 0)
        *fmt = FMT_KSYS;
    else
        return bpftime_set_error(
            -EINVAL, "%s target: unknown context format \"%s\" (tp, raw, ksys)", what, s);
    if (strcmp(name, "all") == 0) {
        *nr = -1;
        return 0;
    }
    *nr = bpftime_syscall_nr(name);
    if (*nr < 0)
        return bpftime_set_error(-ENOENT, "%s target: no syscall named \"%s\" on x86-64", what,
                                 name);
    return 0;
}

static int sc_attach(struct bpftime_attach_impl *impl, const void *arg, uint32_t arg_len,
                     uint64_t cookie, struct bpftime_attach_cb cb, uint64_t attach_id)
{
    struct sc_impl *si = (struct sc_impl *)impl;
    enum ctx_format fmt = FMT_TP;
    long nr = -1;
    int rc = parse_arg(impl->ops->name, arg, arg_len, &fmt, &nr);
    if (rc < 0)
        return rc;
    struct sc_entry *e = calloc(1, sizeof *e);
    if (!e)
        return bpftime_set_error(-ENOMEM, "out of memory");
    e->attach_id = attach_id;
    e->nr = nr;
    e->format = fmt;
    e->cookie = cookie;
    e->cb = cb;
    e->owner = impl;
    if (live == 0) {
        rc = bpftime_sud_start(&hooks);
        if (rc < 0) {
            free(e);
            return rc;
        }
    }
    _Atomic(struct sc_entry *) *head = &lists[si->exit];
    atomic_store(&e->next, atomic_load(head));
    atomic_store(head, e);
    live++;
    return 0;
}

static int sc_detach(struct bpftime_attach_impl *impl, uint64_t attach_id)
{
    struct sc_impl *si = (struct sc_impl *)impl;
    _Atomic(struct sc_entry *) *pp = &lists[si->exit];
    for (struct sc_entry *e; (e = atomic_load(pp)); pp = &e->next) {
        if (e->attach_id != attach_id)
            continue;
        atomic_store(pp, atomic_load(&e->next));
        e->dead_next = dead;
        dead = e;
        if (--live == 0) {
            bpftime_sud_stop();
            free_dead();
        }
        return 0;
    }
    return bpftime_set_error(-ENOENT, "no %s attach %llu", impl->ops->name,
                             (unsigned long long)attach_id);
}

static void sc_destroy(struct bpftime_attach_impl *impl)
{
    struct sc_impl *si = (struct sc_impl *)impl;
    struct sc_entry *e;
    while ((e = atomic_load(&lists[si->exit])))
        sc_detach(impl, e->attach_id);
    free(si);
}

static const struct bpftime_attach_impl_ops enter_ops = {
    .name = "sys_enter",
    .target_type = BPFTIME_TARGET_SYSCALL_ENTER,
    .attach = sc_attach,
    .detach = sc_detach,
    .destroy = sc_destroy,
};

static const struct bpftime_attach_impl_ops exit_ops = {
    .name = "sys_exit",
    .target_type = BPFTIME_TARGET_SYSCALL_EXIT,
    .attach = sc_attach,
    .detach = sc_detach,
    .destroy = sc_destroy,
};

struct bpftime_attach_impl *bpftime_syscall_impl_create(int exit)
{
    struct sc_impl *si = calloc(1, sizeof *si);
    if (!si)
        return NULL;
    si->base.ops = exit ? &exit_ops : &enter_ops;
    si->exit = exit != 0;
    return &si->base;
}
