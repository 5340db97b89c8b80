/* The allocator's free lists live in the region, which any process that maps
 * it can scribble on: a damaged link (outside the heap, not a block of the
 * list's class, a cycle) is dropped from the list and never followed, so an
 * allocation still returns a block inside the heap (or fails), frees still
 * work, and nothing outside the region is written. Run under ASan too. */
#include "runtime/tests/region_fixture.h"

TEST_REGION_MAKER("rt-alloc", 4 << 20)

/* The block a small allocation of `size` bytes lands in, and its class. */
#define SMALL 100 /* 116 bytes with the header: class 7 (128-byte blocks) */
#define SMALL_CLS 7

static bool in_heap(const struct bpftime_region *r, uint64_t off, uint64_t len)
{
    return off != 0 && rt_heap_span(r, off, len);
}

static struct shm_header *hdr(struct bpftime_region *r)
{
    return r->hdr;
}

/* Damaged heads: each value is refused, the list is dropped, the allocation
 * comes from the bump area inside the heap. */
TEST(small_free_list_head_out_of_the_heap_is_dropped)
{
    struct bpftime_region *r = mk("small-head");
    CHECK(r != NULL);
    const uint64_t bad[] = {
        UINT64_MAX - 7,   /* wraps */
        r->size + 4096,   /* past the mapping */
        16,               /* the region header */
        r->heap_off - 32, /* the last table, just below the heap */
        r->heap_end,      /* one past the heap */
        r->heap_end - 64, /* inside the heap, but above the bump pointer */
        r->heap_off + 8,  /* misaligned */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hdr(r)->small_free[SMALL_CLS] = bad[i];
        uint64_t off = shm_alloc(r, SMALL);
        CHECK(in_heap(r, off, SMALL));
        CHECK(off != bad[i] + SHM_SMALL_HDR);
        CHECK_EQ(hdr(r)->small_free[SMALL_CLS], 0); /* repaired: the damaged list is gone */
        shm_free(r, off);                           /* and the block goes back to a sound list */
        CHECK_EQ(hdr(r)->small_free[SMALL_CLS], off - SHM_SMALL_HDR);
        CHECK_EQ(shm_alloc(r, SMALL), off);
    }
    bpftime_region_close(r);
}

/* The next small allocation lies in the heap and is none of `not` (blocks
 * a damaged list must not hand out). */
static bool next_is_other(struct bpftime_region *r, uint64_t not1, uint64_t not2)
{
    uint64_t off = shm_alloc(r, SMALL);
    return in_heap(r, off, SMALL) && off != not1 && off != not2;
}

/* A block of another class (or an allocated one whose header was rewritten)
 * on the list is not handed out as a block of this class. */
TEST(small_free_list_block_of_another_class_is_not_handed_out)
{
    struct bpftime_region *r = mk("small-cls");
    CHECK(r != NULL);
    uint64_t big = shm_alloc(r, 200); /* class 8 */
    uint64_t live = shm_alloc(r, SMALL);
    CHECK(in_heap(r, big, 200) && in_heap(r, live, SMALL));
    hdr(r)->small_free[SMALL_CLS] = big - SHM_SMALL_HDR;
    CHECK(next_is_other(r, big, live));
    /* a link to a header whose magic was overwritten */
    struct shm_block *blk = rt_ptr(r, live - SHM_SMALL_HDR);
    shm_free(r, live);
    blk->magic = 0x41414141;
    CHECK(next_is_other(r, live, 0));
    bpftime_region_close(r);
}

/* A freed block whose link was overwritten with `link`: the block itself is
 * handed out once, the damaged rest of the list is dropped at the next
 * allocation. */
static bool damaged_link_dropped(struct bpftime_region *r, uint64_t link_from_block)
{
    uint64_t a = shm_alloc(r, SMALL);
    shm_free(r, a);
    struct shm_block *blk = rt_ptr(r, a - SHM_SMALL_HDR);
    blk->next = link_from_block ? link_from_block : a - SHM_SMALL_HDR;
    return shm_alloc(r, SMALL) == a && next_is_other(r, a, 0);
}

TEST(small_free_list_damaged_link_is_dropped_at_the_next_pop)
{
    struct bpftime_region *r = mk("small-link");
    CHECK(r != NULL);
    CHECK(damaged_link_dropped(r, r->size * 2));
    /* a block that links to itself (a cycle) is handed out once, not twice */
    CHECK(damaged_link_dropped(r, 0));
    bpftime_region_close(r);
}

/* The large list is walked (first fit, and coalescing on free): a cycle or
 * a wild link ends the walk instead of hanging or faulting. */
TEST(large_free_list_cycle_and_wild_links_end_the_walk)
{
    struct bpftime_region *r = mk("large");
    CHECK(r != NULL);
    const uint64_t large = 16 * SHM_PAGE; /* above the largest small class */
    uint64_t a = shm_alloc(r, large);
    uint64_t keep = shm_alloc(r, large); /* keeps `a` off the top of the heap */
    CHECK(in_heap(r, a, large) && in_heap(r, keep, large));
    shm_free(r, a);
    uint64_t b = a - SHM_PAGE;
    CHECK_EQ(hdr(r)->large_free, b);
    struct shm_block *blk = rt_ptr(r, b);
    blk->next = b;            /* a cycle */
    blk->size = SHM_PAGE * 2; /* too small for the request: the walk would go on forever */
    uint64_t c = shm_alloc(r, large);
    CHECK(in_heap(r, c, large));
    /* a free whose coalescing walk meets the damaged list ends too */
    shm_free(r, keep);
    const uint64_t wild[] = {UINT64_MAX - 4095, r->size, r->heap_off + 16, r->heap_off - SHM_PAGE};
    for (size_t i = 0; i < sizeof wild / sizeof wild[0]; i++) {
        hdr(r)->large_free = wild[i];
        uint64_t d = shm_alloc(r, large);
        CHECK(in_heap(r, d, large));
        shm_free(r, d);
    }
    bpftime_region_close(r);
}

/* The bump pointer is a header field too: outside the heap, nothing is
 * carved from it. */
TEST(bump_pointer_outside_the_heap_allocates_nothing_outside)
{
    struct bpftime_region *r = mk("bump");
    CHECK(r != NULL);
    const uint64_t bad[] = {0, 16, r->heap_off - 64, r->heap_end + SHM_PAGE, UINT64_MAX - 64};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hdr(r)->bump = bad[i];
        uint64_t off = shm_alloc(r, SMALL);
        CHECK(off == 0 || in_heap(r, off, SMALL));
        off = shm_alloc(r, 16 * SHM_PAGE);
        CHECK(off == 0 || in_heap(r, off, 16 * SHM_PAGE));
    }
    bpftime_region_close(r);
}
