/* Ringbuf producers across processes: the owner lock (owner_lock.c) that
 * serialises their reservations, a producer killed inside it, a reservation
 * from a signal handler interrupting one, and many producer processes
 * against one consumer. A wedged lock hangs a test until the harness's
 * alarm ends it as a failure. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"
#include "runtime/tests/region_fixture.h"
#include "test/harness.h"

TEST_REGION_MAKER("rt-rbp", 8 << 20)

static int stall_stage;
static int stall_pipe = -1;

/* The test hook in a producer that is to die inside rb_reserve: at the
 * chosen stage tell the parent, then wait to be killed. */
static void stall_forever(int stage)
{
    if (stage != stall_stage)
        return;
    char c = (char)stage;
    if (write(stall_pipe, &c, 1) != 1)
        _exit(3);
    for (;;)
        pause();
}

/* Forks a producer that stops inside its reservation of `size` bytes at
 * `stage` and kills it there with SIGKILL, the lock held. */
static void kill_producer_inside_reserve(struct test_ctx *t, struct bpftime_map *h, int stage,
                                         size_t size)
{
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        stall_stage = stage;
        stall_pipe = fds[1];
        rt_rb_reserve_stall = stall_forever;
        static char doomed[4096];
        bpftime_ringbuf_output(h, doomed, size, 0);
        _exit(4); /* not reached: the hook never returns */
    }
    close(fds[1]);
    char c = 0;
    CHECK_EQ(read(fds[0], &c, 1), 1); /* inside the critical section now */
    CHECK_EQ(c, stage);
    close(fds[0]);
    CHECK_EQ(kill(pid, SIGKILL), 0);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    CHECK(atomic_load(&h->rb->lock.word) != 0); /* it died holding the lock */
}

/* A producer killed inside reserve at `stage` between "before" and "after":
 * the next producer takes the lock over (and releases it), and the consumer
 * reads exactly those two records, with nothing left over (positions
 * consistent: everything published was consumed). */
static void kill_between_before_and_after(struct test_ctx *t, const char *tag, int stage)
{
    int id;
    struct bpftime_region *r = mk_with_map(t, tag, "rb", BPFTIME_MAP_RINGBUF, 0, 0, 4096, &id);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    CHECK_EQ(bpftime_ringbuf_output(h, "before", 6, 0), 0);
    kill_producer_inside_reserve(t, h, stage, 6);
    CHECK_EQ(bpftime_ringbuf_output(h, "after", 5, 0), 0);
    CHECK_EQ(atomic_load(&h->rb->lock.word), 0);
    char buf[16];
    uint32_t len;
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 1);
    CHECK(len == 6 && memcmp(buf, "before", 6) == 0);
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 1);
    CHECK(len == 5 && memcmp(buf, "after", 5) == 0);
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 0);
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_AVAIL_DATA), 0);
    bpftime_region_close(r);
}

/* Killed before it moved producer_pos: nothing of it is visible. */
TEST(producer_killed_before_publishing_leaves_no_trace)
{
    kill_between_before_and_after(t, "kill1", 1);
}

/* Killed after it moved producer_pos: its record was reserved (BUSY) but
 * never handed to a program, so nobody will commit it. The producer that
 * recovers the lock discards it; otherwise the consumer would wait on it
 * forever and never see "after". */
TEST(producer_killed_after_publishing_has_its_record_discarded)
{
    kill_between_before_and_after(t, "kill2", 2);
}

/* The dead producer's record fills the whole ring, so the ring stays full
 * while the consumer waits on it: the next producer must still take the
 * lock over and discard it (a producer that gave up on a full ring without
 * looking at the lock would leave the consumer waiting forever). */
TEST(producer_killed_holding_a_record_that_fills_the_ring_is_recovered)
{
    int id;
    struct bpftime_region *r =
        mk_with_map(t, "killfull", "rb", BPFTIME_MAP_RINGBUF, 0, 0, 4096, &id);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    kill_producer_inside_reserve(t, h, 2, 4096 - 8);
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_AVAIL_DATA), 4096);
    CHECK_EQ(bpftime_ringbuf_output(h, "after", 5, 0), -EAGAIN); /* still full, but repaired */
    char buf[16];
    uint32_t len;
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 0); /* skips it */
    CHECK_EQ(bpftime_ringbuf_query(h, BPFTIME_RB_AVAIL_DATA), 0);
    CHECK_EQ(bpftime_ringbuf_output(h, "after", 5, 0), 0);
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 1);
    CHECK(len == 5 && memcmp(buf, "after", 5) == 0);
    bpftime_region_close(r);
}

static struct bpftime_map *reentered_map;
static int reentered_rc = 1;

static void reserve_again(int stage)
{
    if (stage == 1)
        reentered_rc = bpftime_ringbuf_output(reentered_map, "inner", 5, 0);
}

/* A program run from a signal handler that interrupted this thread inside
 * a reservation (the lock held by itself) fails to reserve, as the kernel's
 * ringbuf does in NMI context, instead of deadlocking; the outer
 * reservation completes. */
TEST(reserve_reentered_on_the_same_thread_fails_instead_of_deadlocking)
{
    int id;
    struct bpftime_region *r =
        mk_with_map(t, "reenter", "rb", BPFTIME_MAP_RINGBUF, 0, 0, 4096, &id);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    reentered_map = h;
    rt_rb_reserve_stall = reserve_again;
    CHECK_EQ(bpftime_ringbuf_output(h, "outer", 5, 0), 0);
    rt_rb_reserve_stall = NULL;
    CHECK_EQ(reentered_rc, -EAGAIN);
    CHECK_EQ(bpftime_ringbuf_lost(r, id), 1);
    char buf[16];
    uint32_t len;
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 1);
    CHECK(len == 5 && memcmp(buf, "outer", 5) == 0);
    CHECK_EQ(bpftime_ringbuf_read(r, id, buf, sizeof buf, &len, NULL), 0);
    bpftime_region_close(r);
}

#define PRODUCERS 4
#define RECORDS_PER_PRODUCER 20000

struct rec {
    uint32_t producer, seq;
};

/* Four producer processes against one consumer on a small ring (it fills:
 * producers retry on -EAGAIN): every committed record arrives exactly once,
 * and each producer's records in the order it committed them. */
TEST(four_producer_processes_each_record_read_exactly_once)
{
    int id;
    struct bpftime_region *r = mk_with_map(t, "multi", "rb", BPFTIME_MAP_RINGBUF, 0, 0, 16384, &id);
    struct bpftime_map *h = bpftime_map_handle(r, id);
    pid_t pids[PRODUCERS];
    for (uint32_t p = 0; p < PRODUCERS; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            for (uint32_t s = 0; s < RECORDS_PER_PRODUCER; s++) {
                struct rec v = {p, s};
                while (bpftime_ringbuf_output(h, &v, sizeof v, 0) == -EAGAIN)
                    sched_yield(); /* full: the consumer is behind */
            }
            _exit(0);
        }
    }
    uint32_t next[PRODUCERS] = {0};
    uint64_t got = 0, wrong = 0;
    while (got < (uint64_t)PRODUCERS * RECORDS_PER_PRODUCER) {
        struct rec v;
        uint32_t len;
        int rc = bpftime_ringbuf_read(r, id, &v, sizeof v, &len, NULL);
        if (rc == 0) {
            CHECK(bpftime_ringbuf_poll(r, id, 20000) >= 0);
            continue;
        }
        CHECK_EQ(rc, 1);
        if (len != sizeof v || v.producer >= PRODUCERS || v.seq != next[v.producer]) {
            wrong++;
            break;
        }
        next[v.producer]++;
        got++;
    }
    CHECK_EQ(wrong, 0);
    for (uint32_t p = 0; p < PRODUCERS; p++) {
        int st;
        CHECK_EQ(waitpid(pids[p], &st, 0), pids[p]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        CHECK_EQ(next[p], RECORDS_PER_PRODUCER);
    }
    struct rec v;
    uint32_t len;
    CHECK_EQ(bpftime_ringbuf_read(r, id, &v, sizeof v, &len, NULL), 0); /* nothing extra */
    bpftime_region_close(r);
}
