/* The shared-memory region: file, header, mapping, locks and the allocator. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "runtime/runtime_internal.h"

#define SHM_DIR "/dev/shm"

/* ---- time, locks ---- */

uint64_t rt_now_ns(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void shm_mutex_init(shm_mutex_t *m)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&m->m, &a);
    pthread_mutexattr_destroy(&a);
}

void shm_lock(shm_mutex_t *m)
{
    int rc = pthread_mutex_lock(&m->m);
    if (rc == EOWNERDEAD) {
        BPFTIME_WARN("runtime: a process died holding a shared lock; recovering it");
        pthread_mutex_consistent(&m->m);
    } else if (rc != 0) {
        BPFTIME_ERROR("runtime: shared lock failed: %s", strerror(rc));
    }
}

void shm_unlock(shm_mutex_t *m)
{
    pthread_mutex_unlock(&m->m);
}

/* ---- names ---- */

static int check_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > BPFTIME_NAME_LEN)
        return bpftime_set_error(
            -EINVAL, "invalid region name \"%s\": use 1-%d characters of [A-Za-z0-9_.-]", name,
            BPFTIME_NAME_LEN);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok || (i == 0 && c == '.'))
            return bpftime_set_error(
                -EINVAL, "invalid region name \"%s\": use 1-%d characters of [A-Za-z0-9_.-]", name,
                BPFTIME_NAME_LEN);
    }
    return 0;
}

int bpftime_region_path(const char *name, char *buf, uint32_t buf_len)
{
    if (!name)
        name = BPFTIME_DEFAULT_REGION;
    int rc = check_name(name);
    if (rc)
        return rc;
    int n = snprintf(buf, buf_len, SHM_DIR "/bpftime-%s", name);
    if (n < 0 || (uint32_t)n >= buf_len)
        return bpftime_set_error(-ENAMETOOLONG, "region path buffer too small");
    return n;
}

/* ---- allocator ---- */

static void heap_init(struct shm_header *h, uint64_t heap_off, uint64_t size)
{
    h->heap_off = heap_off;
    h->heap_end = size;
    h->bump = heap_off;
}

static int size_class(uint64_t need)
{
    int s = SHM_SMALL_MIN_SHIFT;
    while ((1ull << s) < need)
        s++;
    return s;
}

/* The free lists and the bump pointer live in the region, which any process
 * that maps it can scribble on: every link is checked before it is followed
 * (a block of the list's class, marked free, inside the heap below the bump
 * pointer), and a damaged list is dropped from the damaged link on. Its
 * blocks stay unused until the region is recreated; nothing outside the
 * heap is ever written. */
static bool bump_ok(const struct bpftime_region *r, const struct shm_header *h)
{
    return h->bump >= r->heap_off && h->bump <= r->heap_end;
}

static bool free_block_ok(const struct bpftime_region *r, const struct shm_header *h, uint64_t b,
                          uint32_t cls)
{
    uint64_t top = bump_ok(r, h) ? h->bump : r->heap_end; /* free blocks lie below it */
    if (b % 16 != 0 || b < r->heap_off || b >= top || top - b < sizeof(struct shm_block))
        return false;
    const struct shm_block *blk = rt_ptr(r, b);
    if (blk->magic != SHM_BLOCK_MAGIC || blk->cls != cls || blk->free_mark != SHM_BLOCK_FREE ||
        blk->size > top - b)
        return false;
    if (cls == SHM_BLOCK_LARGE)
        return b % SHM_PAGE == 0 && blk->size >= 2 * SHM_PAGE && blk->size % SHM_PAGE == 0;
    return blk->size == 1ull << cls;
}

static void drop_damaged_list(const struct bpftime_region *r, uint64_t *link, uint32_t cls)
{
    char what[32];
    if (cls == SHM_BLOCK_LARGE)
        snprintf(what, sizeof what, "large blocks");
    else
        snprintf(what, sizeof what, "%llu-byte blocks", 1ull << cls);
    BPFTIME_ERROR("runtime: region %s: the free list of %s is damaged at offset 0x%llx; dropped "
                  "from there (those blocks stay unused until the region is recreated)",
                  r->name, what, (unsigned long long)*link);
    *link = 0;
}

uint64_t shm_alloc(struct bpftime_region *r, uint64_t size)
{
    return shm_alloc_ex(r, size, false);
}

uint64_t shm_alloc_ex(struct bpftime_region *r, uint64_t size, bool page_aligned)
{
    struct shm_header *h = r->hdr;
    if (size == 0)
        size = 1;
    uint64_t need = size + SHM_SMALL_HDR;
    uint64_t result = 0;
    shm_lock(&h->alloc_lock);
    if (need <= (1ull << SHM_SMALL_MAX_SHIFT) && !page_aligned) {
        int cls = size_class(need);
        uint64_t bsize = 1ull << cls;
        uint64_t b = h->small_free[cls];
        if (b && !free_block_ok(r, h, b, (uint32_t)cls)) {
            drop_damaged_list(r, &h->small_free[cls], (uint32_t)cls);
            b = 0;
        }
        if (b) {
            struct shm_block *blk = rt_ptr(r, b);
            h->small_free[cls] = blk->next;
        } else if (bump_ok(r, h) && bsize <= r->heap_end - h->bump) {
            b = h->bump;
            h->bump += bsize;
        }
        if (b) {
            struct shm_block *blk = rt_ptr(r, b);
            memset(blk, 0, bsize);
            blk->magic = SHM_BLOCK_MAGIC;
            blk->cls = (uint32_t)cls;
            blk->size = bsize;
            h->heap_used += bsize;
            result = b + SHM_SMALL_HDR;
        }
    } else {
        /* Large: header page + whole payload pages; payload page-aligned.
         * Free large payloads are hole-punched, so they read as zero. */
        uint64_t bsize = SHM_PAGE + ((size + SHM_PAGE - 1) & ~(uint64_t)(SHM_PAGE - 1));
        uint64_t *pp = &h->large_free, b;
        uint64_t steps = (r->heap_end - r->heap_off) / (2 * SHM_PAGE) + 1; /* more: a cycle */
        while ((b = *pp) != 0) {
            if (steps-- == 0 || !free_block_ok(r, h, b, SHM_BLOCK_LARGE)) {
                drop_damaged_list(r, pp, SHM_BLOCK_LARGE);
                b = 0;
                break;
            }
            struct shm_block *blk = rt_ptr(r, b);
            if (blk->size >= bsize) {
                *pp = blk->next;
                if (blk->size - bsize >= 2 * SHM_PAGE) {
                    /* split: the tail stays free */
                    uint64_t rest = b + bsize;
                    struct shm_block *rb = rt_ptr(r, rest);
                    rb->magic = SHM_BLOCK_MAGIC;
                    rb->cls = SHM_BLOCK_LARGE;
                    rb->size = blk->size - bsize;
                    rb->free_mark = SHM_BLOCK_FREE;
                    rb->next = h->large_free;
                    h->large_free = rest;
                    blk->size = bsize;
                }
                break;
            }
            pp = &blk->next;
        }
        if (!b && bump_ok(r, h)) {
            uint64_t start = (h->bump + SHM_PAGE - 1) & ~(uint64_t)(SHM_PAGE - 1);
            if (start <= r->heap_end && bsize <= r->heap_end - start) {
                /* the skipped tail before the page boundary is simply lost;
                 * small blocks are at most 32 KiB so this is bounded */
                b = start;
                h->bump = start + bsize;
                struct shm_block *blk = rt_ptr(r, b);
                blk->size = bsize;
            }
        }
        if (b) {
            struct shm_block *blk = rt_ptr(r, b);
            blk->magic = SHM_BLOCK_MAGIC;
            blk->cls = SHM_BLOCK_LARGE;
            blk->next = 0;
            blk->free_mark = 0;
            h->heap_used += blk->size;
            result = b + SHM_PAGE;
        }
    }
    shm_unlock(&h->alloc_lock);
    return result;
}

void shm_free(struct bpftime_region *r, uint64_t off)
{
    if (!off)
        return;
    struct shm_header *h = r->hdr;
    uint64_t b;
    struct shm_block *blk;
    /* The offset comes from a table entry (deleting a program or a map): in
     * a damaged region it may point anywhere, so nothing outside the heap
     * is touched and nothing is freed. */
    if (off < r->heap_off + SHM_SMALL_HDR || off >= r->heap_end || off % 16 != 0) {
        BPFTIME_ERROR("runtime: shm_free of offset 0x%llx: not a block in the heap of region %s",
                      (unsigned long long)off, r->name);
        return;
    }
    /* Small blocks have their header 16 bytes before the payload; for a
     * large block those bytes lie in its (otherwise zero) header page. */
    struct shm_block *small = rt_ptr(r, off - SHM_SMALL_HDR);
    if (small->magic == SHM_BLOCK_MAGIC && small->cls <= SHM_SMALL_MAX_SHIFT)
        b = off - SHM_SMALL_HDR;
    else if (off >= r->heap_off + SHM_PAGE)
        b = off - SHM_PAGE;
    else
        b = off - SHM_SMALL_HDR; /* cannot be large: refused just below */
    blk = rt_ptr(r, b);
    bool sane =
        blk->cls == SHM_BLOCK_LARGE ? blk->size >= 2 * SHM_PAGE : blk->cls <= SHM_SMALL_MAX_SHIFT;
    if (blk->magic != SHM_BLOCK_MAGIC || !sane || !rt_heap_span(r, b, blk->size) ||
        blk->free_mark == SHM_BLOCK_FREE) {
        BPFTIME_ERROR("runtime: shm_free of offset 0x%llx: not an allocated block%s",
                      (unsigned long long)off,
                      blk->free_mark == SHM_BLOCK_FREE ? " (already free)" : "");
        return;
    }
    shm_lock(&h->alloc_lock);
    h->heap_used -= blk->size;
    if (blk->cls == SHM_BLOCK_LARGE) {
        uint64_t size = blk->size;
        /* coalesce with free neighbours so create/delete cycles of maps of
         * different sizes do not fragment the heap */
        for (bool merged = true; merged;) {
            merged = false;
            uint64_t steps = (r->heap_end - r->heap_off) / (2 * SHM_PAGE) + 1;
            for (uint64_t *pp = &h->large_free; *pp;) {
                uint64_t f = *pp;
                if (steps-- == 0 || !free_block_ok(r, h, f, SHM_BLOCK_LARGE)) {
                    drop_damaged_list(r, pp, SHM_BLOCK_LARGE);
                    break;
                }
                struct shm_block *fb = rt_ptr(r, f);
                if (f + fb->size == b || b + size == f) {
                    *pp = fb->next;
                    if (f < b)
                        b = f;
                    size += fb->size;
                    merged = true;
                } else {
                    pp = &fb->next;
                }
            }
        }
        blk = rt_ptr(r, b);
        /* give the pages back to tmpfs; they read as zero afterwards (the
         * header pages of merged neighbours included) */
        memset(blk, 0, sizeof *blk);
        madvise(r->base + b + SHM_PAGE, size - SHM_PAGE, MADV_REMOVE);
        if (b + size == h->bump) {
            h->bump = b; /* the top of the heap: back to the bump area */
        } else {
            blk->magic = SHM_BLOCK_MAGIC;
            blk->cls = SHM_BLOCK_LARGE;
            blk->size = size;
            blk->free_mark = SHM_BLOCK_FREE;
            blk->next = h->large_free;
            h->large_free = b;
        }
    } else {
        blk->free_mark = SHM_BLOCK_FREE;
        blk->next = h->small_free[blk->cls];
        h->small_free[blk->cls] = b;
    }
    shm_unlock(&h->alloc_lock);
}

int64_t bpftime_shm_alloc(struct bpftime_region *r, uint64_t size)
{
    uint64_t off = shm_alloc(r, size);
    if (!off)
        return bpftime_set_error(-ENOMEM,
                                 "region %s is full (%llu bytes requested): create it larger with "
                                 "`bpftime shm create --size`",
                                 r->name, (unsigned long long)size);
    return (int64_t)off;
}

void bpftime_shm_free(struct bpftime_region *r, uint64_t off)
{
    shm_free(r, off);
}

/* ---- region ---- */

static struct bpftime_region *region_alloc(const char *name)
{
    struct bpftime_region *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->name, sizeof r->name, "%s", name);
    bpftime_region_path(name, r->path, sizeof r->path);
    r->fd = -1;
    pthread_mutex_init(&r->local_lock, NULL);
    return r;
}

static void region_free(struct bpftime_region *r)
{
    if (r->base)
        munmap(r->base, r->size);
    if (r->fd >= 0)
        close(r->fd);
    pthread_mutex_destroy(&r->local_lock);
    free(r);
}

/* Tables follow the header page, each page-aligned. Returns the heap start. */
static uint64_t layout_tables(uint64_t table_off[KIND_COUNT], uint32_t table_cap[KIND_COUNT])
{
    static const uint32_t caps[KIND_COUNT] = {SHM_PROGS_CAP, SHM_MAPS_CAP,      SHM_TARGETS_CAP,
                                              SHM_LINKS_CAP, SHM_INSTANCES_CAP, SHM_PINS_CAP};
    uint64_t off = SHM_PAGE;
    for (int k = 0; k < KIND_COUNT; k++) {
        table_off[k] = off;
        table_cap[k] = caps[k];
        off += (uint64_t)caps[k] * table_entry_size(k);
        off = (off + SHM_PAGE - 1) & ~(uint64_t)(SHM_PAGE - 1);
    }
    return off;
}

/* The process-local copy of the (validated) layout that readers use. */
static void adopt_layout(struct bpftime_region *r, const struct shm_header *h)
{
    memcpy(r->table_off, h->table_off, sizeof r->table_off);
    memcpy(r->table_cap, h->table_cap, sizeof r->table_cap);
    r->heap_off = h->heap_off;
    r->heap_end = h->heap_end;
    r->trace_off = h->trace_off;
    r->ncpus = h->ncpus;
}

#define MAX_NCPUS 8192u

int rt_header_check(const struct shm_header *h, uint64_t file_size, const char *path,
                    const char *name)
{
    if (memcmp(h->magic, BPFTIME_MAGIC, 8) != 0)
        return bpftime_set_error(
            -EINVAL,
            "%s is not a bpftime region (bad magic): remove it with `bpftime shm "
            "remove %s` or choose another name",
            path, name);
    if (h->layout_version != BPFTIME_LAYOUT_VERSION)
        return bpftime_set_error(
            -EPROTO,
            "region %s has layout version %u, this build reads version %u: remove "
            "it with `bpftime shm remove %s`",
            path, h->layout_version, BPFTIME_LAYOUT_VERSION, name);
    if (h->header_size != sizeof *h || h->region_size != file_size)
        return bpftime_set_error(
            -EUCLEAN,
            "region %s is damaged or truncated (header size %u, recorded size %llu, "
            "file size %llu): remove it with `bpftime shm remove %s`",
            path, h->header_size, (unsigned long long)h->region_size, (unsigned long long)file_size,
            name);
    /* The layout is a function of the layout version: any other value is damage. */
    uint64_t table_off[KIND_COUNT];
    uint32_t table_cap[KIND_COUNT];
    uint64_t heap_off = layout_tables(table_off, table_cap);
    const char *what = NULL;
    if (file_size < BPFTIME_MIN_REGION_SIZE || file_size % SHM_PAGE != 0)
        what = "region size";
    else if (h->ncpus == 0 || h->ncpus > MAX_NCPUS)
        what = "cpu count";
    else if (h->page_size != SHM_PAGE)
        what = "page size";
    else if (memcmp(h->table_off, table_off, sizeof table_off) != 0 ||
             memcmp(h->table_cap, table_cap, sizeof table_cap) != 0)
        what = "object table offsets";
    else if (h->heap_off != heap_off || h->heap_end != file_size || h->bump < h->heap_off ||
             h->bump > h->heap_end || h->heap_used > h->heap_end - h->heap_off)
        what = "heap bounds";
    else if (h->trace_off % SHM_PAGE != 0 || h->trace_off < heap_off || h->trace_off > file_size ||
             rb_core_size(SHM_TRACE_RING_SIZE) > file_size - h->trace_off)
        what = "trace ring offset";
    if (what)
        return bpftime_set_error(
            -EUCLEAN,
            "region %s is damaged (its header's %s is out of range): remove it with "
            "`bpftime shm remove %s`",
            path, what, name);
    return 0;
}

int rt_damaged(const struct bpftime_region *r, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return bpftime_set_error(-EUCLEAN,
                             "region %s is damaged (%s): remove it with `bpftime shm remove %s`",
                             r->path, what, r->name);
}

/* Truncation after open: a file that shrinks under a MAP_SHARED mapping
 * makes every touch of the lost pages raise SIGBUS. We check the file size
 * at the entry points that read (one fstat, well under a microsecond)
 * instead of catching SIGBUS: the CLI and the server run inside Bun, whose
 * JavaScript engine owns the process's signal handlers, and the agent runs
 * inside someone else's process. The window between the check and the read
 * remains; a region is only truncated by hand, not by bpftime. */
int rt_check_truncated(const struct bpftime_region *r)
{
    struct stat st;
    if (fstat(r->fd, &st) != 0 || (uint64_t)st.st_size >= r->size)
        return 0;
    return bpftime_set_error(
        -EUCLEAN,
        "region %s was truncated to %llu bytes while in use (it was %llu): remove it "
        "with `bpftime shm remove %s` and load again",
        r->path, (unsigned long long)st.st_size, (unsigned long long)r->size, r->name);
}

/* A new handle on the file of region `name`, created (exclusively) or
 * opened; on failure nothing is left and the error says what to do. */
static int region_open_file(const char *name, bool create, struct bpftime_region **out)
{
    struct bpftime_region *r = region_alloc(name);
    if (!r)
        return bpftime_set_error(-ENOMEM, "out of memory");
    r->fd = create ? open(r->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
                   : open(r->path, O_RDWR | O_CLOEXEC);
    if (r->fd >= 0) {
        *out = r;
        return 0;
    }
    int e = errno;
    region_free(r);
    if (create && e == EEXIST)
        return bpftime_set_error(-EEXIST,
                                 "region %s/bpftime-%s already exists: open it, or remove it with "
                                 "`bpftime shm remove %s`",
                                 SHM_DIR, name, name);
    if (!create && e == ENOENT)
        return bpftime_set_error(-ENOENT,
                                 "region %s/bpftime-%s does not exist: create it with `bpftime shm "
                                 "create %s` (or load a program)",
                                 SHM_DIR, name, name);
    return bpftime_set_error(-e, "cannot %s region %s/bpftime-%s: %s", create ? "create" : "open",
                             SHM_DIR, name, strerror(e));
}

int bpftime_region_create(const char *name, uint64_t size, struct bpftime_region **out)
{
    if (!name)
        name = BPFTIME_DEFAULT_REGION;
    int rc = check_name(name);
    if (rc)
        return rc;
    if (size == 0)
        size = BPFTIME_DEFAULT_REGION_SIZE;
    if (size < BPFTIME_MIN_REGION_SIZE)
        return bpftime_set_error(
            -EINVAL, "region size %llu is too small: the minimum is %llu bytes",
            (unsigned long long)size, (unsigned long long)BPFTIME_MIN_REGION_SIZE);
    size = (size + SHM_PAGE - 1) & ~(uint64_t)(SHM_PAGE - 1);
    struct bpftime_region *r;
    rc = region_open_file(name, true, &r);
    if (rc)
        return rc;
    if (ftruncate(r->fd, (off_t)size) != 0) {
        int e = errno;
        unlink(r->path);
        region_free(r);
        return bpftime_set_error(-e, "cannot size region %s to %llu bytes: %s", name,
                                 (unsigned long long)size, strerror(e));
    }
    r->size = size;
    r->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
    if (r->base == MAP_FAILED) {
        int e = errno;
        r->base = NULL;
        unlink(r->path);
        region_free(r);
        return bpftime_set_error(-e, "cannot map region %s: %s", name, strerror(e));
    }
    struct shm_header *h = (struct shm_header *)r->base;
    r->hdr = h;
    _Static_assert(sizeof(struct shm_header) <= SHM_PAGE, "header fits one page");
    h->layout_version = BPFTIME_LAYOUT_VERSION;
    h->header_size = sizeof *h;
    h->region_size = size;
    h->created_ns = rt_now_ns(CLOCK_REALTIME);
    long ncpu = sysconf(_SC_NPROCESSORS_CONF);
    h->ncpus = ncpu > 0 ? (uint32_t)ncpu : 1;
    h->page_size = SHM_PAGE;
    shm_mutex_init(&h->alloc_lock);
    shm_mutex_init(&h->table_lock);
    uint64_t heap_off = layout_tables(h->table_off, h->table_cap);
    if (heap_off + (1u << 20) > size) {
        unlink(r->path);
        region_free(r);
        return bpftime_set_error(-EINVAL, "region size %llu leaves no room for the heap",
                                 (unsigned long long)size);
    }
    heap_init(h, heap_off, size);
    adopt_layout(r, h); /* the allocator checks offsets against this copy */
    uint64_t trace = shm_alloc_ex(r, rb_core_size(SHM_TRACE_RING_SIZE), true);
    rb_core_init(rt_ptr(r, trace), SHM_TRACE_RING_SIZE, NULL);
    h->trace_off = trace;
    adopt_layout(r, h);
    /* The magic goes last: an opener that sees it sees a complete header. */
    atomic_thread_fence(memory_order_release);
    memcpy(h->magic, BPFTIME_MAGIC, 8);
    BPFTIME_INFO("runtime: created region %s (%llu bytes, %u cpus)", r->path,
                 (unsigned long long)size, h->ncpus);
    *out = r;
    return 0;
}

static int region_map_open(struct bpftime_region *r, const char *name, struct bpftime_region **out);

int bpftime_region_open(const char *name, struct bpftime_region **out)
{
    if (!name)
        name = BPFTIME_DEFAULT_REGION;
    int rc = check_name(name);
    if (rc)
        return rc;
    struct bpftime_region *r;
    rc = region_open_file(name, false, &r);
    if (rc)
        return rc;
    return region_map_open(r, name, out);
}

int bpftime_region_open_fd(const char *name, int fd, struct bpftime_region **out)
{
    if (!name)
        name = BPFTIME_DEFAULT_REGION;
    int rc = check_name(name);
    struct bpftime_region *r = rc ? NULL : region_alloc(name);
    if (!r) {
        close(fd);
        return rc ? rc : bpftime_set_error(-ENOMEM, "out of memory");
    }
    r->fd = fd;
    return region_map_open(r, name, out);
}

/* Checks and maps the region file open on r->fd; frees r on failure. */
static int region_map_open(struct bpftime_region *r, const char *name, struct bpftime_region **out)
{
    int rc;
    struct shm_header peek;
    /* A region being created has no magic yet: give its creator a moment. */
    for (int tries = 0;; tries++) {
        struct stat st;
        ssize_t n = 0;
        memset(&peek, 0, sizeof peek);
        if (fstat(r->fd, &st) == 0 && st.st_size > 0)
            n = pread(r->fd, &peek, sizeof peek, 0); /* short if truncated */
        static const char zero[8];
        bool initializing =
            (n == (ssize_t)sizeof peek && memcmp(peek.magic, zero, 8) == 0) || st.st_size == 0;
        if (!initializing || tries >= 20)
            break;
        usleep(10000);
    }
    struct stat st;
    if (fstat(r->fd, &st) != 0 ||
        ((uint64_t)st.st_size < sizeof peek && memcmp(peek.magic, BPFTIME_MAGIC, 8) == 0)) {
        int e = bpftime_set_error(
            -EUCLEAN,
            "region %s is truncated (%llu bytes, smaller than its header): remove it "
            "with `bpftime shm remove %s`",
            r->path, (unsigned long long)st.st_size, name);
        region_free(r);
        return e;
    }
    rc = rt_header_check(&peek, (uint64_t)st.st_size, r->path, name);
    if (rc) {
        region_free(r);
        return rc;
    }
    r->size = peek.region_size;
    r->base = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
    if (r->base == MAP_FAILED) {
        int e = errno;
        r->base = NULL;
        region_free(r);
        return bpftime_set_error(-e, "cannot map region %s: %s", name, strerror(e));
    }
    r->hdr = (struct shm_header *)r->base;
    adopt_layout(r, &peek);
    *out = r;
    return 0;
}

void bpftime_region_close(struct bpftime_region *r)
{
    if (!r)
        return;
    prog_local_free_all(r);
    for (uint32_t i = 0; i < SHM_MAPS_CAP; i++)
        free(r->maps[i]);
    while (r->retired_maps) {
        struct bpftime_map *next = r->retired_maps->retired_next;
        free(r->retired_maps);
        r->retired_maps = next;
    }
    free(r->inner_holds);
    region_free(r);
}

int bpftime_region_remove(const char *name)
{
    char path[128];
    int rc = bpftime_region_path(name, path, sizeof path);
    if (rc < 0)
        return rc;
    if (unlink(path) != 0) {
        int e = errno;
        if (e == ENOENT)
            return bpftime_set_error(-ENOENT, "region %s does not exist", path);
        return bpftime_set_error(-e, "cannot remove region %s: %s", path, strerror(e));
    }
    return 0;
}

int bpftime_region_info(struct bpftime_region *r, struct bpftime_region_info *out)
{
    struct shm_header *h = r->hdr;
    int rc = rt_check_truncated(r);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    out->size = h->region_size;
    out->created_ns = h->created_ns;
    out->generation = atomic_load_explicit(&h->generation, memory_order_acquire);
    out->instance_generation = atomic_load(&h->instance_generation);
    shm_lock(&h->alloc_lock);
    out->heap_used = h->heap_used;
    shm_unlock(&h->alloc_lock);
    out->heap_size = r->heap_end - r->heap_off;
    out->layout_version = h->layout_version;
    out->ncpus = r->ncpus;
    out->stats_enabled = atomic_load(&h->stats_enabled);
    return 0;
}

uint64_t bpftime_region_generation(struct bpftime_region *r)
{
    return atomic_load_explicit(&r->hdr->generation, memory_order_acquire);
}

uint32_t bpftime_region_ncpus(struct bpftime_region *r)
{
    return r->ncpus;
}
void *bpftime_region_base(struct bpftime_region *r)
{
    return r->base;
}
uint64_t bpftime_region_size(struct bpftime_region *r)
{
    return r->size;
}

void bpftime_stats_set_enabled(struct bpftime_region *r, int enabled)
{
    atomic_store(&r->hdr->stats_enabled, enabled ? 1u : 0u);
}

int bpftime_stats_enabled(struct bpftime_region *r)
{
    return (int)atomic_load_explicit(&r->hdr->stats_enabled, memory_order_relaxed);
}

const _Atomic uint64_t *bpftime_region_generation_word(struct bpftime_region *r)
{
    return &r->hdr->generation;
}

const _Atomic uint32_t *bpftime_stats_enabled_word(struct bpftime_region *r)
{
    return &r->hdr->stats_enabled;
}
