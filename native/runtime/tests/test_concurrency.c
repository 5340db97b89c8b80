/* Many processes on one region: exact totals in array, hash and per-CPU
 * maps, no ringbuf record lost or duplicated, and a process killed while
 * holding a lock does not wedge the others. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "runtime/runtime_internal.h"
#include "runtime/tests/region_fixture.h"
#include "test/harness.h"

#define NPROC 4
#define ITERS 20000
#define NRECORDS 20000

struct ids {
    int arr, hash, pcpu_arr, pcpu_hash, lru, rb;
};

struct rec {
    uint32_t proc;
    uint32_t seq;
    uint64_t check;
};

static int worker(const char *name, const struct ids *ids, int proc, int start_fd, int ack_fd)
{
    struct bpftime_region *r;
    if (bpftime_region_open(name, &r) != 0)
        return 10;
    if (write(ack_fd, "o", 1) != 1)
        return 17;
    char go;
    if (read(start_fd, &go, 1) != 1)
        return 11;
    struct bpftime_map *arr = bpftime_map_handle(r, ids->arr);
    struct bpftime_map *hash = bpftime_map_handle(r, ids->hash);
    struct bpftime_map *pa = bpftime_map_handle(r, ids->pcpu_arr);
    struct bpftime_map *ph = bpftime_map_handle(r, ids->pcpu_hash);
    struct bpftime_map *lru = bpftime_map_handle(r, ids->lru);
    struct bpftime_map *rb = bpftime_map_handle(r, ids->rb);
    uint32_t zero = 0, shared = 0xffffffff;
    for (uint32_t i = 0; i < ITERS; i++) {
        /* array: atomic add through the helper pointer, plus plain updates
         * of this process's own slot */
        uint64_t *c = bpftime_map_lookup_ptr(arr, &zero);
        __atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
        uint32_t mine = (uint32_t)proc + 1;
        uint64_t val = i;
        if (bpftime_map_h_update(arr, &mine, &val, BPFTIME_ANY, true) != 0)
            return 12;
        /* hash: own keys inserted then half deleted; a shared counter that
         * every process creates on first use */
        uint32_t key = (uint32_t)proc * ITERS + i;
        if (bpftime_map_h_update(hash, &key, &val, BPFTIME_NOEXIST, true) != 0)
            return 13;
        if (i % 2 && bpftime_map_h_delete(hash, &key) != 0)
            return 14;
        uint64_t *sc = bpftime_map_lookup_ptr(hash, &shared);
        if (!sc) {
            uint64_t z = 0;
            int rc = bpftime_map_h_update(hash, &shared, &z, BPFTIME_NOEXIST, true);
            if (rc != 0 && rc != -EEXIST)
                return 15;
            sc = bpftime_map_lookup_ptr(hash, &shared);
        }
        __atomic_fetch_add(sc, 1, __ATOMIC_RELAXED);
        /* per-CPU: this CPU's slot (atomically: two processes may share a CPU) */
        __atomic_fetch_add((uint64_t *)bpftime_map_lookup_ptr(pa, &zero), 1, __ATOMIC_RELAXED);
        uint64_t *pv = bpftime_map_lookup_ptr(ph, &zero);
        if (!pv) {
            uint64_t z = 0;
            bpftime_map_h_update(ph, &zero, &z, BPFTIME_NOEXIST, true);
            pv = bpftime_map_lookup_ptr(ph, &zero);
        }
        __atomic_fetch_add(pv, 1, __ATOMIC_RELAXED);
        /* LRU under churn: always succeeds, never exceeds max_entries */
        uint32_t lk = key % 5000;
        if (bpftime_map_h_update(lru, &lk, &val, BPFTIME_ANY, true) != 0)
            return 16;
        bpftime_map_lookup_ptr(lru, &lk);
    }
    for (uint32_t s = 0; s < NRECORDS; s++) {
        struct rec rc = {(uint32_t)proc, s, (uint64_t)proc * 1000003u + s};
        if (s % 2) {
            while (bpftime_ringbuf_output(rb, &rc, sizeof rc, 0) == -EAGAIN)
                usleep(50);
        } else {
            struct rec *p;
            while (!(p = bpftime_ringbuf_reserve(rb, sizeof rc)))
                usleep(50);
            *p = rc;
            bpftime_ringbuf_submit(p, 0, false);
        }
    }
    bpftime_region_close(r);
    return 0;
}

TEST(four_processes_exact_totals_and_ringbuf)
{
    char name[64];
    snprintf(name, sizeof name, "rt-conc-%d", (int)getpid());
    struct bpftime_region *r;
    CHECK_EQ(bpftime_region_create(name, 32 << 20, &r), 0);
    struct ids ids;
    ids.arr = bpftime_map_create(r, "arr", BPFTIME_MAP_ARRAY, 4, 8, NPROC + 1, 0, 0);
    ids.hash = bpftime_map_create(r, "hash", BPFTIME_MAP_HASH, 4, 8, NPROC * ITERS + 1, 0, 0);
    ids.pcpu_arr = bpftime_map_create(r, "pa", BPFTIME_MAP_PERCPU_ARRAY, 4, 8, 1, 0, 0);
    ids.pcpu_hash = bpftime_map_create(r, "ph", BPFTIME_MAP_PERCPU_HASH, 4, 8, 4, 0, 0);
    ids.lru = bpftime_map_create(r, "lru", BPFTIME_MAP_LRU_HASH, 4, 8, 1000, 0, 0);
    ids.rb = bpftime_map_create(r, "rb", BPFTIME_MAP_RINGBUF, 0, 0, 64 * 1024, 0, 0);
    CHECK(ids.arr > 0 && ids.hash > 0 && ids.pcpu_arr > 0 && ids.pcpu_hash > 0 && ids.lru > 0 &&
          ids.rb > 0);
    int start[2], ack[2];
    CHECK_EQ(pipe(start), 0);
    CHECK_EQ(pipe(ack), 0);
    pid_t pids[NPROC];
    for (int p = 0; p < NPROC; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            close(start[1]);
            _exit(worker(name, &ids, p, start[0], ack[1]));
        }
    }
    close(start[0]);
    close(ack[1]);
    /* every worker mapped the region by name: the file can go now, so a
     * failing check leaves nothing behind in /dev/shm */
    char acks[NPROC];
    size_t got_acks = 0;
    ssize_t na;
    while (got_acks < NPROC && (na = read(ack[0], acks, NPROC - got_acks)) > 0)
        got_acks += (size_t)na;
    bpftime_region_remove(name);
    CHECK_EQ(got_acks, NPROC);
    CHECK_EQ(write(start[1], "gggg", NPROC), NPROC);
    close(start[1]);

    /* consume while they produce */
    uint32_t next_seq[NPROC] = {0};
    uint64_t got = 0;
    while (got < (uint64_t)NPROC * NRECORDS) {
        int prc = bpftime_ringbuf_poll(r, ids.rb, 5000);
        CHECK_EQ(prc, 1);
        struct rec rc;
        uint32_t len;
        while (bpftime_ringbuf_read(r, ids.rb, &rc, sizeof rc, &len, NULL) == 1) {
            CHECK_EQ(len, sizeof rc);
            CHECK(rc.proc < NPROC);
            /* per producer in order: nothing lost, nothing duplicated */
            CHECK_EQ(rc.seq, next_seq[rc.proc]);
            CHECK_EQ(rc.check, (uint64_t)rc.proc * 1000003u + rc.seq);
            next_seq[rc.proc]++;
            got++;
        }
    }
    for (int p = 0; p < NPROC; p++) {
        int st;
        waitpid(pids[p], &st, 0);
        CHECK(WIFEXITED(st));
        CHECK_EQ(WEXITSTATUS(st), 0);
        CHECK_EQ(next_seq[p], NRECORDS);
    }
    uint32_t len;
    struct rec extra;
    CHECK_EQ(bpftime_ringbuf_read(r, ids.rb, &extra, sizeof extra, &len, NULL), 0);

    uint32_t zero = 0, shared = 0xffffffff;
    uint64_t v;
    CHECK_EQ(bpftime_map_lookup(r, ids.arr, &zero, &v), 0);
    CHECK_EQ(v, (uint64_t)NPROC * ITERS);
    for (uint32_t p = 1; p <= NPROC; p++) {
        CHECK_EQ(bpftime_map_lookup(r, ids.arr, &p, &v), 0);
        CHECK_EQ(v, ITERS - 1);
    }
    CHECK_EQ(bpftime_map_lookup(r, ids.hash, &shared, &v), 0);
    CHECK_EQ(v, (uint64_t)NPROC * ITERS);
    uint32_t n = 0, k;
    int rc = bpftime_map_get_next_key(r, ids.hash, NULL, &k);
    while (rc == 0) {
        n++;
        rc = bpftime_map_get_next_key(r, ids.hash, &k, &k);
    }
    CHECK_EQ(n, NPROC * ITERS / 2 + 1);
    uint32_t ncpu = bpftime_region_ncpus(r);
    uint64_t *all = calloc(ncpu, 8);
    CHECK_EQ(bpftime_map_lookup(r, ids.pcpu_arr, &zero, all), 0);
    uint64_t sum = 0;
    for (uint32_t c = 0; c < ncpu; c++)
        sum += all[c];
    CHECK_EQ(sum, (uint64_t)NPROC * ITERS);
    CHECK_EQ(bpftime_map_lookup(r, ids.pcpu_hash, &zero, all), 0);
    sum = 0;
    for (uint32_t c = 0; c < ncpu; c++)
        sum += all[c];
    CHECK_EQ(sum, (uint64_t)NPROC * ITERS);
    free(all);
    n = 0;
    rc = bpftime_map_get_next_key(r, ids.lru, NULL, &k);
    while (rc == 0 && n < 2000) {
        n++;
        rc = bpftime_map_get_next_key(r, ids.lru, &k, &k);
    }
    CHECK_EQ(n, 1000);
    bpftime_region_close(r);
}

TEST(killed_lock_holder_does_not_wedge_region)
{
    char name[64];
    snprintf(name, sizeof name, "rt-kill-%d", (int)getpid());
    struct bpftime_region *r;
    CHECK_EQ(bpftime_region_create(name, 8 << 20, &r), 0);
    int hid = bpftime_map_create(r, "h", BPFTIME_MAP_HASH, 4, 8, 16, 0, 0);
    int qid = bpftime_map_create(r, "q", BPFTIME_MAP_QUEUE, 0, 8, 16, 0, 0);
    int rid = bpftime_map_create(r, "rb", BPFTIME_MAP_RINGBUF, 0, 0, 4096, 0, 0);
    struct bpftime_map *h = bpftime_map_handle(r, hid);
    struct bpftime_map *q = bpftime_map_handle(r, qid);
    struct bpftime_map *rb = bpftime_map_handle(r, rid);
    int ready[2];
    CHECK_EQ(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct bpftime_region *c;
        if (bpftime_region_open(name, &c) != 0)
            _exit(1);
        struct bpftime_map *ch = bpftime_map_handle(c, hid);
        struct bpftime_map *cq = bpftime_map_handle(c, qid);
        struct bpftime_map *crb = bpftime_map_handle(c, rid);
        /* take every lock a data plane may hold, then die */
        shm_mutex_t *locks = rt_ptr(c, ch->hash->locks_off);
        for (uint32_t i = 0; i < ch->hash->n_locks; i++)
            shm_lock(&locks[i]);
        shm_lock(&ch->hash->free_lock);
        shm_lock(&cq->m->lock);
        shm_owner_lock(&crb->rb->lock); /* the producers' owner lock */
        shm_lock(&crb->rb->cons_lock);
        shm_lock(&c->hdr->table_lock);
        shm_lock(&c->hdr->alloc_lock);
        if (write(ready[1], "x", 1) != 1)
            _exit(2);
        pause();
        _exit(0);
    }
    char x;
    ssize_t nr = read(ready[0], &x, 1);
    bpftime_region_remove(name);
    CHECK_EQ(nr, 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    /* the robust locks and the owner lock come back to us */
    bpftime_log_set_level(BPFTIME_LOG_ERROR); /* silence the recovery warnings */
    for (uint32_t k = 0; k < 16; k++) {
        uint64_t v = k;
        CHECK_EQ(bpftime_map_h_update(h, &k, &v, BPFTIME_ANY, false), 0);
    }
    uint64_t v = 1;
    CHECK_EQ(bpftime_map_h_push(q, &v, 0), 0);
    CHECK_EQ(bpftime_ringbuf_output(rb, &v, 8, 0), 0);
    uint32_t len;
    CHECK_EQ(bpftime_ringbuf_read(r, rid, &v, 8, &len, NULL), 1);
    CHECK(bpftime_map_create(r, "after", BPFTIME_MAP_ARRAY, 4, 4, 4, 0, 0) > 0);
    bpftime_region_close(r);
}

TEST(processes_killed_mid_update_leave_maps_consistent)
{
    /* unlinked at once: children use the inherited mapping */
    struct bpftime_region *r = test_region("rt", "churn", 8 << 20);
    CHECK(r);
    int hid = bpftime_map_create(r, "h", BPFTIME_MAP_HASH, 4, 8, 64, 0, 0);
    int lid = bpftime_map_create(r, "l", BPFTIME_MAP_LRU_HASH, 4, 8, 16, 0, 0);
    bpftime_log_set_level(BPFTIME_LOG_ERROR);
    for (int round = 0; round < 10; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            struct bpftime_map *ch = bpftime_map_handle(r, hid);
            struct bpftime_map *cl = bpftime_map_handle(r, lid);
            for (uint64_t i = 0;; i++) {
                uint32_t k = (uint32_t)(i % 100);
                bpftime_map_h_update(ch, &k, &i, BPFTIME_ANY, true);
                bpftime_map_h_update(cl, &k, &i, BPFTIME_ANY, true);
                if (i % 3 == 0)
                    bpftime_map_h_delete(ch, &k);
            }
        }
        usleep(2000 + (useconds_t)round * 500);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    /* still usable: iterate, insert, delete without hanging */
    uint32_t k, n = 0;
    int rc = bpftime_map_get_next_key(r, hid, NULL, &k);
    while (rc == 0 && n < 1000) {
        n++;
        rc = bpftime_map_get_next_key(r, hid, &k, &k);
    }
    CHECK(n <= 64);
    for (uint32_t i = 1000; i < 1010; i++) {
        uint64_t v = i;
        int u = bpftime_map_update(r, lid, &i, &v, BPFTIME_ANY);
        CHECK_EQ(u, 0);
        CHECK_EQ(bpftime_map_lookup(r, lid, &i, &v), 0);
    }
    bpftime_region_close(r);
}
