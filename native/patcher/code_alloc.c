/* Executable memory for trampolines, allocated near the hooked code so that a
 * 5-byte `jmp rel32` reaches it.
 *
 * Slabs of SLAB_SIZE bytes are mapped into the gaps of /proc/self/maps that
 * are closest to the target (MAP_FIXED_NOREPLACE at a hint address, so an
 * existing mapping is never clobbered even if another thread maps something
 * meanwhile), then carved up bump-pointer style. Nothing is ever unmapped: a
 * thread may be executing any trampoline at any time, and a hooked function's
 * context stays valid for the process lifetime. The caller (patcher.c) holds
 * the patcher lock, which protects the slab list. */
#include "patcher/patcher_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define SLAB_SIZE (64 * 1024)
#define KEEP_CLEAR (64ull << 20) /* leave room for the heap and stack to grow */
#define LOWEST_ADDR (16ull << 20)

struct slab {
    uint8_t *base;
    size_t used;
    struct slab *next;
};

static struct slab *slabs;

static size_t page_size(void)
{
    static size_t ps;
    if (!ps)
        ps = (size_t)sysconf(_SC_PAGESIZE);
    return ps;
}

/* Reads /proc/self/maps into a malloc'ed NUL-terminated buffer. */
static char *read_maps(void)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (buf)
        buf[len] = 0;
    return buf;
}

/* Iterates the lines of a maps buffer. */
static bool next_mapping(char **cursor, struct patcher_mapping *m, const char **name)
{
    char *line = *cursor;
    if (!line || !*line)
        return false;
    char *nl = strchr(line, '\n');
    *cursor = nl ? nl + 1 : line + strlen(line);
    unsigned long start, end;
    char perms[5] = {0};
    int name_off = 0;
    if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &start, &end, perms, &name_off) < 3)
        return next_mapping(cursor, m, name);
    m->start = start;
    m->end = end;
    m->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
              (perms[2] == 'x' ? PROT_EXEC : 0);
    if (name)
        *name = name_off ? line + name_off : "";
    return true;
}

int patcher_find_mapping(uint64_t addr, struct patcher_mapping *out)
{
    char *maps = read_maps();
    if (!maps)
        return -ENOMEM;
    char *cur = maps;
    struct patcher_mapping m;
    int rc = -ENOENT;
    while (next_mapping(&cur, &m, NULL)) {
        if (addr >= m.start && addr < m.end) {
            *out = m;
            rc = 0;
            /* Merge adjacent mappings with the same protection (a function
             * may straddle two VMAs split by an earlier mprotect). */
            struct patcher_mapping n;
            while (next_mapping(&cur, &n, NULL) && n.start == out->end && n.prot == out->prot)
                out->end = n.end;
            break;
        }
    }
    free(maps);
    return rc;
}

static uint64_t dist(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

/* Wraps a freshly mapped slab; unmaps it when there is no memory for the
 * bookkeeping. */
static struct slab *slab_for(void *p)
{
    struct slab *s = calloc(1, sizeof *s);
    if (!s) {
        munmap(p, SLAB_SIZE);
        return NULL;
    }
    s->base = p;
    return s;
}

/* Maps a new slab as close to `near` as the gaps allow. */
static struct slab *new_slab(uint64_t near, bool *is_near)
{
    char *maps = read_maps();
    if (!maps)
        return NULL;
    enum { MAX_CAND = 512 };
    uint64_t cand[MAX_CAND];
    int ncand = 0;
    uint64_t prev_end = LOWEST_ADDR;
    char *cur = maps;
    struct patcher_mapping m;
    const char *name;
    uint64_t ps = page_size();
    while (ncand < MAX_CAND - 2) {
        bool more = next_mapping(&cur, &m, &name);
        uint64_t gap_lo = prev_end, gap_hi = more ? m.start : 0x7ffffffff000ull;
        if (more && strncmp(name, "[stack]", 7) == 0)
            gap_hi = gap_hi > KEEP_CLEAR ? gap_hi - KEEP_CLEAR : 0;
        if (gap_hi > gap_lo && gap_hi - gap_lo >= SLAB_SIZE) {
            /* The address in [gap_lo, gap_hi - SLAB_SIZE] nearest to `near`. */
            uint64_t lo = (gap_lo + ps - 1) & ~(ps - 1);
            uint64_t hi = (gap_hi - SLAB_SIZE) & ~(ps - 1);
            if (hi >= lo) {
                uint64_t want = near & ~(ps - 1);
                cand[ncand++] = want < lo ? lo : want > hi ? hi : want;
            }
        }
        if (!more)
            break;
        uint64_t end = m.end;
        if (strncmp(name, "[heap]", 6) == 0)
            end += KEEP_CLEAR;
        if (end > prev_end)
            prev_end = end;
    }
    free(maps);
    /* Closest first (insertion sort: few candidates). */
    for (int i = 1; i < ncand; i++)
        for (int j = i; j > 0 && dist(cand[j], near) < dist(cand[j - 1], near); j--) {
            uint64_t t = cand[j];
            cand[j] = cand[j - 1];
            cand[j - 1] = t;
        }
    for (int i = 0; i < ncand; i++) {
        uint64_t a = cand[i];
        if (dist(a, near) + SLAB_SIZE >= (uint64_t)PATCHER_REL32_REACH)
            break;
        void *p = mmap((void *)a, SLAB_SIZE, PROT_READ | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == MAP_FAILED)
            continue;
        if ((uint64_t)p != a) { /* old kernel ignoring the flag: keep only if near */
            if (dist((uint64_t)p, near) + SLAB_SIZE >= (uint64_t)PATCHER_REL32_REACH) {
                munmap(p, SLAB_SIZE);
                continue;
            }
        }
        *is_near = true;
        return slab_for(p);
    }
    /* Anywhere: the caller then needs a 14-byte absolute jump. */
    void *p = mmap(NULL, SLAB_SIZE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    *is_near = dist((uint64_t)p, near) + SLAB_SIZE < (uint64_t)PATCHER_REL32_REACH;
    return slab_for(p);
}

uint8_t *patcher_code_alloc(uint64_t near, size_t size, bool *is_near)
{
    size = (size + 15) & ~(size_t)15;
    if (size > SLAB_SIZE)
        return NULL;
    for (struct slab *s = slabs; s; s = s->next) {
        uint64_t b = (uint64_t)s->base;
        if (s->used + size <= SLAB_SIZE &&
            dist(b, near) + SLAB_SIZE < (uint64_t)PATCHER_REL32_REACH) {
            uint8_t *p = s->base + s->used;
            s->used += size;
            *is_near = true;
            return p;
        }
    }
    bool near_ok = false;
    struct slab *s = new_slab(near, &near_ok);
    if (!s)
        return NULL;
    s->next = slabs;
    slabs = s;
    s->used = size;
    *is_near = near_ok;
    return s->base;
}

int patcher_code_write(uint8_t *dst, const void *src, size_t len)
{
    uint64_t ps = page_size();
    uint64_t lo = (uint64_t)dst & ~(ps - 1);
    uint64_t hi = ((uint64_t)dst + len + ps - 1) & ~(ps - 1);
    if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
        return bpftime_set_error(-errno, "mprotect trampoline RWX: %s", strerror(errno));
    memcpy(dst, src, len);
    __builtin___clear_cache((char *)dst, (char *)dst + len);
    mprotect((void *)lo, hi - lo, PROT_READ | PROT_EXEC);
    return 0;
}

int patcher_code_store64(uint64_t *dst, uint64_t value)
{
    uint64_t ps = page_size();
    uint64_t lo = (uint64_t)dst & ~(ps - 1);
    if (mprotect((void *)lo, ps, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
        return bpftime_set_error(-errno, "mprotect trampoline RWX: %s", strerror(errno));
    __atomic_store_n(dst, value, __ATOMIC_RELEASE);
    mprotect((void *)lo, ps, PROT_READ | PROT_EXEC);
    return 0;
}
