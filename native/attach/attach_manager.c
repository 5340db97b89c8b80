#include "attach/attach_manager.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attach/run_epoch.h"
#include "attach/syscall_sud.h"
#include "common/log.h"
#include "patcher/patcher.h"
#include "runtime/bpftime_runtime.h"
#include "vm/ebpf_vm.h"

#define MAX_IMPLS 16
/* A run counts itself on its thread's record before it loads the program
 * pointer, with a plain store (no fence): a second after a program was
 * retired, that store is visible to any thread, so the records then say who
 * may still run it (run_epoch.h). */
#define RETIRE_GRACE_NS 1000000000ull
#define HEARTBEAT_NS 1000000000ull

struct compiled_prog {
    uint32_t prog_id;
    struct ebpf_vm *vm; /* owned by the region handle (bpftime_prog_load_vm) */
    ebpf_jit_fn fn;     /* NULL: run on the interpreter */
    int users;          /* links pointing at it (manager thread only) */
    /* The JIT code calls nothing and uses no vector register: runs from a
     * function hook need no vector save. */
    bool gpr_only;
    uint64_t retired_ns;       /* 0 while in use */
    struct run_snapshot waits; /* threads that were running when the grace ended */
    bool waiting;
    bool tail_target; /* reachable by tail calls from a linked program: holds one user */
    bool reached;     /* scratch for hold_tail_targets */
    struct compiled_prog *next;
};

struct link_slot {
    uint32_t link_id, target_id, prog_id;
    struct bpftime_attach_impl *impl;
    uint64_t attach_id;
    _Atomic(struct compiled_prog *) prog;
    /* prog's JIT code when it calls nothing, else NULL: a function hook's
     * stub calls it directly (fast, its descriptor; see set_prog). */
    void *_Atomic fast_fn;
    struct bpftime_hook_fast fast;
    struct bpftime_region *region;
    const _Atomic uint32_t *stats_enabled; /* the region's switch, read per run */
    bool seen;
    struct link_slot *next;
};

struct bpftime_attach_manager {
    struct bpftime_region *region;
    struct bpftime_attach_impl *impls[MAX_IMPLS];
    int nr_impls;
    struct compiled_prog *progs;  /* live and retired */
    struct link_slot *slots;      /* attached links, in link-id order */
    struct link_slot *dead_slots; /* detached; kept because a hook may still hold one */
    uint64_t generation;
    const _Atomic uint64_t *generation_word; /* the region's, read per refresh */
    bool synced;
    bool single_threaded;
    int instance_id;
    uint64_t last_heartbeat_ns;
    uint64_t refreshes;
    /* Links that failed to attach at the last instantiate (recorded in the
     * region for `bpftime list`); nr_failed counts them all. */
    struct bpftime_link_error failed[BPFTIME_INSTANCE_MAX_ERRORS];
    uint32_t nr_failed;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Remembers that link_id failed to attach here, with this thread's last error. */
static void record_failure(struct bpftime_attach_manager *m, uint32_t link_id)
{
    if (m->nr_failed < BPFTIME_INSTANCE_MAX_ERRORS) {
        struct bpftime_link_error *e = &m->failed[m->nr_failed];
        e->link_id = link_id;
        e->err = bpftime_last_errno() < 0 ? bpftime_last_errno() : -EINVAL;
        snprintf(e->message, sizeof e->message, "%.*s", (int)sizeof e->message - 1,
                 bpftime_last_error_message());
    }
    m->nr_failed++;
}

/* One program run, for run_full. */
struct run_call {
    struct link_slot *s;
    struct compiled_prog *p;
    void *ctx;
    uint64_t ctx_len;
    uint64_t *ret;
    struct bpftime_invocation *inv; /* NULL: the caller set it (or none) */
};

/* Everything a run may need besides the JIT code: suspending Syscall User
 * Dispatch (what the helpers do - prctl for the comm, ... - is not a
 * syscall of the process), run statistics, the interpreter. Ordinary C. */
static uint64_t run_full(struct run_call *c)
{
    struct bpftime_invocation *prev = NULL;
    if (c->inv) {
        prev = bpftime_invocation_get();
        bpftime_invocation_set(c->inv);
    }
    int sud = bpftime_sud_suspend_thread();
    bool stats = bpftime_stats_enabled(c->s->region);
    uint64_t start = stats ? now_ns() : 0;
    int err = 0;
    if (c->p->fn) {
        *c->ret = c->p->fn(c->ctx, (size_t)c->ctx_len);
    } else if (ebpf_vm_exec(c->p->vm, c->ctx, (size_t)c->ctx_len, c->ret) < 0) {
        BPFTIME_WARN("program %u failed: %s", c->p->prog_id, ebpf_vm_error(c->p->vm));
        err = -EFAULT;
    }
    if (stats)
        bpftime_prog_record_run(c->s->region, c->p->prog_id, now_ns() - start);
    bpftime_sud_resume_thread(sud);
    if (c->inv)
        bpftime_invocation_set(prev);
    return (uint64_t)(int64_t)err;
}

/* The callbacks every hook calls: the thread's run record, one acquire
 * load of the link's program, and for JIT code that calls no helper with
 * no syscall link and no statistics, a direct call. Compiled to
 * general-purpose registers only: run_preserving_vectors touches no vector
 * register unless it saves them all first. */
BPFTIME_GPR_ONLY_BEGIN
static inline int run_link_common(void *data, void *ctx, uint64_t ctx_len, uint64_t *ret,
                                  bool preserve_vectors, struct bpftime_invocation *inv)
{
    struct link_slot *s = data;
    /* From a hook callback (preserve_vectors), the patcher's per-thread
     * sequence counts the run already (run_epoch.h). */
    struct run_thread *me = NULL;
    if (!preserve_vectors) {
        me = bpftime_run_self;
        if (__builtin_expect(!me, 0)) /* the thread's first run: mmap, pthread_once */
            me = bpftime_run_thread_claim();
        bpftime_run_enter(me);
    }
    struct compiled_prog *p = atomic_load_explicit(&s->prog, memory_order_acquire);
    int err = 0;
    if (p->fn && (p->gpr_only || !preserve_vectors) &&
        !atomic_load_explicit(&bpftime_sud_wanted, memory_order_relaxed) &&
        !bpftime_stats_enabled(s->region)) {
        *ret = p->fn(ctx, (size_t)ctx_len);
    } else {
        struct run_call c = {s, p, ctx, ctx_len, ret, inv};
        if (preserve_vectors)
            err = (int)bpftime_call_preserving_vectors((const void *)run_full, &c, NULL, NULL);
        else
            err = (int)run_full(&c);
    }
    bpftime_run_exit(me);
    return err;
}

static int run_link(void *data, void *ctx, uint64_t ctx_len, uint64_t *ret)
{
    return run_link_common(data, ctx, ctx_len, ret, false, NULL);
}

static int run_link_preserving_vectors(void *data, void *ctx, uint64_t ctx_len, uint64_t *ret,
                                       struct bpftime_invocation *inv)
{
    return run_link_common(data, ctx, ctx_len, ret, true, inv);
}
BPFTIME_GPR_ONLY_END

/* The callback of a single-threaded manager's links (an nginx worker, one
 * request at a time): programs are replaced and freed only by this thread,
 * in refresh, between runs, so a run needs no run record; and the caller
 * is ordinary C (no vector registers to keep). What stays per run: the
 * program pointer (link replacement), the syscall-dispatch and statistics
 * switches (run_full when either is on, or on the interpreter). */
static int run_link_single_thread(void *data, void *ctx, uint64_t ctx_len, uint64_t *ret)
{
    struct link_slot *s = data;
    struct compiled_prog *p = atomic_load_explicit(&s->prog, memory_order_relaxed);
    if (__builtin_expect(p->fn &&
                             !atomic_load_explicit(&bpftime_sud_wanted, memory_order_relaxed) &&
                             !atomic_load_explicit(s->stats_enabled, memory_order_relaxed),
                         1)) {
        *ret = p->fn(ctx, (size_t)ctx_len);
        return 0;
    }
    struct run_call c = {s, p, ctx, ctx_len, ret, NULL};
    return (int)run_full(&c);
}

struct bpftime_attach_manager *bpftime_attach_manager_create(struct bpftime_region *r)
{
    struct bpftime_attach_manager *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->region = r;
    m->generation_word = bpftime_region_generation_word(r);
    m->instance_id = bpftime_instance_register(r, 0);
    if (m->instance_id < 0) {
        BPFTIME_WARN("cannot register this process in the region: %s",
                     bpftime_last_error_message());
        m->instance_id = 0;
    }
    return m;
}

int bpftime_attach_manager_register_impl(struct bpftime_attach_manager *m,
                                         struct bpftime_attach_impl *impl)
{
    for (int i = 0; i < m->nr_impls; i++)
        if (m->impls[i]->ops->target_type == impl->ops->target_type)
            return bpftime_set_error(
                -EEXIST, "an attach implementation for target type %u is already registered",
                impl->ops->target_type);
    if (m->nr_impls == MAX_IMPLS)
        return bpftime_set_error(-ENOSPC, "too many attach implementations");
    m->impls[m->nr_impls++] = impl;
    m->synced = false;
    return 0;
}

static struct bpftime_attach_impl *impl_for(struct bpftime_attach_manager *m, uint32_t type)
{
    for (int i = 0; i < m->nr_impls; i++)
        if (m->impls[i]->ops->target_type == type)
            return m->impls[i];
    return NULL;
}

/* Finds or compiles program prog_id (reviving a retired one). */
static struct compiled_prog *get_prog(struct bpftime_attach_manager *m, uint32_t prog_id)
{
    for (struct compiled_prog *p = m->progs; p; p = p->next)
        if (p->prog_id == prog_id) {
            p->retired_ns = 0;
            p->waiting = false;
            bpftime_run_snapshot_free(&p->waits);
            return p;
        }
    struct ebpf_vm *vm;
    int err = bpftime_prog_load_vm(m->region, prog_id, &vm);
    if (err < 0) {
        bpftime_set_error(err, "program %u: %s", prog_id, bpftime_last_error_message());
        return NULL;
    }
    struct compiled_prog *p = calloc(1, sizeof *p);
    if (!p) {
        bpftime_prog_unload_vm(m->region, prog_id);
        bpftime_set_error(-ENOMEM, "program %u: out of memory", prog_id);
        return NULL;
    }
    p->prog_id = prog_id;
    p->vm = vm;
    const char *engine = getenv("BPFTIME_VM");
    if (!engine || strcmp(engine, "interp") != 0) {
        if (ebpf_vm_compile(vm, &p->fn) < 0) {
            BPFTIME_WARN("program %u: JIT unavailable (%s); using the interpreter", prog_id,
                         ebpf_vm_error(vm));
            p->fn = NULL;
        }
    }
    p->gpr_only =
        p->fn && bpftime_code_is_gpr_only(ebpf_vm_jit_code(vm), ebpf_vm_jit_size(vm)) == 1;
    BPFTIME_DEBUG("program %u: %s", prog_id,
                  p->gpr_only ? "JIT code calls nothing: hooks run it with no vector save"
                              : "calls helpers (or runs on the interpreter): hooks save the "
                                "vector registers around it");
    p->next = m->progs;
    m->progs = p;
    return p;
}

/* Points the link at p (published with release: a run loads it with
 * acquire); its fast path follows. */
static void set_prog(struct link_slot *s, struct compiled_prog *p)
{
    atomic_store_explicit(&s->fast_fn, p->gpr_only ? (void *)p->fn : NULL, memory_order_release);
    atomic_store_explicit(&s->prog, p, memory_order_release);
}

static void release_prog(struct bpftime_attach_manager *m, struct compiled_prog *p)
{
    if (--p->users == 0)
        p->retired_ns = now_ns();
    (void)m;
}

/* Frees retired programs nobody can still be running. */
static void collect_retired(struct bpftime_attach_manager *m, bool force)
{
    uint64_t now = now_ns();
    struct compiled_prog **pp = &m->progs;
    while (*pp) {
        struct compiled_prog *p = *pp;
        bool expired = m->single_threaded || force || now - p->retired_ns >= RETIRE_GRACE_NS;
        if (p->users == 0 && p->retired_ns && expired && !p->waiting) {
            bpftime_run_snapshot(&p->waits);
            p->waiting = true;
        }
        if (p->users == 0 && p->retired_ns && p->waiting &&
            (m->single_threaded || bpftime_run_snapshot_passed(&p->waits))) {
            bpftime_run_snapshot_free(&p->waits);
            *pp = p->next;
            bpftime_prog_unload_vm(m->region, p->prog_id);
            free(p);
        } else {
            pp = &p->next;
        }
    }
}

/* JIT code tail-calls straight into its target's JIT code, so every program
 * a linked program can reach through its prog_arrays (transitively) is
 * compiled here, before it is called, and kept while it stays reachable.
 * A prog_array update bumps the region's generation, which brings the
 * manager back here. */
static void scan_prog_arrays(struct bpftime_attach_manager *m, struct compiled_prog *from,
                             struct compiled_prog ***work, size_t *nwork, size_t *capwork)
{
    uint32_t ids[64];
    int n = bpftime_prog_get_map_ids(m->region, from->prog_id, ids, 64);
    for (int i = 0; i < n && i < 64; i++) {
        struct bpftime_map_info mi;
        if (bpftime_map_get(m->region, ids[i], &mi) < 0 || mi.type != BPFTIME_MAP_PROG_ARRAY)
            continue;
        for (uint32_t k = 0; k < mi.max_entries; k++) {
            uint32_t target = 0;
            if (bpftime_map_lookup(m->region, ids[i], &k, &target) < 0 || !target)
                continue;
            struct compiled_prog *t = get_prog(m, target);
            if (!t) {
                BPFTIME_WARN("tail-call target %u (prog_array %u[%u]): %s", target, ids[i], k,
                             bpftime_last_error_message());
                continue;
            }
            if (t->reached)
                continue;
            t->reached = true;
            if (*nwork == *capwork) {
                size_t cap = *capwork ? *capwork * 2 : 16;
                struct compiled_prog **w = realloc(*work, cap * sizeof *w);
                if (!w)
                    continue;
                *work = w;
                *capwork = cap;
            }
            (*work)[(*nwork)++] = t;
        }
    }
}

static void hold_tail_targets(struct bpftime_attach_manager *m)
{
    struct compiled_prog **work = NULL;
    size_t nwork = 0, capwork = 0;
    for (struct compiled_prog *p = m->progs; p; p = p->next)
        p->reached = false;
    for (struct link_slot *s = m->slots; s; s = s->next)
        scan_prog_arrays(m, atomic_load(&s->prog), &work, &nwork, &capwork);
    while (nwork)
        scan_prog_arrays(m, work[--nwork], &work, &nwork, &capwork);
    free(work);
    for (struct compiled_prog *p = m->progs; p; p = p->next) {
        if (p->reached && !p->tail_target) {
            p->tail_target = true;
            p->users++;
        } else if (!p->reached && p->tail_target) {
            p->tail_target = false;
            release_prog(m, p);
        }
    }
}

static void release_tail_targets(struct bpftime_attach_manager *m)
{
    for (struct compiled_prog *p = m->progs; p; p = p->next)
        if (p->tail_target) {
            p->tail_target = false;
            release_prog(m, p);
        }
}

static void detach_slot(struct bpftime_attach_manager *m, struct link_slot *s)
{
    int err = bpftime_attach_impl_detach(s->impl, s->attach_id);
    if (err < 0)
        BPFTIME_WARN("detach link %u: %s", s->link_id, bpftime_last_error_message());
    release_prog(m, atomic_load(&s->prog));
    if (m->single_threaded) {
        free(s);
    } else {
        s->next = m->dead_slots;
        m->dead_slots = s;
    }
}

static struct link_slot *attach_link(struct bpftime_attach_manager *m,
                                     const struct bpftime_link_info *li,
                                     const struct bpftime_target_info *ti,
                                     struct bpftime_attach_impl *impl)
{
    struct compiled_prog *p = get_prog(m, li->prog_id);
    if (!p)
        return NULL;
    struct link_slot *s = calloc(1, sizeof *s);
    uint8_t *arg = malloc(ti->arg_len + 1);
    if (!s || !arg) {
        free(s);
        free(arg);
        bpftime_set_error(-ENOMEM, "out of memory");
        return NULL;
    }
    int n = bpftime_target_get_arg(m->region, ti->id, arg, ti->arg_len + 1);
    if (n < 0) {
        free(s);
        free(arg);
        bpftime_set_error(n, "target %u: %s", ti->id, bpftime_last_error_message());
        return NULL;
    }
    s->link_id = li->id;
    s->target_id = li->target_id;
    s->prog_id = li->prog_id;
    s->impl = impl;
    s->region = m->region;
    s->stats_enabled = bpftime_stats_enabled_word(m->region);
    set_prog(s, p);
    p->users++;
    /* The fast path leaves statistics and syscall links to run_full. */
    s->fast = (struct bpftime_hook_fast){(void *const volatile *)&s->fast_fn,
                                         {(const volatile uint32_t *)s->stats_enabled,
                                          (const volatile uint32_t *)&bpftime_sud_wanted}};
    struct bpftime_attach_cb cb = {m->single_threaded ? run_link_single_thread : run_link, s,
                                   run_link_preserving_vectors, &s->fast};
    int64_t id = bpftime_attach_impl_attach(impl, arg, ti->arg_len, li->cookie, cb);
    free(arg);
    if (id < 0) {
        release_prog(m, p);
        free(s);
        return NULL;
    }
    s->attach_id = (uint64_t)id;
    return s;
}

static void report_instance(struct bpftime_attach_manager *m)
{
    if (!m->instance_id)
        return;
    uint32_t ids[BPFTIME_INSTANCE_MAX_LINKS];
    uint32_t n = 0;
    for (struct link_slot *s = m->slots; s && n < BPFTIME_INSTANCE_MAX_LINKS; s = s->next)
        ids[n++] = s->link_id;
    /* Failed links, then attached links that cannot fire yet (err 0, "waiting"). */
    struct bpftime_link_error errs[BPFTIME_INSTANCE_MAX_ERRORS];
    uint32_t ne = m->nr_failed;
    uint32_t stored = ne < BPFTIME_INSTANCE_MAX_ERRORS ? ne : BPFTIME_INSTANCE_MAX_ERRORS;
    memcpy(errs, m->failed, stored * sizeof errs[0]);
    for (struct link_slot *s = m->slots; s; s = s->next) {
        char why[BPFTIME_LINK_ERROR_LEN];
        int w = s->impl->ops->waiting
                    ? s->impl->ops->waiting(s->impl, s->attach_id, why, sizeof why)
                    : 0;
        if (w == 0)
            continue;
        if (stored < BPFTIME_INSTANCE_MAX_ERRORS) {
            errs[stored].link_id = s->link_id;
            errs[stored].err = w < 0 ? w : 0;
            memcpy(errs[stored].message, why, sizeof why);
            stored++;
        }
        ne++;
    }
    bpftime_instance_set_links(m->region, (uint32_t)m->instance_id, ids, n, m->generation);
    bpftime_instance_set_errors(m->region, (uint32_t)m->instance_id, errs, ne);
}

void bpftime_attach_manager_report(struct bpftime_attach_manager *m)
{
    report_instance(m);
}

int bpftime_attach_manager_instantiate(struct bpftime_attach_manager *m)
{
    uint64_t gen = bpftime_region_generation(m->region);
    for (struct link_slot *s = m->slots; s; s = s->next)
        s->seen = false;
    m->nr_failed = 0;

    struct link_slot *head = NULL, **tail = &head;
    for (int id = bpftime_link_next_id(m->region, 0); id > 0;
         id = bpftime_link_next_id(m->region, (uint32_t)id)) {
        struct bpftime_link_info li;
        struct bpftime_target_info ti;
        if (bpftime_link_get(m->region, (uint32_t)id, &li) < 0)
            continue; /* deleted meanwhile */
        if (bpftime_target_get(m->region, li.target_id, &ti) < 0)
            continue;
        struct bpftime_attach_impl *impl = impl_for(m, ti.type);
        if (!impl)
            continue;

        /* Unlink the existing slot for this link, if any, from the old list. */
        struct link_slot *s = NULL, **pp = &m->slots;
        for (; *pp; pp = &(*pp)->next)
            if ((*pp)->link_id == li.id && (*pp)->target_id == li.target_id) {
                s = *pp;
                *pp = s->next;
                break;
            }
        if (s && s->prog_id != li.prog_id) {
            struct compiled_prog *np = get_prog(m, li.prog_id);
            if (np) {
                struct compiled_prog *old = atomic_load(&s->prog);
                np->users++;
                set_prog(s, np);
                s->prog_id = li.prog_id;
                release_prog(m, old);
                BPFTIME_INFO("link %u now runs program %u", li.id, li.prog_id);
            } else {
                BPFTIME_WARN("link %u keeps program %u: %s", li.id, s->prog_id,
                             bpftime_last_error_message());
                record_failure(m, li.id);
            }
        }
        if (!s) {
            s = attach_link(m, &li, &ti, impl);
            if (!s) {
                BPFTIME_WARN("cannot attach link %u: %s", li.id, bpftime_last_error_message());
                record_failure(m, li.id);
                continue;
            }
            BPFTIME_INFO("attached link %u (program %u, %s)", li.id, li.prog_id, impl->ops->name);
        }
        s->next = NULL;
        *tail = s;
        tail = &s->next;
    }
    /* Whatever is left in the old list is no longer linked. */
    while (m->slots) {
        struct link_slot *s = m->slots;
        m->slots = s->next;
        BPFTIME_INFO("detaching link %u", s->link_id);
        detach_slot(m, s);
    }
    m->slots = head;
    hold_tail_targets(m);
    m->generation = gen;
    m->synced = true;
    collect_retired(m, false);
    report_instance(m);
    return bpftime_attach_manager_attached(m);
}

int bpftime_attach_manager_refresh(struct bpftime_attach_manager *m)
{
    if (m->synced &&
        atomic_load_explicit(m->generation_word, memory_order_acquire) == m->generation) {
        /* Look at the clock only every 64 calls: nginx refreshes per request. */
        if (m->instance_id && (++m->refreshes & 63) == 0) {
            uint64_t now = now_ns();
            if (now - m->last_heartbeat_ns >= HEARTBEAT_NS) {
                m->last_heartbeat_ns = now;
                bpftime_instance_heartbeat(m->region, (uint32_t)m->instance_id);
                /* Processes that died without cleaning up (crash, SIGKILL)
                 * leave their instance behind: whoever is alive removes it. */
                bpftime_instance_reap(m->region);
                collect_retired(m, false);
            }
        }
        return 0;
    }
    int n = bpftime_attach_manager_instantiate(m);
    return n < 0 ? n : 1;
}

void bpftime_attach_manager_deinstantiate(struct bpftime_attach_manager *m)
{
    while (m->slots) {
        struct link_slot *s = m->slots;
        m->slots = s->next;
        detach_slot(m, s);
    }
    release_tail_targets(m);
    collect_retired(m, true);
    while (m->dead_slots) {
        struct link_slot *s = m->dead_slots;
        m->dead_slots = s->next;
        free(s);
    }
    m->synced = false;
    m->nr_failed = 0;
    report_instance(m);
}

void bpftime_attach_manager_destroy(struct bpftime_attach_manager *m)
{
    if (!m)
        return;
    bpftime_attach_manager_deinstantiate(m);
    for (int i = 0; i < m->nr_impls; i++)
        if (m->impls[i]->ops->destroy)
            m->impls[i]->ops->destroy(m->impls[i]);
    if (m->instance_id)
        bpftime_instance_delete(m->region, (uint32_t)m->instance_id);
    free(m);
}

int bpftime_attach_manager_after_fork(struct bpftime_attach_manager *m)
{
    bpftime_run_after_fork();
    int id = bpftime_instance_register(m->region, 0);
    m->instance_id = id > 0 ? id : 0;
    m->synced = false; /* the next refresh syncs and reports this process's links */
    if (id < 0)
        return bpftime_set_error(id, "cannot register the forked process: %s",
                                 bpftime_last_error_message());
    return 0;
}

int bpftime_attach_manager_attached(const struct bpftime_attach_manager *m)
{
    int n = 0;
    for (struct link_slot *s = m->slots; s; s = s->next)
        n++;
    return n;
}

void bpftime_attach_manager_set_single_threaded(struct bpftime_attach_manager *m, int yes)
{
    m->single_threaded = yes != 0;
}
