/* The .note.stapsdt reader (bpftime_usdt_sites, attach/elf_symbols.c) on
 * this test binary's own probes (<sys/sdt.h>), with and without a
 * semaphore, and on damaged copies of it: every byte of the notes section
 * scribbled or the file cut short gives a result or -EIO/-EINVAL/-ENOENT,
 * never a fault. */
#define _SDT_HAS_SEMAPHORES 1
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/sdt.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach/elf_symbols.h"
#include "common/error.h"
#include "test/harness.h"

__extension__ unsigned short bpftime_unit_gated_semaphore __attribute__((section(".probes")));
__extension__ unsigned short bpftime_unit_twice_semaphore __attribute__((section(".probes")));

__attribute__((noinline, used)) void usdt_notes_fire(long a, int b)
{
    STAP_PROBE2(bpftime_unit, gated, a, b);
    __asm__ volatile("" ::: "memory");
    STAP_PROBE1(bpftime_unit, twice, a);
    __asm__ volatile("" ::: "memory");
    STAP_PROBE1(bpftime_unit, twice, b);
}

/* Argument-less probes whose note descriptors are 40..43 bytes (24 of
 * addresses, "bpftime_pad\0", the name, an empty argument string): one of
 * each length modulo 4, each note padded to 4 bytes before the next. */
__extension__ unsigned short bpftime_pad_ab_semaphore __attribute__((section(".probes")));
__extension__ unsigned short bpftime_pad_abc_semaphore __attribute__((section(".probes")));
__extension__ unsigned short bpftime_pad_abcd_semaphore __attribute__((section(".probes")));
__extension__ unsigned short bpftime_pad_abcde_semaphore __attribute__((section(".probes")));
__attribute__((noinline, used)) void usdt_notes_pad(void)
{
    STAP_PROBE(bpftime_pad, ab);
    STAP_PROBE(bpftime_pad, abc);
    STAP_PROBE(bpftime_pad, abcd);
    STAP_PROBE(bpftime_pad, abcde);
    STAP_PROBE(bpftime_pad, ab);
}

static void self_path(char *p)
{
    ssize_t n = readlink("/proc/self/exe", p, PATH_MAX - 1);
    p[n > 0 ? n : 0] = 0;
}

TEST(own_probes_sites_semaphores_and_arguments)
{
    char exe[PATH_MAX];
    self_path(exe);
    struct bpftime_usdt_site s[4];
    CHECK_EQ(bpftime_usdt_sites(exe, "bpftime_unit", "gated", s, 4), 1);
    CHECK_EQ(s[0].spec.arg_cnt, 2);
    /* The semaphore's link-time address: this non-PIE/PIE binary's bias is
     * the distance between the runtime and file addresses of the function. */
    struct bpftime_resolved r;
    char arg[PATH_MAX + 32];
    snprintf(arg, sizeof arg, "%s:usdt_notes_fire", exe);
    CHECK_EQ(bpftime_resolve_uprobe_target(arg, strlen(arg), &r), 0);
    CHECK_EQ(s[0].semaphore + r.bias, (uint64_t)(uintptr_t)&bpftime_unit_gated_semaphore);
    /* The site lies inside usdt_notes_fire. */
    CHECK(s[0].pc + r.bias >= r.addr);
    CHECK(r.size == 0 || s[0].pc + r.bias < r.addr + r.size);
    CHECK_EQ(bpftime_usdt_sites(exe, "bpftime_unit", "twice", s, 4), 2);
    CHECK(s[0].pc != s[1].pc);
    CHECK_EQ(bpftime_usdt_sites(exe, "bpftime_unit", "twice", NULL, 0), 2);
    CHECK_EQ(bpftime_usdt_sites(exe, "bpftime_unit", "nope", s, 4), -ENOENT);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "no USDT probe bpftime_unit:nope");
    CHECK_EQ(bpftime_usdt_sites("/nonexistent", "p", "n", s, 4), -ENOENT);
    /* every note found, whatever its descriptor's length modulo 4 */
    CHECK_EQ(bpftime_usdt_sites(exe, "bpftime_pad", "ab", s, 4), 2);
    CHECK_EQ(s[0].spec.arg_cnt, 0);
    CHECK_EQ(bpftime_usdt_sites(exe, "bpftime_pad", "abc", s, 4), 1);
    CHECK_EQ(bpftime_usdt_sites(exe, "bpftime_pad", "abcd", s, 4), 1);
    CHECK_EQ(bpftime_usdt_sites(exe, "bpftime_pad", "abcde", s, 4), 1);
}

/* A copy of this binary with `mutate` applied to its bytes. */
static int damaged_copy(char *out, void (*mutate)(uint8_t *, size_t *, uint64_t), uint64_t seed)
{
    char exe[PATH_MAX];
    self_path(exe);
    int fd = open(exe, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return -1;
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len);
    if (!buf || read(fd, buf, len) != (ssize_t)len)
        return -1;
    close(fd);
    mutate(buf, &len, seed);
    snprintf(out, PATH_MAX, "/tmp/bpftime-usdt-notes-%d", (int)getpid());
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
        return -1;
    close(fd);
    free(buf);
    return 0;
}

/* Offset of the first stapsdt note in a file image (its 12-byte header:
 * namesz 8, descsz, type 3, then "stapsdt\0") and up to 4 KiB after it. */
static size_t notes_at(const uint8_t *b, size_t len, size_t *size)
{
    for (size_t i = 12; i + 8 <= len; i++)
        if (memcmp(b + i, "stapsdt", 8) == 0 && b[i - 4] == 3 && b[i - 12] == 8) {
            *size = len - (i - 12) < 4096 ? len - (i - 12) : 4096;
            return i - 12;
        }
    *size = 0;
    return 0;
}

static void scribble(uint8_t *b, size_t *len, uint64_t seed)
{
    size_t size;
    size_t at = notes_at(b, *len, &size);
    srand((unsigned)seed);
    for (int k = 0; k < 8 && size; k++)
        b[at + (size_t)rand() % size] = (uint8_t)rand();
}

static void truncate_in_notes(uint8_t *b, size_t *len, uint64_t seed)
{
    size_t size;
    size_t at = notes_at(b, *len, &size);
    if (size)
        *len = at + (size_t)(seed % size);
}

TEST(damaged_files_never_fault)
{
    char path[PATH_MAX];
    struct bpftime_usdt_site s[8];
    for (uint64_t seed = 1; seed <= 200; seed++) {
        CHECK_EQ(damaged_copy(path, seed % 2 ? scribble : truncate_in_notes, seed), 0);
        int rc = bpftime_usdt_sites(path, "bpftime_unit", "twice", s, 8);
        CHECK(rc >= 0 || rc == -EIO || rc == -EINVAL || rc == -ENOENT);
        for (int i = 0; i < rc && i < 8; i++)
            CHECK(s[i].spec.arg_cnt >= 0 && s[i].spec.arg_cnt <= 12);
        unlink(path);
    }
}
