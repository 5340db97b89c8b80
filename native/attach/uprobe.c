/* uprobe / uretprobe attach implementations: see uprobe.h. */
#include "attach/uprobe.h"

#include <errno.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach/elf_symbols.h"
#include "common/log.h"
#include "patcher/patcher.h"
#include "runtime/bpftime_runtime.h"

/* One hooked address of a link: a uprobe has one, a USDT probe one per site. */
struct up_site {
    struct up_entry *e;
    uint64_t addr;   /* get_func_ip() */
    uint64_t cookie; /* get_attach_cookie(): the link's, + the site's index for USDT */
    struct bpftime_hook *hook;
};

struct up_entry {
    uint64_t attach_id;
    uint64_t cookie;
    struct bpftime_attach_cb cb;
    struct up_site *sites; /* NULL while dormant */
    int nsites;
    uint16_t **semas; /* USDT semaphores this link raised (one per site at most) */
    int nsemas;
    char *arg;
    uint32_t arg_len;
    char failed[160]; /* why the last retry could not hook it ("" = not tried / waiting) */
    int failed_err;   /* its negative errno */
    struct up_entry *next;
};

enum up_kind { UP_ENTRY, UP_RETURN, UP_USDT };

struct up_impl {
    struct bpftime_attach_impl base;
    enum up_kind kind;
    struct up_entry *entries;
    unsigned long long objs_adds, objs_subs; /* dl_iterate_phdr counters at the last retry */
};

/* The hot path: general-purpose registers only, so the hook needs no vector
 * save when the link's run promises the same (run_preserving_vectors). */
BPFTIME_GPR_ONLY_BEGIN

/* The registers as the program's context, the invocation context around the run. */
static void run_site(struct up_site *site, struct bpftime_hook_regs *regs,
                     struct bpftime_invocation *inv)
{
    *inv = (struct bpftime_invocation){.func_ip = site->addr, .cookie = site->cookie, .regs = regs};
    uint64_t r0; /* a uprobe program's r0 means nothing; a fault was logged */
    const struct bpftime_attach_cb *cb = &site->e->cb;
    if (cb->run_preserving_vectors) {
        (void)cb->run_preserving_vectors(cb->data, regs, sizeof *regs, &r0, inv);
        return;
    }
    struct bpftime_invocation *prev = bpftime_invocation_get();
    bpftime_invocation_set(inv);
    (void)cb->run(cb->data, regs, sizeof *regs, &r0);
    bpftime_invocation_set(prev);
}

static int on_enter(struct bpftime_hook_regs *regs, void *user)
{
    struct bpftime_invocation inv;
    run_site(user, regs, &inv);
    if (inv.override_set)
        return bpftime_hook_override_return(regs, inv.override_value);
    return BPFTIME_HOOK_CONTINUE;
}

static void on_leave(struct bpftime_hook_regs *regs, void *user)
{
    struct bpftime_invocation inv;
    run_site(user, regs, &inv);
    /* bpf_override_return has no meaning after the function ran: ignored. */
}

/* A USDT site is not a function entry: no override (it would "return" from
 * the middle of the function). */
static int on_usdt(struct bpftime_hook_regs *regs, void *user)
{
    struct bpftime_invocation inv;
    run_site(user, regs, &inv);
    return BPFTIME_HOOK_CONTINUE;
}

BPFTIME_GPR_ONLY_END

static const struct bpftime_hook_callbacks enter_cbs = {.on_enter = on_enter};
static const struct bpftime_hook_callbacks leave_cbs = {.on_leave = on_leave};
static const struct bpftime_hook_callbacks usdt_cbs = {.on_enter = on_usdt};

/* Lowers the semaphores e raised and removes its hooks. Returns 0 or the
 * first error (e stays hooked where detach failed). */
static int unhook(struct up_entry *e)
{
    for (int i = 0; i < e->nsemas; i++)
        __atomic_sub_fetch(e->semas[i], 1, __ATOMIC_SEQ_CST);
    e->nsemas = 0;
    free(e->semas);
    e->semas = NULL;
    int err = 0;
    for (int i = 0; i < e->nsites; i++) {
        /* When this returns no thread is in (or will enter) our callback
         * for the site: it can be freed. */
        if (e->sites[i].hook) {
            int rc = bpftime_hook_detach(e->sites[i].hook);
            if (rc < 0 && !err)
                err = rc;
            if (rc == 0)
                e->sites[i].hook = NULL;
        }
    }
    if (!err) {
        free(e->sites);
        e->sites = NULL;
        e->nsites = 0;
    }
    return err;
}

/* A kernel uprobe (perf_event_open, `bpftime attach --kernel`) or a
 * debugger's breakpoint keeps an int3 here. Patching over it would relocate
 * the int3 into our trampoline, and the kernel would later put its saved
 * byte back into the middle of our jump: refuse instead. (Only the first
 * byte: a function never starts with int3; our own shared patch starts with
 * a jump, or is our int3 on the trap path.) */
static int refuse_foreign_int3(const char *arg, uint64_t addr)
{
    unsigned char first;
    if (bpftime_safe_read(&first, (const void *)(uintptr_t)addr, 1) == 0 && first == 0xcc &&
        !bpftime_hook_patched_at((const void *)(uintptr_t)addr))
        return bpftime_set_error(
            -EBUSY,
            "cannot hook %s: a kernel uprobe or a breakpoint (int3) is at 0x%lx; remove it "
            "first (bpftime detach --kernel LINK)",
            arg, (unsigned long)addr);
    return 0;
}

/* Resolves and hooks a uprobe/uretprobe entry. Returns 0 (hooked), 1
 * (dormant: binary not loaded here) or a negative errno (message set). */
static int hook_function(struct up_impl *ui, struct up_entry *e)
{
    struct bpftime_resolved res;
    int rc = bpftime_resolve_uprobe_target(e->arg, e->arg_len, &res);
    if (rc < 0) {
        if (res.not_loaded) {
            BPFTIME_DEBUG("%s %s: %s; dormant until it is loaded", ui->base.ops->name, e->arg,
                          bpftime_last_error_message());
            return 1;
        }
        return rc;
    }
    rc = refuse_foreign_int3(e->arg, res.addr);
    if (rc < 0)
        return rc;
    struct up_site *site = calloc(1, sizeof *site);
    if (!site)
        return bpftime_set_error(-ENOMEM, "out of memory");
    *site = (struct up_site){.e = e, .addr = res.addr, .cookie = e->cookie};
    /* The whole function bounds the search for branches into the jump's
     * bytes (+OFF sites too); where the jump cannot go, the trap path. */
    struct bpftime_hook_site hs = {
        .addr = (void *)(uintptr_t)res.addr,
        .func = res.func ? (void *)(uintptr_t)res.func : NULL,
        .func_size = res.func ? res.func_size : res.size,
        .flags = e->cb.run_preserving_vectors ? BPFTIME_HOOK_F_GPR_ONLY : 0,
        /* on_enter's case for a program that calls nothing, in the stub:
         * no invocation context (only helpers read it), no override (only
         * a helper sets it). */
        .fast = ui->kind != UP_USDT && e->cb.run_preserving_vectors ? e->cb.fast : NULL,
    };
    rc = bpftime_hook_attach_site(&hs, ui->kind == UP_RETURN ? &leave_cbs : &enter_cbs, site,
                                  &site->hook);
    if (rc < 0) {
        free(site);
        return bpftime_set_error(rc, "cannot hook %s at 0x%lx: %s", e->arg, (unsigned long)res.addr,
                                 bpftime_last_error_message());
    }
    e->sites = site;
    e->nsites = 1;
    BPFTIME_DEBUG("%s %s hooked at 0x%lx (%s, %s path)", ui->base.ops->name, e->arg,
                  (unsigned long)res.addr, res.path,
                  bpftime_hook_uses_trap(site->hook) ? "trap" : "jump");
    return 0;
}

/* Resolves and hooks every site of a USDT entry "BINARY:PROVIDER:NAME", and
 * raises the probe's semaphores. Returns as hook_function. */
static int hook_usdt(struct up_entry *e)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", e->arg);
    char *c2 = strrchr(buf, ':');
    if (c2)
        *c2 = 0;
    char *c1 = c2 ? strrchr(buf, ':') : NULL;
    if (!c1 || c1 == buf || !c1[1] || !c2[1])
        return bpftime_set_error(-EINVAL, "USDT target \"%s\": expected BINARY:PROVIDER:NAME",
                                 e->arg);
    *c1 = 0;
    const char *binary = buf, *provider = c1 + 1, *name = c2 + 1;
    char path[PATH_MAX];
    uint64_t bias;
    int rc = bpftime_find_mapping(0, binary, path, sizeof path, &bias);
    if (rc == -ENOENT) {
        BPFTIME_DEBUG("usdt %s: %s; dormant until it is loaded", e->arg,
                      bpftime_last_error_message());
        return 1;
    }
    if (rc < 0)
        return rc;
    int n = bpftime_usdt_sites(path, provider, name, NULL, 0);
    if (n < 0)
        return n;
    struct bpftime_usdt_site *found = calloc((size_t)n, sizeof *found);
    struct up_site *sites = calloc((size_t)n, sizeof *sites);
    uint16_t **semas = calloc((size_t)n, sizeof *semas);
    if (!found || !sites || !semas) {
        free(found);
        free(sites);
        free(semas);
        return bpftime_set_error(-ENOMEM, "out of memory");
    }
    rc = bpftime_usdt_sites(path, provider, name, found, n);
    e->sites = sites;
    e->semas = semas;
    for (int i = 0; rc >= 0 && i < n; i++) {
        uint64_t addr = found[i].pc + bias;
        sites[i] = (struct up_site){.e = e, .addr = addr, .cookie = e->cookie + (uint64_t)i};
        e->nsites = i + 1;
        rc = refuse_foreign_int3(e->arg, addr);
        if (rc < 0)
            break;
        /* A USDT site is a nop in the middle of a function: its
         * surroundings are unknown, so always the trap path. */
        struct bpftime_hook_site hs = {.addr = (void *)(uintptr_t)addr,
                                       .flags = BPFTIME_HOOK_F_TRAP};
        rc = bpftime_hook_attach_site(&hs, &usdt_cbs, &sites[i], &sites[i].hook);
        if (rc < 0)
            rc = bpftime_set_error(rc, "cannot hook %s site %d at 0x%lx: %s", e->arg, i,
                                   (unsigned long)addr, bpftime_last_error_message());
    }
    /* Raised once the sites are hooked, so a site the program enables is
     * one that fires. Several links on one probe each raise it. */
    for (int i = 0; rc >= 0 && i < n; i++) {
        if (!found[i].semaphore)
            continue;
        uint16_t *sema = (uint16_t *)(uintptr_t)(found[i].semaphore + bias);
        bool seen = false;
        for (int k = 0; k < e->nsemas; k++)
            seen |= e->semas[k] == sema;
        if (seen)
            continue;
        __atomic_add_fetch(sema, 1, __ATOMIC_SEQ_CST);
        e->semas[e->nsemas++] = sema;
    }
    free(found);
    if (rc < 0) {
        unhook(e);
        return rc;
    }
    BPFTIME_DEBUG("usdt %s: %d site(s) hooked, %d semaphore(s) raised (%s)", e->arg, n, e->nsemas,
                  path);
    return 0;
}

static int try_hook(struct up_impl *ui, struct up_entry *e)
{
    return ui->kind == UP_USDT ? hook_usdt(e) : hook_function(ui, e);
}

static int up_attach(struct bpftime_attach_impl *impl, const void *arg, uint32_t arg_len,
                     uint64_t cookie, struct bpftime_attach_cb cb, uint64_t attach_id)
{
    struct up_impl *ui = (struct up_impl *)impl;
    struct up_entry *e = calloc(1, sizeof *e);
    char *copy = malloc((size_t)arg_len + 1);
    if (!e || !copy) {
        free(e);
        free(copy);
        return bpftime_set_error(-ENOMEM, "out of memory");
    }
    if (arg_len)
        memcpy(copy, arg, arg_len);
    copy[arg_len] = 0;
    *e = (struct up_entry){.attach_id = attach_id,
                           .cookie = cookie,
                           .cb = cb,
                           .arg = copy,
                           .arg_len = (uint32_t)strlen(copy)};
    int rc = try_hook(ui, e);
    if (rc < 0) {
        free(copy);
        free(e);
        return rc;
    }
    e->next = ui->entries;
    ui->entries = e;
    return 0;
}

static int up_detach(struct bpftime_attach_impl *impl, uint64_t attach_id)
{
    struct up_impl *ui = (struct up_impl *)impl;
    for (struct up_entry **pp = &ui->entries; *pp; pp = &(*pp)->next) {
        struct up_entry *e = *pp;
        if (e->attach_id != attach_id)
            continue;
        if (e->sites) {
            int rc = unhook(e);
            if (rc < 0)
                return bpftime_set_error(rc, "cannot unhook %s: %s", e->arg,
                                         bpftime_last_error_message());
        }
        *pp = e->next;
        free(e->arg);
        free(e);
        return 0;
    }
    return bpftime_set_error(-ENOENT, "no %s attach %llu", impl->ops->name,
                             (unsigned long long)attach_id);
}

static void up_destroy(struct bpftime_attach_impl *impl)
{
    struct up_impl *ui = (struct up_impl *)impl;
    while (ui->entries) {
        struct up_entry *e = ui->entries;
        ui->entries = e->next;
        if (e->sites && unhook(e) < 0) {
            /* Still hooked: the callback may run, so e must stay valid. */
            BPFTIME_WARN("cannot unhook %s: %s", e->arg, bpftime_last_error_message());
            continue;
        }
        free(e->arg);
        free(e);
    }
    free(ui);
}

static int up_waiting(struct bpftime_attach_impl *impl, uint64_t attach_id, char *why, size_t len)
{
    struct up_impl *ui = (struct up_impl *)impl;
    for (struct up_entry *e = ui->entries; e; e = e->next) {
        if (e->attach_id != attach_id || e->sites)
            continue;
        /* The binary: the argument up to its last colon (uprobe) or the
         * one before it (USDT: BINARY:PROVIDER:NAME). */
        int n = (int)strlen(e->arg);
        for (int colons = ui->kind == UP_USDT ? 2 : 1; colons > 0 && n > 0; colons--)
            while (n > 0 && e->arg[--n] != ':') {}
        if (e->failed[0]) {
            snprintf(why, len, "%s", e->failed);
            return e->failed_err < 0 ? e->failed_err : -EINVAL;
        }
        snprintf(why, len, "%.*s is not loaded in this process (hooked when it is)", n, e->arg);
        return 1;
    }
    return 0;
}

static const struct bpftime_attach_impl_ops uprobe_ops = {
    .name = "uprobe",
    .target_type = BPFTIME_TARGET_UPROBE,
    .attach = up_attach,
    .detach = up_detach,
    .destroy = up_destroy,
    .waiting = up_waiting,
};

static const struct bpftime_attach_impl_ops usdt_ops = {
    .name = "usdt",
    .target_type = BPFTIME_TARGET_USDT,
    .attach = up_attach,
    .detach = up_detach,
    .destroy = up_destroy,
    .waiting = up_waiting,
};

static const struct bpftime_attach_impl_ops uretprobe_ops = {
    .name = "uretprobe",
    .target_type = BPFTIME_TARGET_URETPROBE,
    .attach = up_attach,
    .detach = up_detach,
    .destroy = up_destroy,
    .waiting = up_waiting,
};

struct bpftime_attach_impl *bpftime_uprobe_impl_create(int retprobe)
{
    struct up_impl *ui = calloc(1, sizeof *ui);
    if (!ui)
        return NULL;
    ui->base.ops = retprobe ? &uretprobe_ops : &uprobe_ops;
    ui->kind = retprobe ? UP_RETURN : UP_ENTRY;
    return &ui->base;
}

struct bpftime_attach_impl *bpftime_usdt_impl_create(void)
{
    struct up_impl *ui = calloc(1, sizeof *ui);
    if (!ui)
        return NULL;
    ui->base.ops = &usdt_ops;
    ui->kind = UP_USDT;
    return &ui->base;
}

static int objs_counters(struct dl_phdr_info *info, size_t size, void *data)
{
    unsigned long long *c = data;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        c[0] = info->dlpi_adds;
        c[1] = info->dlpi_subs;
    }
    return 1; /* the counters are the same in every entry: stop at the first */
}

int bpftime_uprobe_impl_retry(struct bpftime_attach_impl *impl)
{
    struct up_impl *ui = (struct up_impl *)impl;
    bool dormant = false;
    for (struct up_entry *e = ui->entries; e; e = e->next)
        dormant |= e->sites == NULL;
    if (!dormant)
        return 0;
    unsigned long long c[2] = {0, 0};
    dl_iterate_phdr(objs_counters, c);
    if (c[0] == ui->objs_adds && c[1] == ui->objs_subs)
        return 0;
    ui->objs_adds = c[0];
    ui->objs_subs = c[1];
    int n = 0;
    for (struct up_entry *e = ui->entries; e; e = e->next) {
        if (e->sites)
            continue;
        int rc = try_hook(ui, e);
        if (rc == 0) {
            BPFTIME_INFO("%s %s: hooked after its binary was loaded", impl->ops->name, e->arg);
            e->failed[0] = 0;
            e->failed_err = 0;
            n++;
        } else if (rc < 0 &&
                   strncmp(e->failed, bpftime_last_error_message(), sizeof e->failed - 1) != 0) {
            BPFTIME_WARN("%s", bpftime_last_error_message());
            snprintf(e->failed, sizeof e->failed, "%.*s", (int)sizeof e->failed - 1,
                     bpftime_last_error_message());
            e->failed_err = rc;
            n++;
        }
    }
    return n;
}

int bpftime_uprobe_impl_active(const struct bpftime_attach_impl *impl)
{
    const struct up_impl *ui = (const struct up_impl *)impl;
    int n = 0;
    for (const struct up_entry *e = ui->entries; e; e = e->next)
        n += e->sites != NULL;
    return n;
}
