/* mmap of a map descriptor (see app_server.h), as the kernel lays it out:
 *
 *   BPF_F_MMAPABLE array  offset 0: the values (libbpf maps .bss/.data so,
 *                         and skeletons read and write globals directly)
 *   ringbuf               offset 0: consumer page (read-write);
 *                         offset page: producer page, then the data pages
 *                         twice (libbpf's ring_buffer__poll reads records
 *                         that wrap through the second copy)
 *
 * The pages are the region file's (MAP_SHARED), so the application sees
 * what programs in hooked processes write, as it sees kernel memory.
 *
 * Ring buffer wake-ups: the descriptor is an eventfd. A watcher thread per
 * ring keeps it readable while records are waiting (futex wait on the
 * region's wake word when the ring is empty), so epoll — libbpf's
 * ring_buffer__poll — wakes as on the kernel. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bpftime/api.h"
#include "runtime/bpftime_runtime.h"
#include "syscall-server/app_server.h"

#define PAGE 4096ull

static pthread_mutex_t mmap_lock = PTHREAD_MUTEX_INITIALIZER;
static int region_fd = -1;

static int region_file(void)
{
    pthread_mutex_lock(&mmap_lock);
    if (region_fd < 0) {
        char path[512];
        const char *shm = getenv("BPFTIME_SHM");
        if (bpftime_region_path(shm && *shm ? shm : NULL, path, sizeof path) > 0)
            region_fd = open(path, O_RDWR | O_CLOEXEC);
    }
    int fd = region_fd;
    pthread_mutex_unlock(&mmap_lock);
    return fd;
}

static void *fail(int err)
{
    errno = err;
    return MAP_FAILED;
}

struct watcher {
    int fd;
    uint32_t map_id;
};

static void *watch_ring(void *arg)
{
    struct watcher w = *(struct watcher *)arg;
    free(arg);
    struct bpftime_region *r = app_region();
    struct bpftime_map *m = bpftime_map_handle(r, w.map_id);
    int readable = 0;
    for (;;) {
        struct app_fd v;
        if (!m || app_fd_get(w.fd, &v) < 0 || v.kind != APP_FD_MAP || v.id != w.map_id)
            return NULL; /* closed: the descriptor is not the ring's any more */
        if (bpftime_ringbuf_query(m, BPFTIME_RB_AVAIL_DATA) > 0) {
            if (!readable) {
                uint64_t one = 1;
                readable = write(w.fd, &one, sizeof one) == sizeof one;
            }
            /* Until the application consumes: look again in a millisecond. */
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        } else {
            if (readable) {
                uint64_t n;
                readable = !(read(w.fd, &n, sizeof n) == sizeof n);
            }
            bpftime_ringbuf_poll(r, w.map_id, 200);
        }
    }
}

/* One watcher per ring descriptor (libbpf maps a ring twice). */
static void start_watcher(int fd, uint32_t map_id)
{
    static int watched[1024];
    static uint32_t watched_id[1024];
    static int nwatched;
    pthread_mutex_lock(&mmap_lock);
    for (int i = 0; i < nwatched; i++)
        if (watched[i] == fd && watched_id[i] == map_id) {
            pthread_mutex_unlock(&mmap_lock);
            return;
        }
    if (nwatched < 1024) {
        watched[nwatched] = fd;
        watched_id[nwatched++] = map_id;
    }
    pthread_mutex_unlock(&mmap_lock);
    struct watcher *w = malloc(sizeof *w);
    if (!w)
        return;
    w->fd = fd;
    w->map_id = map_id;
    if (app_thread_start(watch_ring, w) < 0)
        free(w);
}

void *app_map_mmap(int fd, const struct app_fd *v, void *addr, size_t len, int prot, int flags,
                   off_t off)
{
    if (v->kind == APP_FD_PERF_OUTPUT)
        return app_perf_output_mmap(fd, addr, len, prot, flags, off);
    if (v->kind != APP_FD_MAP)
        return fail(ENODEV);
    struct bpftime_region *r = app_region();
    uint64_t foff, flen;
    if (bpftime_map_mmap_range(r, v->id, &foff, &flen) < 0)
        return fail(ENODEV);
    int rfd = region_file();
    if (rfd < 0)
        return fail(ENODEV);
    int share = (flags & ~(MAP_PRIVATE | MAP_SHARED)) | MAP_SHARED;
    struct bpftime_map_info mi;
    if (bpftime_map_get(r, v->id, &mi) < 0)
        return fail(ENODEV);
    if (mi.type != BPFTIME_MAP_RINGBUF) {
        uint64_t room = (flen + PAGE - 1) / PAGE * PAGE;
        if (off < 0 || (uint64_t)off + len > room)
            return fail(EINVAL);
        return app_real_mmap(addr, len, prot, share, rfd, (off_t)(foff + (uint64_t)off));
    }
    /* Ring: application offsets [0, P) consumer, [P, 2P) producer, then data
     * D bytes twice; in the file the core is control, consumer, producer,
     * data: the first three parts are contiguous at foff + P. */
    uint64_t data = mi.max_entries, total = 2 * PAGE + 2 * data;
    if (off < 0 || (uint64_t)off % PAGE || (uint64_t)off + len > total)
        return fail(EINVAL);
    if ((prot & PROT_WRITE) && (uint64_t)off + len > PAGE)
        return fail(EPERM); /* as the kernel: only the consumer page is writable */
    uint64_t start = (uint64_t)off, end = start + len;
    uint64_t first_end = end < 2 * PAGE + data ? end : 2 * PAGE + data;
    uint8_t *base = app_real_mmap(addr, len, PROT_NONE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | (flags & MAP_FIXED), -1, 0);
    if (base == MAP_FAILED)
        return MAP_FAILED;
    if (first_end > start && app_real_mmap(base, first_end - start, prot, MAP_SHARED | MAP_FIXED,
                                           rfd, (off_t)(foff + PAGE + start)) == MAP_FAILED)
        goto unmap;
    if (end > 2 * PAGE + data) {
        uint64_t s2 = start > 2 * PAGE + data ? start : 2 * PAGE + data;
        if (app_real_mmap(base + (s2 - start), end - s2, prot, MAP_SHARED | MAP_FIXED, rfd,
                          (off_t)(foff + 3 * PAGE + (s2 - 2 * PAGE - data))) == MAP_FAILED)
            goto unmap;
    }
    if (fd >= 0)
        start_watcher(fd, v->id);
    return base;
unmap : {
    int e = errno;
    munmap(base, len);
    errno = e;
    return MAP_FAILED;
}
}
