/* The shared-memory layout: every struct that lives inside a bpftime region.
 *
 * Internal to native/runtime/ (the only C that knows this layout). Rules:
 *   - shared memory holds OFFSETS from the region base, never pointers, so
 *     each process may map the region at any address;
 *   - every change to a struct here that alters its size or meaning bumps
 *     BPFTIME_LAYOUT_VERSION, so an old region is refused with a clear
 *     message instead of being misread;
 *   - locks are process-shared robust pthread mutexes (glibc x86-64 layout),
 *     see shm_lock(), except the ringbuf producers' owner lock, a spinlock
 *     word naming its holder (owner_lock.c).
 *
 * Region map (offsets fixed at creation and recorded in the header):
 *   0                 struct shm_header (one page)
 *   progs_off         struct shm_prog[progs_cap]
 *   maps_off          struct shm_map[maps_cap]
 *   targets_off       struct shm_target[targets_cap]
 *   links_off         struct shm_link[links_cap]
 *   instances_off     struct shm_instance[instances_cap]
 *   pins_off          struct shm_pin[pins_cap]
 *   heap_off..size    allocator heap (map storage, bytecode, blobs, trace ring)
 */
#ifndef BPFTIME_SHM_LAYOUT_H
#define BPFTIME_SHM_LAYOUT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/bpftime_runtime.h"

#define BPFTIME_MAGIC "BPFTIME" /* 8 bytes with its NUL */
#define BPFTIME_LAYOUT_VERSION \
    6u /* 2: instances record failed links; 3: pins, map holds;
        * 4: inner-map templates of map-in-map maps;
        * 5: ringbuf producers take an owner lock (shm_owner_lock_t);
        * 6: programs carry an optional LLVM-tier image (native_off) */
#define SHM_PAGE 4096u

#define SHM_PROGS_CAP 1024u
#define SHM_MAPS_CAP 1024u
#define SHM_TARGETS_CAP 1024u
#define SHM_LINKS_CAP 4096u
#define SHM_INSTANCES_CAP 1024u
#define SHM_PINS_CAP 1024u

#define SHM_INSTANCE_MAX_HELD_MAPS 256u

#define SHM_TRACE_RING_SIZE (256u * 1024u) /* data bytes of the trace_printk ring */

/* Allocator: small blocks in power-of-two classes 2^5..2^15 bytes (header
 * included); larger ones are whole pages plus one header page so their
 * payload is page-aligned (ringbufs need that). */
#define SHM_SMALL_MIN_SHIFT 5
#define SHM_SMALL_MAX_SHIFT 15
#define SHM_NUM_CLASSES (SHM_SMALL_MAX_SHIFT + 1)
#define SHM_BLOCK_MAGIC 0xb10cb10cu
#define SHM_BLOCK_LARGE 0xffffffffu
#define SHM_BLOCK_FREE 0xf4eeb10cf4eeb10cull /* free_mark of a block on a free list */

typedef struct {
    pthread_mutex_t m; /* process-shared, robust */
} shm_mutex_t;

/* A spinlock word: 0 free, else the holder's (pid << 32 | tid), so a waiter
 * can tell a dead holder from a slow one (owner_lock.c). */
typedef struct {
    _Atomic uint64_t word;
} shm_owner_lock_t;

struct shm_block {
    uint32_t magic;
    uint32_t cls;       /* size class shift, or SHM_BLOCK_LARGE */
    uint64_t size;      /* whole block size (large: header page + payload) */
    uint64_t next;      /* free list link (offset of next free block) while free */
    uint64_t free_mark; /* SHM_BLOCK_FREE while on a free list, else 0 */
};
_Static_assert(sizeof(struct shm_block) == 32, "block header size");
#define SHM_SMALL_HDR 16u /* payload of small blocks starts 16 bytes in */

enum shm_kind {
    KIND_PROG = 0,
    KIND_MAP,
    KIND_TARGET,
    KIND_LINK,
    KIND_INSTANCE,
    KIND_PIN,
    KIND_COUNT
};

struct shm_header {
    char magic[8];           /* "BPFTIME\0", written last at creation */
    uint32_t layout_version; /* BPFTIME_LAYOUT_VERSION */
    uint32_t header_size;    /* sizeof(struct shm_header) */
    uint64_t region_size;    /* bytes, equals the file size */
    uint64_t created_ns;     /* CLOCK_REALTIME at creation */
    uint32_t ncpus;          /* per-CPU slots in every per-CPU map */
    uint32_t page_size;
    _Atomic uint64_t generation;          /* bumped (release) on each object-table change */
    _Atomic uint64_t instance_generation; /* bumped on instance-table changes */
    _Atomic uint32_t stats_enabled;       /* like the kernel's bpf_stats_enabled */
    uint32_t reserved0;

    uint64_t table_off[KIND_COUNT];
    uint32_t table_cap[KIND_COUNT];
    uint32_t next_id[KIND_COUNT]; /* last id handed out per kind (under table_lock) */

    uint64_t trace_off; /* ringbuf core of the trace_printk ring */

    /* allocator (under alloc_lock) */
    uint64_t heap_off, heap_end, bump;
    uint64_t small_free[SHM_NUM_CLASSES];
    uint64_t large_free;
    uint64_t heap_used;

    shm_mutex_t alloc_lock;
    shm_mutex_t table_lock;
};

struct shm_prog {
    uint32_t id; /* 0: free slot */
    uint32_t type;
    uint32_t insn_cnt;
    uint32_t nr_maps;
    uint64_t insns_off;   /* heap block: insn_cnt * 8 bytes */
    uint64_t map_ids_off; /* heap block: uint32_t[nr_maps], program map index -> map id */
    uint64_t native_off;  /* heap block: the LLVM tier's blob (native_len bytes), 0: none */
    uint64_t native_len;
    uint64_t created_ns;
    _Atomic uint64_t run_cnt;
    _Atomic uint64_t run_time_ns;
    char name[BPFTIME_NAME_LEN];
    char license[BPFTIME_NAME_LEN];
    char attach_hint[BPFTIME_HINT_LEN];
};

/* In shm_map.map_flags, above every kernel BPF_F_* flag: the map is frozen
 * (BPF_MAP_FREEZE): the control plane may no longer change it. bpftime's own
 * state, never reported as a flag (bpftime_map_get masks it). */
#define SHM_MAP_FROZEN (1u << 31)

struct shm_map {
    uint32_t id;
    uint32_t type;
    uint32_t key_size;
    uint32_t value_size;
    uint32_t max_entries;
    uint32_t map_flags;
    uint64_t map_extra;
    uint64_t created_ns;
    uint64_t data_off; /* type-specific storage (heap block) */
    uint64_t data_size;
    /* Set once a holder (program, pin) has referred to the map: from then
     * on the map is freed when its last holder goes (map_collect). A map
     * nobody ever held (just created, or made by hand) stays until deleted. */
    uint32_t collectable;
    uint32_t reserved;
    char name[BPFTIME_NAME_LEN];
    shm_mutex_t lock; /* queue/stack; LRU hash uses its own */
    /* array_of_maps / hash_of_maps (map_of_maps.c): the inner-map template
     * every map stored in it must match (the kernel's inner_map_meta). Only
     * compared with, never used to reach storage. */
    struct shm_inner_template {
        uint32_t type, key_size, value_size, max_entries, map_flags, reserved;
    } inner;
};

struct shm_target {
    uint32_t id;
    uint32_t type;
    uint32_t arg_len;
    uint32_t reserved;
    uint64_t arg_off; /* heap block with arg_len bytes (+ NUL) */
    uint64_t created_ns;
};

struct shm_link {
    uint32_t id;
    uint32_t prog_id;
    uint32_t target_id;
    uint32_t reserved;
    uint64_t cookie;
    uint64_t created_ns;
};

struct shm_instance {
    uint32_t id;
    uint32_t pid;
    uint64_t start_time; /* /proc/<pid>/stat starttime: detects pid reuse */
    _Atomic uint64_t heartbeat_ns;
    uint64_t generation_seen;
    uint32_t nr_links;
    uint32_t nr_errors; /* links that failed to attach (the first few are in errors[]) */
    uint32_t link_ids[BPFTIME_INSTANCE_MAX_LINKS];
    struct bpftime_link_error errors[BPFTIME_INSTANCE_MAX_ERRORS];
    /* Maps the process's loaded VMs use (published by the runtime as it
     * sets VMs up and frees them): each is a holder while the process is
     * alive. held_overflow: more than fit, so the process holds every map. */
    uint32_t nr_held_maps;
    uint32_t held_overflow;
    uint32_t held_map_ids[SHM_INSTANCE_MAX_HELD_MAPS];
};

/* A region-level name for a map or a program (like a bpffs pin): a holder. */
struct shm_pin {
    uint32_t id;
    uint32_t kind; /* BPFTIME_PIN_MAP / BPFTIME_PIN_PROG */
    uint32_t obj_id;
    uint32_t reserved;
    uint64_t created_ns;
    char name[BPFTIME_PIN_NAME_LEN];
};

/* ---- map storage ---- */

/* Arrays (array, percpu_array, prog_array): values back to back, stride =
 * round_up(value_size, 8); per-CPU: element i of cpu c at (i*ncpus + c). */

/* Hash maps: preallocated element pool, buckets are "nulls" lists: the
 * chain ends with (bucket << 1) | 1 so a lock-free reader that followed a
 * recycled element into another chain notices and restarts, as the kernel's
 * hlist_nulls. */
struct shm_hash {
    uint32_t n_buckets; /* power of two */
    uint32_t n_locks;   /* power of two; bucket b uses lock b & (n_locks-1) */
    uint32_t elem_size;
    uint32_t key_stride; /* round_up(key_size, 8) */
    _Atomic uint32_t count;
    uint32_t reserved;
    uint64_t buckets_off;        /* uint64_t[n_buckets] */
    uint64_t locks_off;          /* shm_mutex_t[n_locks] */
    uint64_t elems_off;          /* max_entries elements */
    uint64_t free_head;          /* under free_lock */
    uint64_t lru_head, lru_tail; /* LRU maps: most recent at head (under locks[0]) */
    shm_mutex_t free_lock;
};

struct shm_hash_elem {
    _Atomic uint64_t next; /* offset of next element, or nulls marker */
    uint64_t lru_prev, lru_next;
    uint32_t hash;
    uint32_t in_use;
    /* key (key_stride bytes), then value(s) */
};
#define SHM_HASH_ELEM_HDR 32u

struct shm_queue {
    uint32_t head, tail, size; /* size = max_entries + 1 slots */
    uint32_t reserved;
    /* then size * value_size bytes */
};
#define SHM_QUEUE_HDR 16u

/* Bloom filter (map_bloom.c): the header, then the bit array (round_up8 of
 * (bitset_mask + 1) / 8 bytes), as the kernel sizes it. */
struct shm_bloom {
    uint32_t nr_hash_funcs; /* 1..15 */
    uint32_t bitset_mask;   /* bits - 1, bits a power of two */
    uint32_t hash_seed;     /* 0 with BPF_F_ZERO_SEED, else random */
    uint32_t reserved;
};
#define SHM_BLOOM_HDR 16u

/* Stack trace map (map_stack_trace.c): the header, uint32_t buckets[n_buckets]
 * (element index + 1, 0 = empty; rounded up to 8 bytes), then max_entries
 * elements {u32 hash, u32 nr, u32 next_free, u32 reserved, u64 ips[value_size/8]}. */
struct shm_stackmap {
    uint32_t n_buckets; /* roundup_pow2(max_entries) */
    uint32_t free_head; /* element index + 1 of the first free element, 0 = none */
};
#define SHM_STACKMAP_HDR 8u

/* LPM trie (map_lpm_trie.c): the header, then max_entries slots
 * {u32 in_use, u32 prefixlen, data (round_up8(key_size - 4)), value (round_up8(value_size))}. */
struct shm_lpm {
    uint32_t count; /* slots in use */
    uint32_t reserved;
};
#define SHM_LPM_HDR 8u

/* Ringbuf core: page 0 control, page 1 consumer_pos, page 2 producer_pos,
 * then data_size bytes. Records as the kernel's: 8-byte header
 * {u32 len | BUSY | DISCARD, u32 pg_off} with pg_off the header's distance
 * in pages from page 0 of the core, data padded to 8 bytes. A record that
 * does not fit before the end of the data area is preceded by a discarded
 * padding record up to the end (we have no double mapping). */
struct shm_ringbuf {
    uint64_t data_size; /* power of two, multiple of the page size */
    uint64_t mask;
    _Atomic uint64_t lost; /* reservations that failed for lack of space */
    int64_t wake_delta;    /* futex word consumers wait on, relative to this struct */
    _Atomic uint32_t wake_seq;
    _Atomic uint32_t waiters;
    shm_owner_lock_t lock; /* producers */
    /* The record the lock holder is reserving, [pend_rec, pend_end) as
     * positions, set before producer_pos moves and cleared before the
     * unlock: when a holder dies, whoever recovers the lock sees whether it
     * had already published a record nobody will ever commit (rb_reserve). */
    uint64_t pend_rec, pend_end;
    shm_mutex_t cons_lock; /* consumers (one record goes to one reader) */
};
#define SHM_RB_HDR_PAGES 3u
#define RB_BUSY_BIT (1u << 31)
#define RB_DISCARD_BIT (1u << 30)
#define RB_HDR_SZ 8u

#endif
