/* The object table: programs, maps, attach targets, links and instances,
 * with stable per-kind ids and the generation counter. */
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"

/* The FFI layer mirrors these layouts (documented in bpftime_runtime.h). */
_Static_assert(sizeof(struct bpftime_region_info) == 64, "region_info layout");
_Static_assert(sizeof(struct bpftime_prog_info) == 432, "prog_info layout");
_Static_assert(offsetof(struct bpftime_prog_info, name) == 48, "prog_info.name");
_Static_assert(offsetof(struct bpftime_prog_info, license) == 112, "prog_info.license");
_Static_assert(offsetof(struct bpftime_prog_info, attach_hint) == 176, "prog_info.attach_hint");
_Static_assert(sizeof(struct bpftime_map_info) == 136, "map_info layout");
_Static_assert(offsetof(struct bpftime_map_info, inner_type) == 112, "map_info.inner_type");
_Static_assert(offsetof(struct bpftime_map_info, value_buf_size) == 40, "map_info.value_buf_size");
_Static_assert(offsetof(struct bpftime_map_info, name) == 48, "map_info.name");
_Static_assert(sizeof(struct bpftime_target_info) == 24, "target_info layout");
_Static_assert(sizeof(struct bpftime_link_info) == 32, "link_info layout");
_Static_assert(sizeof(struct bpftime_instance_info) == 296, "instance_info layout");
_Static_assert(offsetof(struct bpftime_instance_info, link_ids) == 40, "instance_info.link_ids");
_Static_assert(sizeof(struct bpftime_invocation) == 40, "invocation layout");
_Static_assert(sizeof(struct bpftime_link_error) == 192, "link_error layout");

static const char *const kind_names[KIND_COUNT] = {"program", "map",      "attach target",
                                                   "link",    "instance", "pin"};

size_t table_entry_size(int kind)
{
    switch (kind) {
    case KIND_PROG: return sizeof(struct shm_prog);
    case KIND_MAP: return sizeof(struct shm_map);
    case KIND_TARGET: return sizeof(struct shm_target);
    case KIND_LINK: return sizeof(struct shm_link);
    case KIND_PIN: return sizeof(struct shm_pin);
    default: return sizeof(struct shm_instance);
    }
}

void *table_slot(struct bpftime_region *r, int kind, uint32_t i)
{
    return r->base + r->table_off[kind] + (uint64_t)i * table_entry_size(kind);
}

/* Every entry starts with its u32 id (0 = free slot). */
static uint32_t slot_id(struct bpftime_region *r, int kind, uint32_t i)
{
    return *(uint32_t *)table_slot(r, kind, i);
}

void gen_bump(struct bpftime_region *r)
{
    atomic_fetch_add_explicit(&r->hdr->generation, 1, memory_order_release);
}

static void inst_gen_bump(struct bpftime_region *r)
{
    atomic_fetch_add_explicit(&r->hdr->instance_generation, 1, memory_order_release);
}

/* Under table_lock. Returns the slot index or -1. */
static int find_slot(struct bpftime_region *r, int kind, uint32_t id)
{
    if (id == 0)
        return -1;
    uint32_t cap = r->table_cap[kind];
    for (uint32_t i = 0; i < cap; i++)
        if (slot_id(r, kind, i) == id)
            return (int)i;
    return -1;
}

/* Under table_lock: a free slot with a fresh id stamped in, or NULL. */
static void *new_entry(struct bpftime_region *r, int kind, int *err)
{
    uint32_t cap = r->table_cap[kind];
    for (uint32_t i = 0; i < cap; i++) {
        if (slot_id(r, kind, i) == 0) {
            if (r->hdr->next_id[kind] == UINT32_MAX) {
                *err = bpftime_set_error(-ENOSPC, "%s ids exhausted in region %s", kind_names[kind],
                                         r->name);
                return NULL;
            }
            void *e = table_slot(r, kind, i);
            memset(e, 0, table_entry_size(kind));
            return e;
        }
    }
    *err =
        bpftime_set_error(-ENOSPC, "%s table of region %s is full (%u entries): delete some first",
                          kind_names[kind], r->name, cap);
    return NULL;
}

static uint32_t take_id(struct bpftime_region *r, int kind)
{
    return ++r->hdr->next_id[kind];
}

static int not_found(int kind, uint32_t id)
{
    return bpftime_set_error(-ENOENT, "no %s with id %u", kind_names[kind], id);
}

static int next_id(struct bpftime_region *r, int kind, uint32_t start)
{
    uint32_t best = 0, cap = r->table_cap[kind];
    int err = rt_check_truncated(r);
    if (err)
        return err;
    shm_lock(&r->hdr->table_lock);
    for (uint32_t i = 0; i < cap; i++) {
        uint32_t id = slot_id(r, kind, i);
        if (id > start && (best == 0 || id < best))
            best = id;
    }
    shm_unlock(&r->hdr->table_lock);
    if (!best)
        return bpftime_set_error(-ENOENT, "no %s with id above %u", kind_names[kind], start);
    return (int)best;
}

/* Under table_lock: 0 if `id` names a live entry of `kind`, else the
 * not-found error. */
static int must_exist(struct bpftime_region *r, int kind, uint32_t id)
{
    return find_slot(r, kind, id) < 0 ? not_found(kind, id) : 0;
}

/* Takes the table lock and returns the live entry `id` of `kind`; on a miss
 * NULL, with the lock dropped and *err the not-found error. */
static void *lock_entry(struct bpftime_region *r, int kind, uint32_t id, int *err)
{
    shm_lock(&r->hdr->table_lock);
    int s = find_slot(r, kind, id);
    if (s >= 0)
        return table_slot(r, kind, (uint32_t)s);
    shm_unlock(&r->hdr->table_lock);
    *err = not_found(kind, id);
    return NULL;
}

/* Takes the table lock and returns a free, zeroed entry of `kind`; when the
 * table is full NULL, with the lock dropped and *err saying why. */
static void *lock_new_entry(struct bpftime_region *r, int kind, int *err)
{
    shm_lock(&r->hdr->table_lock);
    void *e = new_entry(r, kind, err);
    if (!e)
        shm_unlock(&r->hdr->table_lock);
    return e;
}

/* Under table_lock: gives a filled-in new entry its id, which makes it
 * visible to readers that do not take the lock, and says so. */
static uint32_t publish_entry(struct bpftime_region *r, int kind, uint32_t *id_field)
{
    uint32_t id = take_id(r, kind);
    __atomic_store_n(id_field, id, __ATOMIC_RELEASE);
    if (kind == KIND_INSTANCE)
        inst_gen_bump(r);
    else
        gen_bump(r);
    return id;
}

/* Under table_lock: frees the entry's slot (readers see id 0 first). */
static void retire_entry(struct bpftime_region *r, int kind, uint32_t *id_field)
{
    __atomic_store_n(id_field, 0, __ATOMIC_RELEASE);
    if (kind == KIND_INSTANCE)
        inst_gen_bump(r);
    else
        gen_bump(r);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    memset(dst, 0, cap);
    if (src)
        snprintf(dst, cap, "%s", src);
}

struct shm_map *map_entry_by_id(struct bpftime_region *r, uint32_t id, uint32_t *slot)
{
    int s = find_slot(r, KIND_MAP, id);
    if (s < 0)
        return NULL;
    if (slot)
        *slot = (uint32_t)s;
    return table_slot(r, KIND_MAP, (uint32_t)s);
}

struct shm_prog *prog_entry_by_id(struct bpftime_region *r, uint32_t id)
{
    int s = find_slot(r, KIND_PROG, id);
    return s < 0 ? NULL : table_slot(r, KIND_PROG, (uint32_t)s);
}

/* ---- entry checks: offsets a live entry holds lie inside the heap ---- */

#define MAX_INSNS 1000000u
#define MAX_PROG_MAPS 4096u
#define MAX_TARGET_ARG (1u << 20)

int prog_entry_check(struct bpftime_region *r, const struct shm_prog *p)
{
    uint32_t id = p->id, n = p->insn_cnt, nm = p->nr_maps;
    if (n == 0 || n > MAX_INSNS || !rt_heap_span(r, p->insns_off, (uint64_t)n * 8))
        return rt_damaged(r, "program %u: %u instructions at offset 0x%llx lie outside the heap",
                          id, n, (unsigned long long)p->insns_off);
    if (nm > MAX_PROG_MAPS || (nm && !rt_heap_span(r, p->map_ids_off, (uint64_t)nm * 4)))
        return rt_damaged(r, "program %u: its table of %u map ids lies outside the heap", id, nm);
    if (p->native_off && !rt_heap_span(r, p->native_off, p->native_len))
        return rt_damaged(r, "program %u: its native image lies outside the heap", id);
    return 0;
}

int map_entry_check(struct bpftime_region *r, const struct shm_map *m)
{
    uint32_t max_entries = m->max_entries;
    uint64_t map_extra = m->map_extra;
    int quiet = bpftime_error_quiet;
    bpftime_error_quiet = 1; /* map_check_spec's own message speaks of creating a map */
    int rc = map_check_spec(r, m->type, m->key_size, m->value_size, &max_entries,
                            m->map_flags & ~SHM_MAP_FROZEN, &map_extra);
    bpftime_error_quiet = quiet;
    if (rc || max_entries != m->max_entries || map_extra != m->map_extra)
        return rt_damaged(r,
                          "map %u: type %u, key size %u, value size %u, max_entries %u is "
                          "not a valid map",
                          m->id, m->type, m->key_size, m->value_size, m->max_entries);
    uint64_t need = map_storage_need(r, m);
    if (m->data_size != need || !rt_heap_span(r, m->data_off, m->data_size))
        return rt_damaged(r,
                          "map %u: its storage (%llu bytes at offset 0x%llx) lies outside the "
                          "heap",
                          m->id, (unsigned long long)m->data_size, (unsigned long long)m->data_off);
    return 0;
}

int target_entry_check(struct bpftime_region *r, const struct shm_target *t)
{
    if (t->arg_len > MAX_TARGET_ARG || !rt_heap_span(r, t->arg_off, (uint64_t)t->arg_len + 1))
        return rt_damaged(r, "attach target %u: its %u-byte argument lies outside the heap", t->id,
                          t->arg_len);
    return 0;
}

static int instance_entry_check(struct bpftime_region *r, const struct shm_instance *in)
{
    if (in->nr_links > BPFTIME_INSTANCE_MAX_LINKS)
        return rt_damaged(r, "instance %u records %u links (at most %d)", in->id, in->nr_links,
                          BPFTIME_INSTANCE_MAX_LINKS);
    return 0;
}

static int entry_check(struct bpftime_region *r, int kind, const void *e)
{
    switch (kind) {
    case KIND_PROG: return prog_entry_check(r, e);
    case KIND_MAP: return map_entry_check(r, e);
    case KIND_TARGET: return target_entry_check(r, e);
    case KIND_INSTANCE: return instance_entry_check(r, e);
    default: return 0;
    }
}

/* For readers: lock_entry on a region that is whole, giving only an entry
 * whose offsets lie inside the heap (else NULL, the lock dropped, *err
 * saying why). */
static void *lock_checked_entry(struct bpftime_region *r, int kind, uint32_t id, int *err)
{
    *err = rt_check_truncated(r);
    if (*err)
        return NULL;
    void *e = lock_entry(r, kind, id, err);
    if (e && (*err = entry_check(r, kind, e)) != 0) {
        shm_unlock(&r->hdr->table_lock);
        return NULL;
    }
    return e;
}

/* Every live entry and every map's storage header: what the agent checks
 * before a hooked process trusts the region (it must never crash its host). */
int bpftime_region_validate(struct bpftime_region *r)
{
    int rc = rt_check_truncated(r);
    if (rc)
        return rc;
    shm_lock(&r->hdr->table_lock);
    for (int kind = 0; kind < KIND_COUNT && !rc; kind++) {
        for (uint32_t i = 0; i < r->table_cap[kind] && !rc; i++) {
            void *e = table_slot(r, kind, i);
            if (!slot_id(r, kind, i))
                continue;
            rc = entry_check(r, kind, e);
            if (!rc && kind == KIND_MAP)
                rc = map_storage_check(r, e);
        }
    }
    shm_unlock(&r->hdr->table_lock);
    return rc;
}

/* ---- programs ---- */

int bpftime_prog_create(struct bpftime_region *r, const char *name, uint32_t type,
                        const char *license, const char *attach_hint, const void *insns,
                        uint32_t insn_cnt, const uint32_t *map_ids, uint32_t nr_maps)
{
    if (!insns || insn_cnt == 0 || insn_cnt > 1000000)
        return bpftime_set_error(-EINVAL, "program %s: %u instructions (need 1..1000000)",
                                 name ? name : "", insn_cnt);
    if (nr_maps && !map_ids)
        return bpftime_set_error(-EINVAL, "program %s: %u maps but no map id table",
                                 name ? name : "", nr_maps);
    uint64_t code = shm_alloc(r, (uint64_t)insn_cnt * 8);
    uint64_t ids = nr_maps ? shm_alloc(r, (uint64_t)nr_maps * 4) : 0;
    if (!code || (nr_maps && !ids)) {
        shm_free(r, code);
        shm_free(r, ids);
        return bpftime_set_error(-ENOMEM,
                                 "region %s is full: cannot store program %s (%u instructions)",
                                 r->name, name ? name : "", insn_cnt);
    }
    memcpy(rt_ptr(r, code), insns, (size_t)insn_cnt * 8);
    if (nr_maps)
        memcpy(rt_ptr(r, ids), map_ids, (size_t)nr_maps * 4);
    int err = 0;
    shm_lock(&r->hdr->table_lock);
    for (uint32_t i = 0; i < nr_maps; i++) {
        if (find_slot(r, KIND_MAP, map_ids[i]) < 0) {
            err = bpftime_set_error(
                -ENOENT, "program %s: map index %u refers to map id %u, which does not exist",
                name ? name : "", i, map_ids[i]);
            goto fail;
        }
    }
    struct shm_prog *p = new_entry(r, KIND_PROG, &err);
    if (!p)
        goto fail;
    for (uint32_t i = 0; i < nr_maps; i++)
        map_entry_by_id(r, map_ids[i], NULL)->collectable = 1;
    p->type = type;
    p->insn_cnt = insn_cnt;
    p->nr_maps = nr_maps;
    p->insns_off = code;
    p->map_ids_off = ids;
    p->created_ns = rt_now_ns(CLOCK_REALTIME);
    copy_str(p->name, sizeof p->name, name);
    copy_str(p->license, sizeof p->license, license);
    copy_str(p->attach_hint, sizeof p->attach_hint, attach_hint);
    uint32_t id = publish_entry(r, KIND_PROG, &p->id);
    shm_unlock(&r->hdr->table_lock);
    return (int)id;
fail:
    shm_unlock(&r->hdr->table_lock);
    shm_free(r, code);
    shm_free(r, ids);
    return err;
}

static uint32_t count_links_of(struct bpftime_region *r, uint32_t prog_id, uint32_t target_id)
{
    uint32_t n = 0, cap = r->table_cap[KIND_LINK];
    for (uint32_t i = 0; i < cap; i++) {
        struct shm_link *l = table_slot(r, KIND_LINK, i);
        if (l->id &&
            ((prog_id && l->prog_id == prog_id) || (target_id && l->target_id == target_id)))
            n++;
    }
    return n;
}

int bpftime_prog_get(struct bpftime_region *r, uint32_t id, struct bpftime_prog_info *out)
{
    int err;
    struct shm_prog *p = lock_checked_entry(r, KIND_PROG, id, &err);
    if (!p)
        return err;
    memset(out, 0, sizeof *out);
    out->id = p->id;
    out->type = p->type;
    out->insn_cnt = p->insn_cnt;
    out->nr_maps = p->nr_maps;
    out->run_cnt = atomic_load(&p->run_cnt);
    out->run_time_ns = atomic_load(&p->run_time_ns);
    out->created_ns = p->created_ns;
    out->nr_links = count_links_of(r, id, 0);
    memcpy(out->name, p->name, sizeof out->name);
    memcpy(out->license, p->license, sizeof out->license);
    memcpy(out->attach_hint, p->attach_hint, sizeof out->attach_hint);
    shm_unlock(&r->hdr->table_lock);
    return 0;
}

int bpftime_prog_get_insns(struct bpftime_region *r, uint32_t id, void *buf, uint32_t cap)
{
    int err;
    struct shm_prog *p = lock_checked_entry(r, KIND_PROG, id, &err);
    if (!p)
        return err;
    uint32_t n = p->insn_cnt;
    if (buf)
        memcpy(buf, rt_ptr(r, p->insns_off), (size_t)(cap < n ? cap : n) * 8);
    shm_unlock(&r->hdr->table_lock);
    return (int)n;
}

int bpftime_prog_get_map_ids(struct bpftime_region *r, uint32_t id, uint32_t *buf, uint32_t cap)
{
    int err;
    struct shm_prog *p = lock_checked_entry(r, KIND_PROG, id, &err);
    if (!p)
        return err;
    uint32_t n = p->nr_maps;
    if (buf && n)
        memcpy(buf, rt_ptr(r, p->map_ids_off), (size_t)(cap < n ? cap : n) * 4);
    shm_unlock(&r->hdr->table_lock);
    return (int)n;
}

#define MAX_NATIVE_IMAGE (64u << 20)

int bpftime_prog_set_native(struct bpftime_region *r, uint32_t id, const void *blob, uint32_t len)
{
    if (len > MAX_NATIVE_IMAGE || (len && !blob))
        return bpftime_set_error(-EINVAL, "program %u: a native image of %u bytes (need 0..%u)", id,
                                 len, MAX_NATIVE_IMAGE);
    uint64_t block = len ? shm_alloc(r, len) : 0;
    if (len && !block)
        return bpftime_set_error(-ENOMEM,
                                 "region %s is full: cannot store program %u's native image "
                                 "(%u bytes)",
                                 r->name, id, len);
    if (len)
        memcpy(rt_ptr(r, block), blob, len);
    int err;
    struct shm_prog *p = lock_checked_entry(r, KIND_PROG, id, &err);
    if (!p) {
        shm_free(r, block);
        return err;
    }
    uint64_t old = p->native_off;
    p->native_off = block;
    p->native_len = len;
    shm_unlock(&r->hdr->table_lock);
    /* a process that read the old image copied it under the lock */
    shm_free(r, old);
    return 0;
}

int bpftime_prog_get_native(struct bpftime_region *r, uint32_t id, void *buf, uint32_t cap)
{
    int err;
    struct shm_prog *p = lock_checked_entry(r, KIND_PROG, id, &err);
    if (!p)
        return err;
    uint32_t n = p->native_off ? (uint32_t)p->native_len : 0;
    if (buf && n)
        memcpy(buf, rt_ptr(r, p->native_off), cap < n ? cap : n);
    shm_unlock(&r->hdr->table_lock);
    return (int)n;
}

int bpftime_prog_delete(struct bpftime_region *r, uint32_t id)
{
    int err;
    struct shm_prog *p = lock_entry(r, KIND_PROG, id, &err);
    if (!p)
        return err;
    uint32_t links = count_links_of(r, id, 0);
    if (links) {
        shm_unlock(&r->hdr->table_lock);
        return bpftime_set_error(-EBUSY, "program %u is used by %u link(s): detach them first", id,
                                 links);
    }
    struct shm_pin *pin = pin_of(r, BPFTIME_PIN_PROG, id);
    if (pin) {
        int e =
            bpftime_set_error(-EBUSY, "program %u is pinned as \"%s\": `bpftime unpin %s` first",
                              id, pin->name, pin->name);
        shm_unlock(&r->hdr->table_lock);
        return e;
    }
    uint64_t code = p->insns_off, ids = p->map_ids_off, image = p->native_off;
    p->native_off = 0;
    retire_entry(r, KIND_PROG, &p->id);
    shm_unlock(&r->hdr->table_lock);
    /* Another process may still be loading this bytecode into a VM it
     * started building before the delete; the VM copies instructions at
     * load, and freed blocks are only reused by later allocations. */
    shm_free(r, code);
    shm_free(r, ids);
    shm_free(r, image);
    /* the maps this program alone held go with it */
    bpftime_map_collect(r);
    return 0;
}

int bpftime_prog_next_id(struct bpftime_region *r, uint32_t start_id)
{
    return next_id(r, KIND_PROG, start_id);
}

void bpftime_prog_record_run(struct bpftime_region *r, uint32_t id, uint64_t ns)
{
    /* Lock-free: the slot of a live program does not move. */
    uint32_t cap = r->table_cap[KIND_PROG];
    for (uint32_t i = 0; i < cap; i++) {
        struct shm_prog *p = table_slot(r, KIND_PROG, i);
        if (__atomic_load_n(&p->id, __ATOMIC_ACQUIRE) == id) {
            atomic_fetch_add_explicit(&p->run_cnt, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&p->run_time_ns, ns, memory_order_relaxed);
            return;
        }
    }
}

/* ---- maps ---- */

static int map_create(struct bpftime_region *r, const char *name, uint32_t type, uint32_t key_size,
                      uint32_t value_size, uint32_t max_entries, uint32_t map_flags,
                      uint64_t map_extra, const struct shm_inner_template *inner)
{
    if (map_is_outer(type) && !inner)
        return bpftime_set_error(-EINVAL,
                                 "%s map needs an inner map template: create it with "
                                 "bpftime_map_create_outer (BPF_MAP_CREATE with inner_map_fd)",
                                 bpftime_map_type_name(type));
    if (!map_is_outer(type) && inner)
        return bpftime_set_error(-EINVAL, "only array_of_maps and hash_of_maps take an inner map");
    int rc = map_check_spec(r, type, key_size, value_size, &max_entries, map_flags, &map_extra);
    if (rc)
        return rc;
    struct shm_map tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.type = type;
    tmp.key_size = key_size;
    tmp.value_size = value_size;
    tmp.max_entries = max_entries;
    tmp.map_flags = map_flags;
    tmp.map_extra = map_extra;
    if (inner)
        tmp.inner = *inner;
    copy_str(tmp.name, sizeof tmp.name, name);
    rc = map_storage_init(r, &tmp); /* outside the table lock: may be large */
    if (rc)
        return rc;
    int err = 0;
    struct shm_map *m = lock_new_entry(r, KIND_MAP, &err);
    if (!m) {
        map_storage_free(r, &tmp);
        return err;
    }
    memcpy(m, &tmp, sizeof tmp);
    shm_mutex_init(&m->lock);
    m->created_ns = rt_now_ns(CLOCK_REALTIME);
    uint32_t id = publish_entry(r, KIND_MAP, &m->id);
    shm_unlock(&r->hdr->table_lock);
    return (int)id;
}

int bpftime_map_create(struct bpftime_region *r, const char *name, uint32_t type, uint32_t key_size,
                       uint32_t value_size, uint32_t max_entries, uint32_t map_flags,
                       uint64_t map_extra)
{
    return map_create(r, name, type, key_size, value_size, max_entries, map_flags, map_extra, NULL);
}

int bpftime_map_create_outer(struct bpftime_region *r, const char *name, uint32_t type,
                             uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                             uint32_t map_flags, uint32_t inner_id)
{
    struct shm_inner_template t;
    int rc = rt_check_truncated(r);
    if (rc)
        return rc;
    if (!map_is_outer(type))
        return bpftime_set_error(-EINVAL,
                                 "map type %u takes no inner map: only array_of_maps and "
                                 "hash_of_maps do",
                                 type);
    rc = outer_template_from(r, inner_id, &t);
    if (rc)
        return rc;
    return map_create(r, name, type, key_size, value_size, max_entries, map_flags, 0, &t);
}

int bpftime_map_get(struct bpftime_region *r, uint32_t id, struct bpftime_map_info *out)
{
    int err;
    struct shm_map *m = lock_checked_entry(r, KIND_MAP, id, &err);
    if (!m)
        return err;
    memset(out, 0, sizeof *out);
    out->id = m->id;
    out->type = m->type;
    out->key_size = m->key_size;
    out->value_size = m->value_size;
    out->max_entries = m->max_entries;
    out->map_flags = m->map_flags & ~SHM_MAP_FROZEN;
    out->map_extra = m->map_extra;
    out->created_ns = m->created_ns;
    out->ncpus = r->ncpus;
    bool percpu = m->type == BPFTIME_MAP_PERCPU_ARRAY || m->type == BPFTIME_MAP_PERCPU_HASH ||
                  m->type == BPFTIME_MAP_LRU_PERCPU_HASH;
    out->value_buf_size = percpu ? (uint32_t)(round_up8(m->value_size) * r->ncpus) : m->value_size;
    memcpy(out->name, m->name, sizeof out->name);
    if (map_is_outer(m->type)) {
        out->inner_type = m->inner.type;
        out->inner_key_size = m->inner.key_size;
        out->inner_value_size = m->inner.value_size;
        out->inner_max_entries = m->inner.max_entries;
        out->inner_map_flags = m->inner.map_flags;
    }
    shm_unlock(&r->hdr->table_lock);
    return 0;
}

int bpftime_map_delete(struct bpftime_region *r, uint32_t id)
{
    shm_lock(&r->hdr->table_lock);
    uint32_t slot;
    struct shm_map *m = map_entry_by_id(r, id, &slot);
    if (!m) {
        shm_unlock(&r->hdr->table_lock);
        return not_found(KIND_MAP, id);
    }
    char holders[256];
    bool alive[SHM_INSTANCES_CAP];
    alive_instances(r, alive);
    if (map_holders_locked(r, id, alive, holders, sizeof holders)) {
        int e = bpftime_set_error(-EBUSY, "map %u is held by %s: unload, unpin or stop those first",
                                  id, holders);
        shm_unlock(&r->hdr->table_lock);
        return e;
    }
    struct shm_map copy = *m;
    retire_entry(r, KIND_MAP, &m->id);
    shm_unlock(&r->hdr->table_lock);
    pthread_mutex_lock(&r->local_lock);
    map_handle_drop(r, slot);
    pthread_mutex_unlock(&r->local_lock);
    map_storage_free(r, &copy);
    if (map_is_outer(copy.type))
        bpftime_map_collect(r); /* the maps it stored may have had no other holder */
    return 0;
}

#define BPF_F_MMAPABLE_FLAG (1u << 10) /* the kernel's BPF_F_MMAPABLE */

int bpftime_map_mmap_range(struct bpftime_region *r, uint32_t id, uint64_t *off, uint64_t *len)
{
    int err;
    struct shm_map *m = lock_checked_entry(r, KIND_MAP, id, &err);
    if (!m)
        return err;
    bool mmapable = (m->type == BPFTIME_MAP_ARRAY && (m->map_flags & BPF_F_MMAPABLE_FLAG)) ||
                    m->type == BPFTIME_MAP_RINGBUF;
    uint64_t o = m->data_off, l = m->data_size;
    shm_unlock(&r->hdr->table_lock);
    if (!mmapable)
        return bpftime_set_error(-ENODEV,
                                 "map %u can not be mapped: only ringbuf maps and arrays created "
                                 "with BPF_F_MMAPABLE can",
                                 id);
    if (o % SHM_PAGE)
        return rt_damaged(r, "map %u: mmapable storage at 0x%llx is not page-aligned", id,
                          (unsigned long long)o);
    *off = o;
    *len = l;
    return 0;
}

int bpftime_map_freeze(struct bpftime_region *r, uint32_t id)
{
    int err;
    struct shm_map *m = lock_checked_entry(r, KIND_MAP, id, &err);
    if (!m)
        return err;
    if (m->map_flags & SHM_MAP_FROZEN)
        err = bpftime_set_error(-EBUSY, "map %u (%s) is already frozen", id, m->name);
    else
        __atomic_or_fetch(&m->map_flags, SHM_MAP_FROZEN, __ATOMIC_RELEASE);
    shm_unlock(&r->hdr->table_lock);
    return err;
}

int bpftime_map_is_frozen(struct bpftime_region *r, uint32_t id)
{
    struct bpftime_map_info info;
    int rc = bpftime_map_get(r, id, &info);
    if (rc)
        return rc;
    struct bpftime_map *h = bpftime_map_handle(r, id);
    if (!h)
        return bpftime_last_errno();
    return (__atomic_load_n(&h->m->map_flags, __ATOMIC_ACQUIRE) & SHM_MAP_FROZEN) ? 1 : 0;
}

int bpftime_map_next_id(struct bpftime_region *r, uint32_t start_id)
{
    return next_id(r, KIND_MAP, start_id);
}

uint32_t bpftime_map_handle_live_id(struct bpftime_map *h)
{
    if (!h || h->magic != MAP_HANDLE_MAGIC)
        return 0;
    return __atomic_load_n(&h->m->id, __ATOMIC_ACQUIRE);
}

struct bpftime_map *bpftime_map_handle(struct bpftime_region *r, uint32_t id)
{
    /* Fast path for callers that hit the same map over and over (a ringbuf
     * consumer, a dump): the last handle, if its map is still the same.
     * Handles are retired, never freed, while the region is open, so the
     * hint is always safe to read. */
    if (rt_check_truncated(r))
        return NULL;
    struct bpftime_map *hint = __atomic_load_n(&r->map_hint, __ATOMIC_ACQUIRE);
    if (hint && hint->magic == MAP_HANDLE_MAGIC && hint->id == id &&
        __atomic_load_n(&hint->m->id, __ATOMIC_ACQUIRE) == id)
        return hint;
    uint32_t slot;
    shm_lock(&r->hdr->table_lock);
    struct shm_map *m = map_entry_by_id(r, id, &slot);
    if (!m) {
        shm_unlock(&r->hdr->table_lock);
        not_found(KIND_MAP, id);
        return NULL;
    }
    pthread_mutex_lock(&r->local_lock);
    struct bpftime_map *h = r->maps[slot];
    if (h && h->id != id) {
        /* the slot was reused by another map since this handle was made */
        map_handle_drop(r, slot);
        h = NULL;
    }
    if (!h) {
        int err = 0;
        h = calloc(1, sizeof *h);
        if (!h)
            err = bpftime_set_error(-ENOMEM, "out of memory for map handle");
        else if ((err = map_handle_init(r, m, h)) != 0) {
            free(h); /* damaged: map_handle_init said why */
            h = NULL;
        }
        r->maps[slot] = h;
    }
    pthread_mutex_unlock(&r->local_lock);
    shm_unlock(&r->hdr->table_lock);
    if (!h)
        return NULL;
    __atomic_store_n(&r->map_hint, h, __ATOMIC_RELEASE);
    return h;
}

/* ---- attach targets ---- */

int bpftime_target_create(struct bpftime_region *r, uint32_t type, const void *arg,
                          uint32_t arg_len)
{
    if (arg_len > (1u << 20))
        return bpftime_set_error(
            -E2BIG, "attach target argument of %u bytes is too large (max 1 MiB)", arg_len);
    uint64_t a = shm_alloc(r, (uint64_t)arg_len + 1);
    if (!a)
        return bpftime_set_error(-ENOMEM, "region %s is full", r->name);
    if (arg_len)
        memcpy(rt_ptr(r, a), arg, arg_len);
    int err = 0;
    struct shm_target *t = lock_new_entry(r, KIND_TARGET, &err);
    if (!t) {
        shm_free(r, a);
        return err;
    }
    t->type = type;
    t->arg_len = arg_len;
    t->arg_off = a;
    t->created_ns = rt_now_ns(CLOCK_REALTIME);
    uint32_t id = publish_entry(r, KIND_TARGET, &t->id);
    shm_unlock(&r->hdr->table_lock);
    return (int)id;
}

int bpftime_target_get(struct bpftime_region *r, uint32_t id, struct bpftime_target_info *out)
{
    int err;
    struct shm_target *t = lock_checked_entry(r, KIND_TARGET, id, &err);
    if (!t)
        return err;
    memset(out, 0, sizeof *out);
    out->id = t->id;
    out->type = t->type;
    out->arg_len = t->arg_len;
    out->created_ns = t->created_ns;
    shm_unlock(&r->hdr->table_lock);
    return 0;
}

int bpftime_target_get_arg(struct bpftime_region *r, uint32_t id, void *buf, uint32_t cap)
{
    int err;
    struct shm_target *t = lock_checked_entry(r, KIND_TARGET, id, &err);
    if (!t)
        return err;
    uint32_t n = t->arg_len;
    if (buf && cap) {
        uint32_t c = cap < n ? cap : n;
        memcpy(buf, rt_ptr(r, t->arg_off), c);
        if (c < cap)
            ((char *)buf)[c] = 0;
    }
    shm_unlock(&r->hdr->table_lock);
    return (int)n;
}

int bpftime_target_delete(struct bpftime_region *r, uint32_t id)
{
    int err;
    struct shm_target *t = lock_entry(r, KIND_TARGET, id, &err);
    if (!t)
        return err;
    uint32_t links = count_links_of(r, 0, id);
    if (links) {
        shm_unlock(&r->hdr->table_lock);
        return bpftime_set_error(
            -EBUSY, "attach target %u is used by %u link(s): detach them first", id, links);
    }
    uint64_t a = t->arg_off;
    retire_entry(r, KIND_TARGET, &t->id);
    shm_unlock(&r->hdr->table_lock);
    shm_free(r, a);
    return 0;
}

int bpftime_target_next_id(struct bpftime_region *r, uint32_t start_id)
{
    return next_id(r, KIND_TARGET, start_id);
}

/* ---- links ---- */

int bpftime_link_create(struct bpftime_region *r, uint32_t prog_id, uint32_t target_id,
                        uint64_t cookie)
{
    int err = 0;
    shm_lock(&r->hdr->table_lock);
    if ((err = must_exist(r, KIND_PROG, prog_id)) != 0 ||
        (err = must_exist(r, KIND_TARGET, target_id)) != 0)
        goto out;
    struct shm_link *l = new_entry(r, KIND_LINK, &err);
    if (!l)
        goto out;
    l->prog_id = prog_id;
    l->target_id = target_id;
    l->cookie = cookie;
    l->created_ns = rt_now_ns(CLOCK_REALTIME);
    uint32_t id = publish_entry(r, KIND_LINK, &l->id);
    err = (int)id;
out:
    shm_unlock(&r->hdr->table_lock);
    return err;
}

int bpftime_link_get(struct bpftime_region *r, uint32_t id, struct bpftime_link_info *out)
{
    int err = rt_check_truncated(r);
    if (err)
        return err;
    struct shm_link *l = lock_entry(r, KIND_LINK, id, &err);
    if (!l)
        return err;
    memset(out, 0, sizeof *out);
    out->id = l->id;
    out->prog_id = __atomic_load_n(&l->prog_id, __ATOMIC_ACQUIRE);
    out->target_id = l->target_id;
    out->cookie = l->cookie;
    out->created_ns = l->created_ns;
    shm_unlock(&r->hdr->table_lock);
    return 0;
}

int bpftime_link_delete(struct bpftime_region *r, uint32_t id)
{
    int err;
    struct shm_link *l = lock_entry(r, KIND_LINK, id, &err);
    if (!l)
        return err;
    retire_entry(r, KIND_LINK, &l->id);
    shm_unlock(&r->hdr->table_lock);
    return 0;
}

int bpftime_link_next_id(struct bpftime_region *r, uint32_t start_id)
{
    return next_id(r, KIND_LINK, start_id);
}

int bpftime_link_update_prog(struct bpftime_region *r, uint32_t link_id, uint32_t new_prog_id,
                             uint32_t expected_old_prog_id)
{
    int err = 0;
    shm_lock(&r->hdr->table_lock);
    int s = find_slot(r, KIND_LINK, link_id);
    if (s < 0) {
        err = not_found(KIND_LINK, link_id);
        goto out;
    }
    if ((err = must_exist(r, KIND_PROG, new_prog_id)) != 0)
        goto out;
    struct shm_link *l = table_slot(r, KIND_LINK, (uint32_t)s);
    if (expected_old_prog_id && l->prog_id != expected_old_prog_id) {
        err = bpftime_set_error(-EPERM, "link %u runs program %u, not the expected %u", link_id,
                                l->prog_id, expected_old_prog_id);
        goto out;
    }
    __atomic_store_n(&l->prog_id, new_prog_id, __ATOMIC_RELEASE);
    gen_bump(r);
out:
    shm_unlock(&r->hdr->table_lock);
    return err;
}

/* ---- instances ---- */

/* Field 22 of /proc/<pid>/stat (clock ticks since boot): with the pid it
 * names one process even after pid reuse. 0 if unknown. */
static uint64_t proc_start_time(uint32_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%u/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* comm may contain spaces */
    if (!p)
        return 0;
    p++;
    /* after ')' come fields 3.. ; starttime is field 22 */
    for (int field = 3; field <= 22 && p; field++) {
        while (*p == ' ')
            p++;
        if (field == 22)
            return strtoull(p, NULL, 10);
        p = strchr(p, ' ');
    }
    return 0;
}

static bool instance_alive(const struct shm_instance *in)
{
    if (kill((pid_t)in->pid, 0) != 0 && errno == ESRCH)
        return false;
    uint64_t st = proc_start_time(in->pid);
    return st == 0 || in->start_time == 0 || st == in->start_time;
}

int bpftime_instance_register(struct bpftime_region *r, uint32_t pid)
{
    if (pid == 0)
        pid = (uint32_t)getpid();
    uint64_t st = proc_start_time(pid);
    int err = 0;
    struct shm_instance *in = lock_new_entry(r, KIND_INSTANCE, &err);
    if (!in)
        return err;
    in->pid = pid;
    in->start_time = st;
    in->nr_links = 0;
    in->nr_errors = 0;
    atomic_store(&in->heartbeat_ns, rt_now_ns(CLOCK_MONOTONIC));
    uint32_t id = publish_entry(r, KIND_INSTANCE, &in->id);
    shm_unlock(&r->hdr->table_lock);
    if (pid == (uint32_t)getpid()) {
        /* this process: its loaded VMs' maps are held through this record
         * (a forked child republishes what it inherited) */
        r->instance_id = id;
        prog_publish_holds(r);
    }
    return (int)id;
}

int bpftime_instance_set_links(struct bpftime_region *r, uint32_t id, const uint32_t *link_ids,
                               uint32_t n, uint64_t generation_seen)
{
    if (n > BPFTIME_INSTANCE_MAX_LINKS)
        return bpftime_set_error(-E2BIG, "an instance records at most %d links (%u given)",
                                 BPFTIME_INSTANCE_MAX_LINKS, n);
    int err;
    struct shm_instance *in = lock_entry(r, KIND_INSTANCE, id, &err);
    if (!in)
        return err;
    memset(in->link_ids, 0, sizeof in->link_ids);
    if (n)
        memcpy(in->link_ids, link_ids, (size_t)n * 4);
    in->nr_links = n;
    in->generation_seen = generation_seen;
    atomic_store(&in->heartbeat_ns, rt_now_ns(CLOCK_MONOTONIC));
    inst_gen_bump(r);
    shm_unlock(&r->hdr->table_lock);
    return 0;
}

int bpftime_instance_heartbeat(struct bpftime_region *r, uint32_t id)
{
    int err;
    struct shm_instance *in = lock_entry(r, KIND_INSTANCE, id, &err);
    if (!in)
        return err;
    atomic_store(&in->heartbeat_ns, rt_now_ns(CLOCK_MONOTONIC));
    shm_unlock(&r->hdr->table_lock);
    return 0;
}

int bpftime_instance_get(struct bpftime_region *r, uint32_t id, struct bpftime_instance_info *out)
{
    int err;
    struct shm_instance *in = lock_checked_entry(r, KIND_INSTANCE, id, &err);
    if (!in)
        return err;
    memset(out, 0, sizeof *out);
    out->id = in->id;
    out->pid = in->pid;
    out->start_time = in->start_time;
    out->heartbeat_ns = atomic_load(&in->heartbeat_ns);
    out->generation_seen = in->generation_seen;
    out->nr_links = in->nr_links;
    memcpy(out->link_ids, in->link_ids, sizeof out->link_ids);
    struct shm_instance copy;
    memcpy(&copy, in, sizeof copy);
    shm_unlock(&r->hdr->table_lock);
    out->alive = instance_alive(&copy) ? 1 : 0;
    return 0;
}

int bpftime_instance_delete(struct bpftime_region *r, uint32_t id)
{
    int err;
    struct shm_instance *in = lock_entry(r, KIND_INSTANCE, id, &err);
    if (!in)
        return err;
    retire_entry(r, KIND_INSTANCE, &in->id);
    shm_unlock(&r->hdr->table_lock);
    if (r->instance_id == id)
        r->instance_id = 0;
    bpftime_map_collect(r); /* maps only this process still held */
    return 0;
}

int bpftime_instance_next_id(struct bpftime_region *r, uint32_t start_id)
{
    return next_id(r, KIND_INSTANCE, start_id);
}

int bpftime_instance_reap(struct bpftime_region *r)
{
    int n = 0;
    shm_lock(&r->hdr->table_lock);
    uint32_t cap = r->table_cap[KIND_INSTANCE];
    for (uint32_t i = 0; i < cap; i++) {
        struct shm_instance *in = table_slot(r, KIND_INSTANCE, i);
        if (in->id && !instance_alive(in)) {
            __atomic_store_n(&in->id, 0, __ATOMIC_RELEASE);
            n++;
        }
    }
    if (n)
        inst_gen_bump(r);
    shm_unlock(&r->hdr->table_lock);
    if (n)
        bpftime_map_collect(r); /* maps only dead processes still held */
    return n;
}

int bpftime_instance_set_errors(struct bpftime_region *r, uint32_t id,
                                const struct bpftime_link_error *errs, uint32_t n)
{
    int err;
    struct shm_instance *in = lock_entry(r, KIND_INSTANCE, id, &err);
    if (!in)
        return err;
    memset(in->errors, 0, sizeof in->errors);
    uint32_t keep = n < BPFTIME_INSTANCE_MAX_ERRORS ? n : BPFTIME_INSTANCE_MAX_ERRORS;
    for (uint32_t i = 0; i < keep; i++) {
        in->errors[i].link_id = errs[i].link_id;
        in->errors[i].err = errs[i].err;
        snprintf(in->errors[i].message, sizeof in->errors[i].message, "%.*s",
                 (int)sizeof errs[i].message - 1, errs[i].message);
    }
    in->nr_errors = n;
    inst_gen_bump(r);
    shm_unlock(&r->hdr->table_lock);
    return 0;
}

int bpftime_instance_get_errors(struct bpftime_region *r, uint32_t id,
                                struct bpftime_link_error *out, uint32_t cap)
{
    int err;
    struct shm_instance *in = lock_entry(r, KIND_INSTANCE, id, &err);
    if (!in)
        return err;
    uint32_t n = in->nr_errors;
    uint32_t stored = n < BPFTIME_INSTANCE_MAX_ERRORS ? n : BPFTIME_INSTANCE_MAX_ERRORS;
    for (uint32_t i = 0; i < stored && i < cap; i++) {
        out[i] = in->errors[i];
        out[i].message[sizeof out[i].message - 1] = 0; /* the region is shared: trust nothing */
    }
    shm_unlock(&r->hdr->table_lock);
    return (int)n;
}

uint64_t bpftime_monotonic_ns(void)
{
    return rt_now_ns(CLOCK_MONOTONIC);
}

/* ---- for the other object files (pins.c, lifetimes.c) ---- */

int obj_find_slot(struct bpftime_region *r, int kind, uint32_t id)
{
    return find_slot(r, kind, id);
}

void *obj_new_entry(struct bpftime_region *r, int kind, int *err)
{
    return new_entry(r, kind, err);
}

uint32_t obj_publish_entry(struct bpftime_region *r, int kind, uint32_t *id_field)
{
    return publish_entry(r, kind, id_field);
}

void obj_retire_entry(struct bpftime_region *r, int kind, uint32_t *id_field)
{
    retire_entry(r, kind, id_field);
}

int obj_not_found(int kind, uint32_t id)
{
    return not_found(kind, id);
}

int obj_next_id(struct bpftime_region *r, int kind, uint32_t start)
{
    return next_id(r, kind, start);
}

bool obj_instance_alive(const struct shm_instance *in)
{
    return instance_alive(in);
}
