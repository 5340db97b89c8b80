/* Process-local state and helpers shared by the runtime's files. */
#ifndef BPFTIME_RUNTIME_INTERNAL_H
#define BPFTIME_RUNTIME_INTERNAL_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "runtime/bpftime_runtime.h"
#include "runtime/shm_layout.h"

#define MAP_HANDLE_MAGIC 0x4d415048u /* "MAPH" */

struct prog_local; /* prog_vm.c */

struct bpftime_map {
    uint32_t magic;
    uint32_t id;
    struct bpftime_region *r;
    struct shm_map *m; /* table entry */
    uint32_t type, key_size, value_size, max_entries;
    uint32_t ncpus;
    uint32_t stride; /* round_up(value_size, 8) */
    uint32_t percpu; /* value area holds ncpus strides */
    uint8_t *data;   /* storage base (process address) */
    struct shm_hash *hash;
    /* hash layout as checked when the handle was made (map_storage_check):
     * chain walks use these, never the shared header's copies */
    uint32_t n_buckets, n_locks, key_stride, elem_size;
    uint64_t elems_lo, elems_last; /* first and last element offsets */
    _Atomic uint64_t *buckets;
    shm_mutex_t *locks;
    struct shm_ringbuf *rb; /* ringbuf; perf_event_array: first CPU's core */
    uint64_t rb_core_size;  /* perf_event_array: bytes per CPU core */
    struct bpftime_map *retired_next;
};

struct bpftime_region {
    char name[BPFTIME_NAME_LEN + 1];
    char path[128];
    int fd;
    uint8_t *base;
    uint64_t size;
    struct shm_header *hdr;
    /* The layout as validated at open (rt_header_check): readers use these
     * copies, never the header's fields, so a header damaged while the
     * region is open cannot send them outside the mapping. */
    uint64_t table_off[KIND_COUNT];
    uint32_t table_cap[KIND_COUNT];
    uint64_t heap_off, heap_end, trace_off;
    uint32_t ncpus;
    pthread_mutex_t local_lock;             /* process-local caches below */
    struct bpftime_map *maps[SHM_MAPS_CAP]; /* handles by table slot */
    struct bpftime_map *retired_maps;       /* handles of deleted maps (freed at close) */
    struct bpftime_map *map_hint;           /* last handle returned (atomic) */
    struct prog_local *progs;               /* prog_vm.c list */
    uint32_t instance_id; /* this process's instance record (registered with pid 0), or 0 */
    /* inner maps this process's programs reached through outer maps: held
     * with its VMs' maps (map_of_maps.c); under local_lock */
    uint32_t *inner_holds;
    uint32_t n_inner_holds, cap_inner_holds;
};

static inline void *rt_ptr(const struct bpftime_region *r, uint64_t off)
{
    return off ? r->base + off : NULL;
}
/* The one bounds check for offsets read from the region: [off, off+len)
 * lies inside the heap (map storage, bytecode, blobs live nowhere else).
 * Overflow-safe for any off/len a damaged region may hold. */
static inline bool rt_heap_span(const struct bpftime_region *r, uint64_t off, uint64_t len)
{
    return off >= r->heap_off && off <= r->heap_end && len <= r->heap_end - off;
}
/* The region has been damaged: one line naming it and what to do. */
int rt_damaged(const struct bpftime_region *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The file shrank below the mapping since open (touching the lost pages
 * would raise SIGBUS): 0 or -EUCLEAN with a message. */
int rt_check_truncated(const struct bpftime_region *r);
/* Header checks used by open (and the unit tests): 0 or -errno + message. */
int rt_header_check(const struct shm_header *h, uint64_t file_size, const char *path,
                    const char *name);
/* Live table entries: offsets and sizes they hold lie inside the heap. */
int prog_entry_check(struct bpftime_region *r, const struct shm_prog *p);
int map_entry_check(struct bpftime_region *r, const struct shm_map *m);
int target_entry_check(struct bpftime_region *r, const struct shm_target *t);

static inline uint64_t rt_off(const struct bpftime_region *r, const void *p)
{
    return p ? (uint64_t)((const uint8_t *)p - r->base) : 0;
}
static inline uint64_t round_up8(uint64_t v)
{
    return (v + 7) & ~7ull;
}

/* Robust process-shared mutex: a holder that died leaves it EOWNERDEAD;
 * we mark it consistent and carry on (the data it guarded is whatever the
 * dead process left, which our update orders keep structurally valid). */
void shm_mutex_init(shm_mutex_t *m);
void shm_lock(shm_mutex_t *m);
void shm_unlock(shm_mutex_t *m);

/* Process-shared spinlock for short hot critical sections (owner_lock.c):
 * one compare-and-swap to take, one store to release, and a holder that
 * died inside is detected (its tid is gone) and the lock handed over.
 * shm_owner_lock: 0 taken, 1 taken from a dead holder (the caller repairs
 * what it guarded), -EDEADLK when this thread holds it already (a signal
 * handler interrupted the holder: the caller gives up, as the kernel's
 * ringbuf does in NMI context). */
int shm_owner_lock(shm_owner_lock_t *l);
void shm_owner_unlock(shm_owner_lock_t *l);
/* Test hook: called with the lock held at each stage of rb_reserve (1:
 * before producer_pos moves, 2: after), so a test can kill a producer
 * inside the critical section. NULL outside tests. */
extern void (*rt_rb_reserve_stall)(int stage);

uint64_t rt_now_ns(int clock);

/* allocator (region.c) */
uint64_t shm_alloc(struct bpftime_region *r, uint64_t size); /* 0 on failure, zeroed */
/* page_aligned: payload starts on a page boundary (ringbuf cores need it) */
uint64_t shm_alloc_ex(struct bpftime_region *r, uint64_t size, bool page_aligned);
void shm_free(struct bpftime_region *r, uint64_t off);

/* object table (objects.c) */
void *table_slot(struct bpftime_region *r, int kind, uint32_t i);
size_t table_entry_size(int kind);
void gen_bump(struct bpftime_region *r);
struct shm_map *map_entry_by_id(struct bpftime_region *r, uint32_t id, uint32_t *slot);
struct shm_prog *prog_entry_by_id(struct bpftime_region *r, uint32_t id);
/* table primitives (under table_lock, except obj_next_id which takes it) */
int obj_find_slot(struct bpftime_region *r, int kind, uint32_t id); /* slot or -1 */
void *obj_new_entry(struct bpftime_region *r, int kind, int *err);
uint32_t obj_publish_entry(struct bpftime_region *r, int kind, uint32_t *id_field);
void obj_retire_entry(struct bpftime_region *r, int kind, uint32_t *id_field);
int obj_not_found(int kind, uint32_t id);
int obj_next_id(struct bpftime_region *r, int kind, uint32_t start);
bool obj_instance_alive(const struct shm_instance *in);

/* pins.c (under table_lock): the pin naming object obj_id of kind, or NULL */
struct shm_pin *pin_of(struct bpftime_region *r, uint32_t kind, uint32_t obj_id);

/* lifetimes.c (under table_lock) */
/* alive[i]: instance slot i is a live process */
void alive_instances(struct bpftime_region *r, bool *alive);
/* Number of holders of map id; their description into buf. */
int map_holders_locked(struct bpftime_region *r, uint32_t id, const bool *alive, char *buf,
                       size_t len);
/* Publishes the maps this process's VMs use into its instance record
 * (r->instance_id) and checks that they all still exist: -ENOENT if one
 * was freed meanwhile. Takes table_lock. */
int instance_publish_holds(struct bpftime_region *r, const uint32_t *ids, uint32_t n);

/* maps.c */
/* Owner type of a prog_array (0: none), ignoring slot skip; under table_lock. */
uint32_t prog_array_owner(struct bpftime_map *h, uint32_t skip);
int map_storage_init(struct bpftime_region *r, struct shm_map *m);
void map_storage_free(struct bpftime_region *r, struct shm_map *m);
int map_handle_init(struct bpftime_region *r, struct shm_map *m, struct bpftime_map *h);
void map_handle_drop(struct bpftime_region *r, uint32_t slot);
/* bytes of storage a map of this spec owns (what map_storage_init allocates) */
uint64_t map_storage_need(struct bpftime_region *r, const struct shm_map *m);

/* the kernel's jhash (bytes) and jhash2 (32-bit words) (jhash.c) */
uint32_t bpftime_jhash(const void *key, uint32_t length, uint32_t initval);
uint32_t bpftime_jhash2(const void *key, uint32_t words, uint32_t initval);

/* stack trace maps and the stack helpers (map_stack_trace.c) */
int stackmap_check_spec(uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                        uint32_t flags);
uint64_t stackmap_storage_need(const struct shm_map *m);
void stackmap_storage_init(void *data, const struct shm_map *m);
int stackmap_storage_check(struct bpftime_region *r, const struct shm_map *m, const void *data);
int stackmap_lookup(struct bpftime_map *h, const void *key, void *value);
int stackmap_delete(struct bpftime_map *h, const void *key);
int stackmap_extract(struct bpftime_map *h, const void *key, void *value);
int stackmap_get_next_key(struct bpftime_map *h, const void *key, void *next);
int64_t bpftime_get_stackid(struct bpftime_map *h, uint64_t flags);
int64_t bpftime_get_stack(void *buf, uint32_t size, uint64_t flags);

/* LPM trie maps (map_lpm_trie.c) */
int lpm_check_spec(uint32_t key_size, uint32_t value_size, uint32_t max_entries, uint32_t flags);
uint64_t lpm_storage_need(const struct shm_map *m);
int lpm_storage_check(struct bpftime_region *r, const struct shm_map *m, const void *data);
void *lpm_lookup_ptr(struct bpftime_map *h, const void *key);
int lpm_lookup(struct bpftime_map *h, const void *key, void *value);
int lpm_update(struct bpftime_map *h, const void *key, const void *value, uint64_t flags);
int lpm_delete(struct bpftime_map *h, const void *key);
int lpm_get_next_key(struct bpftime_map *h, const void *key, void *next);

/* The value of slot i of an array or hash map (hash: element i of the pool,
 * NULL when not in use); m passed map_entry_check and map_storage_check. */
const uint8_t *map_value_slot(struct bpftime_region *r, const struct shm_map *m, uint32_t i);

/* maps of maps (map_of_maps.c) */
bool map_is_outer(uint32_t type);
/* The template of an outer map, from map inner_id (the kernel's inner_map_fd). */
int outer_template_from(struct bpftime_region *r, uint32_t inner_id,
                        struct shm_inner_template *out);
/* Update of an outer map: checks the inner map id in value against the
 * template, then stores it with `store` (the array or hash update). */
int outer_store(struct bpftime_map *h, const void *key, const void *value, uint64_t flags,
                bool from_prog,
                int (*store)(struct bpftime_map *, const void *, const void *, uint64_t, bool));
/* Adds the outer maps holding map id (under table_lock); returns n plus their count. */
int outer_holders(struct bpftime_region *r, uint32_t id, char *buf, size_t len,
                  void (*add)(char *, size_t, int, const char *, uint32_t, const char *), int n);
/* A program's lookup: the handle of the map whose id is at slot (NULL: none). */
void *outer_lookup_handle(struct bpftime_map *h, const uint8_t *slot);

/* bloom filter maps (map_bloom.c) */
int bloom_check_spec(uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                     uint64_t map_extra);
uint64_t bloom_storage_need(const struct shm_map *m);
void bloom_storage_init(void *data, const struct shm_map *m);
int bloom_storage_check(struct bpftime_region *r, const struct shm_map *m, const void *data);
int bloom_push(struct bpftime_map *h, const void *value, uint64_t flags);
int bloom_peek(struct bpftime_map *h, const void *value);
/* the storage's own header (hash layout, ringbuf cores, queue size) */
int map_storage_check(struct bpftime_region *r, const struct shm_map *m);
int map_check_spec(struct bpftime_region *r, uint32_t type, uint32_t key_size, uint32_t value_size,
                   uint32_t *max_entries, uint32_t map_flags, uint64_t *map_extra);

/* ringbuf.c */
uint64_t rb_core_size(uint64_t data_size);
/* wake_core: the core whose wake_seq consumers wait on (NULL: rb itself) */
void rb_core_init(struct shm_ringbuf *rb, uint64_t data_size, struct shm_ringbuf *wake_core);
void *rb_reserve(struct shm_ringbuf *rb, uint64_t size);
void rb_commit(void *data, uint64_t flags, bool discard);
/* the core's header holds what its creator wrote (data_size, mask, wake word) */
bool rb_core_ok(const struct shm_ringbuf *rb, uint64_t data_size, int64_t wake_delta);

/* prog_vm.c */
void prog_local_free_all(struct bpftime_region *r);
/* Republishes this process's map holds (after its instance changes). */
int prog_publish_holds(struct bpftime_region *r);

/* helpers.c */
int rt_current_cpu(uint32_t ncpus);
void helpers_clear_trace_region(struct bpftime_region *r);

#endif
