/* Region lifecycle, header checks, allocator. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"
#include "runtime/tests/region_fixture.h"
#include "test/harness.h"

/* The name test_region() gives a region too: for tests that need the name. */
static void region_name(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "rt-test-%s-%d", tag, (int)getpid());
}

TEST(create_open_close_remove)
{
    char name[64];
    region_name(name, sizeof name, "basic");
    struct bpftime_region *r = NULL, *r2 = NULL;
    CHECK_EQ(bpftime_region_create(name, 8 << 20, &r), 0);
    struct bpftime_region_info info;
    CHECK_EQ(bpftime_region_info(r, &info), 0);
    CHECK_EQ(info.size, 8 << 20);
    CHECK_EQ(info.layout_version, BPFTIME_LAYOUT_VERSION);
    CHECK(info.ncpus >= 1);
    CHECK(info.created_ns > 0);
    CHECK(info.heap_size > 0 && info.heap_size < info.size);

    CHECK_EQ(bpftime_region_create(name, 8 << 20, &r2), -EEXIST);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "already exists");

    CHECK_EQ(bpftime_region_open(name, &r2), 0);
    CHECK(bpftime_region_base(r2) != bpftime_region_base(r)); /* separate mapping */
    CHECK_EQ(bpftime_region_size(r2), 8 << 20);
    int id = bpftime_map_create(r, "a", BPFTIME_MAP_ARRAY, 4, 8, 4, 0, 0);
    CHECK(id > 0);
    uint32_t k = 2;
    uint64_t v = 77, out = 0;
    CHECK_EQ(bpftime_map_update(r, (uint32_t)id, &k, &v, BPFTIME_ANY), 0);
    CHECK_EQ(bpftime_map_lookup(r2, (uint32_t)id, &k, &out), 0);
    CHECK_EQ(out, 77);
    bpftime_region_close(r2);
    bpftime_region_close(r);

    CHECK_EQ(bpftime_region_remove(name), 0);
    CHECK_EQ(bpftime_region_open(name, &r2), -ENOENT);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "does not exist");
    CHECK_EQ(bpftime_region_remove(name), -ENOENT);
}

TEST(default_size_is_sparse)
{
    char name[64], path[128];
    region_name(name, sizeof name, "sparse");
    struct bpftime_region *r;
    CHECK_EQ(bpftime_region_create(name, 0, &r), 0);
    CHECK_EQ(bpftime_region_size(r), BPFTIME_DEFAULT_REGION_SIZE);
    bpftime_region_path(name, path, sizeof path);
    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ((uint64_t)st.st_mode & 0777, 0600);
    /* only the pages touched so far are backed */
    CHECK((uint64_t)st.st_blocks * 512 < BPFTIME_DEFAULT_REGION_SIZE / 4);
    bpftime_region_close(r);
    bpftime_region_remove(name);
}

TEST(invalid_names_and_sizes)
{
    struct bpftime_region *r;
    CHECK_EQ(bpftime_region_create("a/b", 0, &r), -EINVAL);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "invalid region name");
    CHECK_EQ(bpftime_region_create("", 0, &r), -EINVAL);
    CHECK_EQ(bpftime_region_create("..", 0, &r), -EINVAL);
    char name[64];
    region_name(name, sizeof name, "small");
    CHECK_EQ(bpftime_region_create(name, 4096, &r), -EINVAL);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "too small");
}

TEST(version_mismatch_is_refused_with_message)
{
    char name[64];
    region_name(name, sizeof name, "ver");
    struct bpftime_region *r;
    CHECK_EQ(bpftime_region_create(name, 0, &r), 0);
    r->hdr->layout_version = BPFTIME_LAYOUT_VERSION + 1;
    bpftime_region_close(r);
    CHECK_EQ(bpftime_region_open(name, &r), -EPROTO);
    const char *msg = bpftime_last_error_message();
    bpftime_region_remove(name);
    char want[96];
    snprintf(want, sizeof want, "has layout version %u, this build reads version %u",
             BPFTIME_LAYOUT_VERSION + 1, BPFTIME_LAYOUT_VERSION);
    CHECK_STR_CONTAINS(msg, want);
    CHECK_STR_CONTAINS(msg, "bpftime shm remove");
}

TEST(not_a_region_is_refused)
{
    char name[64], path[128];
    region_name(name, sizeof name, "junk");
    bpftime_region_path(name, path, sizeof path);
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(fd >= 0);
    char junk[8192];
    memset(junk, 'x', sizeof junk);
    CHECK_EQ(write(fd, junk, sizeof junk), sizeof junk);
    close(fd);
    struct bpftime_region *r;
    int rc = bpftime_region_open(name, &r);
    unlink(path);
    CHECK_EQ(rc, -EINVAL);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "is not a bpftime region");

    /* an empty file (e.g. a creator that died before writing) too */
    fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    close(fd);
    rc = bpftime_region_open(name, &r);
    unlink(path);
    CHECK_EQ(rc, -EINVAL);
}

TEST(open_from_another_process_sees_changes)
{
    char name[64];
    region_name(name, sizeof name, "xproc");
    struct bpftime_region *r;
    CHECK_EQ(bpftime_region_create(name, 0, &r), 0);
    int id = bpftime_map_create(r, "h", BPFTIME_MAP_HASH, 4, 4, 16, 0, 0);
    CHECK(id > 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct bpftime_region *c;
        /* a different mapping address than the parent's is likely; make
         * it certain by occupying the parent's address range first */
        mmap(bpftime_region_base(r), 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
             0);
        if (bpftime_region_open(name, &c) != 0)
            _exit(1);
        uint32_t k = 5, v = 55;
        if (bpftime_map_update(c, (uint32_t)id, &k, &v, BPFTIME_NOEXIST) != 0)
            _exit(2);
        _exit(bpftime_region_base(c) == bpftime_region_base(r) ? 3 : 0);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    uint32_t k = 5, v = 0;
    CHECK_EQ(bpftime_map_lookup(r, (uint32_t)id, &k, &v), 0);
    CHECK_EQ(v, 55);
    bpftime_region_close(r);
    bpftime_region_remove(name);
}

TEST(allocator_reuses_and_zeroes)
{
    struct bpftime_region *r = test_region("rt-test", "alloc", 8 << 20);
    CHECK(r);
    int64_t a = bpftime_shm_alloc(r, 100);
    CHECK(a > 0);
    memset(r->base + a, 0xab, 100);
    bpftime_shm_free(r, (uint64_t)a);
    int64_t b = bpftime_shm_alloc(r, 90); /* same class: reused, zeroed */
    CHECK_EQ(b, a);
    CHECK_EQ(r->base[b], 0);
    int64_t big = bpftime_shm_alloc(r, 200000);
    CHECK(big > 0);
    CHECK_EQ((uint64_t)big % 4096, 0);
    memset(r->base + big, 0xcd, 200000);
    bpftime_shm_free(r, (uint64_t)big);
    int64_t big2 = bpftime_shm_alloc(r, 100000); /* first fit in the freed block */
    CHECK_EQ(big2, big);
    CHECK_EQ(r->base[big2 + 99999], 0);
    int64_t rest = bpftime_shm_alloc(r, 90000); /* the split tail */
    CHECK(rest > big2 && rest < big + 200000 + 4096);
    /* exhaustion is an error with a message, not a crash */
    CHECK_EQ(bpftime_shm_alloc(r, 64 << 20), -ENOMEM);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "is full");
    bpftime_region_close(r);
}

TEST(allocator_coalesces_large_blocks)
{
    struct bpftime_region *r = test_region("rt-test", "coal", 8 << 20);
    CHECK(r);
    int64_t a = bpftime_shm_alloc(r, 200000);
    uint64_t bump0 = r->hdr->bump - (uint64_t)(200000 + 4096 + 4095) / 4096 * 4096;
    int64_t b = bpftime_shm_alloc(r, 200000);
    int64_t c = bpftime_shm_alloc(r, 200000);
    int64_t guard = bpftime_shm_alloc(r, 100000);
    CHECK(a > 0 && b > a && c > b && guard > c);
    bpftime_shm_free(r, (uint64_t)a);
    bpftime_shm_free(r, (uint64_t)b);
    /* a and b merged: a block larger than either fits where a was */
    int64_t ab = bpftime_shm_alloc(r, 350000);
    CHECK_EQ(ab, a);
    bpftime_shm_free(r, (uint64_t)ab);
    /* freeing everything returns the top of the heap to the bump area */
    bpftime_shm_free(r, (uint64_t)guard);
    bpftime_shm_free(r, (uint64_t)c);
    CHECK_EQ(r->hdr->bump, bump0);
    CHECK_EQ(r->hdr->large_free, 0);
    /* many create/delete cycles of differently sized maps do not exhaust it */
    for (int i = 0; i < 200; i++) {
        int id = bpftime_map_create(r, "m", BPFTIME_MAP_ARRAY, 4, 8,
                                    20000 + (uint32_t)(i % 7) * 15000, 0, 0);
        CHECK(id > 0);
        CHECK_EQ(bpftime_map_delete(r, id), 0);
    }
    bpftime_region_close(r);
}

/* The smallest free large block (a header page and one payload page) is a
 * valid member of the free list: the tail left by a split stays free and
 * the walk goes past it to the next block that fits. */
TEST(allocator_keeps_a_two_page_tail_free)
{
    struct bpftime_region *r = test_region("rt-test", "tail", 8 << 20);
    CHECK(r);
    int64_t a = bpftime_shm_alloc(r, 12 * 4096); /* 13 pages with the header */
    int64_t g1 = bpftime_shm_alloc(r, 100000);
    int64_t d = bpftime_shm_alloc(r, 40000); /* 11 pages */
    int64_t g2 = bpftime_shm_alloc(r, 100000);
    CHECK(a > 0 && g1 > a && d > g1 && g2 > d);
    bpftime_shm_free(r, (uint64_t)d);
    bpftime_shm_free(r, (uint64_t)a);
    int64_t b = bpftime_shm_alloc(r, 40000); /* a's block, split: 2 pages left */
    CHECK_EQ(b, a);
    int64_t c = bpftime_shm_alloc(r, 40000); /* past the tail, into d's */
    CHECK_EQ(c, d);
    int64_t e = bpftime_shm_alloc(r, 4000 + 32768); /* 11 pages: none free, from the top */
    CHECK(e > g2);
    bpftime_region_close(r);
}

TEST(map_too_large_for_region_fails_cleanly)
{
    struct bpftime_region *r = test_region("rt-test", "full", 4 << 20);
    CHECK(r);
    CHECK_EQ(bpftime_map_create(r, "big", BPFTIME_MAP_ARRAY, 4, 1024, 100000, 0, 0), -ENOMEM);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "no room");
    CHECK_EQ(bpftime_map_create(r, "big", BPFTIME_MAP_HASH, 8, 8, 4000000, 0, 0), -ENOMEM);
    CHECK(bpftime_map_create(r, "ok", BPFTIME_MAP_ARRAY, 4, 8, 16, 0, 0) > 0);
    bpftime_region_close(r);
}

TEST(stats_switch)
{
    struct bpftime_region *r = test_region("rt-test", "stats", 0);
    CHECK(r);
    CHECK_EQ(bpftime_stats_enabled(r), 0);
    bpftime_stats_set_enabled(r, 1);
    CHECK_EQ(bpftime_stats_enabled(r), 1);
    bpftime_region_close(r);
}
