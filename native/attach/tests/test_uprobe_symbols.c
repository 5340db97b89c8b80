/* Symbol resolution for uprobe targets (attach/elf_symbols.c) against this
 * process's own mappings: libc by soname, prefix and path, IFUNCs, the main
 * executable, offsets and addresses, and the errors. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "attach/elf_symbols.h"
#include "common/error.h"
#include "test/harness.h"

__attribute__((noinline, used)) int uprobe_symbols_local_fn(int x)
{
    __asm__ volatile("" ::: "memory");
    return x * 3;
}

/* Known instruction lengths: movabs (10 bytes) at +0, add (3) at +10, ret at +13. */
__asm__(".text\n"
        ".globl uprobe_symbols_asm_fn\n"
        ".type uprobe_symbols_asm_fn, @function\n"
        "uprobe_symbols_asm_fn:\n"
        "movabsq $0x1122334455667788, %rax\n"
        "addq %rdi, %rax\n"
        "ret\n"
        ".size uprobe_symbols_asm_fn, .-uprobe_symbols_asm_fn\n");
extern char uprobe_symbols_asm_fn[];

static void *libc_sym(const char *name)
{
    void *h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    void *p = h ? dlsym(h, name) : NULL;
    if (h)
        dlclose(h);
    return p;
}

static int resolve(const char *arg, struct bpftime_resolved *out, char *err)
{
    int rc = bpftime_resolve_uprobe_target(arg, strlen(arg), out);
    snprintf(err, 512, "%s", bpftime_last_error_message());
    return rc;
}

static int resolve_file(const char *arg, char *path, uint64_t *offset, char *err)
{
    int rc = bpftime_resolve_uprobe_file(arg, strlen(arg), path, PATH_MAX, offset);
    snprintf(err, 512, "%s", bpftime_last_error_message());
    return rc;
}

TEST(libc_by_soname_prefix_and_path)
{
    struct bpftime_resolved r;
    char err[512];
    void *malloc_addr = libc_sym("malloc");
    CHECK(malloc_addr);
    CHECK_EQ(resolve("libc.so.6:malloc", &r, err), 0);
    CHECK_EQ(r.addr, (uintptr_t)malloc_addr);
    CHECK(r.size > 0);
    CHECK_STR_CONTAINS(r.path, "libc.so.6");
    CHECK_EQ(resolve("libc:malloc", &r, err), 0);
    CHECK_EQ(r.addr, (uintptr_t)malloc_addr);
    char arg[PATH_MAX + 16];
    Dl_info info;
    CHECK(dladdr(malloc_addr, &info) && info.dli_fname);
    snprintf(arg, sizeof arg, "%s:malloc", info.dli_fname);
    CHECK_EQ(resolve(arg, &r, err), 0);
    CHECK_EQ(r.addr, (uintptr_t)malloc_addr);
    CHECK_EQ(r.bias, (uintptr_t)info.dli_fbase);
}

TEST(symlink_to_the_library)
{
    void *malloc_addr = libc_sym("malloc");
    Dl_info info;
    CHECK(dladdr(malloc_addr, &info) && info.dli_fname);
    char real[PATH_MAX], link[64], arg[128];
    CHECK(realpath(info.dli_fname, real));
    snprintf(link, sizeof link, "/tmp/bpftime-test-libc-%d.so", (int)getpid());
    unlink(link);
    CHECK_EQ(symlink(real, link), 0);
    snprintf(arg, sizeof arg, "%s:malloc", link);
    struct bpftime_resolved r;
    char err[512];
    int rc = resolve(arg, &r, err);
    unlink(link);
    CHECK_EQ(rc, 0);
    CHECK_EQ(r.addr, (uintptr_t)malloc_addr);
}

TEST(ifunc_resolves_to_the_chosen_implementation)
{
    struct bpftime_resolved r;
    char err[512];
    uint64_t value, size;
    int ifunc = 0;
    Dl_info info;
    CHECK(dladdr(libc_sym("malloc"), &info));
    CHECK_EQ(bpftime_elf_lookup_symbol(info.dli_fname, "strlen", &value, &size, &ifunc), 0);
    CHECK(ifunc); /* glibc's strlen is an IFUNC on x86-64 */
    CHECK_EQ(resolve("libc.so.6:strlen", &r, err), 0);
    CHECK_EQ(r.addr, (uintptr_t)libc_sym("strlen"));
    CHECK(r.addr != r.bias + value); /* not the resolver */
}

TEST(main_executable_by_path_and_name)
{
    char exe[PATH_MAX], arg[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0);
    exe[n] = 0;
    struct bpftime_resolved r;
    char err[512];
    snprintf(arg, sizeof arg, "%s:uprobe_symbols_local_fn", exe);
    CHECK_EQ(resolve(arg, &r, err), 0);
    CHECK_EQ(r.addr, (uintptr_t)&uprobe_symbols_local_fn);
    snprintf(arg, sizeof arg, "%s:uprobe_symbols_local_fn", strrchr(exe, '/') + 1);
    CHECK_EQ(resolve(arg, &r, err), 0);
    CHECK_EQ(r.addr, (uintptr_t)&uprobe_symbols_local_fn);
}

TEST(offset_and_address_forms)
{
    struct bpftime_resolved r, base;
    char err[512], arg[128];
    uintptr_t m = (uintptr_t)libc_sym("malloc");
    CHECK_EQ(resolve("libc.so.6:malloc", &base, err), 0);
    CHECK_EQ(resolve("libc.so.6:malloc+4", &r, err), 0);
    CHECK_EQ(r.addr, m + 4);
    CHECK_EQ(r.size, base.size - 4);
    snprintf(arg, sizeof arg, "libc.so.6:0x%lx", (unsigned long)(m - base.bias));
    CHECK_EQ(resolve(arg, &r, err), 0);
    CHECK_EQ(r.addr, m);
    snprintf(arg, sizeof arg, "libc.so.6:0x%lx+2", (unsigned long)(m - base.bias));
    CHECK_EQ(resolve(arg, &r, err), 0);
    CHECK_EQ(r.addr, m + 2);
}

TEST(offset_must_start_an_instruction)
{
    struct bpftime_resolved r;
    char exe[PATH_MAX], arg[PATH_MAX + 64], err[512], path[PATH_MAX];
    uint64_t offset;
    CHECK(realpath("/proc/self/exe", exe));
    static const struct {
        const char *off;
        int ok;
        const char *inside;
    } cases[] = {
        {"+10", 1, NULL},    {"+0xd", 1, NULL},     {"+1", 0, "at +0,"},
        {"+9", 0, "at +0,"}, {"+11", 0, "at +10,"}, {"+12", 0, "at +10,"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(arg, sizeof arg, "%s:uprobe_symbols_asm_fn%s", exe, cases[i].off);
        int rc = resolve(arg, &r, err);
        int rf = resolve_file(arg, path, &offset, err);
        if (cases[i].ok) {
            CHECK_EQ(rc, 0);
            CHECK_EQ(rf, 0);
            CHECK_EQ(r.addr, (uintptr_t)uprobe_symbols_asm_fn + strtoul(cases[i].off + 1, NULL, 0));
            CHECK_EQ(r.func, (uintptr_t)uprobe_symbols_asm_fn);
            CHECK_EQ(r.func_size, 14);
        } else {
            CHECK_EQ(rc, -EINVAL);
            CHECK_STR_CONTAINS(bpftime_last_error_message(), "instruction boundary");
            CHECK_STR_CONTAINS(bpftime_last_error_message(), cases[i].inside);
            CHECK_EQ(rf, -EINVAL);
        }
    }
}

TEST(errors)
{
    struct bpftime_resolved r;
    char err[512];
    CHECK_EQ(resolve("libc.so.6:no_such_function_xyz", &r, err), -ENOENT);
    CHECK(!r.not_loaded);
    CHECK_STR_CONTAINS(err, "symbol no_such_function_xyz not found in /");
    CHECK_STR_CONTAINS(err, "libc.so.6");
    CHECK_EQ(resolve("libnot-there-at-all.so:f", &r, err), -ENOENT);
    CHECK(r.not_loaded);
    CHECK_STR_CONTAINS(err, "not loaded in this process");
    CHECK_EQ(resolve("/no/such/binary:f", &r, err), -ENOENT);
    CHECK(r.not_loaded);
    CHECK_EQ(resolve("nocolon", &r, err), -EINVAL);
    CHECK_STR_CONTAINS(err, "expected BINARY:SYMBOL");
    CHECK_EQ(resolve("libc.so.6:", &r, err), -EINVAL);
    CHECK_EQ(resolve(":malloc", &r, err), -EINVAL);
    CHECK_EQ(resolve("libc.so.6:malloc+zz", &r, err), -EINVAL);
    CHECK_STR_CONTAINS(err, "bad offset");
    /* A data symbol is not a function. */
    CHECK_EQ(resolve("libc.so.6:environ", &r, err), -ENOENT);
}

TEST(arg_need_not_be_nul_terminated)
{
    struct bpftime_resolved r;
    const char buf[] = "libc.so.6:mallocXXXX";
    CHECK_EQ(bpftime_resolve_uprobe_target(buf, 16, &r), 0);
    CHECK_EQ(r.addr, (uintptr_t)libc_sym("malloc"));
}

/* Garbage and truncated ELF files: errors, never a crash. */
TEST(bad_elf_files)
{
    char path[64];
    uint64_t v, s;
    int ifunc;
    snprintf(path, sizeof path, "/tmp/bpftime-test-elf-%d", (int)getpid());
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, "not an elf file at all, just some text......................", 60) == 60);
    close(fd);
    CHECK_EQ(bpftime_elf_lookup_symbol(path, "f", &v, &s, &ifunc), -EIO);
    /* The first n bytes of libc for several n. */
    Dl_info info;
    CHECK(dladdr(libc_sym("malloc"), &info));
    int in = open(info.dli_fname, O_RDONLY);
    CHECK(in >= 0);
    static char buf[1 << 20];
    ssize_t total = read(in, buf, sizeof buf);
    close(in);
    CHECK(total > 4096);
    size_t sizes[] = {64, 100, 4096, 65536, (size_t)total};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
        CHECK(write(fd, buf, sizes[i]) == (ssize_t)sizes[i]);
        close(fd);
        int rc = bpftime_elf_lookup_symbol(path, "malloc", &v, &s, &ifunc);
        CHECK(rc == -ENOENT || rc == -EIO || rc == 0);
    }
    /* Random bit flips in the headers. */
    srand(1);
    for (int i = 0; i < 200; i++) {
        static char copy[1 << 16];
        memcpy(copy, buf, sizeof copy);
        for (int k = 0; k < 8; k++)
            copy[rand() % 128] ^= (char)(1 << (rand() % 8));
        fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
        CHECK(write(fd, copy, sizeof copy) == (ssize_t)sizeof copy);
        close(fd);
        bpftime_elf_lookup_symbol(path, "malloc", &v, &s, &ifunc);
        bpftime_elf_first_load_vaddr(path, &v);
    }
    unlink(path);
}

/* ---- files rather than processes (kernel uprobes) ---- */

/* File offset of code at `addr` in this process, from /proc/self/maps. */
static uint64_t self_offset(uint64_t addr, char *path)
{
    FILE *fp = fopen("/proc/self/maps", "re");
    char line[PATH_MAX + 128];
    uint64_t out = UINT64_MAX;
    while (fp && fgets(line, sizeof line, fp)) {
        unsigned long start, end, off;
        int pos = 0;
        if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %n", &start, &end, &off, &pos) < 3)
            continue;
        if (addr >= start && addr < end) {
            sscanf(line + pos, "%s", path);
            out = addr - start + off;
            break;
        }
    }
    if (fp)
        fclose(fp);
    return out;
}

TEST(file_offset_matches_the_process_resolution)
{
    char exe[PATH_MAX], arg[PATH_MAX + 64], path[PATH_MAX], mapped[PATH_MAX], err[512];
    CHECK(realpath("/proc/self/exe", exe));
    snprintf(arg, sizeof arg, "%s:uprobe_symbols_asm_fn+10", exe);
    uint64_t offset = 0;
    CHECK_EQ(resolve_file(arg, path, &offset, err), 0);
    CHECK(strcmp(path, exe) == 0);
    CHECK_EQ(offset, self_offset((uint64_t)(uintptr_t)uprobe_symbols_asm_fn + 10, mapped));
    /* libc by its bare name, malloc at the file offset this process runs it from. */
    CHECK_EQ(resolve_file("libc:malloc", path, &offset, err), 0);
    CHECK_EQ(offset, self_offset((uint64_t)(uintptr_t)libc_sym("malloc"), mapped));
    CHECK(strcmp(path, mapped) == 0);
}

TEST(file_ifunc_is_the_implementation_as_in_a_process)
{
    char path[PATH_MAX], mapped[PATH_MAX], err[512];
    uint64_t offset = 0, value, size, resolver;
    int ifunc = 0;
    CHECK_EQ(resolve_file("libc.so.6:strlen", path, &offset, err), 0);
    CHECK_EQ(offset, self_offset((uint64_t)(uintptr_t)libc_sym("strlen"), mapped));
    CHECK(strcmp(path, mapped) == 0);
    /* ... and not the resolver the symbol's value points at. */
    CHECK_EQ(bpftime_elf_lookup_symbol(path, "strlen", &value, &size, &ifunc), 0);
    CHECK(ifunc);
    CHECK_EQ(bpftime_elf_vaddr_to_offset(path, value, &resolver), 0);
    CHECK(resolver != offset);
    /* The process resolution agrees. */
    struct bpftime_resolved r;
    CHECK_EQ(resolve("libc.so.6:strlen", &r, err), 0);
    CHECK_EQ(self_offset(r.addr, mapped), offset);
}

TEST(file_describe_offset_names_the_function)
{
    char exe[PATH_MAX], arg[PATH_MAX + 64], path[PATH_MAX], name[256], err[512];
    uint64_t offset = 0, delta = 99;
    CHECK(realpath("/proc/self/exe", exe));
    snprintf(arg, sizeof arg, "%s:uprobe_symbols_local_fn+3", exe);
    CHECK_EQ(resolve_file(arg, path, &offset, err), 0);
    CHECK_EQ(bpftime_elf_describe_offset(path, offset, name, sizeof name, &delta), 0);
    CHECK(strcmp(name, "uprobe_symbols_local_fn") == 0);
    CHECK_EQ(delta, 3);
    CHECK_EQ(bpftime_elf_describe_offset(path, 1ull << 40, name, sizeof name, &delta), -ENOENT);
}

/* The file offset where this executable's code segment starts (its
 * PT_LOAD with PF_X), from the program headers the loader used. */
static int exec_segment(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD && (info->dlpi_phdr[i].p_flags & PF_X)) {
            *(uint64_t *)data = info->dlpi_phdr[i].p_offset;
            return 1;
        }
    return 1; /* the first object is the executable */
}

/* A global data object (STT_OBJECT) of this executable: no function
 * contains its bytes. */
__attribute__((used)) const char uprobe_symbols_data[64] = "data, not code";

struct data_at {
    uintptr_t addr;
    uint64_t file_off;
};

/* The file offset of d->addr, by the executable's PT_LOAD that holds it. */
static int data_offset(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct data_at *d = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && d->addr >= lo && d->addr < lo + ph->p_filesz)
            d->file_off = ph->p_offset + (d->addr - lo);
    }
    return 1;
}

TEST(file_describe_offset_of_data_names_no_function)
{
    char exe[PATH_MAX], name[256] = "";
    uint64_t delta = 99;
    CHECK(realpath("/proc/self/exe", exe));
    struct data_at d = {(uintptr_t)&uprobe_symbols_data[8], 0};
    dl_iterate_phdr(data_offset, &d);
    CHECK(d.file_off != 0);
    CHECK_EQ(bpftime_elf_describe_offset(exe, d.file_off, name, sizeof name, &delta), -ENOENT);
}

/* The segment's first byte is the crt's _init (GNU ld puts .init first in
 * the code segment): an offset equal to a segment's p_offset is inside it. */
TEST(file_describe_offset_at_a_segment_start)
{
    char exe[PATH_MAX], name[256];
    uint64_t off = 0, delta = 99;
    CHECK(realpath("/proc/self/exe", exe));
    dl_iterate_phdr(exec_segment, &off);
    CHECK(off != 0);
    CHECK_EQ(bpftime_elf_describe_offset(exe, off, name, sizeof name, &delta), 0);
    CHECK(strcmp(name, "_init") == 0);
    CHECK_EQ(delta, 0);
}

TEST(file_errors)
{
    char path[PATH_MAX], err[512];
    uint64_t offset;
    CHECK_EQ(resolve_file("/nonexistent/bin:main", path, &offset, err), -ENOENT);
    CHECK_STR_CONTAINS(err, "no such file");
    CHECK_EQ(resolve_file("no-such-binary-anywhere:main", path, &offset, err), -ENOENT);
    CHECK_STR_CONTAINS(err, "give its full path");
    CHECK_EQ(resolve_file("libc.so.6:no_such_function", path, &offset, err), -ENOENT);
    CHECK_STR_CONTAINS(err, "symbol no_such_function not found in");
    CHECK_EQ(resolve_file("libc.so.6:0xfffffffff0", path, &offset, err), -EINVAL);
    CHECK_STR_CONTAINS(err, "in no loadable segment");
    CHECK_EQ(resolve_file("work", path, &offset, err), -EINVAL);
    /* A program on $PATH by its name. */
    CHECK_EQ(bpftime_find_binary_file("sh", path, sizeof path), 0);
    CHECK(path[0] == '/');
}
