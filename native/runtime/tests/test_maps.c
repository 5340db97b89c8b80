/* Map semantics against the kernel's documented behaviour
 * (Documentation/bpf/map_*.rst, kernel/bpf/{arraymap,hashtab,queue_stack_maps}.c). */
#include <stdlib.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"
#include "runtime/tests/region_fixture.h"
#include "test/harness.h"

TEST_REGION_MAKER("rt-maps", 16 << 20)

TEST(array_semantics)
{
    int id;
    struct bpftime_region *r = mk_with_map(t, "array", "arr", BPFTIME_MAP_ARRAY, 4, 12, 3, &id);
    uint32_t k = 0;
    uint8_t v[12], out[12];
    memset(out, 0xff, sizeof out);
    /* elements exist from the start, zeroed */
    CHECK_EQ(bpftime_map_lookup(r, id, &k, out), 0);
    for (int i = 0; i < 12; i++)
        CHECK_EQ(out[i], 0);
    memset(v, 7, sizeof v);
    CHECK_EQ(bpftime_map_update(r, id, &k, v, BPFTIME_ANY), 0);
    CHECK_EQ(bpftime_map_update(r, id, &k, v, BPFTIME_EXIST), 0);
    CHECK_EQ(bpftime_map_update(r, id, &k, v, BPFTIME_NOEXIST), -EEXIST);
    CHECK_EQ(bpftime_map_update(r, id, &k, v, 3), -EINVAL);
    k = 3;
    CHECK_EQ(bpftime_map_update(r, id, &k, v, BPFTIME_ANY), -E2BIG);
    CHECK_EQ(bpftime_map_lookup(r, id, &k, out), -ENOENT);
    k = 0;
    CHECK_EQ(bpftime_map_delete_elem(r, id, &k), -EINVAL);
    /* NULL buffers from the FFI side are refused, not dereferenced */
    CHECK_EQ(bpftime_map_lookup(r, id, NULL, out), -EINVAL);
    CHECK_EQ(bpftime_map_lookup(r, id, &k, NULL), -EINVAL);
    CHECK_EQ(bpftime_map_update(r, id, NULL, v, 0), -EINVAL);
    CHECK_EQ(bpftime_map_get_next_key(r, id, NULL, NULL), -EINVAL);
    CHECK_EQ(bpftime_map_lookup(r, id, &k, out), 0);
    CHECK_EQ(memcmp(out, v, 12), 0);
    /* next key: NULL -> 0, i -> i+1, last -> ENOENT, out of range -> 0 */
    uint32_t nk = 99;
    CHECK_EQ(bpftime_map_get_next_key(r, id, NULL, &nk), 0);
    CHECK_EQ(nk, 0);
    k = 1;
    CHECK_EQ(bpftime_map_get_next_key(r, id, &k, &nk), 0);
    CHECK_EQ(nk, 2);
    k = 2;
    CHECK_EQ(bpftime_map_get_next_key(r, id, &k, &nk), -ENOENT);
    k = 100;
    CHECK_EQ(bpftime_map_get_next_key(r, id, &k, &nk), 0);
    CHECK_EQ(nk, 0);
    /* helper view: pointer into the region */
    struct bpftime_map *h = bpftime_map_handle(r, id);
    CHECK(h);
    k = 0;
    uint8_t *p = bpftime_map_lookup_ptr(h, &k);
    CHECK(p && p >= r->base && p < r->base + r->size);
    CHECK_EQ(p[0], 7);
    k = 3;
    CHECK(bpftime_map_lookup_ptr(h, &k) == NULL);
    bpftime_region_close(r);
}

TEST(map_spec_checks)
{
    struct bpftime_region *r = mk("spec");
    CHECK(r);
    CHECK_EQ(bpftime_map_create(r, "x", BPFTIME_MAP_ARRAY, 8, 4, 1, 0, 0), -EINVAL);
    CHECK_EQ(bpftime_map_create(r, "x", BPFTIME_MAP_ARRAY, 4, 0, 1, 0, 0), -EINVAL);
    CHECK_EQ(bpftime_map_create(r, "x", BPFTIME_MAP_HASH, 4, 4, 0, 0, 0), -EINVAL);
    CHECK_EQ(bpftime_map_create(r, "x", BPFTIME_MAP_RINGBUF, 0, 0, 5000, 0, 0), -EINVAL);
    CHECK_EQ(bpftime_map_create(r, "x", BPFTIME_MAP_RINGBUF, 4, 0, 4096, 0, 0), -EINVAL);
    CHECK_EQ(bpftime_map_create(r, "x", BPFTIME_MAP_QUEUE, 4, 4, 4, 0, 0), -EINVAL);
    CHECK_EQ(bpftime_map_create(r, "x", 12345, 4, 4, 4, 0, 0), -EINVAL);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "not supported");
    /* the message lists what is (map_types.def: MAP_F_IMPL), in id order */
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "(supported: hash, array, prog_array, ");
    CHECK_STR_CONTAINS(bpftime_last_error_message(), ", ringbuf");
    CHECK_EQ(bpftime_map_create(r, "x", BPFTIME_MAP_PROG_ARRAY, 4, 8, 4, 0, 0), -EINVAL);
    bpftime_region_close(r);
}

TEST(percpu_array_control_plane_sees_all_cpus)
{
    int id;
    struct bpftime_region *r = mk_with_map(t, "pcpu", "pa", BPFTIME_MAP_PERCPU_ARRAY, 4, 4, 2, &id);
    uint32_t n = bpftime_region_ncpus(r);
    struct bpftime_map_info info;
    CHECK_EQ(bpftime_map_get(r, id, &info), 0);
    CHECK_EQ(info.value_buf_size, 8 * n); /* each CPU's value rounded to 8 */
    uint8_t *buf = calloc(n, 8);
    for (uint32_t c = 0; c < n; c++) {
        uint32_t v = 100 + c;
        memcpy(buf + c * 8, &v, 4);
    }
    uint32_t k = 1;
    CHECK_EQ(bpftime_map_update(r, id, &k, buf, BPFTIME_ANY), 0);
    memset(buf, 0xee, n * 8);
    CHECK_EQ(bpftime_map_lookup(r, id, &k, buf), 0);
    for (uint32_t c = 0; c < n; c++) {
        uint32_t v, pad;
        memcpy(&v, buf + c * 8, 4);
        memcpy(&pad, buf + c * 8 + 4, 4);
        CHECK_EQ(v, 100 + c);
        CHECK_EQ(pad, 0);
    }
    /* a program sees and updates only its CPU's slot */
    struct bpftime_map *h = bpftime_map_handle(r, id);
    int cpu = rt_current_cpu(n);
    uint32_t *p = bpftime_map_lookup_ptr(h, &k);
    CHECK(p);
    uint32_t mine = *p;
    CHECK(mine >= 100 && mine < 100 + n);
    uint32_t nv = 7;
    CHECK_EQ(bpftime_map_h_update(h, &k, &nv, BPFTIME_ANY, true), 0);
    CHECK_EQ(bpftime_map_lookup(r, id, &k, buf), 0);
    uint32_t total = 0;
    for (uint32_t c = 0; c < n; c++) {
        uint32_t v;
        memcpy(&v, buf + c * 8, 4);
        total += v;
    }
    /* exactly one slot (the one this thread was on) changed to 7; the
     * thread may migrate between calls, so check the sum */
    CHECK_EQ(total, (n * 100 + n * (n - 1) / 2) - mine + 7);
    (void)cpu;
    free(buf);
    bpftime_region_close(r);
}

TEST(hash_semantics)
{
    int id;
    struct bpftime_region *r = mk_with_map(t, "hash", "h", BPFTIME_MAP_HASH, 6, 8, 4, &id);
    char k1[6] = "key01", k2[6] = "key02", k3[6] = "key03", k4[6] = "key04", k5[6] = "key05";
    uint64_t v = 1, out = 0;
    CHECK_EQ(bpftime_map_lookup(r, id, k1, &out), -ENOENT);
    CHECK_EQ(bpftime_map_update(r, id, k1, &v, BPFTIME_EXIST), -ENOENT);
    CHECK_EQ(bpftime_map_update(r, id, k1, &v, BPFTIME_NOEXIST), 0);
    CHECK_EQ(bpftime_map_update(r, id, k1, &v, BPFTIME_NOEXIST), -EEXIST);
    v = 2;
    CHECK_EQ(bpftime_map_update(r, id, k1, &v, BPFTIME_EXIST), 0);
    CHECK_EQ(bpftime_map_lookup(r, id, k1, &out), 0);
    CHECK_EQ(out, 2);
    CHECK_EQ(bpftime_map_update(r, id, k1, &v, 4), -EINVAL);
    CHECK_EQ(bpftime_map_update(r, id, k2, &v, BPFTIME_ANY), 0);
    CHECK_EQ(bpftime_map_update(r, id, k3, &v, BPFTIME_ANY), 0);
    CHECK_EQ(bpftime_map_update(r, id, k4, &v, BPFTIME_ANY), 0);
    /* full: new keys fail with E2BIG, existing ones can still be updated */
    CHECK_EQ(bpftime_map_update(r, id, k5, &v, BPFTIME_ANY), -E2BIG);
    v = 9;
    CHECK_EQ(bpftime_map_update(r, id, k4, &v, BPFTIME_ANY), 0);
    CHECK_EQ(bpftime_map_delete_elem(r, id, k5), -ENOENT);
    CHECK_EQ(bpftime_map_delete_elem(r, id, k2), 0);
    CHECK_EQ(bpftime_map_lookup(r, id, k2, &out), -ENOENT);
    CHECK_EQ(bpftime_map_update(r, id, k5, &v, BPFTIME_ANY), 0);

    /* iteration visits every key once; unknown key restarts at the first */
    char cur[6], first[6];
    int seen = 0, mask = 0;
    CHECK_EQ(bpftime_map_get_next_key(r, id, NULL, first), 0);
    memcpy(cur, first, 6);
    do {
        seen++;
        mask |= 1 << (cur[4] - '0');
    } while (bpftime_map_get_next_key(r, id, cur, cur) == 0 && seen < 10);
    CHECK_EQ(seen, 4);
    CHECK_EQ(mask, (1 << 1) | (1 << 3) | (1 << 4) | (1 << 5));
    char nk[6];
    CHECK_EQ(bpftime_map_get_next_key(r, id, k2, nk), 0);
    CHECK_EQ(memcmp(nk, first, 6), 0);

    /* lookup_and_delete */
    CHECK_EQ(bpftime_map_lookup_and_delete(r, id, k4, &out), 0);
    CHECK_EQ(out, 9);
    CHECK_EQ(bpftime_map_lookup(r, id, k4, &out), -ENOENT);

    /* helper view */
    struct bpftime_map *h = bpftime_map_handle(r, id);
    uint64_t *p = bpftime_map_lookup_ptr(h, k1);
    CHECK(p && *p == 2);
    CHECK(bpftime_map_lookup_ptr(h, k4) == NULL);
    bpftime_region_close(r);
}

TEST(hash_many_keys_and_reuse)
{
    int id;
    struct bpftime_region *r = mk_with_map(t, "hashmany", "h", BPFTIME_MAP_HASH, 4, 4, 1000, &id);
    for (int round = 0; round < 3; round++) {
        for (uint32_t i = 0; i < 1000; i++) {
            uint32_t v = i * 3 + (uint32_t)round;
            CHECK_EQ(bpftime_map_update(r, id, &i, &v, BPFTIME_NOEXIST), 0);
        }
        uint32_t extra = 5000, v = 0;
        CHECK_EQ(bpftime_map_update(r, id, &extra, &v, BPFTIME_ANY), -E2BIG);
        uint32_t k, n = 0;
        int rc = bpftime_map_get_next_key(r, id, NULL, &k);
        while (rc == 0) {
            n++;
            rc = bpftime_map_get_next_key(r, id, &k, &k);
        }
        CHECK_EQ(n, 1000);
        for (uint32_t i = 0; i < 1000; i++) {
            CHECK_EQ(bpftime_map_lookup(r, id, &i, &v), 0);
            CHECK_EQ(v, i * 3 + (uint32_t)round);
            CHECK_EQ(bpftime_map_delete_elem(r, id, &i), 0);
        }
        CHECK_EQ(bpftime_map_get_next_key(r, id, NULL, &k), -ENOENT);
    }
    bpftime_region_close(r);
}

TEST(percpu_hash)
{
    int id;
    struct bpftime_region *r =
        mk_with_map(t, "pchash", "ph", BPFTIME_MAP_PERCPU_HASH, 4, 8, 8, &id);
    uint32_t n = bpftime_region_ncpus(r);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    uint32_t k = 42;
    uint64_t v = 5;
    /* created from a program: this CPU gets the value, the others zero */
    CHECK_EQ(bpftime_map_h_update(h, &k, &v, BPFTIME_NOEXIST, true), 0);
    uint64_t *all = calloc(n, 8);
    CHECK_EQ(bpftime_map_lookup(r, id, &k, all), 0);
    uint64_t sum = 0;
    int nonzero = 0;
    for (uint32_t c = 0; c < n; c++) {
        sum += all[c];
        nonzero += all[c] != 0;
    }
    CHECK_EQ(sum, 5);
    CHECK_EQ(nonzero, 1);
    for (uint32_t c = 0; c < n; c++)
        all[c] = c + 1;
    CHECK_EQ(bpftime_map_update(r, id, &k, all, BPFTIME_EXIST), 0);
    memset(all, 0, n * 8);
    CHECK_EQ(bpftime_map_lookup(r, id, &k, all), 0);
    for (uint32_t c = 0; c < n; c++)
        CHECK_EQ(all[c], c + 1);
    free(all);
    bpftime_region_close(r);
}

TEST(lru_evicts_least_recently_used)
{
    int id;
    struct bpftime_region *r = mk_with_map(t, "lru", "lru", BPFTIME_MAP_LRU_HASH, 4, 4, 3, &id);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    for (uint32_t k = 1; k <= 3; k++)
        CHECK_EQ(bpftime_map_update(r, id, &k, &k, BPFTIME_ANY), 0);
    /* touch 1 from a program: 2 becomes the least recently used */
    uint32_t k = 1, v;
    CHECK(bpftime_map_lookup_ptr(h, &k) != NULL);
    /* a control-plane lookup does not promote (lookup_elem_sys) */
    k = 2;
    CHECK_EQ(bpftime_map_lookup(r, id, &k, &v), 0);
    k = 4;
    CHECK_EQ(bpftime_map_update(r, id, &k, &k, BPFTIME_ANY), 0); /* never E2BIG */
    k = 2;
    CHECK_EQ(bpftime_map_lookup(r, id, &k, &v), -ENOENT);
    k = 1;
    CHECK_EQ(bpftime_map_lookup(r, id, &k, &v), 0);
    k = 3;
    CHECK_EQ(bpftime_map_lookup(r, id, &k, &v), 0);
    /* LRU order (oldest first) is now 3, 1, 4; an update promotes like a
     * program lookup, so after updating 1 the order is 3, 4, 1 */
    k = 1;
    CHECK_EQ(bpftime_map_update(r, id, &k, &k, BPFTIME_EXIST), 0);
    k = 5;
    CHECK_EQ(bpftime_map_update(r, id, &k, &k, BPFTIME_NOEXIST), 0);
    k = 3;
    CHECK_EQ(bpftime_map_lookup(r, id, &k, &v), -ENOENT);
    uint32_t live[] = {1, 4, 5};
    for (int i = 0; i < 3; i++)
        CHECK_EQ(bpftime_map_lookup(r, id, &live[i], &v), 0);
    /* delete frees a slot: no eviction needed for the next insert */
    k = 4;
    CHECK_EQ(bpftime_map_delete_elem(r, id, &k), 0);
    k = 6;
    CHECK_EQ(bpftime_map_update(r, id, &k, &k, BPFTIME_ANY), 0);
    k = 1;
    CHECK_EQ(bpftime_map_lookup(r, id, &k, &v), 0);
    k = 5;
    CHECK_EQ(bpftime_map_lookup(r, id, &k, &v), 0);
    bpftime_region_close(r);
}

TEST(lru_percpu_hash)
{
    int id;
    struct bpftime_region *r =
        mk_with_map(t, "lrupc", "lp", BPFTIME_MAP_LRU_PERCPU_HASH, 4, 4, 2, &id);
    uint32_t n = bpftime_region_ncpus(r);
    uint8_t *buf = calloc(n, 8);
    for (uint32_t k = 1; k <= 3; k++)
        CHECK_EQ(bpftime_map_update(r, id, &k, buf, BPFTIME_ANY), 0);
    uint32_t k = 1;
    CHECK_EQ(bpftime_map_lookup(r, id, &k, buf), -ENOENT);
    k = 3;
    CHECK_EQ(bpftime_map_lookup(r, id, &k, buf), 0);
    free(buf);
    bpftime_region_close(r);
}

TEST(queue_and_stack)
{
    struct bpftime_region *r = mk("qs");
    CHECK(r);
    int q = bpftime_map_create(r, "q", BPFTIME_MAP_QUEUE, 0, 4, 3, 0, 0);
    int s = bpftime_map_create(r, "s", BPFTIME_MAP_STACK, 0, 4, 3, 0, 0);
    CHECK(q > 0 && s > 0);
    uint32_t v;
    CHECK_EQ(bpftime_map_lookup_and_delete(r, q, NULL, &v), -ENOENT);
    CHECK_EQ(bpftime_map_lookup(r, s, NULL, &v), -ENOENT);
    for (uint32_t i = 1; i <= 3; i++) {
        CHECK_EQ(bpftime_map_update(r, q, NULL, &i, BPFTIME_ANY), 0);
        CHECK_EQ(bpftime_map_update(r, s, NULL, &i, BPFTIME_ANY), 0);
    }
    uint32_t four = 4;
    CHECK_EQ(bpftime_map_update(r, q, NULL, &four, BPFTIME_ANY), -E2BIG);
    CHECK_EQ(bpftime_map_update(r, q, NULL, &four, BPFTIME_NOEXIST), -EINVAL);
    /* BPF_EXIST on a full map drops the oldest */
    CHECK_EQ(bpftime_map_update(r, q, NULL, &four, BPFTIME_EXIST), 0);
    CHECK_EQ(bpftime_map_update(r, s, NULL, &four, BPFTIME_EXIST), 0);
    CHECK_EQ(bpftime_map_lookup(r, q, NULL, &v), 0); /* peek */
    CHECK_EQ(v, 2);
    CHECK_EQ(bpftime_map_lookup(r, s, NULL, &v), 0);
    CHECK_EQ(v, 4);
    uint32_t qexp[] = {2, 3, 4}, sexp[] = {4, 3, 2};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(bpftime_map_lookup_and_delete(r, q, NULL, &v), 0);
        CHECK_EQ(v, qexp[i]);
        CHECK_EQ(bpftime_map_lookup_and_delete(r, s, NULL, &v), 0);
        CHECK_EQ(v, sexp[i]);
    }
    CHECK_EQ(bpftime_map_lookup_and_delete(r, q, NULL, &v), -ENOENT);
    CHECK_EQ(bpftime_map_lookup_and_delete(r, s, NULL, &v), -ENOENT);
    CHECK_EQ(bpftime_map_get_next_key(r, q, NULL, &v), -EINVAL);
    CHECK_EQ(bpftime_map_delete_elem(r, q, NULL), -EINVAL);
    /* helper-level push/pop/peek */
    struct bpftime_map *h = bpftime_map_handle(r, q);
    uint32_t x = 11;
    CHECK_EQ(bpftime_map_h_push(h, &x, BPFTIME_ANY), 0);
    CHECK_EQ(bpftime_map_h_pop(h, &v, false), 0);
    CHECK_EQ(v, 11);
    CHECK_EQ(bpftime_map_h_pop(h, &v, true), 0);
    CHECK_EQ(bpftime_map_h_pop(h, &v, true), -ENOENT);
    bpftime_region_close(r);
}

TEST(prog_array_holds_program_ids)
{
    int pa;
    struct bpftime_region *r = mk_with_map(t, "parr", "pa", BPFTIME_MAP_PROG_ARRAY, 4, 4, 4, &pa);
    uint64_t insn = 0x95; /* exit */
    int prog = bpftime_prog_create(r, "p", 1, "GPL", "", &insn, 1, NULL, 0);
    CHECK(prog > 0);
    uint32_t k = 1, v = (uint32_t)prog, out;
    CHECK_EQ(bpftime_map_lookup(r, pa, &k, &out), -ENOENT);
    CHECK_EQ(bpftime_map_update(r, pa, &k, &v, BPFTIME_ANY), 0);
    CHECK_EQ(bpftime_map_lookup(r, pa, &k, &out), 0);
    CHECK_EQ(out, prog);
    v = 999;
    CHECK_EQ(bpftime_map_update(r, pa, &k, &v, BPFTIME_ANY), -EINVAL);
    CHECK_EQ(bpftime_map_delete_elem(r, pa, &k), 0);
    CHECK_EQ(bpftime_map_delete_elem(r, pa, &k), -ENOENT);
    struct bpftime_map *h = bpftime_map_handle(r, pa);
    CHECK(bpftime_map_lookup_ptr(h, &k) == NULL); /* not from programs */
    bpftime_region_close(r);
}

TEST(map_table_ops)
{
    struct bpftime_region *r = mk("mtab");
    CHECK(r);
    int a = bpftime_map_create(r, "first", BPFTIME_MAP_HASH, 4, 4, 8, 0, 0);
    int b = bpftime_map_create(r, "second", BPFTIME_MAP_ARRAY, 4, 4, 8, 0, 0);
    CHECK(a > 0 && b == a + 1);
    struct bpftime_map_info info;
    CHECK_EQ(bpftime_map_get(r, b, &info), 0);
    CHECK(strcmp(info.name, "second") == 0);
    CHECK_EQ(info.type, BPFTIME_MAP_ARRAY);
    CHECK_EQ(info.value_buf_size, 4);
    CHECK_EQ(bpftime_map_next_id(r, 0), a);
    CHECK_EQ(bpftime_map_next_id(r, a), b);
    CHECK_EQ(bpftime_map_next_id(r, b), -ENOENT);
    CHECK_EQ(bpftime_map_delete(r, a), 0);
    CHECK_EQ(bpftime_map_get(r, a, &info), -ENOENT);
    CHECK_EQ(bpftime_map_lookup(r, a, &b, &b), -ENOENT);
    int c = bpftime_map_create(r, "third", BPFTIME_MAP_HASH, 4, 4, 8, 0, 0);
    CHECK_EQ(c, b + 1); /* ids are never reused */
    uint32_t k = 1, v = 2;
    CHECK_EQ(bpftime_map_update(r, c, &k, &v, BPFTIME_ANY), 0);
    CHECK_EQ(bpftime_map_lookup(r, c, &k, &v), 0);
    /* storage is returned to the allocator */
    struct bpftime_region_info ri1, ri2;
    bpftime_region_info(r, &ri1);
    int big = bpftime_map_create(r, "big", BPFTIME_MAP_ARRAY, 4, 64, 10000, 0, 0);
    CHECK(big > 0);
    CHECK_EQ(bpftime_map_delete(r, big), 0);
    bpftime_region_info(r, &ri2);
    CHECK_EQ(ri1.heap_used, ri2.heap_used);
    bpftime_region_close(r);
}

/* A bloom filter push returns 0, as the kernel's bloom_map_push_elem (a
 * program sees it as bpf_map_push_elem's result). */
TEST(bloom_filter_push_returns_zero)
{
    struct bpftime_region *r = mk("bloom");
    CHECK(r);
    int id = bpftime_map_create(r, "b", BPFTIME_MAP_BLOOM_FILTER, 0, 4, 16, 0, 0);
    CHECK(id > 0);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    uint32_t v = 7;
    CHECK_EQ(bpftime_map_h_push(h, &v, 0), 0);
    CHECK_EQ(bpftime_map_update(r, (uint32_t)id, NULL, &v, 0), 0);
    bpftime_region_close(r);
}
