/* What the syscall server maps into an application (bpftime_map_mmap_range)
 * and the handle check it relies on (bpftime_map_handle_live_id). */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/tests/region_fixture.h"
#include "test/harness.h"

#define BPF_F_MMAPABLE (1u << 10)

TEST_REGION_MAKER("rt-test-mmap", 8 << 20)

TEST(mmapable_array_values_start_on_a_page_and_are_the_maps_memory)
{
    struct bpftime_region *r = mk("array");
    CHECK(r != NULL);
    /* A small array first, so the heap is not page-aligned by chance. */
    CHECK(bpftime_map_create(r, "small", BPFTIME_MAP_ARRAY, 4, 4, 1, 0, 0) > 0);
    int id = bpftime_map_create(r, ".bss", BPFTIME_MAP_ARRAY, 4, 12, 3, BPF_F_MMAPABLE, 0);
    CHECK(id > 0);
    uint64_t off = 1, len = 0;
    CHECK_EQ(bpftime_map_mmap_range(r, (uint32_t)id, &off, &len), 0);
    CHECK_EQ(off % 4096, 0);
    CHECK(len >= 3 * 16); /* stride round_up(12, 8) */
    /* Element 2 written through the map is at 2 * 16 in the range. */
    uint32_t k = 2;
    uint8_t v[12] = {0xaa, 0xbb, 0xcc};
    CHECK_EQ(bpftime_map_update(r, (uint32_t)id, &k, v, BPFTIME_ANY), 0);
    const uint8_t *base = (const uint8_t *)bpftime_region_base(r) + off;
    CHECK_EQ(base[32], 0xaa);
    CHECK_EQ(base[34], 0xcc);
}

TEST(ringbuf_range_is_its_core_other_maps_cannot_be_mapped)
{
    struct bpftime_region *r = mk("rb");
    CHECK(r != NULL);
    int rb = bpftime_map_create(r, "rb", BPFTIME_MAP_RINGBUF, 0, 0, 8192, 0, 0);
    int arr = bpftime_map_create(r, "plain", BPFTIME_MAP_ARRAY, 4, 8, 4, 0, 0);
    int h = bpftime_map_create(r, "h", BPFTIME_MAP_HASH, 4, 8, 4, 0, 0);
    CHECK(rb > 0 && arr > 0 && h > 0);
    uint64_t off = 0, len = 0;
    CHECK_EQ(bpftime_map_mmap_range(r, (uint32_t)rb, &off, &len), 0);
    CHECK_EQ(off % 4096, 0);
    CHECK_EQ(len, 3 * 4096 + 8192); /* control, consumer, producer pages, data */
    CHECK_EQ(bpftime_map_mmap_range(r, (uint32_t)arr, &off, &len), -ENODEV);
    CHECK_EQ(bpftime_map_mmap_range(r, (uint32_t)h, &off, &len), -ENODEV);
    CHECK_EQ(bpftime_map_mmap_range(r, 999, &off, &len), -ENOENT);
}

TEST(a_kept_handle_knows_when_its_map_is_gone)
{
    struct bpftime_region *r = mk("live");
    CHECK(r != NULL);
    int id = bpftime_map_create(r, "h", BPFTIME_MAP_HASH, 4, 8, 4, 0, 0);
    CHECK(id > 0);
    struct bpftime_map *h = bpftime_map_handle(r, (uint32_t)id);
    CHECK(h != NULL);
    CHECK_EQ(bpftime_map_handle_live_id(h), (uint32_t)id);
    CHECK_EQ(bpftime_map_delete(r, (uint32_t)id), 0);
    CHECK(bpftime_map_handle_live_id(h) != (uint32_t)id);
    CHECK_EQ(bpftime_map_handle_live_id(NULL), 0u);
}
