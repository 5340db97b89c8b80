/* A damaged or truncated region never crashes a reader: every field the
 * readers trust is overwritten with hostile values and each reader returns
 * an error with a message (or succeeds), under ASan when SANITIZE=1. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"
#include "test/harness.h"

static void region_name(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "rt-test-corrupt-%s-%d", tag, (int)getpid());
}

struct fixture {
    char name[64];
    struct bpftime_region *r;
    uint32_t array, hash, rb, queue, prog, target;
};

static const uint64_t prog_code[2] = {0xb7 /* r0 = 0 */, 0x95 /* exit */};

static int fixture_make(struct fixture *f, const char *tag)
{
    region_name(f->name, sizeof f->name, tag);
    bpftime_region_remove(f->name);
    if (bpftime_region_create(f->name, 8 << 20, &f->r))
        return -1;
    f->array = (uint32_t)bpftime_map_create(f->r, "arr", BPFTIME_MAP_ARRAY, 4, 8, 4, 0, 0);
    f->hash = (uint32_t)bpftime_map_create(f->r, "h", BPFTIME_MAP_HASH, 4, 8, 16, 0, 0);
    f->rb = (uint32_t)bpftime_map_create(f->r, "rb", BPFTIME_MAP_RINGBUF, 0, 0, 4096, 0, 0);
    f->queue = (uint32_t)bpftime_map_create(f->r, "q", BPFTIME_MAP_QUEUE, 0, 8, 4, 0, 0);
    uint32_t ids[1] = {f->array};
    f->prog = (uint32_t)bpftime_prog_create(f->r, "p", 1, "GPL", "", prog_code, 2, ids, 1);
    f->target = (uint32_t)bpftime_target_create(f->r, 1, "abc", 3);
    for (uint32_t k = 0; k < 3; k++) {
        uint64_t v = k;
        if (bpftime_map_update(f->r, f->hash, &k, &v, BPFTIME_ANY))
            return -1;
    }
    uint64_t rec = 42;
    struct bpftime_map *h = bpftime_map_handle(f->r, f->rb);
    if (!h || bpftime_ringbuf_output(h, &rec, sizeof rec, 0))
        return -1;
    return 0;
}

static void fixture_drop(struct fixture *f)
{
    bpftime_region_close(f->r);
    bpftime_region_remove(f->name);
}

/* Every reader once, on a fresh handle of the region: each returns (an
 * error or data); none may crash. Returns how many reported damage. */
static int read_everything(const char *name, const struct fixture *f)
{
    struct bpftime_region *r;
    if (bpftime_region_open(name, &r) != 0)
        return 100; /* refused at open: fine */
    int damaged = 0;
    struct bpftime_region_info ri;
    damaged += bpftime_region_info(r, &ri) == -EUCLEAN;
    struct bpftime_prog_info pi;
    damaged += bpftime_prog_get(r, f->prog, &pi) == -EUCLEAN;
    uint64_t insns[4];
    damaged += bpftime_prog_get_insns(r, f->prog, insns, 4) == -EUCLEAN;
    uint32_t ids[4];
    damaged += bpftime_prog_get_map_ids(r, f->prog, ids, 4) == -EUCLEAN;
    uint32_t mids[] = {f->array, f->hash, f->rb, f->queue};
    for (size_t i = 0; i < 4; i++) {
        struct bpftime_map_info mi;
        damaged += bpftime_map_get(r, mids[i], &mi) == -EUCLEAN;
    }
    uint8_t big[1 << 16];
    uint32_t k = 1, next = 0;
    uint64_t v = 0;
    damaged += bpftime_map_lookup(r, f->array, &k, &v) == -EUCLEAN;
    damaged += bpftime_map_lookup(r, f->hash, &k, &v) == -EUCLEAN;
    for (int i = 0, rc = bpftime_map_get_next_key(r, f->hash, NULL, &next); rc == 0 && i < 64;
         i++) {
        k = next;
        rc = bpftime_map_get_next_key(r, f->hash, &k, &next);
        damaged += rc == -EUCLEAN;
    }
    v = 7;
    k = 9;
    damaged += bpftime_map_update(r, f->hash, &k, &v, BPFTIME_ANY) == -EUCLEAN;
    damaged += bpftime_map_lookup(r, f->queue, NULL, &v) == -EUCLEAN;
    damaged += bpftime_ringbuf_poll(r, f->rb, 0) == -EUCLEAN;
    uint32_t len = 0, cpu = 0;
    damaged += bpftime_ringbuf_read(r, f->rb, big, sizeof big, &len, &cpu) == -EUCLEAN;
    damaged += bpftime_trace_poll(r, 0) == -EUCLEAN;
    damaged += bpftime_trace_read(r, big, sizeof big, &len) == -EUCLEAN;
    struct bpftime_target_info ti;
    damaged += bpftime_target_get(r, f->target, &ti) == -EUCLEAN;
    damaged += bpftime_target_get_arg(r, f->target, big, sizeof big) == -EUCLEAN;
    damaged += bpftime_region_validate(r) == -EUCLEAN;
    bpftime_region_close(r);
    return damaged;
}

static uint64_t hostile(uint64_t size, int i)
{
    const uint64_t v[] = {0,          size - 1,       size,    size + 4096, 1ull << 62,
                          UINT64_MAX, UINT64_MAX - 7, SHM_PAGE /* overlaps the object tables */};
    return v[i];
}
#define N_HOSTILE 8

/* The header of a damaged copy is refused at open with a message. */
TEST(damaged_header_fields_are_refused_at_open)
{
    struct fixture f;
    CHECK_EQ(fixture_make(&f, "hdr"), 0);
    struct shm_header *h = f.r->hdr;
    uint64_t size = f.r->size;
    struct {
        const char *field;
        void *p;
        size_t width;
    } fields[] = {
        {"magic", h->magic, 8},
        {"layout_version", &h->layout_version, 4},
        {"header_size", &h->header_size, 4},
        {"region_size", &h->region_size, 8},
        {"ncpus", &h->ncpus, 4},
        {"table_off[prog]", &h->table_off[KIND_PROG], 8},
        {"table_off[map]", &h->table_off[KIND_MAP], 8},
        {"table_cap[map]", &h->table_cap[KIND_MAP], 4},
        {"table_cap[link]", &h->table_cap[KIND_LINK], 4},
        {"trace_off", &h->trace_off, 8},
        {"heap_off", &h->heap_off, 8},
        {"heap_end", &h->heap_end, 8},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        for (int j = 0; j < N_HOSTILE; j++) {
            uint8_t saved[8];
            memcpy(saved, fields[i].p, fields[i].width);
            uint64_t v = hostile(size, j);
            memcpy(fields[i].p, &v, fields[i].width);
            if (memcmp(saved, fields[i].p, fields[i].width) == 0)
                continue; /* the hostile value is the real one */
            if (fields[i].p == &h->ncpus && (uint32_t)v > 0 && (uint32_t)v <= 8192) {
                /* a plausible cpu count: per-CPU maps then fail their own check */
                memcpy(fields[i].p, saved, fields[i].width);
                continue;
            }
            struct bpftime_region *r2 = NULL;
            int rc = bpftime_region_open(f.name, &r2);
            memcpy(fields[i].p, saved, fields[i].width);
            if (rc == 0) {
                bpftime_region_close(r2);
                test_fail(t, __FILE__, __LINE__, "header field %s = 0x%llx was accepted",
                          fields[i].field, (unsigned long long)v);
                fixture_drop(&f);
                return;
            }
            CHECK(strstr(bpftime_last_error_message(), f.name) != NULL);
        }
    }
    fixture_drop(&f);
}

static struct shm_map *map_entry(struct fixture *f, uint32_t id)
{
    return map_entry_by_id(f->r, id, NULL);
}

/* Object and storage fields: readers on a fresh handle report damage. */
TEST(damaged_object_fields_never_crash_readers)
{
    struct fixture f;
    CHECK_EQ(fixture_make(&f, "obj"), 0);
    CHECK_EQ(read_everything(f.name, &f), 0); /* the intact region reads cleanly */
    struct shm_prog *p = prog_entry_by_id(f.r, f.prog);
    struct shm_map *arr = map_entry(&f, f.array), *hm = map_entry(&f, f.hash),
                   *rbm = map_entry(&f, f.rb), *qm = map_entry(&f, f.queue);
    struct shm_hash *hh = rt_ptr(f.r, hm->data_off);
    struct shm_ringbuf *rb = rt_ptr(f.r, rbm->data_off);
    struct shm_queue *q = rt_ptr(f.r, qm->data_off);
    struct shm_target *tg = NULL;
    for (uint32_t i = 0; i < f.r->table_cap[KIND_TARGET]; i++) {
        struct shm_target *e = table_slot(f.r, KIND_TARGET, i);
        if (e->id == f.target)
            tg = e;
    }
    CHECK(p && arr && hm && rbm && qm && tg);
    uint32_t *buckets = rt_ptr(f.r, hh->buckets_off);
    uint64_t *cons = (uint64_t *)(void *)((uint8_t *)rb + SHM_PAGE);
    uint64_t *prod = (uint64_t *)(void *)((uint8_t *)rb + 2 * SHM_PAGE);
    uint32_t *rec_len = (uint32_t *)(void *)((uint8_t *)rb + 3 * SHM_PAGE);
    struct shm_hash_elem *e0 = rt_ptr(f.r, hh->elems_off);
    struct {
        const char *field;
        void *p;
        size_t width;
    } fields[] = {
        {"prog.insns_off", &p->insns_off, 8},
        {"prog.insn_cnt", &p->insn_cnt, 4},
        {"prog.map_ids_off", &p->map_ids_off, 8},
        {"prog.nr_maps", &p->nr_maps, 4},
        {"array.data_off", &arr->data_off, 8},
        {"array.value_size", &arr->value_size, 4},
        {"array.max_entries", &arr->max_entries, 4},
        {"array.type", &arr->type, 4},
        {"hash.data_off", &hm->data_off, 8},
        {"hash.data_size", &hm->data_size, 8},
        {"hash.key_size", &hm->key_size, 4},
        {"hash.buckets_off", &hh->buckets_off, 8},
        {"hash.elems_off", &hh->elems_off, 8},
        {"hash.n_buckets", &hh->n_buckets, 4},
        {"hash.free_head", &hh->free_head, 8},
        {"hash.bucket[0..1]", buckets, 8},
        {"hash.bucket[2..3]", buckets + 2, 8},
        {"hash.elem0.next", &e0->next, 8},
        {"ringbuf.data_off", &rbm->data_off, 8},
        {"ringbuf.max_entries", &rbm->max_entries, 4},
        {"ringbuf.data_size", &rb->data_size, 8},
        {"ringbuf.mask", &rb->mask, 8},
        {"ringbuf.wake_delta", &rb->wake_delta, 8},
        {"ringbuf.consumer_pos", cons, 8},
        {"ringbuf.producer_pos", prod, 8},
        {"ringbuf.record_len", rec_len, 4},
        {"queue.head", &q->head, 4},
        {"queue.size", &q->size, 4},
        {"target.arg_off", &tg->arg_off, 8},
        {"target.arg_len", &tg->arg_len, 4},
    };
    int reported = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        for (int j = 0; j < N_HOSTILE; j++) {
            uint8_t saved[8];
            memcpy(saved, fields[i].p, fields[i].width);
            uint64_t v = hostile(f.r->size, j);
            memcpy(fields[i].p, &v, fields[i].width);
            bool changed = memcmp(saved, fields[i].p, fields[i].width) != 0;
            int damaged = read_everything(f.name, &f);
            memcpy(fields[i].p, saved, fields[i].width);
            reported += changed && damaged > 0;
            /* a reader may consume the ringbuf record: put it back */
            *cons = 0;
        }
    }
    /* most corruptions are reported as damage (the rest read as data) */
    CHECK(reported > (int)(sizeof fields / sizeof fields[0]));
    fixture_drop(&f);
}

/* The agent's check: a damaged entry anywhere is found before any use. */
TEST(validate_finds_damage_in_any_object)
{
    struct fixture f;
    CHECK_EQ(fixture_make(&f, "val"), 0);
    CHECK_EQ(bpftime_region_validate(f.r), 0);
    struct shm_map *hm = map_entry(&f, f.hash);
    struct shm_hash *hh = rt_ptr(f.r, hm->data_off);
    uint64_t saved = hh->elems_off;
    hh->elems_off = UINT64_MAX;
    CHECK_EQ(bpftime_region_validate(f.r), -EUCLEAN);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "is damaged");
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "bpftime shm remove");
    hh->elems_off = saved;
    CHECK_EQ(bpftime_region_validate(f.r), 0);
    fixture_drop(&f);
}

/* Truncated before open: refused; truncated while open: readers report it
 * (one fstat per entry point) instead of touching lost pages (SIGBUS). */
TEST(truncation_is_detected_before_and_after_open)
{
    struct fixture f;
    CHECK_EQ(fixture_make(&f, "trunc"), 0);
    struct bpftime_region *r2;
    CHECK_EQ(bpftime_region_open(f.name, &r2), 0);
    /* largest first: each step keeps the header the next one needs */
    uint64_t sizes[] = {f.r->size - 1, f.r->size / 2, f.r->heap_off + 100, SHM_PAGE + 10, 100};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        CHECK_EQ(truncate(f.r->path, (off_t)sizes[i]), 0);
        struct bpftime_region *r3 = NULL;
        int rc = bpftime_region_open(f.name, &r3);
        CHECK(rc == -EUCLEAN);
        CHECK_STR_CONTAINS(bpftime_last_error_message(), "truncated");
        struct bpftime_map_info mi;
        CHECK_EQ(bpftime_map_get(r2, f.hash, &mi), -EUCLEAN);
        CHECK_STR_CONTAINS(bpftime_last_error_message(), "was truncated");
        uint8_t buf[256];
        uint32_t len;
        CHECK_EQ(bpftime_ringbuf_poll(r2, f.rb, 0), -EUCLEAN);
        CHECK_EQ(bpftime_ringbuf_read(r2, f.rb, buf, sizeof buf, &len, NULL), -EUCLEAN);
        CHECK_EQ(bpftime_trace_read(r2, buf, sizeof buf, &len), -EUCLEAN);
        uint32_t k = 1;
        uint64_t v;
        CHECK_EQ(bpftime_map_lookup(r2, f.array, &k, &v), -EUCLEAN);
        /* pins: every map reference (`events NAME`, `map dump NAME`) looks here first */
        struct bpftime_pin_info pi;
        CHECK_EQ(bpftime_pin_get(r2, "some-pin", &pi), -EUCLEAN);
        CHECK_EQ(bpftime_pin_get_by_id(r2, 1, &pi), -EUCLEAN);
        CHECK_EQ(bpftime_pin_next_id(r2, 0), -EUCLEAN);
        CHECK_EQ(bpftime_pin_create(r2, "new-pin", BPFTIME_PIN_MAP, f.hash), -EUCLEAN);
        CHECK_EQ(bpftime_pin_delete(r2, "some-pin"), -EUCLEAN);
        CHECK_EQ(truncate(f.r->path, (off_t)f.r->size), 0); /* back (pages read as zero) */
    }
    bpftime_region_close(r2);
    fixture_drop(&f);
}

/* A damaged object can still be deleted: its blocks are not freed (their
 * offsets point outside the heap or at no block), nothing else is touched. */
TEST(damaged_objects_can_be_deleted)
{
    struct fixture f;
    CHECK_EQ(fixture_make(&f, "del"), 0);
    /* the program goes first: it uses the array (pinned so that it stays
     * once its program, its only other holder, is gone) */
    CHECK(bpftime_pin_create(f.r, "keep", BPFTIME_PIN_MAP, f.array) > 0);
    struct shm_prog *p = prog_entry_by_id(f.r, f.prog);
    CHECK(p != NULL);
    p->insns_off = UINT64_MAX - 7;
    p->map_ids_off = f.r->heap_off + 8; /* inside the heap, not a block */
    CHECK_EQ(bpftime_prog_delete(f.r, f.prog), 0);
    struct shm_map *m = map_entry_by_id(f.r, f.hash, NULL);
    CHECK(m != NULL);
    m->data_off = f.r->size - 1;
    CHECK_EQ(bpftime_map_delete(f.r, f.hash), 0);
    struct shm_map *q = map_entry_by_id(f.r, f.queue, NULL);
    struct shm_block *blk = rt_ptr(f.r, q->data_off - SHM_SMALL_HDR);
    blk->size = UINT64_MAX; /* a block header that lies about its size */
    CHECK_EQ(bpftime_map_delete(f.r, f.queue), 0);
    /* the rest of the region still works */
    uint32_t k = 1;
    uint64_t v = 9, out = 0;
    CHECK_EQ(bpftime_map_update(f.r, f.array, &k, &v, BPFTIME_ANY), 0);
    CHECK_EQ(bpftime_map_lookup(f.r, f.array, &k, &out), 0);
    CHECK_EQ(out, 9);
    CHECK_EQ(bpftime_region_validate(f.r), 0);
    fixture_drop(&f);
}
