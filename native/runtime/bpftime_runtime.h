/* bpftime runtime: the shared-memory region, its object table, maps,
 * ringbuf consumers, helpers and the program -> VM setup.
 *
 * FFI-friendly (TypeScript calls this through bun:ffi): plain integers,
 * pointers, out-parameters and fixed-size structs whose layout is spelled
 * out below (all little-endian, naturally aligned, no hidden padding).
 *
 * Errors: functions returning int give >= 0 on success or a negative
 * errno-style code; bpftime_last_error_message() (bpftime/api.h) is the
 * thread-local one-line message saying what failed and what to do.
 *
 * Ids of programs, maps, targets, links and instances are per kind,
 * monotonic from 1 and never reused within one region. */
#ifndef BPFTIME_RUNTIME_H
#define BPFTIME_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpftime/api.h"

#ifdef __cplusplus
extern "C" {
#endif

struct bpftime_region; /* process-local handle on a mapped region */
struct bpftime_map;    /* process-local handle on one map (what lddw hands to helpers) */
struct ebpf_vm;

#define BPFTIME_DEFAULT_REGION "bpftime"
#define BPFTIME_DEFAULT_REGION_SIZE (64ull << 20)
#define BPFTIME_MIN_REGION_SIZE (4ull << 20)
#define BPFTIME_NAME_LEN 64
#define BPFTIME_HINT_LEN 256
#define BPFTIME_INSTANCE_MAX_LINKS 64
#define BPFTIME_PIN_NAME_LEN 128
#define BPFTIME_INSTANCE_MAX_ERRORS 4 /* failed links an instance records (more are counted) */
#define BPFTIME_LINK_ERROR_LEN 184

/* Map types: the kernel's enum bpf_map_type values (runtime/map_types.def). */
enum bpftime_map_type {
#define BPF_MAP_TYPE(id, ENUM, name, flags) BPFTIME_MAP_##ENUM = id,
#include "runtime/map_types.def"
#undef BPF_MAP_TYPE
};

/* Flags of a map type in map_types.def (there written MAP_F_*). */
enum bpftime_map_type_flag {
    BPFTIME_MAP_F_IMPL = 1,    /* implemented by this runtime */
    BPFTIME_MAP_F_PERCPU = 2,  /* one value per CPU */
    BPFTIME_MAP_F_KEYLESS = 4, /* no keys (queue, stack, ringbuf) */
    BPFTIME_MAP_F_STREAM = 8,  /* records read in order by a consumer */
    BPFTIME_MAP_F_OUTER = 16,  /* a map of maps: values are inner map ids */
};

/* Program types as stored in the region (runtime/prog_types.def): the
 * kernel's enum bpf_prog_type, and ids from 0x1000 for bpftime's own. */
enum bpftime_prog_type {
#define BPF_PROG_TYPE(id, ENUM, name, runs) BPFTIME_PROG_##ENUM = id,
#define BPF_PROG_FLAVOUR(id, name)
#include "runtime/prog_types.def"
#undef BPF_PROG_TYPE
#undef BPF_PROG_FLAVOUR
};

/* The tables above at run time (for the FFI and messages): the type's name
 * ("percpu_hash", "xdp"), or NULL for a number the table does not list;
 * a map type's BPFTIME_MAP_F_* flags (0 when not listed). */
BPFTIME_API const char *bpftime_map_type_name(uint32_t type);
BPFTIME_API uint32_t bpftime_map_type_flags(uint32_t type);
BPFTIME_API const char *bpftime_prog_type_name(uint32_t type);

/* Update flags, as the kernel's. */
#define BPFTIME_ANY 0
#define BPFTIME_NOEXIST 1
#define BPFTIME_EXIST 2

/* ringbuf_output/submit/discard flags and ringbuf_query selectors. */
#define BPFTIME_RB_NO_WAKEUP 1
#define BPFTIME_RB_FORCE_WAKEUP 2
#define BPFTIME_RB_AVAIL_DATA 0
#define BPFTIME_RB_RING_SIZE 1
#define BPFTIME_RB_CONS_POS 2
#define BPFTIME_RB_PROD_POS 3
#define BPFTIME_F_CURRENT_CPU 0xffffffffull
#define BPFTIME_F_INDEX_MASK 0xffffffffull

/* ---- region ---- */

/* Creates /dev/shm/bpftime-<name> (mode 0600, fails with -EEXIST if present)
 * of `size` bytes (0 = default 64 MiB; sparse) and maps it. name: 1-64 of
 * [A-Za-z0-9_.-]; NULL = "bpftime". */
BPFTIME_API int bpftime_region_create(const char *name, uint64_t size, struct bpftime_region **out);
/* Maps an existing region; refuses other layout versions / non-regions. */
BPFTIME_API int bpftime_region_open(const char *name, struct bpftime_region **out);
/* As bpftime_region_open, on a file descriptor the caller opened (O_RDWR) —
 * e.g. inherited from a more privileged parent (the nginx master opens the
 * region for its unprivileged workers). The handle owns fd (closed by
 * bpftime_region_close, and on failure). name is for messages. */
BPFTIME_API int bpftime_region_open_fd(const char *name, int fd, struct bpftime_region **out);
/* Unmaps and frees the process-local handle (and the VMs it created). */
BPFTIME_API void bpftime_region_close(struct bpftime_region *r);
/* Unlinks /dev/shm/bpftime-<name> (mappings stay valid until closed). */
BPFTIME_API int bpftime_region_remove(const char *name);
/* Writes the file path of region `name` into buf; returns its length. */
BPFTIME_API int bpftime_region_path(const char *name, char *buf, uint32_t buf_len);

/* Region summary. Layout (64 bytes):
 *   0 u64 size   8 u64 created_ns (CLOCK_REALTIME)   16 u64 generation
 *  24 u64 heap_used  32 u64 heap_size  40 u32 layout_version  44 u32 ncpus
 *  48 u32 stats_enabled  52 u32 reserved  56 u64 instance_generation */
struct bpftime_region_info {
    uint64_t size;
    uint64_t created_ns;
    uint64_t generation;
    uint64_t heap_used;
    uint64_t heap_size;
    uint32_t layout_version;
    uint32_t ncpus;
    uint32_t stats_enabled;
    uint32_t reserved;
    uint64_t instance_generation;
};
BPFTIME_API int bpftime_region_info(struct bpftime_region *r, struct bpftime_region_info *out);
/* Checks every live object's offsets and every map's storage header against
 * the region's bounds: 0, or -EUCLEAN with a message naming the damage.
 * Readers check what they touch anyway; a hooked process (the agent) calls
 * this before trusting a region, so a damaged one never crashes its host. */
BPFTIME_API int bpftime_region_validate(struct bpftime_region *r);
/* One acquire load: changes whenever programs/maps/targets/links change. */
BPFTIME_API uint64_t bpftime_region_generation(struct bpftime_region *r);
BPFTIME_API uint32_t bpftime_region_ncpus(struct bpftime_region *r);
BPFTIME_API void *bpftime_region_base(struct bpftime_region *r);
BPFTIME_API uint64_t bpftime_region_size(struct bpftime_region *r);
/* Run-time statistics switch (like kernel.bpf_stats_enabled). */
BPFTIME_API void bpftime_stats_set_enabled(struct bpftime_region *r, int enabled);
BPFTIME_API int bpftime_stats_enabled(struct bpftime_region *r);
/* The shared words behind bpftime_region_generation and
 * bpftime_stats_enabled, for a hot path that reads them on every event with
 * one load and no call (the attach manager's nginx path). Not exported. */
const _Atomic uint64_t *bpftime_region_generation_word(struct bpftime_region *r);
const _Atomic uint32_t *bpftime_stats_enabled_word(struct bpftime_region *r);

/* Raw shared allocator (offsets from the region base). Mostly internal;
 * exported for tests and tools. */
BPFTIME_API int64_t bpftime_shm_alloc(struct bpftime_region *r, uint64_t size);
BPFTIME_API void bpftime_shm_free(struct bpftime_region *r, uint64_t off);

/* ---- programs ---- */

/* Layout (432 bytes): 0 u32 id  4 u32 type  8 u32 insn_cnt  12 u32 nr_maps
 *  16 u64 run_cnt  24 u64 run_time_ns  32 u64 created_ns  40 u32 nr_links
 *  44 u32 reserved  48 char name[64]  112 char license[64]
 *  176 char attach_hint[256] */
struct bpftime_prog_info {
    uint32_t id;
    uint32_t type;
    uint32_t insn_cnt;
    uint32_t nr_maps;
    uint64_t run_cnt;
    uint64_t run_time_ns;
    uint64_t created_ns;
    uint32_t nr_links;
    uint32_t reserved;
    char name[BPFTIME_NAME_LEN];
    char license[BPFTIME_NAME_LEN];
    char attach_hint[BPFTIME_HINT_LEN];
};

/* Stores a program: insns are insn_cnt 8-byte instructions; map_ids[i] is
 * the region map id that the program's map index i (lddw imm) refers to.
 * Returns the new id. */
BPFTIME_API int bpftime_prog_create(struct bpftime_region *r, const char *name, uint32_t type,
                                    const char *license, const char *attach_hint, const void *insns,
                                    uint32_t insn_cnt, const uint32_t *map_ids, uint32_t nr_maps);
BPFTIME_API int bpftime_prog_get(struct bpftime_region *r, uint32_t id,
                                 struct bpftime_prog_info *out);
/* Copies up to cap instructions; returns insn_cnt. */
BPFTIME_API int bpftime_prog_get_insns(struct bpftime_region *r, uint32_t id, void *buf,
                                       uint32_t cap);
/* Copies up to cap map ids; returns nr_maps. */
BPFTIME_API int bpftime_prog_get_map_ids(struct bpftime_region *r, uint32_t id, uint32_t *buf,
                                         uint32_t cap);
/* The program's optional LLVM-tier blob (src/llvm, loaded by
 * ebpf_native_load in each process): set replaces it (len 0 removes it);
 * get copies up to cap bytes and returns its length, 0 when it has none. */
BPFTIME_API int bpftime_prog_set_native(struct bpftime_region *r, uint32_t id, const void *blob,
                                        uint32_t len);
BPFTIME_API int bpftime_prog_get_native(struct bpftime_region *r, uint32_t id, void *buf,
                                        uint32_t cap);
/* -EBUSY while a link uses it or a pin names it. Maps it alone held are
 * freed (see bpftime_map_collect). */
BPFTIME_API int bpftime_prog_delete(struct bpftime_region *r, uint32_t id);
/* Smallest id > start_id, or -ENOENT (iteration, as BPF_PROG_GET_NEXT_ID). */
BPFTIME_API int bpftime_prog_next_id(struct bpftime_region *r, uint32_t start_id);
/* Adds one run to the program's statistics (callers time runs only when
 * bpftime_stats_enabled()). */
BPFTIME_API void bpftime_prog_record_run(struct bpftime_region *r, uint32_t id, uint64_t ns);

/* ---- maps ---- */

/* Layout (136 bytes): 0 u32 id  4 u32 type  8 u32 key_size  12 u32 value_size
 *  16 u32 max_entries  20 u32 map_flags  24 u64 map_extra  32 u64 created_ns
 *  40 u32 value_buf_size (bytes lookup copies out: value_size, or
 *  ncpus*round_up(value_size,8) for per-CPU maps)  44 u32 ncpus
 *  48 char name[64]  112 u32 inner_type  116 u32 inner_key_size
 *  120 u32 inner_value_size  124 u32 inner_max_entries  128 u32 inner_map_flags
 *  (the inner-map template of array_of_maps/hash_of_maps; 0 otherwise)  132 pad */
struct bpftime_map_info {
    uint32_t id;
    uint32_t type;
    uint32_t key_size;
    uint32_t value_size;
    uint32_t max_entries;
    uint32_t map_flags;
    uint64_t map_extra;
    uint64_t created_ns;
    uint32_t value_buf_size;
    uint32_t ncpus;
    char name[BPFTIME_NAME_LEN];
    uint32_t inner_type, inner_key_size, inner_value_size, inner_max_entries, inner_map_flags;
    uint32_t reserved;
};

/* Creates a map; returns its id. Checks as the kernel: array key_size 4;
 * ringbuf key/value 0 and max_entries a power-of-two multiple of the page
 * size; queue/stack key_size 0; prog_array key/value 4; perf_event_array
 * key/value 4, max_entries 0 = ncpus, map_extra = per-CPU buffer bytes
 * (power of two multiple of the page size, 0 = 64 KiB). */
BPFTIME_API int bpftime_map_create(struct bpftime_region *r, const char *name, uint32_t type,
                                   uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                                   uint32_t map_flags, uint64_t map_extra);
/* Creates an array_of_maps or hash_of_maps (value_size 4) whose inner-map
 * template is copied from map inner_id, as the kernel's BPF_MAP_CREATE with
 * inner_map_fd: maps stored in it must have the template's type, key and
 * value size and flags (and, for arrays without BPF_F_INNER_MAP, its
 * max_entries). Values are inner map ids: an update stores the id after
 * checking it; a lookup from the control plane returns it; a program's
 * bpf_map_lookup_elem returns the inner map's handle (or NULL). An outer map
 * holds every map it stores (see bpftime_map_collect). */
BPFTIME_API int bpftime_map_create_outer(struct bpftime_region *r, const char *name, uint32_t type,
                                         uint32_t key_size, uint32_t value_size,
                                         uint32_t max_entries, uint32_t map_flags,
                                         uint32_t inner_id);
BPFTIME_API int bpftime_map_get(struct bpftime_region *r, uint32_t id,
                                struct bpftime_map_info *out);
/* The part of the region file an application may mmap for map `id` (the
 * syscall server maps it for `bpftime load -- APP`): a BPF_F_MMAPABLE
 * array's values (page-aligned, stride round_up(value_size, 8)), or a
 * ringbuf's core (page 0 control, page 1 consumer_pos, page 2
 * producer_pos, then the data pages). *off is from the start of the file,
 * a multiple of the page size. -ENODEV for other maps, as the kernel. */
BPFTIME_API int bpftime_map_mmap_range(struct bpftime_region *r, uint32_t id, uint64_t *off,
                                       uint64_t *len);
/* BPF_MAP_FREEZE: from now on the control plane may not change the map
 * (update, delete, pop: -EPERM); programs still read it. -EBUSY if already
 * frozen. The loader freezes .rodata after writing its initial value. */
BPFTIME_API int bpftime_map_freeze(struct bpftime_region *r, uint32_t id);
/* 1 frozen, 0 not, or a negative error. */
BPFTIME_API int bpftime_map_is_frozen(struct bpftime_region *r, uint32_t id);
/* Removes a map nobody holds; -EBUSY (the message names the holders:
 * programs, pins, live processes running code that uses it) otherwise. */
BPFTIME_API int bpftime_map_delete(struct bpftime_region *r, uint32_t id);
/* Map lifetimes. A map is held by every program that refers to it, every
 * pin naming it, and every live registered process (instance) whose loaded
 * VMs use it. Once something has held it, the map is freed (its storage
 * returns to the allocator) when the last holder goes: deleting a program,
 * removing a pin, a process letting go or dying all run this collection.
 * Returns how many maps were freed. Exported so a control plane can collect
 * after it finds dead processes. */
BPFTIME_API int bpftime_map_collect(struct bpftime_region *r);
/* The holders of a map as one line ("program 3, pin \"limit\", process 1234")
 * into buf; returns how many holders (0: free to delete). */
BPFTIME_API int bpftime_map_holders(struct bpftime_region *r, uint32_t id, char *buf,
                                    uint32_t buf_len);
BPFTIME_API int bpftime_map_next_id(struct bpftime_region *r, uint32_t start_id);

/* Control-plane element operations (as the bpf() syscall's): values are
 * copied; per-CPU maps take/give all CPUs' values concatenated, each
 * rounded up to 8 bytes. Queue/stack: lookup = peek, update = push (key
 * NULL), lookup_and_delete = pop. */
BPFTIME_API int bpftime_map_lookup(struct bpftime_region *r, uint32_t id, const void *key,
                                   void *value);
BPFTIME_API int bpftime_map_update(struct bpftime_region *r, uint32_t id, const void *key,
                                   const void *value, uint64_t flags);
BPFTIME_API int bpftime_map_delete_elem(struct bpftime_region *r, uint32_t id, const void *key);
BPFTIME_API int bpftime_map_lookup_and_delete(struct bpftime_region *r, uint32_t id,
                                              const void *key, void *value);
/* key NULL (or not found, for hashes) -> first key; -ENOENT after the last. */
BPFTIME_API int bpftime_map_get_next_key(struct bpftime_region *r, uint32_t id, const void *key,
                                         void *next_key);

/* Process-local handle (cached per region; valid until region close or map
 * delete through this region). NULL + last error if no such map. */
BPFTIME_API struct bpftime_map *bpftime_map_handle(struct bpftime_region *r, uint32_t id);

/* The id of the map a handle's table entry holds now: the handle's own id
 * while its map lives, another or 0 once it was deleted. One load: a caller
 * that keeps a handle (the syscall server, per descriptor) checks it before
 * each use instead of looking the map up again. */
BPFTIME_API uint32_t bpftime_map_handle_live_id(struct bpftime_map *h);

/* Handle-level operations; from_prog selects the eBPF program view (per-CPU
 * maps: only this CPU's slot, lookups return pointers into the region). */
BPFTIME_API void *bpftime_map_lookup_ptr(struct bpftime_map *m, const void *key);
/* Per-CPU maps only: the value slot of `cpu` (NULL if cpu >= ncpus). */
BPFTIME_API void *bpftime_map_lookup_percpu_ptr(struct bpftime_map *m, const void *key,
                                                uint32_t cpu);
BPFTIME_API int bpftime_map_h_update(struct bpftime_map *m, const void *key, const void *value,
                                     uint64_t flags, bool from_prog);
BPFTIME_API int bpftime_map_h_delete(struct bpftime_map *m, const void *key);
BPFTIME_API int bpftime_map_h_push(struct bpftime_map *m, const void *value, uint64_t flags);
BPFTIME_API int bpftime_map_h_pop(struct bpftime_map *m, void *value, bool remove);

/* ---- pins: region-level names for maps and programs (like bpffs) ----
 * A pin holds its object: a pinned map is not collected, a pinned program
 * cannot be unloaded. Names: 1-127 characters of [A-Za-z0-9_.-/], not
 * starting with '/'. */
#define BPFTIME_PIN_MAP 1
#define BPFTIME_PIN_PROG 2
/* Layout (144 bytes): 0 u32 id  4 u32 kind  8 u32 obj_id  12 u32 reserved
 *  16 u64 created_ns  24 char name[128] */
struct bpftime_pin_info {
    uint32_t id;
    uint32_t kind;
    uint32_t obj_id;
    uint32_t reserved;
    uint64_t created_ns;
    char name[BPFTIME_PIN_NAME_LEN];
};
/* Returns the pin's id; -EEXIST if the name is taken, -ENOENT if no such object. */
BPFTIME_API int bpftime_pin_create(struct bpftime_region *r, const char *name, uint32_t kind,
                                   uint32_t obj_id);
/* -ENOENT if no pin has that name. Collects the map it held if that was the last holder. */
BPFTIME_API int bpftime_pin_delete(struct bpftime_region *r, const char *name);
BPFTIME_API int bpftime_pin_get(struct bpftime_region *r, const char *name,
                                struct bpftime_pin_info *out);
BPFTIME_API int bpftime_pin_get_by_id(struct bpftime_region *r, uint32_t id,
                                      struct bpftime_pin_info *out);
BPFTIME_API int bpftime_pin_next_id(struct bpftime_region *r, uint32_t start_id);

/* ---- ringbuf / perf_event_array consumers ---- */

/* Waits (futex, no spinning) until a record is available or timeout_ms
 * passes (-1 = forever, 0 = just check). Returns 1 if a record is
 * available, 0 on timeout. Works for RINGBUF and PERF_EVENT_ARRAY maps. */
BPFTIME_API int bpftime_ringbuf_poll(struct bpftime_region *r, uint32_t map_id, int timeout_ms);
/* Copies the next record into buf and consumes it: returns 1 with *len_out
 * = its length, 0 if no record is ready, -EMSGSIZE (record kept, *len_out =
 * its length) if buf_len is too small. *cpu_out (may be NULL) gets the CPU
 * for perf_event_array, else 0. */
BPFTIME_API int bpftime_ringbuf_read(struct bpftime_region *r, uint32_t map_id, void *buf,
                                     uint32_t buf_len, uint32_t *len_out, uint32_t *cpu_out);
/* Records dropped for lack of space. */
BPFTIME_API uint64_t bpftime_ringbuf_lost(struct bpftime_region *r, uint32_t map_id);

/* Producer side (what the helpers use). */
BPFTIME_API void *bpftime_ringbuf_reserve(struct bpftime_map *m, uint64_t size);
BPFTIME_API void bpftime_ringbuf_submit(void *data, uint64_t flags, bool discard);
BPFTIME_API int bpftime_ringbuf_output(struct bpftime_map *m, const void *data, uint64_t size,
                                       uint64_t flags);
BPFTIME_API uint64_t bpftime_ringbuf_query(struct bpftime_map *m, uint64_t flags);
BPFTIME_API int bpftime_perf_event_output(struct bpftime_map *m, uint64_t flags, const void *data,
                                          uint64_t size);

/* ---- trace ring (bpf_trace_printk output) ----
 * Record layout: 0 u64 timestamp_ns (CLOCK_MONOTONIC)  8 u32 pid  12 u32 tid
 *  16 char comm[16]  32 char msg[] (NUL-terminated). */
#define BPFTIME_TRACE_HDR 32
BPFTIME_API int bpftime_trace_poll(struct bpftime_region *r, int timeout_ms);
/* As bpftime_ringbuf_read: 1 + *len_out, 0 if none, -EMSGSIZE. */
BPFTIME_API int bpftime_trace_read(struct bpftime_region *r, void *buf, uint32_t buf_len,
                                   uint32_t *len_out);
/* Appends a message (as trace_printk does); returns its length or -EAGAIN. */
BPFTIME_API int bpftime_trace_write(struct bpftime_region *r, const char *msg, uint32_t len);

/* ---- attach targets, links, instances ---- */

/* Layout (24 bytes): 0 u32 id  4 u32 type  8 u32 arg_len  12 u32 reserved
 *  16 u64 created_ns */
struct bpftime_target_info {
    uint32_t id;
    uint32_t type;
    uint32_t arg_len;
    uint32_t reserved;
    uint64_t created_ns;
};
BPFTIME_API int bpftime_target_create(struct bpftime_region *r, uint32_t type, const void *arg,
                                      uint32_t arg_len);
BPFTIME_API int bpftime_target_get(struct bpftime_region *r, uint32_t id,
                                   struct bpftime_target_info *out);
/* Copies up to cap argument bytes (plus a NUL if room); returns arg_len. */
BPFTIME_API int bpftime_target_get_arg(struct bpftime_region *r, uint32_t id, void *buf,
                                       uint32_t cap);
BPFTIME_API int bpftime_target_delete(struct bpftime_region *r, uint32_t id); /* -EBUSY if linked */
BPFTIME_API int bpftime_target_next_id(struct bpftime_region *r, uint32_t start_id);

/* Layout (32 bytes): 0 u32 id  4 u32 prog_id  8 u32 target_id  12 u32 reserved
 *  16 u64 cookie  24 u64 created_ns */
struct bpftime_link_info {
    uint32_t id;
    uint32_t prog_id;
    uint32_t target_id;
    uint32_t reserved;
    uint64_t cookie;
    uint64_t created_ns;
};
BPFTIME_API int bpftime_link_create(struct bpftime_region *r, uint32_t prog_id, uint32_t target_id,
                                    uint64_t cookie);
BPFTIME_API int bpftime_link_get(struct bpftime_region *r, uint32_t id,
                                 struct bpftime_link_info *out);
BPFTIME_API int bpftime_link_delete(struct bpftime_region *r, uint32_t id);
BPFTIME_API int bpftime_link_next_id(struct bpftime_region *r, uint32_t start_id);
/* Atomically points the link at another program; if expected_old_prog_id
 * is non-zero and differs from the current one, -EPERM (as BPF_F_REPLACE). */
BPFTIME_API int bpftime_link_update_prog(struct bpftime_region *r, uint32_t link_id,
                                         uint32_t new_prog_id, uint32_t expected_old_prog_id);

/* Layout (296 bytes): 0 u32 id  4 u32 pid  8 u64 start_time  16 u64 heartbeat_ns
 *  24 u64 generation_seen  32 u32 nr_links  36 u32 alive (pid exists with
 *  the same start time)  40 u32 link_ids[64] */
struct bpftime_instance_info {
    uint32_t id;
    uint32_t pid;
    uint64_t start_time;
    uint64_t heartbeat_ns;
    uint64_t generation_seen;
    uint32_t nr_links;
    uint32_t alive;
    uint32_t link_ids[BPFTIME_INSTANCE_MAX_LINKS];
};
/* Registers a process (pid 0 = this process) that instantiates programs.
 * Instance changes bump instance_generation, not generation. */
BPFTIME_API int bpftime_instance_register(struct bpftime_region *r, uint32_t pid);
BPFTIME_API int bpftime_instance_set_links(struct bpftime_region *r, uint32_t id,
                                           const uint32_t *link_ids, uint32_t n,
                                           uint64_t generation_seen);
BPFTIME_API int bpftime_instance_heartbeat(struct bpftime_region *r, uint32_t id);
BPFTIME_API int bpftime_instance_get(struct bpftime_region *r, uint32_t id,
                                     struct bpftime_instance_info *out);
BPFTIME_API int bpftime_instance_delete(struct bpftime_region *r, uint32_t id);
BPFTIME_API int bpftime_instance_next_id(struct bpftime_region *r, uint32_t start_id);
/* Deletes instances whose process is gone; returns how many. */
BPFTIME_API int bpftime_instance_reap(struct bpftime_region *r);

/* Why one link could not attach in one instance (what `bpftime list`, `start`
 * and `inject` show). Layout (192 bytes): 0 u32 link_id  4 i32 err (negative
 * errno)  8 char message[120] (NUL-terminated, truncated). */
struct bpftime_link_error {
    uint32_t link_id;
    int32_t err;
    char message[BPFTIME_LINK_ERROR_LEN];
};
/* Replaces the instance's failed links: the first BPFTIME_INSTANCE_MAX_ERRORS
 * of n are kept, n is recorded. */
BPFTIME_API int bpftime_instance_set_errors(struct bpftime_region *r, uint32_t id,
                                            const struct bpftime_link_error *errs, uint32_t n);
/* Copies up to cap recorded errors; returns how many links failed in all
 * (may exceed cap and BPFTIME_INSTANCE_MAX_ERRORS). */
BPFTIME_API int bpftime_instance_get_errors(struct bpftime_region *r, uint32_t id,
                                            struct bpftime_link_error *out, uint32_t cap);

/* CLOCK_MONOTONIC now, in ns: the clock heartbeat_ns is on. */
BPFTIME_API uint64_t bpftime_monotonic_ns(void);

/* ---- helpers and VM setup ---- */

/* Per-thread invocation context that attach implementations set around a
 * program run; get_func_ip / get_attach_cookie / override_return use it.
 * Layout (40 bytes): 0 u64 func_ip  8 u64 cookie  16 i32 override_set
 *  24 u64 override_value  32 ptr regs */
struct bpftime_invocation {
    uint64_t func_ip;
    uint64_t cookie;
    int override_set;
    uint64_t override_value;
    void *regs;
};
BPFTIME_API void bpftime_invocation_set(struct bpftime_invocation *inv);
BPFTIME_API struct bpftime_invocation *bpftime_invocation_get(void);

/* Region whose trace ring trace_printk writes to in this process (set by
 * bpftime_prog_setup_vm; NULL: messages go to the log at info level). */
BPFTIME_API void bpftime_helpers_set_trace_region(struct bpftime_region *r);

/* Registers every helper of helpers.def on vm. */
BPFTIME_API int bpftime_register_helpers(struct ebpf_vm *vm);

/* Everything a VM needs to run program `prog_id` of region r: helpers,
 * lddw relocation (map index -> this process's map handle / array value
 * address), tail calls through prog_array maps, and the region's heap as
 * accessible memory. The caller then loads the bytecode (ebpf_vm_load).
 * The callbacks' context lives until the region handle is closed, so the
 * VM must not outlive the region handle. */
BPFTIME_API int bpftime_prog_setup_vm(struct bpftime_region *r, uint32_t prog_id,
                                      struct ebpf_vm *vm);
/* The region handle's VM for a program, created, set up and loaded on first
 * use; later calls return the same VM with its reference count raised, so
 * the attach manager, test runs and tail calls in one process share it.
 * Calls to ebpf_vm_exec on it may run concurrently from many threads. */
BPFTIME_API int bpftime_prog_load_vm(struct bpftime_region *r, uint32_t prog_id,
                                     struct ebpf_vm **out);
/* Drops one reference taken by bpftime_prog_load_vm; the last destroys the
 * VM. (Deleting the program from the region does not: VMs keep their copy
 * of the code until unloaded.) */
BPFTIME_API void bpftime_prog_unload_vm(struct bpftime_region *r, uint32_t prog_id);

/* Formatting shared by trace_printk and snprintf (exported for tests):
 * kernel subset %d %i %u %x %X %ld %li %lu %lx %lld %lli %llu %llx %p %px
 * %pK %s %c %%, flags [-+ 0], width. %s arguments are read safely.
 * Returns the full length (without NUL) or -EINVAL. */
BPFTIME_API int bpftime_format(char *out, uint32_t out_len, const char *fmt, uint32_t fmt_len,
                               const uint64_t *args, uint32_t nargs);
/* Safe copy from a possibly bad address of this process: 0 or -EFAULT. */
BPFTIME_API int bpftime_safe_read(void *dst, const void *src, uint64_t len);
BPFTIME_API int bpftime_safe_write(void *dst, const void *src, uint64_t len);
/* Like bpf_probe_read_str: returns bytes copied including the NUL, or -EFAULT. */
BPFTIME_API int bpftime_safe_read_str(char *dst, const void *src, uint64_t len);

#ifdef __cplusplus
}
#endif

#endif
