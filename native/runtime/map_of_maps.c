/* Map-in-map: array_of_maps and hash_of_maps, as the kernel's
 * kernel/bpf/map_in_map.c, arraymap.c (fd arrays) and hashtab.c (fd htabs).
 *
 * Storage is the plain array or hash of maps.c with 4-byte values: each
 * value is an inner map id (0 = an empty array slot). What is particular
 * to these maps lives here:
 *   - the inner-map template (shm_map.inner), copied from an existing map
 *     at creation as the kernel copies inner_map_fd's meta; every map
 *     stored must match it (bpf_map_meta_equal, array_map_meta_equal);
 *   - lifetimes: an outer map holds each map it stores (map_holders_locked
 *     asks outer_holders), so an inner map replaced or deleted from its
 *     last outer map is collected like any map whose last holder went —
 *     if something held it before (a program, a pin): a map nothing else
 *     ever held (made by hand, or by an application, whose fd holds it in
 *     the kernel) stays until deleted, as any such map;
 *   - a program's bpf_map_lookup_elem returns the inner map's process-local
 *     handle. The process then holds that map (its instance publishes the
 *     id with its VMs' maps) until its VMs go: a program that looked the
 *     map up can keep using the pointer after the control plane replaced
 *     the slot, as RCU lets a kernel program do, and the storage is freed
 *     only once nothing can reach it. Handles are never freed while the
 *     region is open, so a pointer to a map deleted anyway (a damaged or
 *     unregistered process) makes helpers fail, not crash. */
#include <stdlib.h>

#include "runtime/runtime_internal.h"

#define F_INNER_MAP (1u << 12) /* BPF_F_INNER_MAP: array inner maps may differ in max_entries */

bool map_is_outer(uint32_t type)
{
    return (bpftime_map_type_flags(type) & BPFTIME_MAP_F_OUTER) != 0;
}

static const char *tname(uint32_t t)
{
    const char *n = bpftime_map_type_name(t);
    return n ? n : "unknown";
}

int outer_template_from(struct bpftime_region *r, uint32_t inner_id, struct shm_inner_template *out)
{
    shm_lock(&r->hdr->table_lock);
    struct shm_map *m = map_entry_by_id(r, inner_id, NULL);
    int rc = m ? 0
               : bpftime_set_error(-EBADF,
                                   "inner map template: no map with id %u (create the inner map "
                                   "first and pass its id, as inner_map_fd)",
                                   inner_id);
    if (m)
        *out = (struct shm_inner_template){
            m->type, m->key_size, m->value_size, m->max_entries, m->map_flags & ~SHM_MAP_FROZEN, 0};
    shm_unlock(&r->hdr->table_lock);
    if (rc)
        return rc;
    if (map_is_outer(out->type))
        return bpftime_set_error(-EINVAL,
                                 "inner map template: map %u is itself a %s; maps of maps cannot "
                                 "nest (as in the kernel)",
                                 inner_id, tname(out->type));
    return 0;
}

/* Why map m cannot go into an outer map with template t, or NULL. */
static const char *template_mismatch(const struct shm_inner_template *t, const struct shm_map *m)
{
    if (map_is_outer(m->type))
        return "maps of maps cannot nest";
    if (m->type != t->type)
        return "its type differs";
    if (m->key_size != t->key_size)
        return "its key_size differs";
    if (m->value_size != t->value_size)
        return "its value_size differs";
    if ((m->map_flags & ~SHM_MAP_FROZEN) != t->map_flags)
        return "its map_flags differ";
    bool array = t->type == BPFTIME_MAP_ARRAY || t->type == BPFTIME_MAP_PERCPU_ARRAY ||
                 t->type == BPFTIME_MAP_PROG_ARRAY;
    if (array && !(t->map_flags & F_INNER_MAP) && m->max_entries != t->max_entries)
        return "its max_entries differs (an array template without BPF_F_INNER_MAP fixes it)";
    return NULL;
}

int outer_store(struct bpftime_map *h, const void *key, const void *value, uint64_t flags,
                bool from_prog,
                int (*store)(struct bpftime_map *, const void *, const void *, uint64_t, bool))
{
    if (from_prog) /* the verifier refuses it too: only lookups, as the kernel */
        return bpftime_set_error(-EINVAL, "%s map %u cannot be updated from a program",
                                 tname(h->type), h->id);
    if (h->type == BPFTIME_MAP_ARRAY_OF_MAPS) {
        /* bpf_fd_array_map_update_elem checks the flags and the index
         * before the map it is given */
        uint32_t idx;
        memcpy(&idx, key, 4);
        if (flags != BPFTIME_ANY)
            return bpftime_set_error(-EINVAL, "%s map %u: updates take BPF_ANY only",
                                     tname(h->type), h->id);
        if (idx >= h->max_entries)
            return bpftime_set_error(-E2BIG, "%s map %u: index %u out of range (max_entries %u)",
                                     tname(h->type), h->id, idx, h->max_entries);
    }
    uint32_t id;
    memcpy(&id, value, 4);
    struct bpftime_region *r = h->r;
    const struct shm_inner_template *t = &h->m->inner;
    /* Under the table lock, so the inner map cannot be deleted between the
     * check and the store (once stored, this map holds it). */
    shm_lock(&r->hdr->table_lock);
    struct shm_map *m = map_entry_by_id(r, id, NULL);
    const char *why = m ? template_mismatch(t, m) : NULL;
    int rc = 0;
    if (!m)
        rc = bpftime_set_error(-EBADF, "%s map %u: no map with id %u to store", tname(h->type),
                               h->id, id);
    else if (why)
        rc = bpftime_set_error(
            -EINVAL,
            "%s map %u: map %u (%s %u/%u/%u) does not match the inner-map template (%s "
            "key %u, value %u, max_entries %u, flags 0x%x): %s",
            tname(h->type), h->id, id, tname(m->type), m->key_size, m->value_size, m->max_entries,
            tname(t->type), t->key_size, t->value_size, t->max_entries, t->map_flags, why);
    else
        rc = store(h, key, value, flags, false);
    shm_unlock(&r->hdr->table_lock);
    if (!rc)
        bpftime_map_collect(r); /* the map this slot held may have had no other holder */
    return rc;
}

int outer_holders(struct bpftime_region *r, uint32_t id, char *buf, size_t len,
                  void (*add)(char *, size_t, int, const char *, uint32_t, const char *), int n)
{
    uint32_t cap = r->table_cap[KIND_MAP];
    for (uint32_t i = 0; i < cap; i++) {
        struct shm_map *m = table_slot(r, KIND_MAP, i);
        if (!m->id || !map_is_outer(m->type) || m->id == id)
            continue;
        /* a damaged outer map's slots cannot be read: it holds everything */
        bool damaged = map_entry_check(r, m) != 0 || map_storage_check(r, m) != 0;
        bool held = damaged;
        for (uint32_t k = 0; !held && k < m->max_entries; k++) {
            const uint8_t *v = map_value_slot(r, m, k);
            uint32_t got;
            if (!v)
                continue;
            memcpy(&got, v, 4);
            held = got == id;
        }
        if (held) {
            if (buf)
                add(buf, len, n, "map %u", m->id, NULL);
            n++;
        }
    }
    return n;
}

static bool inner_held_locally(struct bpftime_region *r, uint32_t id);

/* This process holds inner map id from now on (see the top of the file). */
static int hold_inner(struct bpftime_region *r, uint32_t id)
{
    pthread_mutex_lock(&r->local_lock);
    if (inner_held_locally(r, id)) {
        pthread_mutex_unlock(&r->local_lock);
        return 0;
    }
    if (r->n_inner_holds == r->cap_inner_holds) {
        uint32_t cap = r->cap_inner_holds ? r->cap_inner_holds * 2 : 8;
        uint32_t *p = realloc(r->inner_holds, (size_t)cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&r->local_lock);
            return bpftime_set_error(-ENOMEM, "out of memory");
        }
        r->inner_holds = p;
        r->cap_inner_holds = cap;
    }
    r->inner_holds[r->n_inner_holds++] = id;
    pthread_mutex_unlock(&r->local_lock);
    int rc = prog_publish_holds(r);
    if (rc) { /* -ENOENT: the map went since the slot was read; the lookup fails */
        pthread_mutex_lock(&r->local_lock);
        for (uint32_t i = 0; i < r->n_inner_holds; i++)
            if (r->inner_holds[i] == id)
                r->inner_holds[i] = r->inner_holds[--r->n_inner_holds];
        pthread_mutex_unlock(&r->local_lock);
        prog_publish_holds(r);
    }
    return rc;
}

static bool inner_held_locally(struct bpftime_region *r, uint32_t id)
{
    for (uint32_t i = 0; i < r->n_inner_holds; i++)
        if (r->inner_holds[i] == id)
            return true;
    return false;
}

void *outer_lookup_handle(struct bpftime_map *h, const uint8_t *slot)
{
    if (!slot)
        return NULL;
    uint32_t id = __atomic_load_n((const uint32_t *)(const void *)slot, __ATOMIC_ACQUIRE);
    if (!id)
        return NULL;
    struct bpftime_region *r = h->r;
    struct bpftime_map *inner = bpftime_map_handle(r, id);
    if (!inner)
        return NULL;
    pthread_mutex_lock(&r->local_lock);
    bool held = inner_held_locally(r, id);
    pthread_mutex_unlock(&r->local_lock);
    if (!held && hold_inner(r, id) != 0)
        return NULL;
    return inner;
}
