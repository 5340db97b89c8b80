/* Map lifetimes: who holds a map, and freeing maps whose last holder went.
 *
 * Holders are computed from the table, never counted: a program whose map
 * table names the map, a pin naming it, and a live instance (a registered
 * process) whose published holds name it. Nothing can then leak a count: a
 * crashed process stops holding the moment its pid is gone (or reused),
 * whether or not anyone reaped its instance record yet. */
#include <stdlib.h>

#include "runtime/runtime_internal.h"

void alive_instances(struct bpftime_region *r, bool *alive)
{
    uint32_t cap = r->table_cap[KIND_INSTANCE];
    for (uint32_t i = 0; i < cap; i++) {
        struct shm_instance *in = table_slot(r, KIND_INSTANCE, i);
        alive[i] = in->id && obj_instance_alive(in);
    }
}

/* Appends ", what" to buf (the first without the comma). */
static void add_holder(char *buf, size_t len, int n, const char *fmt, uint32_t a, const char *s)
{
    size_t used = strlen(buf);
    if (used + 1 >= len)
        return;
    if (n > 0)
        used += (size_t)snprintf(buf + used, len - used, ", ");
    if (used + 1 >= len)
        return;
    if (s)
        snprintf(buf + used, len - used, fmt, s);
    else
        snprintf(buf + used, len - used, fmt, a);
}

int map_holders_locked(struct bpftime_region *r, uint32_t id, const bool *alive, char *buf,
                       size_t len)
{
    int n = 0;
    if (buf && len)
        buf[0] = 0;
    uint32_t cap = r->table_cap[KIND_PROG];
    for (uint32_t i = 0; i < cap; i++) {
        struct shm_prog *p = table_slot(r, KIND_PROG, i);
        if (!p->id)
            continue;
        /* a damaged entry's map table cannot be read: count it as a holder
         * rather than free a map it may use */
        bool damaged = prog_entry_check(r, p) != 0;
        const uint32_t *ids = damaged ? NULL : rt_ptr(r, p->map_ids_off);
        uint32_t nm = damaged ? 1 : p->nr_maps;
        for (uint32_t k = 0; k < nm; k++)
            if (damaged || ids[k] == id) {
                if (buf)
                    add_holder(buf, len, n, "program %u", p->id, NULL);
                n++;
                break;
            }
    }
    cap = r->table_cap[KIND_PIN];
    for (uint32_t i = 0; i < cap; i++) {
        struct shm_pin *p = table_slot(r, KIND_PIN, i);
        if (p->id && p->kind == BPFTIME_PIN_MAP && p->obj_id == id) {
            if (buf)
                add_holder(buf, len, n, "pin \"%s\"", 0, p->name);
            n++;
        }
    }
    cap = r->table_cap[KIND_INSTANCE];
    for (uint32_t i = 0; i < cap; i++) {
        struct shm_instance *in = table_slot(r, KIND_INSTANCE, i);
        if (!in->id || !alive[i])
            continue;
        bool held = in->held_overflow != 0;
        uint32_t nh = in->nr_held_maps < SHM_INSTANCE_MAX_HELD_MAPS ? in->nr_held_maps
                                                                    : SHM_INSTANCE_MAX_HELD_MAPS;
        for (uint32_t k = 0; !held && k < nh; k++)
            held = in->held_map_ids[k] == id;
        if (held) {
            if (buf)
                add_holder(buf, len, n, "process %u", in->pid, NULL);
            n++;
        }
    }
    return outer_holders(r, id, buf, len, add_holder, n);
}

int bpftime_map_holders(struct bpftime_region *r, uint32_t id, char *buf, uint32_t buf_len)
{
    int err = rt_check_truncated(r);
    if (err)
        return err;
    bool alive[SHM_INSTANCES_CAP];
    shm_lock(&r->hdr->table_lock);
    if (obj_find_slot(r, KIND_MAP, id) < 0) {
        shm_unlock(&r->hdr->table_lock);
        return obj_not_found(KIND_MAP, id);
    }
    alive_instances(r, alive);
    int n = map_holders_locked(r, id, alive, buf, buf_len);
    shm_unlock(&r->hdr->table_lock);
    return n;
}

static int collect_once(struct bpftime_region *r);

int bpftime_map_collect(struct bpftime_region *r)
{
    int total = 0, n;
    /* an outer map freed lets the maps it stored go: again until none goes */
    while ((n = collect_once(r)) > 0)
        total += n;
    return n < 0 ? n : total;
}

static int collect_once(struct bpftime_region *r)
{
    int err = rt_check_truncated(r);
    if (err)
        return err;
    bool alive[SHM_INSTANCES_CAP];
    uint32_t cap = r->table_cap[KIND_MAP];
    struct shm_map *dead = NULL;
    uint32_t *slots = NULL;
    int n = 0;
    shm_lock(&r->hdr->table_lock);
    alive_instances(r, alive);
    for (uint32_t i = 0; i < cap; i++) {
        struct shm_map *m = table_slot(r, KIND_MAP, i);
        if (!m->id || !m->collectable || map_holders_locked(r, m->id, alive, NULL, 0))
            continue;
        if (map_entry_check(r, m) != 0)
            continue; /* damaged: its storage offset cannot be trusted to free */
        if (!dead) {
            dead = calloc(cap, sizeof *dead);
            slots = calloc(cap, sizeof *slots);
            if (!dead || !slots)
                break; /* out of memory: collect another time */
        }
        dead[n] = *m;
        slots[n++] = i;
        __atomic_store_n(&m->id, 0, __ATOMIC_RELEASE);
    }
    if (n)
        gen_bump(r);
    shm_unlock(&r->hdr->table_lock);
    /* storage goes outside the table lock, as bpftime_map_delete does */
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&r->local_lock);
        map_handle_drop(r, slots[i]);
        pthread_mutex_unlock(&r->local_lock);
        map_storage_free(r, &dead[i]);
    }
    free(dead);
    free(slots);
    return n;
}

int instance_publish_holds(struct bpftime_region *r, const uint32_t *ids, uint32_t n)
{
    int rc = 0;
    shm_lock(&r->hdr->table_lock);
    if (r->instance_id) {
        int s = obj_find_slot(r, KIND_INSTANCE, r->instance_id);
        if (s >= 0) {
            struct shm_instance *in = table_slot(r, KIND_INSTANCE, (uint32_t)s);
            uint32_t k = n < SHM_INSTANCE_MAX_HELD_MAPS ? n : SHM_INSTANCE_MAX_HELD_MAPS;
            if (k)
                memcpy(in->held_map_ids, ids, (size_t)k * sizeof *ids);
            in->nr_held_maps = k;
            in->held_overflow = n > SHM_INSTANCE_MAX_HELD_MAPS;
        }
    }
    /* A map freed between reading a program's map ids and this publish
     * would leave a VM aimed at freed storage: refuse it instead. */
    for (uint32_t i = 0; i < n && !rc; i++)
        if (obj_find_slot(r, KIND_MAP, ids[i]) < 0)
            rc = bpftime_set_error(
                -ENOENT, "map %u was deleted while a program using it was set up", ids[i]);
    shm_unlock(&r->hdr->table_lock);
    return rc;
}
