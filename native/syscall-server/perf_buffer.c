/* Perf buffers of an unmodified application (see app_server.h): what
 * libbpf's perf_buffer (and bpftrace's output) is built on.
 *
 *   perf_event_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_BPF_OUTPUT, cpu N)
 *       -> a descriptor (an eventfd) standing for "output of cpu N"
 *   mmap of it -> a perf ring of our own (anonymous shared memory laid out
 *       as the kernel's: struct perf_event_mmap_page, then the data pages)
 *   BPF_MAP_UPDATE_ELEM(perf_event_array, N, fd) -> records the region's
 *       perf_event_array map writes for cpu N go to that ring
 *
 * The region's perf_event_array holds kernel-ringbuf-style records per CPU
 * (native/runtime/ringbuf.c); a pump thread per map moves each record into
 * the ring of its CPU as a PERF_RECORD_SAMPLE with PERF_SAMPLE_RAW data
 * (u32 size, data padded so the record is 8-byte aligned), and keeps the
 * descriptor readable while the ring holds unread records (epoll, as
 * perf_buffer__poll uses). A record for a full ring is dropped, as the
 * kernel drops it. */
#include <errno.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bpftime/api.h"
#include "runtime/bpftime_runtime.h"
#include "syscall-server/app_server.h"

#define PAGE 4096ull
#define MAX_OUTPUTS 1024

struct output {
    int fd;
    uint32_t cpu;
    uint32_t map_id; /* 0 until a perf_event_array slot names it */
    uint8_t *base;   /* mmap page + data, or NULL before mmap */
    uint64_t len;
    int readable;
};

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static struct output outputs[MAX_OUTPUTS];
static int noutputs;
static uint32_t pumped[64];
static int npumped;

static struct output *find_fd(int fd)
{
    for (int i = 0; i < noutputs; i++)
        if (outputs[i].fd == fd)
            return &outputs[i];
    return NULL;
}

long app_perf_output_open(int cpu)
{
    if (cpu < 0)
        return app_refuse(-EINVAL, "perf_event_open: a BPF output event needs a cpu (got %d)", cpu);
    int fd = app_fd_new(APP_FD_PERF_OUTPUT, (uint32_t)cpu);
    if (fd < 0)
        return fd;
    pthread_mutex_lock(&out_lock);
    struct output *o = NULL;
    for (int i = 0; i < noutputs && !o; i++)
        if (outputs[i].fd < 0)
            o = &outputs[i];
    if (!o && noutputs < MAX_OUTPUTS)
        o = &outputs[noutputs++];
    if (o)
        *o = (struct output){.fd = fd, .cpu = (uint32_t)cpu};
    pthread_mutex_unlock(&out_lock);
    if (!o) {
        app_real_close(fd);
        return -EMFILE;
    }
    return fd;
}

void *app_perf_output_mmap(int fd, void *addr, size_t len, int prot, int flags, off_t off)
{
    uint64_t data = len > PAGE ? len - PAGE : 0;
    if (off != 0 || data == 0 || (data & (data - 1)) || data % PAGE) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    void *base = app_real_mmap(addr, len, prot | PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_ANONYMOUS | (flags & MAP_FIXED), -1, 0);
    if (base == MAP_FAILED)
        return MAP_FAILED;
    struct perf_event_mmap_page *h = base;
    h->data_offset = PAGE;
    h->data_size = data;
    pthread_mutex_lock(&out_lock);
    struct output *o = find_fd(fd);
    if (o) {
        o->base = base;
        o->len = len;
    }
    pthread_mutex_unlock(&out_lock);
    return base;
}

int app_perf_output_munmap(void *addr)
{
    int found = 0;
    pthread_mutex_lock(&out_lock);
    for (int i = 0; i < noutputs; i++)
        if (outputs[i].base && (void *)outputs[i].base == addr) {
            outputs[i].base = NULL;
            found = 1;
        }
    pthread_mutex_unlock(&out_lock);
    return found;
}

void app_perf_output_closed(int fd)
{
    pthread_mutex_lock(&out_lock);
    struct output *o = find_fd(fd);
    if (o)
        o->fd = -1, o->base = NULL, o->map_id = 0;
    pthread_mutex_unlock(&out_lock);
}

/* Appends one PERF_RECORD_SAMPLE to o's ring; 0, or -ENOSPC (dropped). */
static int append(struct output *o, const uint8_t *rec, uint32_t len)
{
    struct perf_event_mmap_page *h = (void *)o->base;
    uint64_t size = o->len - PAGE;
    uint32_t raw = (uint32_t)(((len + 4 + 7) & ~7ull) - 4);
    uint64_t total = 8 + 4 + raw;
    uint64_t head = h->data_head;
    uint64_t tail = __atomic_load_n(&h->data_tail, __ATOMIC_ACQUIRE);
    if (head - tail + total > size)
        return -ENOSPC;
    uint8_t hdr[12];
    struct perf_event_header ph = {.type = PERF_RECORD_SAMPLE, .misc = 0, .size = (uint16_t)total};
    memcpy(hdr, &ph, 8);
    memcpy(hdr + 8, &raw, 4);
    uint8_t *data = o->base + PAGE;
    for (uint64_t i = 0; i < total; i++) {
        uint8_t b = i < 12 ? hdr[i] : (i - 12 < len ? rec[i - 12] : 0);
        data[(head + i) & (size - 1)] = b;
    }
    __atomic_store_n(&h->data_head, head + total, __ATOMIC_RELEASE);
    return 0;
}

/* Keeps each ring's descriptor readable exactly while it has unread data;
 * returns whether any has. */
static int sync_readable(uint32_t map_id)
{
    int pending = 0;
    for (int i = 0; i < noutputs; i++) {
        struct output *o = &outputs[i];
        if (o->fd < 0 || !o->base || o->map_id != map_id)
            continue;
        struct perf_event_mmap_page *h = (void *)o->base;
        int unread = __atomic_load_n(&h->data_head, __ATOMIC_ACQUIRE) !=
                     __atomic_load_n(&h->data_tail, __ATOMIC_ACQUIRE);
        pending |= unread;
        uint64_t n = 1;
        if (unread && !o->readable)
            o->readable = write(o->fd, &n, sizeof n) == sizeof n;
        else if (!unread && o->readable)
            o->readable = !(read(o->fd, &n, sizeof n) == sizeof n);
    }
    return pending;
}

#define RECORD_MAX 65536

/* Moves one record of map_id's region rings into its CPU's perf ring and
 * updates readability: 1 moved, 0 none waiting, < 0 the map is gone. buf:
 * RECORD_MAX bytes of the caller's (not thread-local: a large TLS block
 * would keep nginx from dlopen()ing this library). */
static int pump_once(uint32_t map_id, uint8_t *buf, int *pending)
{
    uint32_t len = 0, cpu = 0;
    int rc = bpftime_ringbuf_read(app_region(), map_id, buf, RECORD_MAX, &len, &cpu);
    pthread_mutex_lock(&out_lock);
    if (rc == 1) {
        for (int i = 0; i < noutputs; i++)
            if (outputs[i].fd >= 0 && outputs[i].base && outputs[i].map_id == map_id &&
                outputs[i].cpu == cpu) {
                (void)append(&outputs[i], buf, len);
                break;
            }
    }
    *pending = sync_readable(map_id);
    pthread_mutex_unlock(&out_lock);
    return rc == -EMSGSIZE ? 0 : rc;
}

static void *pump(void *arg)
{
    uint32_t map_id = (uint32_t)(uintptr_t)arg;
    uint8_t *buf = malloc(RECORD_MAX);
    if (!buf)
        return NULL;
    for (;;) {
        int pending = 0;
        int rc = pump_once(map_id, buf, &pending);
        if (rc == 1)
            continue;
        if (rc < 0) {
            free(buf);
            return NULL; /* the map is gone */
        }
        if (pending) {
            struct timespec ms = {0, 1000000}; /* until the application reads */
            nanosleep(&ms, NULL);
        } else {
            bpftime_ringbuf_poll(app_region(), map_id, 200);
        }
    }
}

void app_perf_output_flush(void)
{
    uint32_t maps[64];
    pthread_mutex_lock(&out_lock);
    int n = npumped;
    memcpy(maps, pumped, sizeof maps[0] * (size_t)n);
    pthread_mutex_unlock(&out_lock);
    uint8_t *buf = n ? malloc(RECORD_MAX) : NULL;
    for (int i = 0; buf && i < n; i++) {
        int pending = 0;
        while (pump_once(maps[i], buf, &pending) == 1) {}
    }
    free(buf);
}

int app_perf_output_attach(uint32_t map_id, uint32_t key, int fd)
{
    struct app_fd v;
    if (app_fd_get(fd, &v) < 0 || v.kind != APP_FD_PERF_OUTPUT)
        return -EBADF;
    pthread_mutex_lock(&out_lock);
    struct output *o = find_fd(fd);
    int start = 0;
    if (o) {
        o->map_id = map_id;
        o->cpu = key;
        start = 1;
        for (int i = 0; i < npumped; i++)
            start &= pumped[i] != map_id;
        if (start && npumped < 64)
            pumped[npumped++] = map_id;
    }
    pthread_mutex_unlock(&out_lock);
    if (!o)
        return -EBADF;
    if (start) {
        int err = app_thread_start(pump, (void *)(uintptr_t)map_id);
        if (err < 0)
            return err;
    }
    return 0;
}
