/* bpf() commands of an unmodified application, answered from the region
 * (see app_server.h). Map element commands are one runtime call each; only
 * BPF_PROG_LOAD leaves the process (the verifier is in the parent).
 *
 * errno values are the kernel's: a descriptor that is not one of ours is
 * EBADF, a malformed attribute EINVAL, what bpftime does not implement
 * EINVAL or EOPNOTSUPP as the kernel answers for features it lacks, with
 * one line on stderr saying what and why (app_refuse). */
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpftime/api.h"
#include "runtime/bpftime_runtime.h"
#include "syscall-server/app_server.h"

#define BPFFS_PREFIX "/sys/fs/bpf/"

static void *uptr(__u64 p)
{
    return (void *)(uintptr_t)p;
}

static int fd_of(int fd, enum app_fd_kind kind, struct app_fd *out)
{
    if (app_fd_get(fd, out) < 0 || out->kind != kind)
        return -EBADF;
    return 0;
}

/* The runtime's errors are errno-style already. */
static long rt(int rc)
{
    return rc;
}

/* A descriptor for map id, with its runtime handle: lookups in plain
 * hash and array maps copy straight from the region (the fast path the
 * benchmark measures); per-CPU, queue/stack and stream maps take the
 * general path. */
static int map_fd_new(uint32_t id)
{
    int fd = app_fd_new(APP_FD_MAP, id);
    if (fd < 0)
        return fd;
    struct app_fd v;
    struct bpftime_map_info mi;
    if (app_fd_get(fd, &v) == 0 && bpftime_map_get(app_region(), id, &mi) == 0) {
        v.map = bpftime_map_handle(app_region(), id);
        v.map_type = mi.type;
        if (mi.type == BPFTIME_MAP_HASH || mi.type == BPFTIME_MAP_ARRAY ||
            mi.type == BPFTIME_MAP_LRU_HASH)
            v.value_size = mi.value_size;
        app_fd_set(fd, &v);
    }
    return fd;
}

static void mark_created(int fd)
{
    struct app_fd v;
    if (app_fd_get(fd, &v) == 0) {
        v.created = 1;
        app_fd_set(fd, &v);
    }
}

static long map_create(const union bpf_attr *a)
{
    struct bpftime_region *r = app_region();
    char name[BPF_OBJ_NAME_LEN + 1] = {0};
    memcpy(name, a->map_name, BPF_OBJ_NAME_LEN);
    uint32_t flags = bpftime_map_type_flags(a->map_type);
    if (!(flags & BPFTIME_MAP_F_IMPL)) {
        const char *tn = bpftime_map_type_name(a->map_type);
        char names[512] = "";
        size_t len = 0;
        for (uint32_t t = 0; t < 256 && len < sizeof names; t++)
            if (bpftime_map_type_flags(t) & BPFTIME_MAP_F_IMPL)
                len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "",
                                        bpftime_map_type_name(t));
        return app_refuse(-EINVAL,
                          "BPF_MAP_CREATE %s: map type %u (%s) is not supported by bpftime's "
                          "runtime; it has: %s",
                          name[0] ? name : "(unnamed)", a->map_type, tn ? tn : "unknown", names);
    }
    int id;
    if (a->map_type == BPF_MAP_TYPE_ARRAY_OF_MAPS || a->map_type == BPF_MAP_TYPE_HASH_OF_MAPS) {
        /* the template comes from inner_map_fd, as the kernel's */
        struct app_fd inner;
        if (fd_of((int)a->inner_map_fd, APP_FD_MAP, &inner) < 0)
            return app_refuse(-EBADF, "BPF_MAP_CREATE %s: inner_map_fd %u is not a map",
                              name[0] ? name : "(unnamed)", a->inner_map_fd);
        id = bpftime_map_create_outer(r, name[0] ? name : "map", a->map_type, a->key_size,
                                      a->value_size, a->max_entries, a->map_flags, inner.id);
    } else {
        id = bpftime_map_create(r, name[0] ? name : "map", a->map_type, a->key_size, a->value_size,
                                a->max_entries, a->map_flags, a->map_extra);
    }
    if (id < 0)
        return id;
    int fd = map_fd_new((uint32_t)id);
    if (fd < 0) {
        bpftime_map_delete(r, (uint32_t)id);
        return fd;
    }
    mark_created(fd);
    app_note_created(APP_NOTE_MAP, (uint32_t)id);
    return fd;
}

long app_map_update(uint32_t map_id, uint32_t map_type, const void *key, const void *value,
                    uint64_t flags)
{
    struct bpftime_region *r = app_region();
    if (bpftime_map_type_flags(map_type) & BPFTIME_MAP_F_OUTER) {
        /* the value is the inner map's fd here, its id in the region */
        uint32_t ufd;
        struct app_fd inner;
        if (!value)
            return -EFAULT;
        memcpy(&ufd, value, 4);
        if (fd_of((int)ufd, APP_FD_MAP, &inner) < 0)
            return -EBADF;
        return rt(bpftime_map_update(r, map_id, key, &inner.id, flags));
    }
    return rt(bpftime_map_update(r, map_id, key, value, flags));
}

static long map_elem(int cmd, const union bpf_attr *a)
{
    struct app_fd m;
    if (fd_of((int)a->map_fd, APP_FD_MAP, &m) < 0)
        return -EBADF;
    struct bpftime_region *r = app_region();
    void *key = uptr(a->key), *value = uptr(a->value);
    if (m.map_type == BPFTIME_MAP_PERF_EVENT_ARRAY &&
        (cmd == BPF_MAP_UPDATE_ELEM || cmd == BPF_MAP_DELETE_ELEM)) {
        /* Slots name perf buffers (perf_buffer.c); the region's map keeps
         * its records per CPU whoever reads them. */
        uint32_t k, pfd;
        if (!key || (cmd == BPF_MAP_UPDATE_ELEM && !value))
            return -EFAULT;
        memcpy(&k, key, 4);
        if (cmd == BPF_MAP_DELETE_ELEM)
            return 0;
        memcpy(&pfd, value, 4);
        return app_perf_output_attach(m.id, k, (int)pfd);
    }
    switch (cmd) {
    case BPF_MAP_LOOKUP_ELEM:
        if (m.value_size && key && value && bpftime_map_handle_live_id(m.map) == m.id) {
            const void *p = bpftime_map_lookup_ptr(m.map, key);
            if (!p)
                return -ENOENT;
            memcpy(value, p, m.value_size);
            return 0;
        }
        return rt(bpftime_map_lookup(r, m.id, key, value));
    case BPF_MAP_UPDATE_ELEM: return app_map_update(m.id, m.map_type, key, value, a->flags);
    case BPF_MAP_DELETE_ELEM: return rt(bpftime_map_delete_elem(r, m.id, key));
    case BPF_MAP_LOOKUP_AND_DELETE_ELEM:
        return rt(bpftime_map_lookup_and_delete(r, m.id, key, value));
    case BPF_MAP_GET_NEXT_KEY: return rt(bpftime_map_get_next_key(r, m.id, key, uptr(a->next_key)));
    case BPF_MAP_FREEZE: return rt(bpftime_map_freeze(r, m.id));
    }
    return -EINVAL;
}

/* lddw map references: fd (src 1/2) or fd_array index (src 5/6) -> index
 * into the program's map list (src 5/6), as the verifier and the region
 * store them. */
static long relocate_maps(const union bpf_attr *a, uint64_t *insns, uint32_t cnt, uint32_t *map_ids,
                          uint32_t *nr_maps)
{
    const int32_t *fd_array = uptr(a->fd_array);
    for (uint32_t i = 0; i < cnt; i++) {
        uint8_t *in = (uint8_t *)&insns[i];
        if (in[0] != (BPF_LD | BPF_IMM | BPF_DW))
            continue;
        uint8_t src = in[1] >> 4;
        int32_t imm;
        memcpy(&imm, in + 4, 4);
        int fd;
        if (src == BPF_PSEUDO_MAP_FD || src == BPF_PSEUDO_MAP_VALUE) {
            fd = imm;
        } else if ((src == BPF_PSEUDO_MAP_IDX || src == BPF_PSEUDO_MAP_IDX_VALUE) && fd_array) {
            fd = fd_array[imm];
        } else {
            i++;
            continue;
        }
        struct app_fd m;
        if (fd_of(fd, APP_FD_MAP, &m) < 0)
            return -EBADF;
        uint32_t idx = 0;
        while (idx < *nr_maps && map_ids[idx] != m.id)
            idx++;
        if (idx == *nr_maps) {
            if (*nr_maps == 64)
                return -E2BIG;
            map_ids[(*nr_maps)++] = m.id;
        }
        uint8_t nsrc = (src == BPF_PSEUDO_MAP_FD || src == BPF_PSEUDO_MAP_IDX)
                           ? BPF_PSEUDO_MAP_IDX
                           : BPF_PSEUDO_MAP_IDX_VALUE;
        in[1] = (uint8_t)((in[1] & 0x0f) | (nsrc << 4));
        int32_t nimm = (int32_t)idx;
        memcpy(in + 4, &nimm, 4);
        i++; /* second slot of the lddw */
    }
    return 0;
}

static long prog_load(const union bpf_attr *a)
{
    uint32_t cnt = a->insn_cnt;
    if (cnt == 0 || cnt > 1000000 || !a->insns)
        return -EINVAL;
    uint64_t *insns = malloc((size_t)cnt * 8);
    if (!insns)
        return -ENOMEM;
    memcpy(insns, uptr(a->insns), (size_t)cnt * 8);
    uint32_t map_ids[64], nr_maps = 0;
    long rc = relocate_maps(a, insns, cnt, map_ids, &nr_maps);
    if (rc == 0) {
        char name[BPF_OBJ_NAME_LEN + 1] = {0};
        memcpy(name, a->prog_name, BPF_OBJ_NAME_LEN);
        const char *license = a->license ? (const char *)uptr(a->license) : "";
        rc = app_prog_load_remote(a->prog_type, a->expected_attach_type, name, license, insns, cnt,
                                  map_ids, nr_maps, a->log_level, uptr(a->log_buf),
                                  a->log_buf ? a->log_size : 0);
    }
    free(insns);
    if (rc < 0)
        return rc;
    int fd = app_fd_new(APP_FD_PROG, (uint32_t)rc);
    if (fd < 0)
        bpftime_prog_delete(app_region(), (uint32_t)rc);
    else
        mark_created(fd);
    return fd;
}

static long btf_load(const union bpf_attr *a)
{
    if (!a->btf || a->btf_size < 24)
        return -EINVAL;
    /* Kept only as a size: programs and maps here need no BTF (the loader
     * already applied CO-RE), and BTF_LOAD succeeding is what libbpf's
     * feature probes and `.BTF` loading expect of a modern kernel. */
    int fd = app_fd_new(APP_FD_BTF, 0);
    if (fd >= 0) {
        struct app_fd v;
        app_fd_get(fd, &v);
        v.btf_size = a->btf_size;
        app_fd_set(fd, &v);
    }
    return fd;
}

/* "/sys/fs/bpf/a/b" -> region pin "a/b". */
static long pin_name(const char *path, const char **name)
{
    if (!path)
        return -EFAULT;
    if (strncmp(path, BPFFS_PREFIX, strlen(BPFFS_PREFIX)) != 0)
        return app_refuse(-EPERM,
                          "pin path %s is not under " BPFFS_PREFIX
                          ": bpftime keeps pins in the region, named by the path below "
                          "" BPFFS_PREFIX,
                          path);
    *name = path + strlen(BPFFS_PREFIX);
    return 0;
}

static long obj_pin(const union bpf_attr *a)
{
    const char *name = NULL;
    long rc = pin_name(uptr(a->pathname), &name);
    if (rc < 0)
        return rc;
    struct app_fd v;
    if (app_fd_get((int)a->bpf_fd, &v) < 0)
        return -EBADF;
    if (v.kind == APP_FD_MAP || v.kind == APP_FD_PROG) {
        int prc = bpftime_pin_create(
            app_region(), name, v.kind == APP_FD_MAP ? BPFTIME_PIN_MAP : BPFTIME_PIN_PROG, v.id);
        return prc < 0 ? prc : 0;
    }
    return app_refuse(-EINVAL, "BPF_OBJ_PIN %s: only maps and programs can be pinned in bpftime",
                      name);
}

static long obj_get(const union bpf_attr *a)
{
    const char *name = NULL;
    long rc = pin_name(uptr(a->pathname), &name);
    if (rc < 0)
        return rc;
    struct bpftime_pin_info pin;
    int prc = bpftime_pin_get(app_region(), name, &pin);
    if (prc < 0)
        return prc;
    return pin.kind == BPFTIME_PIN_MAP ? map_fd_new(pin.obj_id)
                                       : app_fd_new(APP_FD_PROG, pin.obj_id);
}

/* The kernel's load_time counts from boot (CLOCK_BOOTTIME); the region
 * keeps wall-clock time. */
static uint64_t boot_ns(uint64_t realtime_ns)
{
    struct timespec rt, bt;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_BOOTTIME, &bt);
    int64_t offset = ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000ll + (rt.tv_nsec - bt.tv_nsec);
    return realtime_ns - (uint64_t)offset;
}

static long copy_info(union bpf_attr *ua, const void *info, uint32_t len)
{
    uint32_t n = ua->info.info_len < len ? ua->info.info_len : len;
    if (!ua->info.info)
        return -EFAULT;
    memcpy(uptr(ua->info.info), info, n);
    ua->info.info_len = n;
    return 0;
}

static long obj_info(union bpf_attr *ua)
{
    struct app_fd v;
    if (app_fd_get((int)ua->info.bpf_fd, &v) < 0)
        return -EBADF;
    struct bpftime_region *r = app_region();
    switch (v.kind) {
    case APP_FD_MAP: {
        struct bpftime_map_info mi;
        int rc = bpftime_map_get(r, v.id, &mi);
        if (rc < 0)
            return rc;
        struct bpf_map_info info;
        memset(&info, 0, sizeof info);
        /* The user's buffer may hold fields we leave zero: start from it. */
        info.type = mi.type;
        info.id = mi.id;
        info.key_size = mi.key_size;
        info.value_size = mi.value_size;
        info.max_entries = mi.max_entries;
        info.map_flags = mi.map_flags;
        info.map_extra = mi.map_extra;
        memcpy(info.name, mi.name, sizeof info.name - 1);
        return copy_info(ua, &info, sizeof info);
    }
    case APP_FD_PROG: {
        struct bpftime_prog_info pi;
        int rc = bpftime_prog_get(r, v.id, &pi);
        if (rc < 0)
            return rc;
        struct bpf_prog_info info;
        memset(&info, 0, sizeof info);
        struct bpf_prog_info *user = uptr(ua->info.info);
        uint32_t ulen = ua->info.info_len;
        info.type = pi.type < 0x1000 ? pi.type : 0;
        info.id = pi.id;
        info.xlated_prog_len = pi.insn_cnt * 8;
        info.load_time = boot_ns(pi.created_ns);
        info.run_cnt = pi.run_cnt;
        info.run_time_ns = pi.run_time_ns;
        memcpy(info.name, pi.name, sizeof info.name - 1);
        info.nr_map_ids = pi.nr_maps;
        if (user && ulen >= offsetof(struct bpf_prog_info, map_ids) + 8 && user->map_ids &&
            ulen >= offsetof(struct bpf_prog_info, nr_map_ids) + 4) {
            uint32_t cap = user->nr_map_ids;
            bpftime_prog_get_map_ids(r, v.id, uptr(user->map_ids), cap);
            info.map_ids = user->map_ids;
        }
        return copy_info(ua, &info, sizeof info);
    }
    case APP_FD_LINK:
    case APP_FD_PERF_EVENT: {
        struct bpf_link_info info;
        memset(&info, 0, sizeof info);
        uint32_t link_id = v.kind == APP_FD_LINK ? v.id : v.link_id;
        struct bpftime_link_info li;
        if (link_id && bpftime_link_get(r, link_id, &li) == 0) {
            info.id = li.id;
            info.prog_id = li.prog_id;
        }
        info.type = BPF_LINK_TYPE_PERF_EVENT;
        return copy_info(ua, &info, sizeof info);
    }
    case APP_FD_BTF: {
        struct bpf_btf_info info;
        memset(&info, 0, sizeof info);
        info.btf_size = v.btf_size;
        return copy_info(ua, &info, sizeof info);
    }
    default: return -EINVAL;
    }
}

static long link_create(const union bpf_attr *a)
{
    struct app_fd prog, ev;
    if (fd_of((int)a->link_create.prog_fd, APP_FD_PROG, &prog) < 0)
        return -EBADF;
    /* Multi-kprobe links: tools (bpftrace) probe for them and fall back;
     * EINVAL without a line is what a kernel lacking them answers. */
    if (a->link_create.attach_type == BPF_TRACE_KPROBE_MULTI)
        return -EINVAL;
    if (a->link_create.attach_type != BPF_PERF_EVENT)
        return app_refuse(-EINVAL,
                          "BPF_LINK_CREATE: attach type %u is not supported by bpftime (only "
                          "BPF_PERF_EVENT, on a uprobe perf event)",
                          a->link_create.attach_type);
    int efd = (int)a->link_create.target_fd;
    if (fd_of(efd, APP_FD_PERF_EVENT, &ev) < 0)
        return -EBADF;
    int link = app_link_make(prog.id, ev.id, a->link_create.perf_event.bpf_cookie);
    if (link < 0)
        return link;
    int fd = app_fd_new(APP_FD_LINK, (uint32_t)link);
    if (fd < 0) {
        app_link_drop((uint32_t)link);
        return fd;
    }
    struct app_fd lv;
    app_fd_get(fd, &lv);
    lv.perf_link_fd = efd;
    app_fd_set(fd, &lv);
    return fd;
}

/* Every link here is a perf-event link (a uprobe), and the kernel cannot
 * detach those (they have no detach operation): EOPNOTSUPP, as there. A
 * link goes when its descriptor is closed. */
static long link_detach(const union bpf_attr *a)
{
    struct app_fd v;
    if (fd_of((int)a->link_detach.link_fd, APP_FD_LINK, &v) < 0)
        return -EBADF;
    return -EOPNOTSUPP;
}

static long link_update(const union bpf_attr *a)
{
    struct app_fd l, np, op = {0};
    if (fd_of((int)a->link_update.link_fd, APP_FD_LINK, &l) < 0 ||
        fd_of((int)a->link_update.new_prog_fd, APP_FD_PROG, &np) < 0)
        return -EBADF;
    if ((a->link_update.flags & BPF_F_REPLACE) &&
        fd_of((int)a->link_update.old_prog_fd, APP_FD_PROG, &op) < 0)
        return -EBADF;
    return rt(bpftime_link_update_prog(app_region(), l.id, np.id, op.id));
}

int bpftime_prog_test_run(struct bpftime_region *r, uint32_t prog_id, int use_jit, void *data,
                          uint32_t data_len, uint64_t repeat, uint64_t *ret, uint64_t *total_ns);

/* BPF_PROG_TEST_RUN: the program runs here, JIT-compiled, on a copy of
 * data_in (or ctx_in when there is no data, as for tracing programs); the
 * copy comes back in data_out. bpftrace runs its BEGIN probe this way. */
static long prog_test_run(union bpf_attr *ua)
{
    struct app_fd p;
    if (fd_of((int)ua->test.prog_fd, APP_FD_PROG, &p) < 0)
        return -EBADF;
    const void *in = uptr(ua->test.data_in);
    uint32_t len = ua->test.data_size_in;
    if (!in || !len) {
        in = uptr(ua->test.ctx_in);
        len = in ? ua->test.ctx_size_in : 0;
    }
    uint8_t *copy = calloc(1, len ? len : 1);
    if (!copy)
        return -ENOMEM;
    if (len)
        memcpy(copy, in, len);
    uint64_t repeat = ua->test.repeat ? ua->test.repeat : 1, ret = 0, ns = 0;
    int rc = bpftime_prog_test_run(app_region(), p.id, 1, copy, len, repeat, &ret, &ns);
    app_perf_output_flush();
    if (rc == 0) {
        ua->test.retval = (uint32_t)ret;
        ua->test.duration = (uint32_t)(ns / repeat);
        if (ua->test.data_out && in == uptr(ua->test.data_in)) {
            uint32_t n = ua->test.data_size_out && ua->test.data_size_out < len
                             ? ua->test.data_size_out
                             : len;
            memcpy(uptr(ua->test.data_out), copy, n);
            ua->test.data_size_out = len;
        }
    }
    free(copy);
    return rc;
}

static long next_id(int cmd, union bpf_attr *ua)
{
    struct bpftime_region *r = app_region();
    int id = cmd == BPF_PROG_GET_NEXT_ID  ? bpftime_prog_next_id(r, ua->start_id)
             : cmd == BPF_MAP_GET_NEXT_ID ? bpftime_map_next_id(r, ua->start_id)
                                          : bpftime_link_next_id(r, ua->start_id);
    if (id < 0)
        return id;
    ua->next_id = (uint32_t)id;
    return 0;
}

static long fd_by_id(int cmd, const union bpf_attr *a)
{
    struct bpftime_region *r = app_region();
    if (cmd == BPF_MAP_GET_FD_BY_ID) {
        struct bpftime_map_info mi;
        int rc = bpftime_map_get(r, a->map_id, &mi);
        return rc < 0 ? rc : map_fd_new(a->map_id);
    }
    struct bpftime_prog_info pi;
    int rc = bpftime_prog_get(r, a->prog_id, &pi);
    return rc < 0 ? rc : app_fd_new(APP_FD_PROG, a->prog_id);
}

static const char *cmd_name(int cmd)
{
    switch (cmd) {
    case BPF_PROG_ATTACH: return "BPF_PROG_ATTACH";
    case BPF_PROG_DETACH: return "BPF_PROG_DETACH";
    case BPF_RAW_TRACEPOINT_OPEN: return "BPF_RAW_TRACEPOINT_OPEN";
    case BPF_PROG_QUERY: return "BPF_PROG_QUERY";
    case BPF_ITER_CREATE: return "BPF_ITER_CREATE";
    default: return NULL;
    }
}

long app_bpf(int cmd, void *uattr, unsigned int size)
{
    union bpf_attr a;
    if (!uattr)
        return -EFAULT;
    memset(&a, 0, sizeof a);
    memcpy(&a, uattr, size < sizeof a ? size : sizeof a);
    union bpf_attr *ua = uattr;
    switch (cmd) {
    case BPF_MAP_CREATE: return map_create(&a);
    case BPF_MAP_LOOKUP_ELEM:
    case BPF_MAP_UPDATE_ELEM:
    case BPF_MAP_DELETE_ELEM:
    case BPF_MAP_GET_NEXT_KEY:
    case BPF_MAP_LOOKUP_AND_DELETE_ELEM:
    case BPF_MAP_FREEZE: return map_elem(cmd, &a);
    case BPF_PROG_LOAD: return prog_load(&a);
    case BPF_BTF_LOAD: return btf_load(&a);
    case BPF_OBJ_PIN: return obj_pin(&a);
    case BPF_OBJ_GET: return obj_get(&a);
    case BPF_OBJ_GET_INFO_BY_FD:
        if (size < offsetof(union bpf_attr, info.info) + 8)
            return -EINVAL;
        return obj_info(ua);
    case BPF_LINK_CREATE: return link_create(&a);
    case BPF_LINK_DETACH: return link_detach(&a);
    case BPF_LINK_UPDATE: return link_update(&a);
    case BPF_PROG_GET_NEXT_ID:
    case BPF_MAP_GET_NEXT_ID:
    case BPF_LINK_GET_NEXT_ID: return next_id(cmd, ua);
    case BPF_MAP_GET_FD_BY_ID:
    case BPF_PROG_GET_FD_BY_ID: return fd_by_id(cmd, &a);
    case BPF_MAP_LOOKUP_BATCH:
    case BPF_MAP_LOOKUP_AND_DELETE_BATCH:
    case BPF_MAP_UPDATE_BATCH:
    case BPF_MAP_DELETE_BATCH:
        if (size < offsetof(union bpf_attr, batch.flags) + 8)
            return -EINVAL;
        return app_map_batch(cmd, ua);
    case BPF_PROG_TEST_RUN:
        if (size < offsetof(union bpf_attr, test.duration) + 4)
            return -EINVAL;
        return prog_test_run(ua);
    case BPF_BTF_GET_NEXT_ID:
        return -ENOENT; /* no BTF objects to list (the kernel's own: /sys/kernel/btf) */
    case BPF_PROG_BIND_MAP: return 0; /* programs hold their maps in the region already */
    case BPF_ENABLE_STATS:
        if (a.enable_stats.type != BPF_STATS_RUN_TIME)
            return -EINVAL;
        bpftime_stats_set_enabled(app_region(), 1);
        return app_fd_new(APP_FD_STATS, 0);
    default: {
        const char *n = cmd_name(cmd);
        if (n)
            return app_refuse(-EOPNOTSUPP, "bpf(%s) is not supported by bpftime's syscall server",
                              n);
        return app_refuse(-EINVAL, "bpf() command %d is not supported by bpftime's syscall server",
                          cmd);
    }
    }
}
