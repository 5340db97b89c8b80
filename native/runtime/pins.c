/* Pins: region-level names for maps and programs, like paths in bpffs.
 * A pin is a holder: a pinned map outlives the programs that used it (so a
 * new version of a program can take it over), a pinned program cannot be
 * unloaded. Removing a pin collects the map it held if nothing else does. */
#include <time.h>

#include "runtime/runtime_internal.h"

static int check_pin_name(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    bool ok = n > 0 && n < BPFTIME_PIN_NAME_LEN && name[0] != '/' && !strstr(name, "..");
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-' || c == '.' || c == '/';
    }
    if (!ok)
        return bpftime_set_error(
            -EINVAL,
            "invalid pin name \"%s\": use 1-%d characters of [A-Za-z0-9_.-/], not "
            "starting with / and without ..",
            name ? name : "", BPFTIME_PIN_NAME_LEN - 1);
    return 0;
}

/* What every call naming a pin checks first; the region before the table
 * lock is taken: a truncated file has no header to lock. */
static int check_region_and_name(struct bpftime_region *r, const char *name)
{
    int rc = rt_check_truncated(r);
    return rc ? rc : check_pin_name(name);
}

static int no_pin(const char *name)
{
    return bpftime_set_error(-ENOENT, "no pin named \"%s\": see `bpftime pin list`", name);
}

static const char *kind_word(uint32_t kind)
{
    return kind == BPFTIME_PIN_MAP ? "map" : "program";
}

/* Under table_lock. */
static struct shm_pin *pin_by_name(struct bpftime_region *r, const char *name)
{
    uint32_t cap = r->table_cap[KIND_PIN];
    for (uint32_t i = 0; i < cap; i++) {
        struct shm_pin *p = table_slot(r, KIND_PIN, i);
        if (p->id && strncmp(p->name, name, sizeof p->name) == 0)
            return p;
    }
    return NULL;
}

struct shm_pin *pin_of(struct bpftime_region *r, uint32_t kind, uint32_t obj_id)
{
    uint32_t cap = r->table_cap[KIND_PIN];
    for (uint32_t i = 0; i < cap; i++) {
        struct shm_pin *p = table_slot(r, KIND_PIN, i);
        if (p->id && p->kind == kind && p->obj_id == obj_id)
            return p;
    }
    return NULL;
}

static void fill_info(const struct shm_pin *p, struct bpftime_pin_info *out)
{
    memset(out, 0, sizeof *out);
    out->id = p->id;
    out->kind = p->kind;
    out->obj_id = p->obj_id;
    out->created_ns = p->created_ns;
    memcpy(out->name, p->name, sizeof out->name);
}

int bpftime_pin_create(struct bpftime_region *r, const char *name, uint32_t kind, uint32_t obj_id)
{
    int rc = check_region_and_name(r, name);
    if (rc)
        return rc;
    if (kind != BPFTIME_PIN_MAP && kind != BPFTIME_PIN_PROG)
        return bpftime_set_error(-EINVAL, "pin %s: unknown object kind %u", name, kind);
    int err = 0;
    shm_lock(&r->hdr->table_lock);
    struct shm_pin *old = pin_by_name(r, name);
    if (old) {
        err = bpftime_set_error(-EEXIST, "pin \"%s\" already names %s %u: `bpftime unpin %s` first",
                                name, kind_word(old->kind), old->obj_id, name);
        goto out;
    }
    int slot = obj_find_slot(r, kind == BPFTIME_PIN_MAP ? KIND_MAP : KIND_PROG, obj_id);
    if (slot < 0) {
        err = obj_not_found(kind == BPFTIME_PIN_MAP ? KIND_MAP : KIND_PROG, obj_id);
        goto out;
    }
    struct shm_pin *p = obj_new_entry(r, KIND_PIN, &err);
    if (!p)
        goto out;
    p->kind = kind;
    p->obj_id = obj_id;
    p->created_ns = rt_now_ns(CLOCK_REALTIME);
    snprintf(p->name, sizeof p->name, "%s", name);
    if (kind == BPFTIME_PIN_MAP)
        ((struct shm_map *)table_slot(r, KIND_MAP, (uint32_t)slot))->collectable = 1;
    uint32_t id = obj_publish_entry(r, KIND_PIN, &p->id);
    err = (int)id;
out:
    shm_unlock(&r->hdr->table_lock);
    return err;
}

int bpftime_pin_delete(struct bpftime_region *r, const char *name)
{
    int rc = check_region_and_name(r, name);
    if (rc)
        return rc;
    shm_lock(&r->hdr->table_lock);
    struct shm_pin *p = pin_by_name(r, name);
    if (!p) {
        shm_unlock(&r->hdr->table_lock);
        return no_pin(name);
    }
    bool was_map = p->kind == BPFTIME_PIN_MAP;
    obj_retire_entry(r, KIND_PIN, &p->id);
    shm_unlock(&r->hdr->table_lock);
    if (was_map)
        bpftime_map_collect(r);
    return 0;
}

int bpftime_pin_get(struct bpftime_region *r, const char *name, struct bpftime_pin_info *out)
{
    int rc = check_region_and_name(r, name);
    if (rc)
        return rc;
    shm_lock(&r->hdr->table_lock);
    struct shm_pin *p = pin_by_name(r, name);
    if (p)
        fill_info(p, out);
    shm_unlock(&r->hdr->table_lock);
    return p ? 0 : no_pin(name);
}

int bpftime_pin_get_by_id(struct bpftime_region *r, uint32_t id, struct bpftime_pin_info *out)
{
    int trunc = rt_check_truncated(r); /* before the table lock: the header may be gone */
    if (trunc)
        return trunc;
    shm_lock(&r->hdr->table_lock);
    int s = obj_find_slot(r, KIND_PIN, id);
    if (s >= 0)
        fill_info(table_slot(r, KIND_PIN, (uint32_t)s), out);
    shm_unlock(&r->hdr->table_lock);
    return s >= 0 ? 0 : obj_not_found(KIND_PIN, id);
}

int bpftime_pin_next_id(struct bpftime_region *r, uint32_t start_id)
{
    return obj_next_id(r, KIND_PIN, start_id);
}
