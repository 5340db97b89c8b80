/* Ringbuf, perf_event_array and trace ring: records, wrap-around, full,
 * query, futex wakeup across processes. */
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"
#include "runtime/tests/region_fixture.h"
#include "test/harness.h"

TEST_REGION_MAKER("rt-rb", 8 << 20)

TEST(output_and_read_in_order)
{
    int id;
    struct bpftime_region *r = mk_with_map(t, "basic", "rb", BPFTIME_MAP_RINGBUF, 0, 0, 4096, &id);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    char buf[256];
    uint32_t len = 99;
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 0);
    CHECK_EQ(len, 0);
    CHECK_EQ(bpftime_ringbuf_poll(r, id, 0), 0);
    CHECK_EQ(bpftime_ringbuf_output(h, "hello", 5, 0), 0);
    CHECK_EQ(bpftime_ringbuf_output(h, "", 0, 0), 0); /* empty records are records */
    CHECK_EQ(bpftime_ringbuf_output(h, "world!!", 7, BPFTIME_RB_NO_WAKEUP), 0);
    CHECK_EQ(bpftime_ringbuf_output(h, "x", 1, 8), -EINVAL);
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_AVAIL_DATA), 16 + 8 + 16);
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_RING_SIZE), 4096);
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_PROD_POS), 40);
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_CONS_POS), 0);
    CHECK_EQ(bpftime_ringbuf_poll(r, id, 0), 1);
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, 3, &len, NULL), -EMSGSIZE);
    CHECK_EQ(len, 5);
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 1);
    CHECK_EQ(len, 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 1);
    CHECK_EQ(len, 0);
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 1);
    CHECK_EQ(len, 7);
    CHECK(memcmp(buf, "world!!", 7) == 0);
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 0);
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_AVAIL_DATA), 0);
    bpftime_region_close(r);
}

TEST(reserve_submit_discard_and_busy_blocks_consumer)
{
    int id;
    struct bpftime_region *r = mk_with_map(t, "resv", "rb", BPFTIME_MAP_RINGBUF, 0, 0, 4096, &id);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    uint32_t *a = bpftime_ringbuf_reserve(h, 4);
    uint32_t *b = bpftime_ringbuf_reserve(h, 4);
    uint32_t *c = bpftime_ringbuf_reserve(h, 4);
    CHECK(a && b && c);
    CHECK_EQ(((uintptr_t)a) % 8, 0);
    /* kernel record header: len | BUSY, pg_off */
    uint32_t *hdr = (uint32_t *)((uint8_t *)a - 8);
    CHECK_EQ(hdr[0], 4u | RB_BUSY_BIT);
    *a = 1, *b = 2, *c = 3;
    bpftime_ringbuf_submit(b, 0, false);
    bpftime_ringbuf_submit(c, 0, true);
    char buf[16];
    uint32_t len;
    /* a is still busy: nothing can be consumed past it */
    CHECK_EQ(bpftime_ringbuf_poll(r, id, 0), 0);
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 0);
    bpftime_ringbuf_submit(a, 0, false);
    CHECK_EQ(hdr[0], 4u);
    uint32_t v;
    CHECK_EQ(bpftime_ringbuf_read(r, id, &v, 4, &len, NULL), 1);
    CHECK_EQ(v, 1);
    CHECK_EQ(bpftime_ringbuf_read(r, id, &v, 4, &len, NULL), 1);
    CHECK_EQ(v, 2);
    /* c was discarded */
    CHECK_EQ(bpftime_ringbuf_read(r, id, &v, 4, &len, NULL), 0);
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_CONS_POS), 48);
    bpftime_region_close(r);
}

TEST(full_ring_drops_and_wraps)
{
    int id;
    struct bpftime_region *r = mk_with_map(t, "wrap", "rb", BPFTIME_MAP_RINGBUF, 0, 0, 4096, &id);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    CHECK(bpftime_ringbuf_reserve(h, 4096) == NULL); /* larger than the ring */
    uint8_t rec[1000];
    uint32_t produced = 0, consumed = 0, len;
    /* 1000-byte records (1008 with header) do not divide 4096: every few
     * records one wraps and needs a padding record */
    for (int round = 0; round < 50; round++) {
        int n = 0;
        for (;;) {
            memset(rec, (uint8_t)produced, sizeof rec);
            if (bpftime_ringbuf_output(h, rec, sizeof rec, 0) != 0)
                break;
            produced++;
            n++;
        }
        CHECK(n >= 1 && n <= 4);
        uint8_t out[1000];
        while (bpftime_ringbuf_read(r, id, out, sizeof out, &len, NULL) == 1) {
            CHECK_EQ(len, 1000);
            CHECK_EQ(out[0], (uint8_t)consumed);
            CHECK_EQ(out[999], (uint8_t)consumed);
            consumed++;
        }
        CHECK_EQ(consumed, produced);
    }
    CHECK(bpftime_ringbuf_lost(r, id) >= 50);
    CHECK(bpftime_ringbuf_query(h, BPFTIME_RB_PROD_POS) > 4096 * 10);
    bpftime_region_close(r);
}

/* The capacity edge and the wrap layout, computed by hand from the format
 * (8-byte header, records padded to 8, 4096-byte data area). */
TEST(exact_capacity_and_wrap_layout)
{
    int id;
    struct bpftime_region *r = mk_with_map(t, "edge", "rb", BPFTIME_MAP_RINGBUF, 0, 0, 4096, &id);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    uint8_t *data = (uint8_t *)h->rb + SHM_RB_HDR_PAGES * SHM_PAGE;
    static uint8_t big[4088];
    uint8_t out[4088];
    uint32_t len;
    /* a record of exactly the ring's size (4088 + 8) fits; then nothing does */
    CHECK_EQ(bpftime_ringbuf_output(h, big, 4088, 0), 0);
    CHECK(bpftime_ringbuf_reserve(h, 1) == NULL);
    CHECK_EQ(bpftime_ringbuf_lost(r, id), 1);
    CHECK_EQ(bpftime_ringbuf_read(r, id, out, sizeof out, &len, NULL), 1);
    CHECK_EQ(len, 4088);
    /* 8 bytes short of full: a 1-byte record (16 with header) does not fit */
    CHECK_EQ(bpftime_ringbuf_output(h, big, 4080, 0), 0);
    CHECK(bpftime_ringbuf_reserve(h, 1) == NULL);
    CHECK_EQ(bpftime_ringbuf_lost(r, id), 2);
    CHECK_EQ(bpftime_ringbuf_read(r, id, out, sizeof out, &len, NULL), 1);
    CHECK_EQ(len, 4080);
    /* positions 4096 + 4088: the next 8-byte record (16) does not fit before
     * the end, so an 8-byte padding record fills it and the record starts at
     * data offset 0 */
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_PROD_POS), 4096 + 4088);
    uint8_t *p = bpftime_ringbuf_reserve(h, 8);
    CHECK(p == data + 8);
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_PROD_POS), 4096 + 4088 + 8 + 16);
    memcpy(p, "wrapped!", 8);
    bpftime_ringbuf_submit(p, 0, false);
    CHECK_EQ(bpftime_ringbuf_read(r, id, out, sizeof out, &len, NULL), 1);
    CHECK_EQ(len, 8);
    CHECK(memcmp(out, "wrapped!", 8) == 0);
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_CONS_POS), 4096 + 4088 + 8 + 16);
    bpftime_region_close(r);

    /* 8 bytes free in one piece (no wrap involved): consumer at data offset
     * 8 after an empty record, 4088 bytes in use from there to the end; a
     * 1-byte record needs 16 and must be refused */
    r = mk("edge8");
    CHECK(r);
    id = bpftime_map_create(r, "rb", BPFTIME_MAP_RINGBUF, 0, 0, 4096, 0, 0);
    h = bpftime_map_handle(r, id);
    CHECK_EQ(bpftime_ringbuf_output(h, big, 0, 0), 0);
    CHECK_EQ(bpftime_ringbuf_read(r, id, out, sizeof out, &len, NULL), 1);
    CHECK_EQ(len, 0);
    CHECK_EQ(bpftime_ringbuf_output(h, big, 4080, 0), 0);
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_PROD_POS), 4096);
    CHECK(bpftime_ringbuf_reserve(h, 1) == NULL);
    CHECK_EQ(bpftime_ringbuf_lost(r, id), 1);
    bpftime_region_close(r);
}

/* The full check under the lock counts the wrap padding: with the ring
 * empty at data offset 4000, a record of total 4000 (96 padding + 4000 =
 * 4096) fits and lands at offset 0, one of total 4008 (96 + 4008 = 4104)
 * does not — though 4008 alone would fit, which is all the lock-free
 * "full" pre-check sees. (The kernel maps its data area twice and needs no
 * padding; this ring is mapped once, so a record never wraps around.) */
TEST(wrap_padding_counts_toward_capacity)
{
    int id;
    struct bpftime_region *r = mk_with_map(t, "pad", "rb", BPFTIME_MAP_RINGBUF, 0, 0, 4096, &id);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    uint8_t *data = (uint8_t *)h->rb + SHM_RB_HDR_PAGES * SHM_PAGE;
    static uint8_t big[4088], out[4088];
    uint32_t len;
    CHECK_EQ(bpftime_ringbuf_output(h, big, 3992, 0), 0); /* total 4000 */
    CHECK_EQ(bpftime_ringbuf_read(r, id, out, sizeof out, &len, NULL), 1);
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_CONS_POS), 4000);
    CHECK(bpftime_ringbuf_reserve(h, 4000) == NULL); /* total 4008 + 96 padding */
    CHECK_EQ(bpftime_ringbuf_lost(r, id), 1);
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_PROD_POS), 4000);
    uint8_t *p = bpftime_ringbuf_reserve(h, 3992); /* total 4000 + 96 padding */
    CHECK(p == data + 8);
    bpftime_ringbuf_submit(p, 0, false);
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_PROD_POS), 4000 + 96 + 4000);
    CHECK_EQ(bpftime_ringbuf_read(r, id, out, sizeof out, &len, NULL), 1);
    CHECK_EQ(len, 3992);
    bpftime_region_close(r);
}

static uint64_t now_ms(void)
{
    return rt_now_ns(CLOCK_MONOTONIC) / 1000000;
}

/* The producer's commit wakes a consumer blocked in the futex: the consumer
 * waits with a 20 s timeout, the producer (another process) submits only once
 * it sees the consumer registered as a waiter, and the consumer must return
 * with the record long before its timeout, with the wake sequence advanced by
 * the commit. A consumer that is never woken returns only at the timeout. */
TEST(poll_wakes_consumer_in_another_process)
{
    int id;
    struct bpftime_region *r = mk_with_map(t, "wake", "rb", BPFTIME_MAP_RINGBUF, 0, 0, 4096, &id);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    /* timeout without data */
    uint64_t t0 = now_ms();
    CHECK_EQ(bpftime_ringbuf_poll(r, id, 30), 0);
    CHECK(now_ms() - t0 >= 25);
    uint32_t seq0 = atomic_load(&h->rb->wake_seq);
    pid_t pid = fork();
    if (pid == 0) {
        /* condition, not a delay: submit once the parent is waiting */
        while (atomic_load(&h->rb->waiters) == 0)
            usleep(1000);
        _exit(bpftime_ringbuf_output(h, "ping", 4, 0) == 0 ? 0 : 1);
    }
    t0 = now_ms();
    CHECK_EQ(bpftime_ringbuf_poll(r, id, 20000), 1);
    /* woken by the commit: far below the 20 s timeout even on a loaded machine */
    CHECK(now_ms() - t0 < 10000);
    CHECK(atomic_load(&h->rb->wake_seq) != seq0);
    char buf[8];
    uint32_t len;
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 1);
    CHECK(memcmp(buf, "ping", 4) == 0);
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    bpftime_region_close(r);
}

/* Without a waiter a commit does not enter the kernel (no futex wake) unless
 * BPF_RB_FORCE_WAKEUP asks; BPF_RB_NO_WAKEUP never wakes. */
TEST(commit_wakes_only_when_someone_waits_or_forced)
{
    int id;
    struct bpftime_region *r =
        mk_with_map(t, "wakeflags", "rb", BPFTIME_MAP_RINGBUF, 0, 0, 4096, &id);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    uint32_t seq = atomic_load(&h->rb->wake_seq);
    CHECK_EQ(bpftime_ringbuf_output(h, "a", 1, 0), 0);
    CHECK_EQ(atomic_load(&h->rb->wake_seq), seq);
    CHECK_EQ(bpftime_ringbuf_output(h, "b", 1, BPFTIME_RB_FORCE_WAKEUP), 0);
    CHECK_EQ(atomic_load(&h->rb->wake_seq), seq + 1);
    atomic_fetch_add(&h->rb->waiters, 1); /* as a blocked consumer would */
    char buf[8];
    uint32_t len;
    for (int i = 0; i < 2; i++) /* caught up: "a" and "b" read */
        CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 1);
    CHECK_EQ(bpftime_ringbuf_output(h, "c", 1, BPFTIME_RB_NO_WAKEUP), 0);
    CHECK_EQ(atomic_load(&h->rb->wake_seq), seq + 1);
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 1);
    CHECK_EQ(bpftime_ringbuf_output(h, "d", 1, 0), 0);
    CHECK_EQ(atomic_load(&h->rb->wake_seq), seq + 2);
    atomic_fetch_sub(&h->rb->waiters, 1);
    bpftime_region_close(r);
}

/* As the kernel's ringbuf (bpf_ringbuf_commit): a commit wakes a waiting
 * consumer only when the consumer has read everything before this record.
 * A consumer sleeps only when the record at its position is not committed,
 * so the commit of that record wakes it, and a commit behind unread records
 * would only cost a futex syscall per record while the consumer runs. */
TEST(commit_wakes_only_a_consumer_that_caught_up)
{
    int id;
    struct bpftime_region *r =
        mk_with_map(t, "wakecaught", "rb", BPFTIME_MAP_RINGBUF, 0, 0, 4096, &id);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    char buf[64];
    uint32_t len;
    uint32_t seq = atomic_load(&h->rb->wake_seq);
    atomic_fetch_add(&h->rb->waiters, 1); /* as a blocked consumer would */
    CHECK_EQ(bpftime_ringbuf_output(h, "a", 1, 0), 0);
    CHECK_EQ(atomic_load(&h->rb->wake_seq), seq + 1); /* the first unread record */
    CHECK_EQ(bpftime_ringbuf_output(h, "b", 1, 0), 0);
    CHECK_EQ(bpftime_ringbuf_output(h, "c", 1, 0), 0);
    CHECK_EQ(atomic_load(&h->rb->wake_seq), seq + 1); /* behind "a": no syscall */
    CHECK_EQ(bpftime_ringbuf_output(h, "d", 1, BPFTIME_RB_FORCE_WAKEUP), 0);
    CHECK_EQ(atomic_load(&h->rb->wake_seq), seq + 2); /* unless forced */
    for (int i = 0; i < 4; i++)
        CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 1);
    CHECK_EQ(bpftime_ringbuf_output(h, "e", 1, 0), 0); /* caught up again */
    CHECK_EQ(atomic_load(&h->rb->wake_seq), seq + 3);
    /* reserved out of order: the record behind the consumer's wakes it */
    void *f = bpftime_ringbuf_reserve(h, 1);
    void *g = bpftime_ringbuf_reserve(h, 1);
    CHECK(f && g);
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 1); /* "e" */
    bpftime_ringbuf_submit(g, 0, false);
    CHECK_EQ(atomic_load(&h->rb->wake_seq), seq + 3);
    bpftime_ringbuf_submit(f, 0, false);
    CHECK_EQ(atomic_load(&h->rb->wake_seq), seq + 4);
    atomic_fetch_sub(&h->rb->waiters, 1);
    bpftime_region_close(r);
}

/* The edge where a record does not fit before the end of the ring: the
 * producer pads to the end with a discarded record and writes at offset 0.
 * A consumer that had read everything waits at the pad, which is not the
 * record's position: the commit must wake it all the same. */
TEST(commit_after_padding_wakes_a_consumer_that_caught_up)
{
    int id;
    struct bpftime_region *r =
        mk_with_map(t, "wakepad", "rb", BPFTIME_MAP_RINGBUF, 0, 0, 4096, &id);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    char buf[4096];
    uint32_t len;
    /* 3000 + 8 bytes used, then read: the consumer is at 3008, 1088 left */
    CHECK_EQ(bpftime_ringbuf_output(h, buf, 3000, BPFTIME_RB_NO_WAKEUP), 0);
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 1);
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_CONS_POS), 3008);
    uint32_t seq = atomic_load(&h->rb->wake_seq);
    atomic_fetch_add(&h->rb->waiters, 1);
    CHECK_EQ(bpftime_ringbuf_output(h, buf, 2000, 0), 0); /* does not fit: pad + offset 0 */
    CHECK_EQ(atomic_load(&h->rb->wake_seq), seq + 1);
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 1);
    CHECK_EQ(len, 2000);
    atomic_fetch_sub(&h->rb->waiters, 1);
    bpftime_region_close(r);
}

TEST(perf_event_array_per_cpu_streams)
{
    int id;
    struct bpftime_region *r =
        mk_with_map(t, "perf", "events", BPFTIME_MAP_PERF_EVENT_ARRAY, 4, 4, 0, &id);
    uint32_t n = bpftime_region_ncpus(r);
    struct bpftime_map_info info;
    CHECK_EQ(bpftime_map_get(r, id, &info), 0);
    CHECK_EQ(info.max_entries, n);
    CHECK_EQ(info.map_extra, 64 * 1024);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    uint32_t v = 7;
    CHECK_EQ(bpftime_perf_event_output(h, n - 1, &v, 4), 0);
    CHECK_EQ(bpftime_perf_event_output(h, n, &v, 4), -E2BIG);
    CHECK_EQ(bpftime_perf_event_output(h, 1ull << 40, &v, 4), -EINVAL);
    v = 8;
    CHECK_EQ(bpftime_perf_event_output(h, BPFTIME_F_CURRENT_CPU, &v, 4), 0);
    int seen = 0;
    uint32_t sum = 0, len, cpu, out;
    while (bpftime_ringbuf_read(r, id, &out, 4, &len, &cpu) == 1) {
        CHECK(cpu < n);
        if (out == 7)
            CHECK_EQ(cpu, n - 1);
        sum += out;
        seen++;
    }
    CHECK_EQ(seen, 2);
    CHECK_EQ(sum, 15);
    /* consumers are woken through the map's single wake word */
    pid_t pid = fork();
    if (pid == 0) {
        while (atomic_load(&h->rb->waiters) == 0) /* the parent is waiting */
            usleep(1000);
        uint32_t x = 1;
        _exit(bpftime_perf_event_output(h, 0, &x, 4) == 0 ? 0 : 1);
    }
    CHECK_EQ(bpftime_ringbuf_poll(r, id, 10000), 1);
    waitpid(pid, NULL, 0);
    CHECK_EQ(bpftime_ringbuf_read(r, id, &out, 4, &len, &cpu), 1);
    CHECK_EQ(cpu, 0);
    bpftime_region_close(r);
}

TEST(trace_ring_records)
{
    struct bpftime_region *r = mk("trace");
    CHECK(r);
    CHECK_EQ(bpftime_trace_poll(r, 0), 0);
    CHECK_EQ(bpftime_trace_write(r, "hello trace", 11), 11);
    CHECK_EQ(bpftime_trace_poll(r, 0), 1);
    uint8_t buf[256];
    uint32_t len;
    CHECK_EQ(bpftime_trace_read(r, buf, sizeof buf, &len), 1);
    CHECK_EQ(len, BPFTIME_TRACE_HDR + 12);
    uint32_t pid;
    memcpy(&pid, buf + 8, 4);
    CHECK_EQ(pid, getpid());
    CHECK(strcmp((char *)buf + BPFTIME_TRACE_HDR, "hello trace") == 0);
    CHECK(buf[16] != 0); /* comm */
    bpftime_region_close(r);
}
