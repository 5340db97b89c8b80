/* array_of_maps / hash_of_maps: the inner-map template, updates checked
 * against it, lookups (ids from the control plane, handles from programs)
 * and lifetimes (an outer map holds what it stores; a process holds what its
 * programs looked up). Expected errnos are the kernel's (map_in_map.c,
 * arraymap.c fd arrays, hashtab.c fd htabs). */
#include <stdlib.h>

#include "runtime/runtime_internal.h"
#include "runtime/tests/region_fixture.h"
#include "test/harness.h"
#include "vm/tests/insn_macros.h"

TEST_REGION_MAKER("rt-mim", 8 << 20)

#define F_INNER_MAP (1u << 12)

static bool map_exists(struct bpftime_region *r, uint32_t id)
{
    struct bpftime_map_info mi;
    return bpftime_map_get(r, id, &mi) == 0;
}

/* Maps a program held once (it was loaded, then unloaded): from then on
 * they are freed when their last holder goes, as an object's maps are. A
 * map nothing ever held stays until deleted (an application's fd holds it
 * in the kernel). */
static void held_once(struct test_ctx *t, struct bpftime_region *r, int a, int b)
{
    uint32_t ids[2] = {(uint32_t)a, (uint32_t)b};
    int p = bpftime_prog_create(r, "once", 1, "GPL", "", trivial_prog, 2, ids, 2);
    CHECK(p > 0);
    CHECK_EQ(bpftime_prog_delete(r, (uint32_t)p), 0);
}

/* An array of 4 maps whose template is an array of 1 u64 (from map *tmpl). */
static struct bpftime_region *mk_outer(struct test_ctx *t, const char *tag, uint32_t type,
                                       int *tmpl, int *outer)
{
    struct bpftime_region *r = mk_with_map(t, tag, "tmpl", BPFTIME_MAP_ARRAY, 4, 8, 1, tmpl);
    *outer = bpftime_map_create_outer(r, "outer", type, 4, 4, 4, 0, (uint32_t)*tmpl);
    if (*outer <= 0) {
        test_fail(t, __FILE__, __LINE__, "cannot make outer map: %s", bpftime_last_error_message());
        _exit(1);
    }
    return r;
}

TEST(outer_map_takes_its_template_from_an_inner_map)
{
    int tmpl, outer;
    struct bpftime_region *r = mk_outer(t, "tmpl", BPFTIME_MAP_ARRAY_OF_MAPS, &tmpl, &outer);
    struct bpftime_map_info mi;
    CHECK_EQ(bpftime_map_get(r, outer, &mi), 0);
    CHECK_EQ(mi.type, BPFTIME_MAP_ARRAY_OF_MAPS);
    CHECK_EQ(mi.value_size, 4);
    CHECK_EQ(mi.inner_type, BPFTIME_MAP_ARRAY);
    CHECK_EQ(mi.inner_key_size, 4);
    CHECK_EQ(mi.inner_value_size, 8);
    CHECK_EQ(mi.inner_max_entries, 1);
    /* the template is a copy: the map it came from may go (libbpf deletes it) */
    CHECK_EQ(bpftime_map_delete(r, tmpl), 0);
    CHECK_EQ(bpftime_map_get(r, outer, &mi), 0);
    CHECK_EQ(mi.inner_value_size, 8);
    /* no template, a missing one, a nested one, a value that is not an id */
    CHECK_EQ(bpftime_map_create(r, "o", BPFTIME_MAP_ARRAY_OF_MAPS, 4, 4, 4, 0, 0), -EINVAL);
    CHECK_EQ(bpftime_map_create_outer(r, "o", BPFTIME_MAP_ARRAY_OF_MAPS, 4, 4, 4, 0, 999), -EBADF);
    CHECK_EQ(bpftime_map_create_outer(r, "o", BPFTIME_MAP_HASH_OF_MAPS, 8, 4, 4, 0, outer),
             -EINVAL);
    int inner = bpftime_map_create(r, "i", BPFTIME_MAP_HASH, 8, 8, 16, 0, 0);
    CHECK(inner > 0);
    CHECK_EQ(bpftime_map_create_outer(r, "o", BPFTIME_MAP_ARRAY_OF_MAPS, 4, 8, 4, 0, inner),
             -EINVAL);
    CHECK_EQ(bpftime_map_create_outer(r, "o", BPFTIME_MAP_ARRAY_OF_MAPS, 8, 4, 4, 0, inner),
             -EINVAL);
    CHECK_EQ(bpftime_map_create_outer(r, "o", BPFTIME_MAP_HASH, 8, 4, 4, 0, inner), -EINVAL);
    CHECK(bpftime_map_create_outer(r, "o", BPFTIME_MAP_HASH_OF_MAPS, 8, 4, 4, 0, inner) > 0);
    bpftime_region_close(r);
}

TEST(updates_must_match_the_template)
{
    int tmpl, outer;
    struct bpftime_region *r = mk_outer(t, "match", BPFTIME_MAP_ARRAY_OF_MAPS, &tmpl, &outer);
    int same = bpftime_map_create(r, "same", BPFTIME_MAP_ARRAY, 4, 8, 1, 0, 0);
    int bigger = bpftime_map_create(r, "bigger", BPFTIME_MAP_ARRAY, 4, 8, 2, 0, 0);
    int wider = bpftime_map_create(r, "wider", BPFTIME_MAP_ARRAY, 4, 16, 1, 0, 0);
    int hash = bpftime_map_create(r, "hash", BPFTIME_MAP_HASH, 4, 8, 1, 0, 0);
    CHECK(same > 0 && bigger > 0 && wider > 0 && hash > 0);
    uint32_t k = 0, v;
    v = (uint32_t)same;
    CHECK_EQ(bpftime_map_update(r, outer, &k, &v, 0), 0);
    v = (uint32_t)bigger; /* arrays: max_entries is part of the template */
    CHECK_EQ(bpftime_map_update(r, outer, &k, &v, 0), -EINVAL);
    CHECK(strstr(bpftime_last_error_message(), "max_entries") != NULL);
    v = (uint32_t)wider;
    CHECK_EQ(bpftime_map_update(r, outer, &k, &v, 0), -EINVAL);
    v = (uint32_t)hash;
    CHECK_EQ(bpftime_map_update(r, outer, &k, &v, 0), -EINVAL);
    v = (uint32_t)outer;
    CHECK_EQ(bpftime_map_update(r, outer, &k, &v, 0), -EINVAL);
    v = 12345;
    CHECK_EQ(bpftime_map_update(r, outer, &k, &v, 0), -EBADF);
    /* the failed updates left slot 0 as it was */
    uint32_t got = 0;
    CHECK_EQ(bpftime_map_lookup(r, outer, &k, &got), 0);
    CHECK_EQ(got, (uint32_t)same);
    k = 3;
    CHECK_EQ(bpftime_map_lookup(r, outer, &k, &got), -ENOENT); /* empty slot */
    k = 4;
    v = (uint32_t)same;
    CHECK_EQ(bpftime_map_update(r, outer, &k, &v, 0), -E2BIG); /* past the last slot */
    /* BPF_F_INNER_MAP on the template: array sizes may differ */
    int t2 = bpftime_map_create(r, "t2", BPFTIME_MAP_ARRAY, 4, 8, 1, F_INNER_MAP, 0);
    int big2 = bpftime_map_create(r, "big2", BPFTIME_MAP_ARRAY, 4, 8, 64, F_INNER_MAP, 0);
    int o2 = bpftime_map_create_outer(r, "o2", BPFTIME_MAP_ARRAY_OF_MAPS, 4, 4, 2, 0, t2);
    CHECK(t2 > 0 && big2 > 0 && o2 > 0);
    k = 1;
    v = (uint32_t)big2;
    CHECK_EQ(bpftime_map_update(r, o2, &k, &v, 0), 0);
    bpftime_region_close(r);
}

TEST(hash_of_maps_keys_hold_ids_and_sizes_may_differ)
{
    int tmpl = 0, outer;
    struct bpftime_region *r = mk_with_map(t, "hom", "tmpl", BPFTIME_MAP_HASH, 4, 4, 8, &tmpl);
    outer = bpftime_map_create_outer(r, "outer", BPFTIME_MAP_HASH_OF_MAPS, 8, 4, 2, 0, tmpl);
    CHECK(outer > 0);
    /* hash inner maps may differ in max_entries (bpf_map_meta_equal) */
    int a = bpftime_map_create(r, "a", BPFTIME_MAP_HASH, 4, 4, 100, 0, 0);
    CHECK(a > 0);
    uint64_t key = 0x1122334455667788ull, next;
    uint32_t v = (uint32_t)a, got = 0;
    CHECK_EQ(bpftime_map_update(r, outer, &key, &v, 0), 0);
    CHECK_EQ(bpftime_map_lookup(r, outer, &key, &got), 0);
    CHECK_EQ(got, (uint32_t)a);
    CHECK_EQ(bpftime_map_get_next_key(r, outer, NULL, &next), 0);
    CHECK_EQ(next, key);
    CHECK_EQ(bpftime_map_update(r, outer, &key, &v, BPFTIME_NOEXIST), -EEXIST);
    CHECK_EQ(bpftime_map_delete_elem(r, outer, &key), 0);
    CHECK_EQ(bpftime_map_lookup(r, outer, &key, &got), -ENOENT);
    /* nothing but the outer map ever held a (made by hand): it stays */
    CHECK(map_exists(r, (uint32_t)a));
    bpftime_region_close(r);
}

TEST(an_outer_map_holds_what_it_stores)
{
    int tmpl, outer;
    struct bpftime_region *r = mk_outer(t, "hold", BPFTIME_MAP_ARRAY_OF_MAPS, &tmpl, &outer);
    uint32_t a = (uint32_t)bpftime_map_create(r, "a", BPFTIME_MAP_ARRAY, 4, 8, 1, 0, 0);
    uint32_t b = (uint32_t)bpftime_map_create(r, "b", BPFTIME_MAP_ARRAY, 4, 8, 1, 0, 0);
    CHECK((int)a > 0 && (int)b > 0);
    uint32_t k = 0, v = (uint32_t)a;
    CHECK_EQ(bpftime_map_update(r, outer, &k, &v, 0), 0);
    k = 1;
    CHECK_EQ(bpftime_map_update(r, outer, &k, &v, 0), 0); /* twice: one holder */
    k = 2;
    v = (uint32_t)b;
    CHECK_EQ(bpftime_map_update(r, outer, &k, &v, 0), 0);
    /* an object's program held them and went: the outer map holds them now */
    held_once(t, r, (int)a, (int)b);
    CHECK(map_exists(r, a) && map_exists(r, b));
    char buf[128];
    CHECK_EQ(bpftime_map_holders(r, a, buf, sizeof buf), 1);
    char want[32];
    snprintf(want, sizeof want, "map %d", outer);
    CHECK(strcmp(buf, want) == 0);
    CHECK_EQ(bpftime_map_delete(r, a), -EBUSY);
    /* replacing one slot keeps a (the other slot holds it) */
    k = 0;
    CHECK_EQ(bpftime_map_update(r, outer, &k, &v, 0), 0);
    CHECK(map_exists(r, (uint32_t)a));
    /* emptying the last slot that held it frees it */
    k = 1;
    CHECK_EQ(bpftime_map_delete_elem(r, outer, &k), 0);
    CHECK(!map_exists(r, (uint32_t)a));
    CHECK_EQ(bpftime_map_delete_elem(r, outer, &k), -ENOENT);
    /* deleting the outer map frees what it stored */
    CHECK(map_exists(r, (uint32_t)b));
    CHECK_EQ(bpftime_map_delete(r, outer), 0);
    CHECK(!map_exists(r, (uint32_t)b));
    bpftime_region_close(r);
}

/* r0 = outer[0] ? (inner = outer[0], *inner[0] += 1, *inner[0]) : 1000 */
static const struct ebpf_inst lookup_inner_prog[] = {
    ST_IMM(BPF_W, 10, -4, 0),
    MOV64_REG(2, 10),
    ALU64_IMM(BPF_ADD, 2, -4),
    LDDW_PSEUDO(1, 5, 0, 0), /* map index 0: the outer map */
    CALL_HELPER(1),
    JMP_IMM(BPF_JEQ, 0, 0, 11),
    MOV64_REG(1, 0), /* the inner map */
    MOV64_REG(2, 10),
    ALU64_IMM(BPF_ADD, 2, -4),
    CALL_HELPER(1),
    JMP_IMM(BPF_JEQ, 0, 0, 4),
    MOV64_IMM(1, 1),
    ATOMIC(BPF_DW, BPF_ADD, 0, 1, 0),
    LDX(BPF_DW, 0, 0, 0),
    EXIT(),
    MOV64_IMM(0, 999),
    EXIT(),
    MOV64_IMM(0, 1000),
    EXIT(),
};

static uint64_t run(struct ebpf_vm *vm)
{
    uint64_t ret = 0;
    if (ebpf_vm_exec(vm, NULL, 0, &ret) != 0)
        return UINT64_MAX;
    return ret;
}

TEST(a_program_reaches_the_inner_map_and_keeps_it_while_running)
{
    int tmpl, outer;
    struct bpftime_region *r = mk_outer(t, "prog", BPFTIME_MAP_ARRAY_OF_MAPS, &tmpl, &outer);
    CHECK(bpftime_instance_register(r, 0) > 0);
    int a = bpftime_map_create(r, "a", BPFTIME_MAP_ARRAY, 4, 8, 1, 0, 0);
    int b = bpftime_map_create(r, "b", BPFTIME_MAP_ARRAY, 4, 8, 1, 0, 0);
    /* slots 1 and 2 hold them while an object's program held them once:
     * from then on the last holder going frees them */
    uint32_t k = 1, v = (uint32_t)a;
    CHECK_EQ(bpftime_map_update(r, outer, &k, &v, 0), 0);
    k = 2;
    v = (uint32_t)b;
    CHECK_EQ(bpftime_map_update(r, outer, &k, &v, 0), 0);
    held_once(t, r, a, b);
    uint32_t maps[1] = {(uint32_t)outer};
    int p = bpftime_prog_create(r, "mim", 1, "GPL", "", lookup_inner_prog,
                                sizeof lookup_inner_prog / sizeof lookup_inner_prog[0], maps, 1);
    CHECK(p > 0);
    struct ebpf_vm *vm;
    CHECK_EQ(bpftime_prog_load_vm(r, p, &vm), 0);
    CHECK_EQ(run(vm), 1000); /* empty slot: NULL */
    k = 0;
    v = (uint32_t)a;
    CHECK_EQ(bpftime_map_update(r, outer, &k, &v, 0), 0);
    CHECK_EQ(run(vm), 1);
    CHECK_EQ(run(vm), 2);
    /* the control plane swaps in b and drops a from slot 1 too: the program
     * now reaches b; a, which the program reached, stays while this process
     * runs programs */
    v = (uint32_t)b;
    CHECK_EQ(bpftime_map_update(r, outer, &k, &v, 0), 0);
    k = 1;
    CHECK_EQ(bpftime_map_delete_elem(r, outer, &k), 0);
    k = 0;
    CHECK_EQ(run(vm), 1);
    CHECK(map_exists(r, (uint32_t)a));
    char buf[128];
    CHECK_EQ(bpftime_map_holders(r, a, buf, sizeof buf), 1);
    CHECK(strstr(buf, "process") != NULL);
    /* the pointer a program took before the swap still works */
    struct bpftime_map *ha = bpftime_map_handle(r, a);
    CHECK(ha != NULL);
    uint64_t *val = bpftime_map_lookup_ptr(ha, &k);
    CHECK(val != NULL && *val == 2);
    /* the process lets go: a, held by nothing now, is freed */
    bpftime_prog_unload_vm(r, p);
    CHECK(!map_exists(r, (uint32_t)a));
    CHECK(map_exists(r, (uint32_t)b));
    bpftime_region_close(r);
}

TEST(a_deleted_inner_map_makes_the_lookup_fail_not_crash)
{
    int tmpl, outer;
    struct bpftime_region *r = mk_outer(t, "gone", BPFTIME_MAP_HASH_OF_MAPS, &tmpl, &outer);
    int a = bpftime_map_create(r, "a", BPFTIME_MAP_ARRAY, 4, 8, 1, 0, 0);
    uint32_t maps[1] = {(uint32_t)outer};
    uint32_t k = 0, v = (uint32_t)a;
    CHECK_EQ(bpftime_map_update(r, outer, &k, &v, 0), 0);
    held_once(t, r, a, a);
    int p = bpftime_prog_create(r, "mim", 1, "GPL", "", lookup_inner_prog,
                                sizeof lookup_inner_prog / sizeof lookup_inner_prog[0], maps, 1);
    struct ebpf_vm *vm;
    CHECK_EQ(bpftime_prog_load_vm(r, p, &vm), 0);
    CHECK_EQ(run(vm), 1);
    /* this process is no registered instance, so nothing of it holds a:
     * emptying the slot frees a; a pointer to it taken before (the handle
     * a program got) now makes helpers fail instead of touching storage */
    struct bpftime_map *ha = bpftime_map_handle(r, a);
    CHECK(ha != NULL);
    CHECK_EQ(bpftime_map_delete_elem(r, outer, &k), 0);
    CHECK(!map_exists(r, (uint32_t)a));
    CHECK(bpftime_map_lookup_ptr(ha, &k) == NULL);
    CHECK_EQ(run(vm), 1000);
    bpftime_prog_unload_vm(r, p);
    bpftime_region_close(r);
}

TEST(programs_cannot_update_an_outer_map)
{
    int tmpl, outer;
    struct bpftime_region *r = mk_outer(t, "pupd", BPFTIME_MAP_ARRAY_OF_MAPS, &tmpl, &outer);
    struct bpftime_map *h = bpftime_map_handle(r, outer);
    CHECK(h != NULL);
    uint32_t k = 0, v = (uint32_t)tmpl;
    CHECK_EQ(bpftime_map_h_update(h, &k, &v, 0, true), -EINVAL);
    CHECK_EQ(bpftime_map_h_update(h, &k, &v, 0, false), 0);
    bpftime_region_close(r);
}
