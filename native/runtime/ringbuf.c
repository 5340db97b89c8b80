/* Ringbuf cores (BPF_MAP_TYPE_RINGBUF, each CPU of a perf_event_array, the
 * trace_printk ring): kernel-style records, producers serialised by a
 * owner lock (owner_lock.c), consumers woken across processes through a futex word. */
#include <linux/futex.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"

static _Atomic uint64_t *cons_pos(struct shm_ringbuf *rb)
{
    return (_Atomic uint64_t *)(void *)((uint8_t *)rb + SHM_PAGE);
}
static _Atomic uint64_t *prod_pos(struct shm_ringbuf *rb)
{
    return (_Atomic uint64_t *)(void *)((uint8_t *)rb + 2 * SHM_PAGE);
}
static uint8_t *rb_data(struct shm_ringbuf *rb)
{
    return (uint8_t *)rb + SHM_RB_HDR_PAGES * SHM_PAGE;
}
static _Atomic uint32_t *hdr_len(uint8_t *hdr)
{
    return (_Atomic uint32_t *)(void *)hdr;
}
static uint32_t *hdr_pgoff(uint8_t *hdr)
{
    return (uint32_t *)(void *)(hdr + 4);
}
static struct shm_ringbuf *wake_core(struct shm_ringbuf *rb)
{
    return (struct shm_ringbuf *)(void *)((uint8_t *)rb + rb->wake_delta);
}

uint64_t rb_core_size(uint64_t data_size)
{
    return SHM_RB_HDR_PAGES * SHM_PAGE + data_size;
}

void rb_core_init(struct shm_ringbuf *rb, uint64_t data_size, struct shm_ringbuf *wake)
{
    rb->data_size = data_size;
    rb->mask = data_size - 1;
    rb->wake_delta = wake ? (int64_t)((uint8_t *)wake - (uint8_t *)rb) : 0;
    atomic_store(&rb->lock.word, 0);
    rb->pend_rec = rb->pend_end = 0;
    shm_mutex_init(&rb->cons_lock);
}

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
    return syscall(SYS_futex, (uint32_t *)(void *)addr, op, val, ts, NULL, 0);
}

/* The lock was taken over from a producer that died holding it. If it had
 * already moved producer_pos past its record (pend_end), that record is
 * BUSY and nobody will ever commit it: discard it, or the consumer waits on
 * it forever. Headers it wrote past producer_pos are not records yet: the
 * next reservation overwrites them. True when a record was discarded. */
static bool rb_repair_dead_producer(struct shm_ringbuf *rb)
{
    bool discarded = false;
    uint64_t prod = atomic_load_explicit(prod_pos(rb), memory_order_relaxed);
    if (rb->pend_end && prod == rb->pend_end && rb->pend_rec < prod &&
        prod - rb->pend_rec <= rb->data_size) {
        uint8_t *hdr = rb_data(rb) + (rb->pend_rec & rb->mask);
        uint32_t len = atomic_load_explicit(hdr_len(hdr), memory_order_relaxed);
        if (len & RB_BUSY_BIT) {
            atomic_store_explicit(hdr_len(hdr), (len & ~RB_BUSY_BIT) | RB_DISCARD_BIT,
                                  memory_order_release);
            discarded = true;
        }
    }
    rb->pend_rec = rb->pend_end = 0;
    return discarded;
}

static void rb_wake(struct shm_ringbuf *rb, uint64_t rec_off, uint64_t flags);

void *rb_reserve(struct shm_ringbuf *rb, uint64_t size)
{
    if (size > rb->data_size - RB_HDR_SZ || size > (RB_DISCARD_BIT - 1)) {
        atomic_fetch_add_explicit(&rb->lost, 1, memory_order_relaxed);
        return NULL;
    }
    uint64_t total = round_up8(size + RB_HDR_SZ);
    uint8_t *data = rb_data(rb);
    /* Full, seen without taking the lock (a ring nobody reads fills, then
     * every event lands here): producer_pos only grows and is read first, so
     * if the record does not fit even without padding, the ring was full
     * when consumer_pos was read. Not while the lock is held: its holder may
     * have died with the record the consumer waits on (the ring stays full
     * until someone takes the lock and repairs it). */
    uint64_t prod_seen = atomic_load_explicit(prod_pos(rb), memory_order_acquire);
    if (prod_seen + total - atomic_load_explicit(cons_pos(rb), memory_order_acquire) >
            rb->data_size &&
        atomic_load_explicit(&rb->lock.word, memory_order_relaxed) == 0) {
        atomic_fetch_add_explicit(&rb->lost, 1, memory_order_relaxed);
        return NULL;
    }
    int locked = shm_owner_lock(&rb->lock);
    if (locked < 0) { /* a signal handler interrupted this thread's reserve */
        atomic_fetch_add_explicit(&rb->lost, 1, memory_order_relaxed);
        return NULL;
    }
    bool repaired = locked == 1 && rb_repair_dead_producer(rb);
    uint64_t cons = atomic_load_explicit(cons_pos(rb), memory_order_acquire);
    uint64_t prod = atomic_load_explicit(prod_pos(rb), memory_order_relaxed);
    uint64_t off = prod & rb->mask;
    uint64_t pad = off + total > rb->data_size ? rb->data_size - off : 0;
    if (prod + pad + total - cons > rb->data_size) {
        shm_owner_unlock(&rb->lock);
        atomic_fetch_add_explicit(&rb->lost, 1, memory_order_relaxed);
        return NULL;
    }
    if (pad) {
        /* no double mapping: fill to the end with a discarded record */
        uint8_t *ph = data + off;
        *hdr_pgoff(ph) = (uint32_t)((uint64_t)(ph - (uint8_t *)rb) / SHM_PAGE);
        atomic_store_explicit(hdr_len(ph), (uint32_t)(pad - RB_HDR_SZ) | RB_DISCARD_BIT,
                              memory_order_release);
    }
    uint64_t rec = prod + pad;
    uint8_t *hdr = data + (rec & rb->mask);
    *hdr_pgoff(hdr) = (uint32_t)((uint64_t)(hdr - (uint8_t *)rb) / SHM_PAGE);
    atomic_store_explicit(hdr_len(hdr), (uint32_t)size | RB_BUSY_BIT, memory_order_relaxed);
    rb->pend_rec = rec;
    rb->pend_end = rec + total;
    if (__builtin_expect(rt_rb_reserve_stall != NULL, 0))
        rt_rb_reserve_stall(1);
    atomic_store_explicit(prod_pos(rb), rec + total, memory_order_release);
    if (__builtin_expect(rt_rb_reserve_stall != NULL, 0))
        rt_rb_reserve_stall(2);
    rb->pend_end = 0;
    shm_owner_unlock(&rb->lock);
    if (repaired) /* a consumer may be asleep on the discarded record */
        rb_wake(rb, 0, BPFTIME_RB_FORCE_WAKEUP);
    return hdr + RB_HDR_SZ;
}

/* Whether the consumer has read everything before the record at data
 * offset rec_off. A consumer sleeps only when the record at its position is
 * not committed yet (rb_poll), so only the commit of that record needs to
 * wake it — as in the kernel (bpf_ringbuf_commit wakes when consumer_pos is
 * the record's position). Every other commit would cost a futex syscall per
 * record while the consumer is busy reading. The one gap between them can be
 * the padding rb_reserve writes when a record does not fit before the end of
 * the ring: then the record is at offset 0 and the consumer at the pad. */
static bool rb_consumer_caught_up(struct shm_ringbuf *rb, uint64_t rec_off)
{
    uint64_t cons_off = atomic_load_explicit(cons_pos(rb), memory_order_acquire) & rb->mask;
    if (cons_off == rec_off)
        return true;
    if (rec_off != 0)
        return false;
    uint32_t len = atomic_load_explicit(hdr_len(rb_data(rb) + cons_off), memory_order_acquire);
    return (len & RB_DISCARD_BIT) && !(len & RB_BUSY_BIT) &&
           cons_off + RB_HDR_SZ + (len & ~(RB_BUSY_BIT | RB_DISCARD_BIT)) == rb->data_size;
}

static void rb_wake(struct shm_ringbuf *rb, uint64_t rec_off, uint64_t flags)
{
    if (flags & BPFTIME_RB_NO_WAKEUP)
        return;
    struct shm_ringbuf *w = wake_core(rb);
    /* seq_cst pairs with the consumer's waiters++ / availability check; the
     * consumer stored its position before waiters++, so it is seen here */
    if ((flags & BPFTIME_RB_FORCE_WAKEUP) ||
        (atomic_load(&w->waiters) > 0 && rb_consumer_caught_up(rb, rec_off))) {
        atomic_fetch_add(&w->wake_seq, 1);
        futex(&w->wake_seq, FUTEX_WAKE, INT32_MAX, NULL);
    }
}

void rb_commit(void *sample, uint64_t flags, bool discard)
{
    uint8_t *hdr = (uint8_t *)sample - RB_HDR_SZ;
    uint64_t pg_off = *hdr_pgoff(hdr);
    struct shm_ringbuf *rb =
        (struct shm_ringbuf *)(void *)(((uintptr_t)hdr & ~(uintptr_t)(SHM_PAGE - 1)) -
                                       pg_off * SHM_PAGE);
    uint32_t len = atomic_load_explicit(hdr_len(hdr), memory_order_relaxed);
    len &= ~RB_BUSY_BIT;
    if (discard)
        len |= RB_DISCARD_BIT;
    atomic_exchange(hdr_len(hdr), len);
    rb_wake(rb, (uint64_t)(hdr - rb_data(rb)), flags);
}

bool rb_core_ok(const struct shm_ringbuf *rb, uint64_t data_size, int64_t wake_delta)
{
    return rb->data_size == data_size && rb->mask == data_size - 1 && rb->wake_delta == wake_delta;
}

/* Positions and record lengths come from shared memory: a record must lie
 * inside the data area (records never wrap, see rb_reserve) and the
 * producer can be at most one ring ahead of the consumer. */
static bool rb_record_fits(const struct shm_ringbuf *rb, uint64_t pos, uint32_t len)
{
    uint64_t off = pos & rb->mask;
    return off + RB_HDR_SZ + round_up8(len) <= rb->data_size;
}

/* Next committed record at the consumer position, skipping discarded ones
 * (consumer lock held). 1 with its header, 0 none, -EUCLEAN damaged. */
static int rb_peek(struct bpftime_region *r, struct shm_ringbuf *rb, uint64_t *cons_out,
                   uint8_t **hdr_out)
{
    uint64_t cons = atomic_load_explicit(cons_pos(rb), memory_order_relaxed);
    for (;;) {
        uint64_t prod = atomic_load_explicit(prod_pos(rb), memory_order_acquire);
        if (cons >= prod)
            return 0;
        if (prod - cons > rb->data_size || cons % 8 != 0)
            return rt_damaged(r, "ring buffer positions %llu and %llu are out of range",
                              (unsigned long long)cons, (unsigned long long)prod);
        uint8_t *hdr = rb_data(rb) + (cons & rb->mask);
        uint32_t len = atomic_load_explicit(hdr_len(hdr), memory_order_acquire);
        if (len & RB_BUSY_BIT)
            return 0;
        uint32_t n = len & ~(RB_BUSY_BIT | RB_DISCARD_BIT);
        if (!rb_record_fits(rb, cons, n))
            return rt_damaged(r, "a ring buffer record of %u bytes runs past the ring", n);
        if (!(len & RB_DISCARD_BIT)) {
            *cons_out = cons;
            *hdr_out = hdr;
            return 1;
        }
        cons += round_up8(n + RB_HDR_SZ);
        atomic_store_explicit(cons_pos(rb), cons, memory_order_release);
    }
}

static bool rb_avail(struct shm_ringbuf *rb)
{
    uint64_t cons = atomic_load_explicit(cons_pos(rb), memory_order_acquire);
    uint64_t prod = atomic_load_explicit(prod_pos(rb), memory_order_acquire);
    if (cons >= prod)
        return false;
    uint32_t len =
        atomic_load_explicit(hdr_len(rb_data(rb) + (cons & rb->mask)), memory_order_acquire);
    return !(len & RB_BUSY_BIT);
}

static int rb_core_damaged(struct bpftime_region *r)
{
    return rt_damaged(r, "a ring buffer's header was overwritten");
}

/* 1 + record, 0 none, -EMSGSIZE, -EUCLEAN */
static int rb_read(struct bpftime_region *r, struct shm_ringbuf *rb, uint64_t data_size,
                   int64_t wake_delta, void *buf, uint32_t buf_len, uint32_t *len_out)
{
    if (len_out)
        *len_out = 0;
    if (!rb_core_ok(rb, data_size, wake_delta))
        return rb_core_damaged(r);
    shm_lock(&rb->cons_lock);
    uint64_t cons = 0;
    uint8_t *hdr = NULL;
    int rc = rb_peek(r, rb, &cons, &hdr);
    if (rc == 1) {
        uint32_t len = atomic_load(hdr_len(hdr)) & ~(RB_BUSY_BIT | RB_DISCARD_BIT);
        if (len_out)
            *len_out = len;
        if (len > buf_len) {
            rc = bpftime_set_error(-EMSGSIZE,
                                   "ringbuf record of %u bytes does not fit a %u-byte buffer", len,
                                   buf_len);
        } else {
            memcpy(buf, hdr + RB_HDR_SZ, len);
            atomic_store_explicit(cons_pos(rb), cons + round_up8(len + RB_HDR_SZ),
                                  memory_order_release);
        }
    }
    shm_unlock(&rb->cons_lock);
    return rc;
}

/* Waits on the wake word of cores[0] until one of n cores has a record. */
static int rb_poll(struct bpftime_region *r, struct shm_ringbuf *first, uint64_t core_size,
                   uint32_t n, int timeout_ms)
{
    struct shm_ringbuf *w = wake_core(first);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms > 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    for (;;) {
        int rc = rt_check_truncated(r);
        if (rc)
            return rc;
        atomic_fetch_add(&w->waiters, 1);
        uint32_t seq = atomic_load(&w->wake_seq);
        bool any = false;
        for (uint32_t c = 0; c < n && !any; c++)
            any = rb_avail((struct shm_ringbuf *)(void *)((uint8_t *)first + c * core_size));
        if (any || timeout_ms == 0) {
            atomic_fetch_sub(&w->waiters, 1);
            return any ? 1 : 0;
        }
        struct timespec rel, *tsp = NULL;
        if (timeout_ms > 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            int64_t left = (int64_t)(deadline.tv_sec - now.tv_sec) * 1000000000LL +
                           (deadline.tv_nsec - now.tv_nsec);
            if (left <= 0) {
                atomic_fetch_sub(&w->waiters, 1);
                return 0;
            }
            rel.tv_sec = left / 1000000000LL;
            rel.tv_nsec = left % 1000000000LL;
            tsp = &rel;
        }
        futex(&w->wake_seq, FUTEX_WAIT, seq, tsp);
        /* the file may have shrunk while we slept: check before touching
         * the waiter count (a truncated region's count no longer matters) */
        rc = rt_check_truncated(r);
        if (rc)
            return rc;
        atomic_fetch_sub(&w->waiters, 1);
    }
}

/* ---- map-level API ---- */

static bool is_rb_map(const struct bpftime_map *h)
{
    return h && h->magic == MAP_HANDLE_MAGIC &&
           (h->type == BPFTIME_MAP_RINGBUF || h->type == BPFTIME_MAP_PERF_EVENT_ARRAY);
}

static struct shm_ringbuf *perf_core(const struct bpftime_map *h, uint32_t cpu)
{
    return (struct shm_ringbuf *)(void *)((uint8_t *)h->rb + (uint64_t)cpu * h->rb_core_size);
}

static int not_rb(uint32_t id)
{
    return bpftime_set_error(-EINVAL, "map %u is not a ringbuf or perf_event_array map", id);
}

/* The cores' headers as the map spec says (checked at every poll and read:
 * they are shared memory, the handle's copies of the spec are not). */
static bool rb_map_cores_ok(const struct bpftime_map *h)
{
    if (h->type == BPFTIME_MAP_RINGBUF)
        return rb_core_ok(h->rb, h->max_entries, 0);
    uint64_t size = h->rb_core_size - SHM_RB_HDR_PAGES * SHM_PAGE;
    for (uint32_t c = 0; c < h->max_entries; c++)
        if (!rb_core_ok(perf_core(h, c), size, -(int64_t)(c * h->rb_core_size)))
            return false;
    return true;
}

int bpftime_ringbuf_poll(struct bpftime_region *r, uint32_t map_id, int timeout_ms)
{
    struct bpftime_map *h = bpftime_map_handle(r, map_id);
    if (!h)
        return bpftime_last_errno();
    if (!is_rb_map(h))
        return not_rb(map_id);
    if (!rb_map_cores_ok(h))
        return rb_core_damaged(r);
    if (h->type == BPFTIME_MAP_RINGBUF)
        return rb_poll(r, h->rb, 0, 1, timeout_ms);
    return rb_poll(r, h->rb, h->rb_core_size, h->max_entries, timeout_ms);
}

int bpftime_ringbuf_read(struct bpftime_region *r, uint32_t map_id, void *buf, uint32_t buf_len,
                         uint32_t *len_out, uint32_t *cpu_out)
{
    struct bpftime_map *h = bpftime_map_handle(r, map_id);
    if (!h)
        return bpftime_last_errno();
    if (!is_rb_map(h))
        return not_rb(map_id);
    if (cpu_out)
        *cpu_out = 0;
    if (h->type == BPFTIME_MAP_RINGBUF)
        return rb_read(r, h->rb, h->max_entries, 0, buf, buf_len, len_out);
    uint64_t size = h->rb_core_size - SHM_RB_HDR_PAGES * SHM_PAGE;
    for (uint32_t c = 0; c < h->max_entries; c++) {
        int rc = rb_read(r, perf_core(h, c), size, -(int64_t)(c * h->rb_core_size), buf, buf_len,
                         len_out);
        if (rc != 0) {
            if (cpu_out)
                *cpu_out = c;
            return rc;
        }
    }
    return 0;
}

uint64_t bpftime_ringbuf_lost(struct bpftime_region *r, uint32_t map_id)
{
    struct bpftime_map *h = bpftime_map_handle(r, map_id);
    if (!is_rb_map(h))
        return 0;
    if (h->type == BPFTIME_MAP_RINGBUF)
        return atomic_load(&h->rb->lost);
    uint64_t n = 0;
    for (uint32_t c = 0; c < h->max_entries; c++)
        n += atomic_load(&perf_core(h, c)->lost);
    return n;
}

void *bpftime_ringbuf_reserve(struct bpftime_map *h, uint64_t size)
{
    if (!is_rb_map(h) || h->type != BPFTIME_MAP_RINGBUF)
        return NULL;
    return rb_reserve(h->rb, size);
}

void bpftime_ringbuf_submit(void *data, uint64_t flags, bool discard)
{
    if (data)
        rb_commit(data, flags, discard);
}

int bpftime_ringbuf_output(struct bpftime_map *h, const void *data, uint64_t size, uint64_t flags)
{
    if (!is_rb_map(h) || h->type != BPFTIME_MAP_RINGBUF)
        return -EINVAL;
    if (flags & ~(uint64_t)(BPFTIME_RB_NO_WAKEUP | BPFTIME_RB_FORCE_WAKEUP))
        return -EINVAL;
    void *rec = rb_reserve(h->rb, size);
    if (!rec)
        return -EAGAIN;
    if (size)
        memcpy(rec, data, size);
    rb_commit(rec, flags, false);
    return 0;
}

uint64_t bpftime_ringbuf_query(struct bpftime_map *h, uint64_t flags)
{
    if (!is_rb_map(h) || h->type != BPFTIME_MAP_RINGBUF)
        return 0;
    struct shm_ringbuf *rb = h->rb;
    uint64_t cons = atomic_load_explicit(cons_pos(rb), memory_order_acquire);
    uint64_t prod = atomic_load_explicit(prod_pos(rb), memory_order_acquire);
    switch (flags) {
    case BPFTIME_RB_AVAIL_DATA: return prod - cons;
    case BPFTIME_RB_RING_SIZE: return rb->data_size;
    case BPFTIME_RB_CONS_POS: return cons;
    case BPFTIME_RB_PROD_POS: return prod;
    default: return 0;
    }
}

int bpftime_perf_event_output(struct bpftime_map *h, uint64_t flags, const void *data,
                              uint64_t size)
{
    if (!is_rb_map(h) || h->type != BPFTIME_MAP_PERF_EVENT_ARRAY)
        return -EINVAL;
    if (flags & ~BPFTIME_F_INDEX_MASK)
        return -EINVAL;
    uint64_t idx = flags & BPFTIME_F_INDEX_MASK;
    if (idx == BPFTIME_F_CURRENT_CPU)
        idx = (uint64_t)rt_current_cpu(h->ncpus);
    if (idx >= h->max_entries)
        return -E2BIG;
    void *rec = rb_reserve(perf_core(h, (uint32_t)idx), size);
    if (!rec)
        return -ENOSPC;
    if (size)
        memcpy(rec, data, size);
    rb_commit(rec, 0, false);
    return 0;
}

/* ---- trace ring ---- */

static struct shm_ringbuf *trace_rb(struct bpftime_region *r)
{
    return rt_ptr(r, r->trace_off);
}

int bpftime_trace_write(struct bpftime_region *r, const char *msg, uint32_t len)
{
    void *rec = rb_reserve(trace_rb(r), (uint64_t)BPFTIME_TRACE_HDR + len + 1);
    if (!rec)
        return bpftime_set_error(
            -EAGAIN, "trace ring of region %s is full: run `bpftime trace` to drain it", r->name);
    uint8_t *p = rec;
    uint64_t ts = rt_now_ns(CLOCK_MONOTONIC);
    uint32_t pid = (uint32_t)getpid(), tid = (uint32_t)gettid();
    char comm[16] = {0};
    prctl(PR_GET_NAME, comm, 0, 0, 0);
    memcpy(p, &ts, 8);
    memcpy(p + 8, &pid, 4);
    memcpy(p + 12, &tid, 4);
    memcpy(p + 16, comm, 16);
    memcpy(p + BPFTIME_TRACE_HDR, msg, len);
    p[BPFTIME_TRACE_HDR + len] = 0;
    rb_commit(rec, 0, false);
    return (int)len;
}

int bpftime_trace_poll(struct bpftime_region *r, int timeout_ms)
{
    int rc = rt_check_truncated(r);
    if (rc)
        return rc;
    if (!rb_core_ok(trace_rb(r), SHM_TRACE_RING_SIZE, 0))
        return rb_core_damaged(r);
    return rb_poll(r, trace_rb(r), 0, 1, timeout_ms);
}

int bpftime_trace_read(struct bpftime_region *r, void *buf, uint32_t buf_len, uint32_t *len_out)
{
    int rc = rt_check_truncated(r);
    if (rc)
        return rc;
    return rb_read(r, trace_rb(r), SHM_TRACE_RING_SIZE, 0, buf, buf_len, len_out);
}
