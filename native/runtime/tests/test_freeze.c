/* Frozen maps (BPF_MAP_FREEZE, .rodata): the control plane cannot change
 * them; BPF_F_RDONLY_PROG maps: programs cannot. */
#include <unistd.h>

#include "runtime/runtime_internal.h"
#include "test/harness.h"

#define BPF_F_RDONLY (1u << 3)
#define BPF_F_RDONLY_PROG (1u << 7)

static struct bpftime_region *make(char *name, size_t len, const char *tag)
{
    snprintf(name, len, "rt-test-freeze-%s-%d", tag, (int)getpid());
    bpftime_region_remove(name);
    struct bpftime_region *r = NULL;
    return bpftime_region_create(name, 8 << 20, &r) == 0 ? r : NULL;
}

TEST(frozen_map_refuses_control_plane_writes)
{
    char name[64];
    struct bpftime_region *r = make(name, sizeof name, "cp");
    CHECK(r != NULL);
    int id = bpftime_map_create(r, ".rodata", BPFTIME_MAP_ARRAY, 4, 8, 1, BPF_F_RDONLY_PROG, 0);
    int hid = bpftime_map_create(r, "h", BPFTIME_MAP_HASH, 4, 8, 4, 0, 0);
    CHECK(id > 0 && hid > 0);
    uint32_t k = 0;
    uint64_t v = 0x6f6c6c6568, out = 0; /* "hello" */
    CHECK_EQ(bpftime_map_update(r, (uint32_t)id, &k, &v, BPFTIME_ANY), 0);
    CHECK_EQ(bpftime_map_is_frozen(r, (uint32_t)id), 0);
    CHECK_EQ(bpftime_map_freeze(r, (uint32_t)id), 0);
    CHECK_EQ(bpftime_map_is_frozen(r, (uint32_t)id), 1);
    CHECK_EQ(bpftime_map_freeze(r, (uint32_t)id), -EBUSY);
    uint64_t nv = 0;
    CHECK_EQ(bpftime_map_update(r, (uint32_t)id, &k, &nv, BPFTIME_ANY), -EPERM);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "is frozen");
    CHECK_EQ(bpftime_map_lookup(r, (uint32_t)id, &k, &out), 0);
    CHECK_EQ(out, v); /* the value the verifier saw is intact */
    struct bpftime_map_info info;
    CHECK_EQ(bpftime_map_get(r, (uint32_t)id, &info), 0);
    CHECK_EQ(info.map_flags, BPF_F_RDONLY_PROG); /* the frozen state is not a flag */
    CHECK_EQ(bpftime_region_validate(r), 0);     /* nor damage */

    /* a frozen hash: no update, delete or lookup_and_delete */
    CHECK_EQ(bpftime_map_update(r, (uint32_t)hid, &k, &v, BPFTIME_ANY), 0);
    CHECK_EQ(bpftime_map_freeze(r, (uint32_t)hid), 0);
    CHECK_EQ(bpftime_map_delete_elem(r, (uint32_t)hid, &k), -EPERM);
    CHECK_EQ(bpftime_map_lookup_and_delete(r, (uint32_t)hid, &k, &out), -EPERM);
    CHECK_EQ(bpftime_map_lookup(r, (uint32_t)hid, &k, &out), 0);
    CHECK_EQ(bpftime_map_freeze(r, 9999), -ENOENT);
    bpftime_region_close(r);
    bpftime_region_remove(name);
}

TEST(rdonly_prog_map_refuses_program_writes_and_rdonly_refuses_control_plane)
{
    char name[64];
    struct bpftime_region *r = make(name, sizeof name, "prog");
    CHECK(r != NULL);
    int ro_prog = bpftime_map_create(r, "ro", BPFTIME_MAP_ARRAY, 4, 8, 1, BPF_F_RDONLY_PROG, 0);
    int ro_sys = bpftime_map_create(r, "rs", BPFTIME_MAP_ARRAY, 4, 8, 1, BPF_F_RDONLY, 0);
    CHECK(ro_prog > 0 && ro_sys > 0);
    uint32_t k = 0;
    uint64_t v = 5;
    struct bpftime_map *h = bpftime_map_handle(r, (uint32_t)ro_prog);
    CHECK(h != NULL);
    CHECK_EQ(bpftime_map_h_update(h, &k, &v, BPFTIME_ANY, true), -EPERM);
    CHECK_EQ(bpftime_map_h_update(h, &k, &v, BPFTIME_ANY, false), 0);
    CHECK_EQ(bpftime_map_update(r, (uint32_t)ro_sys, &k, &v, BPFTIME_ANY), -EPERM);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "BPF_F_RDONLY");
    struct bpftime_map *hs = bpftime_map_handle(r, (uint32_t)ro_sys);
    CHECK_EQ(bpftime_map_h_update(hs, &k, &v, BPFTIME_ANY, true), 0); /* programs may */
    bpftime_region_close(r);
    bpftime_region_remove(name);
}
