/* Map lifetimes: programs, pins and processes hold maps; the last holder
 * going frees the map and its storage. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"
#include "runtime/tests/region_fixture.h"
#include "test/harness.h"

TEST_REGION_MAKER("rt-life", 8 << 20)

static int count_maps(struct bpftime_region *r)
{
    int n = 0;
    for (int id = bpftime_map_next_id(r, 0); id > 0; id = bpftime_map_next_id(r, (uint32_t)id))
        n++;
    return n;
}

static uint64_t heap_used(struct bpftime_region *r)
{
    struct bpftime_region_info info;
    bpftime_region_info(r, &info);
    return info.heap_used;
}

/* What `bpftime load` does for url_filter.bpf.o: an array, a 256 KiB
 * ringbuf, one program using both. Returns the program id. */
static int load_like_url_filter(struct bpftime_region *r, uint32_t *map_ids)
{
    int a = bpftime_map_create(r, "verdict_counts", BPFTIME_MAP_ARRAY, 4, 8, 2, 0, 0);
    int b = bpftime_map_create(r, "events", BPFTIME_MAP_RINGBUF, 0, 0, 256 * 1024, 0, 0);
    if (a <= 0 || b <= 0)
        return -1;
    map_ids[0] = (uint32_t)a;
    map_ids[1] = (uint32_t)b;
    return bpftime_prog_create(r, "url_filter", 1, "GPL", "", trivial_prog, 2, map_ids, 2);
}

/* A new region holding a program like the url filter. The test fails and
 * ends here if either cannot be made (each test runs in its own child). */
static struct bpftime_region *mk_loaded(struct test_ctx *t, const char *tag, uint32_t *map_ids,
                                        int *prog)
{
    struct bpftime_region *r = mk(tag);
    if (!r || (*prog = load_like_url_filter(r, map_ids)) <= 0) {
        test_fail(t, __FILE__, __LINE__, "cannot make region %s holding a program: %s", tag,
                  r ? bpftime_last_error_message() : "no region");
        _exit(1);
    }
    return r;
}

/* A new region in which this process, registered as an instance, runs a
 * VM loaded from a program like the url filter. The test fails and ends
 * here if any step cannot be done (each test runs in its own child). */
static struct bpftime_region *mk_running(struct test_ctx *t, const char *tag, uint32_t *map_ids,
                                         int *prog, struct ebpf_vm **vm)
{
    struct bpftime_region *r = mk(tag);
    if (!r || bpftime_instance_register(r, 0) <= 0 ||
        (*prog = load_like_url_filter(r, map_ids)) <= 0 ||
        bpftime_prog_load_vm(r, (uint32_t)*prog, vm) != 0) {
        test_fail(t, __FILE__, __LINE__, "cannot make region %s running a program: %s", tag,
                  r ? bpftime_last_error_message() : "no region");
        _exit(1);
    }
    return r;
}

TEST(load_unload_cycles_leave_the_region_flat)
{
    /* 8 MiB holds about 30 copies of these maps: 300 cycles only fit if
     * unloading frees them. */
    struct bpftime_region *r = mk("cycles");
    CHECK(r);
    uint64_t base = heap_used(r);
    for (int i = 0; i < 300; i++) {
        uint32_t ids[2];
        int p = load_like_url_filter(r, ids);
        CHECK(p > 0);
        CHECK_EQ(count_maps(r), 2);
        CHECK_EQ(bpftime_prog_delete(r, (uint32_t)p), 0);
        CHECK_EQ(count_maps(r), 0);
        CHECK_EQ(heap_used(r), base);
    }
    bpftime_region_close(r);
}

TEST(a_map_nobody_ever_held_stays_until_deleted)
{
    int m;
    struct bpftime_region *r = mk_with_map(t, "never", "lonely", BPFTIME_MAP_HASH, 4, 4, 8, &m);
    CHECK_EQ(bpftime_map_collect(r), 0);
    struct bpftime_map_info mi;
    CHECK_EQ(bpftime_map_get(r, (uint32_t)m, &mi), 0);
    CHECK_EQ(bpftime_map_delete(r, (uint32_t)m), 0);
    CHECK_EQ(bpftime_map_get(r, (uint32_t)m, &mi), -ENOENT);
    bpftime_region_close(r);
}

TEST(map_delete_refuses_a_held_map_naming_its_holders)
{
    uint32_t ids[2];
    int p;
    struct bpftime_region *r = mk_loaded(t, "holders", ids, &p);
    CHECK(bpftime_pin_create(r, "counts", BPFTIME_PIN_MAP, ids[0]) > 0);
    CHECK_EQ(bpftime_map_delete(r, ids[0]), -EBUSY);
    char want[128];
    snprintf(want, sizeof want, "map %u is held by program %d, pin \"counts\"", ids[0], p);
    CHECK(strstr(bpftime_last_error_message(), want) != NULL);
    char buf[128];
    CHECK_EQ(bpftime_map_holders(r, ids[0], buf, sizeof buf), 2);
    CHECK_EQ(bpftime_map_holders(r, ids[1], buf, sizeof buf), 1);
    bpftime_region_close(r);
}

TEST(a_pin_keeps_a_map_past_its_program_and_unpin_frees_it)
{
    struct bpftime_region *r = mk("pins");
    CHECK(r);
    uint64_t base = heap_used(r);
    uint32_t ids[2];
    int p = load_like_url_filter(r, ids);
    CHECK(p > 0);
    CHECK(bpftime_pin_create(r, "maps/counts", BPFTIME_PIN_MAP, ids[0]) > 0);
    CHECK_EQ(bpftime_pin_create(r, "maps/counts", BPFTIME_PIN_MAP, ids[1]), -EEXIST);
    CHECK_EQ(bpftime_pin_create(r, "/abs", BPFTIME_PIN_MAP, ids[1]), -EINVAL);
    CHECK_EQ(bpftime_pin_create(r, "x", BPFTIME_PIN_MAP, 999), -ENOENT);
    int pp = bpftime_pin_create(r, "prog", BPFTIME_PIN_PROG, (uint32_t)p);
    CHECK(pp > 0);
    CHECK_EQ(bpftime_prog_delete(r, (uint32_t)p), -EBUSY);
    CHECK(strstr(bpftime_last_error_message(), "pinned as \"prog\"") != NULL);
    CHECK_EQ(bpftime_pin_delete(r, "prog"), 0);
    CHECK_EQ(bpftime_pin_delete(r, "prog"), -ENOENT);
    CHECK_EQ(bpftime_prog_delete(r, (uint32_t)p), 0);
    /* the ringbuf went with its program, the pinned array stayed */
    struct bpftime_map_info mi;
    CHECK_EQ(bpftime_map_get(r, ids[1], &mi), -ENOENT);
    CHECK_EQ(bpftime_map_get(r, ids[0], &mi), 0);
    struct bpftime_pin_info pi;
    CHECK_EQ(bpftime_pin_get(r, "maps/counts", &pi), 0);
    CHECK_EQ(pi.kind, BPFTIME_PIN_MAP);
    CHECK_EQ(pi.obj_id, ids[0]);
    CHECK_EQ(bpftime_pin_delete(r, "maps/counts"), 0);
    CHECK_EQ(bpftime_map_get(r, ids[0], &mi), -ENOENT);
    CHECK_EQ(heap_used(r), base);
    bpftime_region_close(r);
}

TEST(a_process_running_a_program_holds_its_maps_until_it_lets_go)
{
    uint32_t ids[2];
    int p;
    struct ebpf_vm *vm;
    struct bpftime_region *r = mk_running(t, "inst", ids, &p, &vm);
    CHECK_EQ(bpftime_prog_delete(r, (uint32_t)p), 0);
    /* the VM still runs against the maps: they stay */
    CHECK_EQ(count_maps(r), 2);
    CHECK_EQ(bpftime_map_delete(r, ids[0]), -EBUSY);
    char want[64];
    snprintf(want, sizeof want, "held by process %d", (int)getpid());
    CHECK(strstr(bpftime_last_error_message(), want) != NULL);
    bpftime_prog_unload_vm(r, (uint32_t)p);
    CHECK_EQ(count_maps(r), 0);
    bpftime_region_close(r);
}

TEST(a_crashed_process_does_not_hold_maps_forever)
{
    uint32_t ids[2];
    int p;
    struct bpftime_region *r = mk_loaded(t, "crash", ids, &p);
    int ready[2];
    CHECK_EQ(pipe(ready), 0);
    pid_t child = fork();
    if (child == 0) {
        struct ebpf_vm *vm;
        if (bpftime_instance_register(r, 0) <= 0 || bpftime_prog_load_vm(r, (uint32_t)p, &vm))
            _exit(1);
        (void)!write(ready[1], "x", 1);
        pause();
        _exit(0);
    }
    char c;
    CHECK_EQ(read(ready[0], &c, 1), 1);
    CHECK_EQ(bpftime_prog_delete(r, (uint32_t)p), 0);
    CHECK_EQ(count_maps(r), 2); /* the child runs the program */
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    /* nobody reaped its record, yet a dead process holds nothing */
    CHECK_EQ(bpftime_map_collect(r), 2);
    CHECK_EQ(count_maps(r), 0);
    bpftime_region_close(r);
}

TEST(program_setup_refuses_a_map_freed_under_it)
{
    uint32_t ids[2];
    int p;
    struct ebpf_vm *vm;
    struct bpftime_region *r = mk_running(t, "race", ids, &p, &vm);
    struct bpftime_instance_info ii;
    int me = bpftime_instance_next_id(r, 0);
    CHECK_EQ(bpftime_instance_get(r, (uint32_t)me, &ii), 0);
    struct shm_instance *in = NULL;
    for (uint32_t i = 0; i < r->hdr->table_cap[KIND_INSTANCE]; i++) {
        struct shm_instance *s = table_slot(r, KIND_INSTANCE, i);
        if (s->id == (uint32_t)me)
            in = s;
    }
    CHECK(in);
    CHECK_EQ(in->nr_held_maps, 2);
    bpftime_prog_unload_vm(r, (uint32_t)p);
    CHECK_EQ(in->nr_held_maps, 0);
    bpftime_region_close(r);
}
