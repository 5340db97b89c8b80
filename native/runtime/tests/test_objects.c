/* Object table: programs, targets, links, instances, ids, generation. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"
#include "runtime/tests/region_fixture.h"
#include "test/harness.h"

TEST_REGION_MAKER("rt-obj", 8 << 20)

TEST(program_create_get_delete)
{
    int m;
    struct bpftime_region *r = mk_with_map(t, "prog", "m", BPFTIME_MAP_ARRAY, 4, 4, 1, &m);
    uint32_t ids[1] = {(uint32_t)m};
    uint64_t g0 = bpftime_region_generation(r);
    int p =
        bpftime_prog_create(r, "myprog", 26, "GPL", "uprobe:/bin/x:main", trivial_prog, 2, ids, 1);
    CHECK(p > 0);
    CHECK(bpftime_region_generation(r) > g0);
    struct bpftime_prog_info info;
    CHECK_EQ(bpftime_prog_get(r, p, &info), 0);
    CHECK_EQ(info.id, p);
    CHECK_EQ(info.type, 26);
    CHECK_EQ(info.insn_cnt, 2);
    CHECK_EQ(info.nr_maps, 1);
    CHECK(strcmp(info.name, "myprog") == 0);
    CHECK(strcmp(info.license, "GPL") == 0);
    CHECK(strcmp(info.attach_hint, "uprobe:/bin/x:main") == 0);
    uint64_t code[4] = {0};
    CHECK_EQ(bpftime_prog_get_insns(r, p, code, 4), 2);
    CHECK_EQ(code[0], trivial_prog[0]);
    CHECK_EQ(code[1], trivial_prog[1]);
    uint32_t got[2] = {0, 0xffffffff};
    CHECK_EQ(bpftime_prog_get_map_ids(r, p, got, 2), 1);
    CHECK_EQ(got[0], m);
    CHECK_EQ(got[1], 0xffffffff); /* one id: nothing written past it */
    /* a map used by a program cannot go */
    CHECK_EQ(bpftime_map_delete(r, m), -EBUSY);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "held by program");
    /* unknown map ids are refused */
    uint32_t bad[1] = {999};
    CHECK_EQ(bpftime_prog_create(r, "x", 1, "GPL", "", trivial_prog, 2, bad, 1), -ENOENT);
    CHECK_EQ(bpftime_prog_create(r, "x", 1, "GPL", "", trivial_prog, 0, NULL, 0), -EINVAL);
    CHECK_EQ(bpftime_prog_delete(r, p), 0);
    CHECK_EQ(bpftime_prog_get(r, p, &info), -ENOENT);
    CHECK_EQ(bpftime_prog_delete(r, p), -ENOENT);
    /* its only holder gone, the map went with the program */
    CHECK_EQ(bpftime_map_delete(r, m), -ENOENT);
    int p2 = bpftime_prog_create(r, "again", 1, "GPL", "", trivial_prog, 2, NULL, 0);
    CHECK_EQ(p2, p + 1);
    bpftime_region_close(r);
}

TEST(stats_accumulate)
{
    struct bpftime_region *r = mk("stats");
    CHECK(r);
    int p = bpftime_prog_create(r, "p", 1, "GPL", "", trivial_prog, 2, NULL, 0);
    bpftime_prog_record_run(r, p, 100);
    bpftime_prog_record_run(r, p, 50);
    struct bpftime_prog_info info;
    CHECK_EQ(bpftime_prog_get(r, p, &info), 0);
    CHECK_EQ(info.run_cnt, 2);
    CHECK_EQ(info.run_time_ns, 150);
    bpftime_region_close(r);
}

TEST(targets_links_and_busy_rules)
{
    struct bpftime_region *r = mk("links");
    CHECK(r);
    int p = bpftime_prog_create(r, "p", 1, "GPL", "", trivial_prog, 2, NULL, 0);
    int p2 = bpftime_prog_create(r, "p2", 1, "GPL", "", trivial_prog, 2, NULL, 0);
    const char arg[] = "/usr/bin/nginx:ngx_http_handler";
    int tg = bpftime_target_create(r, 7, arg, sizeof arg - 1);
    CHECK(tg > 0);
    struct bpftime_target_info ti;
    CHECK_EQ(bpftime_target_get(r, tg, &ti), 0);
    CHECK_EQ(ti.type, 7);
    CHECK_EQ(ti.arg_len, sizeof arg - 1);
    char buf[64];
    CHECK_EQ(bpftime_target_get_arg(r, tg, buf, sizeof buf), sizeof arg - 1);
    CHECK(strcmp(buf, arg) == 0);

    CHECK_EQ(bpftime_link_create(r, 999, tg, 0), -ENOENT);
    CHECK_EQ(bpftime_link_create(r, p, 999, 0), -ENOENT);
    int l = bpftime_link_create(r, p, tg, 0xc00c1e);
    CHECK(l > 0);
    struct bpftime_link_info li;
    CHECK_EQ(bpftime_link_get(r, l, &li), 0);
    CHECK_EQ(li.prog_id, p);
    CHECK_EQ(li.target_id, tg);
    CHECK_EQ(li.cookie, 0xc00c1e);
    struct bpftime_prog_info pi;
    CHECK_EQ(bpftime_prog_get(r, p, &pi), 0);
    CHECK_EQ(pi.nr_links, 1);

    CHECK_EQ(bpftime_prog_delete(r, p), -EBUSY);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "link");
    CHECK_EQ(bpftime_target_delete(r, tg), -EBUSY);

    /* replace the program of a link */
    uint64_t g = bpftime_region_generation(r);
    CHECK_EQ(bpftime_link_update_prog(r, l, p2, p2), -EPERM);
    CHECK_EQ(bpftime_link_update_prog(r, l, 999, 0), -ENOENT);
    CHECK_EQ(bpftime_region_generation(r), g);
    CHECK_EQ(bpftime_link_update_prog(r, l, p2, p), 0);
    CHECK(bpftime_region_generation(r) > g);
    CHECK_EQ(bpftime_link_get(r, l, &li), 0);
    CHECK_EQ(li.prog_id, p2);
    CHECK_EQ(bpftime_prog_delete(r, p), 0); /* no longer linked */
    CHECK_EQ(bpftime_prog_delete(r, p2), -EBUSY);

    CHECK_EQ(bpftime_link_delete(r, l), 0);
    CHECK_EQ(bpftime_link_delete(r, l), -ENOENT);
    CHECK_EQ(bpftime_target_delete(r, tg), 0);
    CHECK_EQ(bpftime_prog_delete(r, p2), 0);
    bpftime_region_close(r);
}

TEST(generation_changes_on_every_table_change)
{
    struct bpftime_region *r = mk("gen");
    CHECK(r);
    uint64_t g = bpftime_region_generation(r);
#define BUMPED() \
    do { \
        uint64_t ng = bpftime_region_generation(r); \
        CHECK(ng > g); \
        g = ng; \
    } while (0)
    int m = bpftime_map_create(r, "m", BPFTIME_MAP_HASH, 4, 4, 4, 0, 0);
    BUMPED();
    uint32_t k = 1;
    bpftime_map_update(r, m, &k, &k, 0); /* map data is not the table */
    CHECK_EQ(bpftime_region_generation(r), g);
    int p = bpftime_prog_create(r, "p", 1, "GPL", "", trivial_prog, 2, NULL, 0);
    BUMPED();
    int tg = bpftime_target_create(r, 1, "x", 1);
    BUMPED();
    int l = bpftime_link_create(r, p, tg, 0);
    BUMPED();
    int p2 = bpftime_prog_create(r, "p2", 1, "GPL", "", trivial_prog, 2, NULL, 0);
    BUMPED();
    CHECK_EQ(bpftime_link_update_prog(r, l, p2, 0), 0);
    BUMPED();
    CHECK_EQ(bpftime_link_delete(r, l), 0);
    BUMPED();
    CHECK_EQ(bpftime_target_delete(r, tg), 0);
    BUMPED();
    CHECK_EQ(bpftime_prog_delete(r, p), 0);
    BUMPED();
    CHECK_EQ(bpftime_map_delete(r, m), 0);
    BUMPED();
    /* failed operations change nothing */
    CHECK_EQ(bpftime_map_delete(r, m), -ENOENT);
    CHECK_EQ(bpftime_region_generation(r), g);
    /* instances have their own counter (a data plane registering itself
     * must not make every other data plane re-instantiate) */
    struct bpftime_region_info info;
    bpftime_region_info(r, &info);
    uint64_t ig = info.instance_generation;
    int in = bpftime_instance_register(r, 0);
    CHECK(in > 0);
    CHECK_EQ(bpftime_region_generation(r), g);
    bpftime_region_info(r, &info);
    CHECK(info.instance_generation > ig);
#undef BUMPED
    bpftime_region_close(r);
}

TEST(next_id_iterates_in_order)
{
    struct bpftime_region *r = mk("iter");
    CHECK(r);
    int ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = bpftime_prog_create(r, "p", 1, "GPL", "", trivial_prog, 2, NULL, 0);
    CHECK_EQ(bpftime_prog_delete(r, ids[2]), 0);
    int n = 0, id = 0;
    int expect[] = {ids[0], ids[1], ids[3], ids[4]};
    while ((id = bpftime_prog_next_id(r, (uint32_t)id)) > 0) {
        CHECK(n < 4);
        CHECK_EQ(id, expect[n]);
        n++;
    }
    CHECK_EQ(n, 4);
    CHECK_EQ(id, -ENOENT);
    CHECK_EQ(bpftime_link_next_id(r, 0), -ENOENT);
    CHECK_EQ(bpftime_target_next_id(r, 0), -ENOENT);
    bpftime_region_close(r);
}

TEST(instances_register_and_reap)
{
    struct bpftime_region *r = mk("inst");
    CHECK(r);
    int me = bpftime_instance_register(r, 0);
    CHECK(me > 0);
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    int other = bpftime_instance_register(r, (uint32_t)child);
    CHECK(other > me);
    uint32_t links[3] = {4, 5, 6};
    CHECK_EQ(bpftime_instance_set_links(r, me, links, 3, 17), 0);
    struct bpftime_instance_info ii;
    CHECK_EQ(bpftime_instance_get(r, me, &ii), 0);
    CHECK_EQ(ii.pid, getpid());
    CHECK(ii.start_time > 0);
    CHECK_EQ(ii.nr_links, 3);
    CHECK_EQ(ii.link_ids[2], 6);
    CHECK_EQ(ii.generation_seen, 17);
    CHECK_EQ(ii.alive, 1);
    uint64_t hb = ii.heartbeat_ns;
    usleep(1000);
    CHECK_EQ(bpftime_instance_heartbeat(r, me), 0);
    CHECK_EQ(bpftime_instance_get(r, me, &ii), 0);
    CHECK(ii.heartbeat_ns > hb);
    CHECK_EQ(bpftime_instance_set_links(r, me, links, 65, 0), -E2BIG);

    CHECK_EQ(bpftime_instance_reap(r), 0);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    CHECK_EQ(bpftime_instance_get(r, other, &ii), 0);
    CHECK_EQ(ii.alive, 0);
    CHECK_EQ(bpftime_instance_reap(r), 1);
    CHECK_EQ(bpftime_instance_get(r, other, &ii), -ENOENT);
    CHECK_EQ(bpftime_instance_next_id(r, 0), me);
    CHECK_EQ(bpftime_instance_delete(r, me), 0);
    CHECK_EQ(bpftime_instance_next_id(r, 0), -ENOENT);
    bpftime_region_close(r);
}

TEST(table_full_is_reported)
{
    struct bpftime_region *r = mk("tfull");
    CHECK(r);
    int tg = bpftime_target_create(r, 1, "", 0);
    CHECK(tg > 0);
    for (uint32_t i = 1; i < SHM_TARGETS_CAP; i++)
        CHECK(bpftime_target_create(r, 1, "", 0) > 0);
    CHECK_EQ(bpftime_target_create(r, 1, "", 0), -ENOSPC);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "full");
    CHECK_EQ(bpftime_target_delete(r, tg), 0);
    int t2 = bpftime_target_create(r, 1, "", 0);
    CHECK_EQ(t2, (int)SHM_TARGETS_CAP + 1); /* slot reused, id not */
    bpftime_region_close(r);
}
