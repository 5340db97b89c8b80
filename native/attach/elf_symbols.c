/* See elf_symbols.h. The ELF file is mapped read-only and every offset read
 * from it is bounds-checked: a truncated or hostile file gives -EIO, never a
 * fault. */
#include "attach/elf_symbols.h"
#include "common/error.h"
#include "patcher/patcher.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* ---- ELF file access ------------------------------------------------------ */

struct elf_file {
    const uint8_t *data;
    size_t size;
    const Elf64_Ehdr *eh;
};

static int elf_open(const char *path, struct elf_file *f)
{
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bpftime_set_error(-errno, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
        close(fd);
        return bpftime_set_error(-EIO, "%s is not an ELF file (too small)", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return bpftime_set_error(-EIO, "cannot map %s: %s", path, strerror(errno));
    f->data = p;
    f->size = (size_t)st.st_size;
    f->eh = p;
    const unsigned char *id = f->eh->e_ident;
    if (memcmp(id, ELFMAG, SELFMAG) != 0 || id[EI_CLASS] != ELFCLASS64 ||
        id[EI_DATA] != ELFDATA2LSB) {
        munmap(p, f->size);
        f->data = NULL;
        return bpftime_set_error(-EIO, "%s is not a 64-bit little-endian ELF file", path);
    }
    return 0;
}

static void elf_close(struct elf_file *f)
{
    if (f->data)
        munmap((void *)f->data, f->size);
    f->data = NULL;
}

/* Pointer to [off, off+len) inside the file, or NULL if out of bounds. */
static const void *elf_at(const struct elf_file *f, uint64_t off, uint64_t len)
{
    if (off > f->size || len > f->size - off)
        return NULL;
    return f->data + off;
}

static const Elf64_Shdr *elf_section(const struct elf_file *f, unsigned i)
{
    const Elf64_Ehdr *eh = f->eh;
    if (eh->e_shentsize != sizeof(Elf64_Shdr) || i >= eh->e_shnum)
        return NULL;
    return elf_at(f, eh->e_shoff + (uint64_t)i * sizeof(Elf64_Shdr), sizeof(Elf64_Shdr));
}

/* Does symbol table name `n` (maybe "name@VER" / "name@@VER") name `want`? */
static bool name_matches(const char *n, size_t n_max, const char *want, size_t want_len)
{
    if (want_len > n_max || strncmp(n, want, want_len) != 0)
        return false;
    return want_len == n_max || n[want_len] == 0 || n[want_len] == '@';
}

struct sym_hit {
    bool found;
    int rank; /* 2 global, 1 weak, 0 local */
    uint64_t value, size;
    bool ifunc;
};

static void scan_symtab(const struct elf_file *f, const Elf64_Shdr *sh, const char *want,
                        struct sym_hit *hit)
{
    if (sh->sh_entsize != sizeof(Elf64_Sym))
        return;
    const Elf64_Shdr *strsh = elf_section(f, sh->sh_link);
    if (!strsh)
        return;
    const char *strtab = elf_at(f, strsh->sh_offset, strsh->sh_size);
    const Elf64_Sym *syms = elf_at(f, sh->sh_offset, sh->sh_size);
    if (!strtab || !syms)
        return;
    size_t n = sh->sh_size / sizeof(Elf64_Sym), want_len = strlen(want);
    for (size_t i = 0; i < n; i++) {
        const Elf64_Sym *s = &syms[i];
        unsigned type = ELF64_ST_TYPE(s->st_info), bind = ELF64_ST_BIND(s->st_info);
        if (type != STT_FUNC && type != STT_GNU_IFUNC)
            continue;
        if (s->st_shndx == SHN_UNDEF || s->st_name >= strsh->sh_size)
            continue;
        if (!name_matches(strtab + s->st_name, strsh->sh_size - s->st_name, want, want_len))
            continue;
        int rank = bind == STB_GLOBAL ? 2 : bind == STB_WEAK ? 1 : 0;
        if (hit->found && rank <= hit->rank)
            continue;
        *hit = (struct sym_hit){true, rank, s->st_value, s->st_size, type == STT_GNU_IFUNC};
    }
}

int bpftime_elf_lookup_symbol(const char *path, const char *symbol, uint64_t *value, uint64_t *size,
                              int *is_ifunc)
{
    struct elf_file f;
    int rc = elf_open(path, &f);
    if (rc < 0)
        return rc;
    struct sym_hit hit = {0};
    /* .symtab first (it has local functions too), .dynsym for stripped files. */
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < f.eh->e_shnum; i++) {
            const Elf64_Shdr *sh = elf_section(&f, i);
            if (!sh)
                break;
            if (sh->sh_type == (pass == 0 ? SHT_SYMTAB : SHT_DYNSYM))
                scan_symtab(&f, sh, symbol, &hit);
        }
        if (hit.found && hit.rank > 0)
            break;
    }
    elf_close(&f);
    if (!hit.found)
        return bpftime_set_error(-ENOENT, "symbol %s not found in %s", symbol, path);
    *value = hit.value;
    *size = hit.size;
    *is_ifunc = hit.ifunc;
    return 0;
}

int bpftime_elf_first_load_vaddr(const char *path, uint64_t *vaddr)
{
    struct elf_file f;
    int rc = elf_open(path, &f);
    if (rc < 0)
        return rc;
    rc = -EIO;
    if (f.eh->e_phentsize == sizeof(Elf64_Phdr)) {
        for (unsigned i = 0; i < f.eh->e_phnum; i++) {
            const Elf64_Phdr *ph = elf_at(&f, f.eh->e_phoff + (uint64_t)i * sizeof *ph, sizeof *ph);
            if (!ph)
                break;
            if (ph->p_type != PT_LOAD)
                continue;
            uint64_t align = ph->p_align > 1 ? ph->p_align : 4096;
            if (align > 4096)
                align = 4096; /* mappings are page-granular */
            if ((ph->p_offset & ~(align - 1)) != 0)
                break;
            *vaddr = ph->p_vaddr & ~(align - 1);
            rc = 0;
            break;
        }
    }
    elf_close(&f);
    if (rc < 0)
        return bpftime_set_error(rc, "%s has no loadable segment at file offset 0", path);
    return 0;
}

/* ---- /proc/<pid>/maps ------------------------------------------------------- */

struct map_line {
    uint64_t start, end, offset;
    unsigned dev_major, dev_minor;
    uint64_t inode;
    char perms[5];
    char path[PATH_MAX];
};

static bool parse_map_line(const char *line, struct map_line *m)
{
    int pos = 0;
    if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu %n", &m->start, &m->end, m->perms, &m->offset,
               &m->dev_major, &m->dev_minor, &m->inode, &pos) < 7)
        return false;
    const char *p = line + pos;
    while (*p == ' ')
        p++;
    snprintf(m->path, sizeof m->path, "%s", p);
    size_t n = strlen(m->path);
    while (n && (m->path[n - 1] == '\n'))
        m->path[--n] = 0;
    const char *del = " (deleted)";
    size_t dl = strlen(del);
    if (n > dl && strcmp(m->path + n - dl, del) == 0)
        m->path[n - dl] = 0;
    return true;
}

struct binary_spec {
    const char *name;
    bool is_path;
    char real[PATH_MAX];
    bool have_stat;
    struct stat st;
};

static void spec_init(struct binary_spec *b, const char *name)
{
    memset(b, 0, sizeof *b);
    b->name = name;
    b->is_path = strchr(name, '/') != NULL;
    if (b->is_path) {
        if (!realpath(name, b->real))
            snprintf(b->real, sizeof b->real, "%s", name);
        b->have_stat = stat(name, &b->st) == 0;
    }
}

static bool spec_matches(const struct binary_spec *b, const struct map_line *m)
{
    if (m->path[0] != '/')
        return false; /* [heap], anonymous, ... */
    if (b->is_path) {
        if (strcmp(m->path, b->real) == 0 || strcmp(m->path, b->name) == 0)
            return true;
        return b->have_stat && m->inode == (uint64_t)b->st.st_ino &&
               m->dev_major == major(b->st.st_dev) && m->dev_minor == minor(b->st.st_dev);
    }
    const char *base = strrchr(m->path, '/') + 1;
    size_t n = strlen(b->name);
    if (strncmp(base, b->name, n) != 0)
        return false;
    return base[n] == 0 || base[n] == '.' || base[n] == '-';
}

static FILE *open_maps(int pid)
{
    char p[64];
    if (pid)
        snprintf(p, sizeof p, "/proc/%d/maps", pid);
    else
        snprintf(p, sizeof p, "/proc/self/maps");
    return fopen(p, "re");
}

int bpftime_find_mapping(int pid, const char *binary, char *path, size_t path_len, uint64_t *bias)
{
    struct binary_spec b;
    spec_init(&b, binary);
    FILE *fp = open_maps(pid);
    if (!fp)
        return bpftime_set_error(-errno, "cannot read the memory map of process %d: %s", pid,
                                 strerror(errno));
    char line[PATH_MAX + 128];
    struct map_line m;
    bool found = false;
    uint64_t start0 = 0;
    bool have0 = false;
    char found_path[PATH_MAX] = "";
    while (fgets(line, sizeof line, fp)) {
        if (!parse_map_line(line, &m))
            continue;
        if (found ? strcmp(m.path, found_path) != 0 : !spec_matches(&b, &m))
            continue;
        if (!found) {
            found = true;
            snprintf(found_path, sizeof found_path, "%s", m.path);
        }
        if (m.offset == 0 && !have0) {
            have0 = true;
            start0 = m.start;
        }
    }
    fclose(fp);
    if (!found) {
        if (pid)
            return bpftime_set_error(-ENOENT, "%s is not loaded in process %d", binary, pid);
        return bpftime_set_error(-ENOENT, "%s is not loaded in this process", binary);
    }
    if (!have0)
        return bpftime_set_error(-EIO, "%s: no mapping at file offset 0", found_path);
    /* /proc/<pid>/root makes the path right for a process in another mount namespace. */
    char file[PATH_MAX + 32];
    if (pid)
        snprintf(file, sizeof file, "/proc/%d/root%s", pid, found_path);
    else
        snprintf(file, sizeof file, "%s", found_path);
    uint64_t vaddr;
    int rc = bpftime_elf_first_load_vaddr(file, &vaddr);
    if (rc < 0)
        return rc;
    *bias = start0 - vaddr;
    snprintf(path, path_len, "%s", found_path);
    return 0;
}

/* Is addr inside an executable mapping of this process? */
static bool is_executable(uint64_t addr)
{
    FILE *fp = open_maps(0);
    if (!fp)
        return true; /* cannot tell: let the patcher decide */
    char line[PATH_MAX + 128];
    struct map_line m;
    bool ok = false;
    while (fgets(line, sizeof line, fp))
        if (parse_map_line(line, &m) && addr >= m.start && addr < m.end) {
            ok = m.perms[2] == 'x';
            break;
        }
    fclose(fp);
    return ok;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!*s || !isdigit((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* A uprobe target split into its parts (pointers into buf). */
struct target_spec {
    char buf[PATH_MAX];
    const char *binary;
    char *sym; /* SYMBOL or 0xADDR */
    uint64_t off;
};

/* Splits arg (arg_len bytes, a stored NUL tolerated) into BINARY, SYMBOL or
 * 0xADDR, and +OFF. */
static int parse_target(const char *arg, size_t arg_len, struct target_spec *t)
{
    if (arg_len >= PATH_MAX)
        return bpftime_set_error(-EINVAL, "uprobe target is too long");
    memcpy(t->buf, arg, arg_len);
    t->buf[arg_len] = 0;
    char *colon = strrchr(t->buf, ':');
    if (!colon || colon == t->buf || !colon[1])
        return bpftime_set_error(
            -EINVAL, "uprobe target \"%s\": expected BINARY:SYMBOL[+OFF] or BINARY:0xADDR", t->buf);
    *colon = 0;
    t->binary = t->buf;
    t->sym = colon + 1;
    t->off = 0;
    char *plus = strrchr(t->sym, '+');
    if (plus) {
        *plus = 0;
        if (parse_u64(plus + 1, &t->off) < 0 || !*t->sym)
            return bpftime_set_error(-EINVAL, "uprobe target \"%s:%s+%s\": bad offset", t->binary,
                                     t->sym, plus + 1);
    }
    return 0;
}

/* The function an IFUNC named `sym` in `path` resolves to in this process (what
 * the dynamic linker picked for this machine), or NULL. */
static void *ifunc_target(const char *path, const char *sym)
{
    void *h = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
    void *p = h ? dlsym(h, sym) : NULL;
    if (!p)
        p = dlsym(RTLD_DEFAULT, sym);
    if (h)
        dlclose(h);
    return p;
}

/* Refuses SYM+OFF unless OFF starts an instruction, decoding the function's
 * bytes from the file (memory may already hold a patch). */
static int check_insn_boundary(const char *path, const struct target_spec *t, uint64_t value,
                               uint64_t size)
{
    if (t->off == 0)
        return 0;
    uint64_t foff;
    int rc = bpftime_elf_vaddr_to_offset(path, value, &foff);
    if (rc < 0)
        return rc;
    struct elf_file f;
    rc = elf_open(path, &f);
    if (rc < 0)
        return rc;
    uint64_t len = size ? size : t->off + 16;
    if (foff > f.size)
        len = 0;
    else if (len > f.size - foff)
        len = f.size - foff;
    uint64_t at = 0;
    rc = len ? bpftime_insn_boundary(f.data + foff, len, value, t->off, &at) : -EINVAL;
    elf_close(&f);
    if (rc == 1)
        return 0;
    if (rc == 0)
        return bpftime_set_error(-EINVAL,
                                 "uprobe target %s:%s+%llu: the offset is inside the instruction "
                                 "at +%llu, not at an instruction boundary; use +%llu or the "
                                 "start of a later instruction (objdump -d)",
                                 t->binary, t->sym, (unsigned long long)t->off,
                                 (unsigned long long)at, (unsigned long long)at);
    return bpftime_set_error(-EINVAL,
                             "uprobe target %s:%s+%llu: cannot decode the function up to the "
                             "offset (%s)",
                             t->binary, t->sym, (unsigned long long)t->off,
                             bpftime_last_error_message());
}

int bpftime_resolve_uprobe_target(const char *arg, size_t arg_len, struct bpftime_resolved *out)
{
    memset(out, 0, sizeof *out);
    struct target_spec t;
    int rc = parse_target(arg, arg_len, &t);
    if (rc < 0)
        return rc;
    const char *binary = t.binary;
    char *sym = t.sym;
    uint64_t off = t.off;

    rc = bpftime_find_mapping(0, binary, out->path, sizeof out->path, &out->bias);
    if (rc == -ENOENT)
        out->not_loaded = 1;
    if (rc < 0)
        return rc;

    uint64_t addr;
    if (sym[0] == '0' && (sym[1] == 'x' || sym[1] == 'X')) {
        uint64_t v;
        if (parse_u64(sym, &v) < 0)
            return bpftime_set_error(-EINVAL, "uprobe target \"%s:%s\": bad address", binary, sym);
        addr = v + out->bias + off;
        out->size = 0;
    } else {
        uint64_t value, size;
        int ifunc;
        rc = bpftime_elf_lookup_symbol(out->path, sym, &value, &size, &ifunc);
        if (rc < 0)
            return rc;
        if (ifunc) {
            void *p = ifunc_target(out->path, sym);
            if (!p)
                return bpftime_set_error(
                    -ENOENT, "%s in %s is an IFUNC and the dynamic linker cannot resolve it", sym,
                    out->path);
            addr = (uint64_t)(uintptr_t)p + off;
            out->size = 0;
        } else {
            if (size && off >= size)
                return bpftime_set_error(-EINVAL,
                                         "uprobe target %s:%s+%llu: the offset is beyond the "
                                         "function (%llu bytes)",
                                         binary, sym, (unsigned long long)off,
                                         (unsigned long long)size);
            rc = check_insn_boundary(out->path, &t, value, size);
            if (rc < 0)
                return rc;
            addr = value + out->bias + off;
            out->size = size ? size - off : 0;
            out->func = value + out->bias;
            out->func_size = size;
        }
    }
    if (!is_executable(addr))
        return bpftime_set_error(-EFAULT,
                                 "uprobe target %s:%s resolves to 0x%lx, not executable code",
                                 binary, sym, (unsigned long)addr);
    out->addr = addr;
    return 0;
}

/* ---- files rather than processes (kernel uprobes) ------------------------- */

int bpftime_elf_vaddr_to_offset(const char *path, uint64_t vaddr, uint64_t *offset)
{
    struct elf_file f;
    int rc = elf_open(path, &f);
    if (rc < 0)
        return rc;
    rc = bpftime_set_error(-EINVAL, "address 0x%lx is in no loadable segment of %s",
                           (unsigned long)vaddr, path);
    for (unsigned i = 0; f.eh->e_phentsize == sizeof(Elf64_Phdr) && i < f.eh->e_phnum; i++) {
        const Elf64_Phdr *ph = elf_at(&f, f.eh->e_phoff + (uint64_t)i * sizeof *ph, sizeof *ph);
        if (!ph)
            break;
        if (ph->p_type == PT_LOAD && vaddr >= ph->p_vaddr && vaddr - ph->p_vaddr < ph->p_filesz) {
            *offset = vaddr - ph->p_vaddr + ph->p_offset;
            rc = 0;
            break;
        }
    }
    elf_close(&f);
    return rc;
}

/* Is `base` (a file name) `name`, or `name` followed by '.' or '-'? */
static bool base_matches(const char *base, const char *name)
{
    size_t n = strlen(name);
    return strncmp(base, name, n) == 0 && (base[n] == 0 || base[n] == '.' || base[n] == '-');
}

static bool is_regular(const char *path, bool executable)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (!executable || access(path, X_OK) == 0);
}

/* The file a bare library name stands for in the dynamic linker's default
 * directories: the exact name first, else the shortest name it prefixes. */
/* found: PATH_MAX bytes. */
static bool find_in_lib_dirs(const char *name, char *found)
{
    static const char *const dirs[] = {"/lib/x86_64-linux-gnu",
                                       "/usr/lib/x86_64-linux-gnu",
                                       "/lib64",
                                       "/usr/lib64",
                                       "/usr/local/lib",
                                       "/lib",
                                       "/usr/lib"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char best[NAME_MAX + 1] = "";
        DIR *d = opendir(dirs[i]);
        if (!d)
            continue;
        for (struct dirent *e; (e = readdir(d));) {
            if (!base_matches(e->d_name, name))
                continue;
            if (!best[0] || strcmp(e->d_name, name) == 0 ||
                (strcmp(best, name) != 0 && strlen(e->d_name) < strlen(best)))
                snprintf(best, sizeof best, "%s", e->d_name);
        }
        closedir(d);
        if (best[0]) {
            char p[PATH_MAX + NAME_MAX + 2];
            snprintf(p, sizeof p, "%s/%s", dirs[i], best);
            if (is_regular(p, false) && realpath(p, found))
                return true;
        }
    }
    return false;
}

int bpftime_find_binary_file(const char *binary, char *path, size_t path_len)
{
    char real[PATH_MAX];
    if (strchr(binary, '/')) {
        if (!realpath(binary, real) || !is_regular(real, false))
            return bpftime_set_error(-ENOENT, "%s: no such file", binary);
        snprintf(path, path_len, "%s", real);
        return 0;
    }
    uint64_t bias;
    char mapped[PATH_MAX];
    if (bpftime_find_mapping(0, binary, mapped, sizeof mapped, &bias) == 0 &&
        realpath(mapped, real)) {
        snprintf(path, path_len, "%s", real);
        return 0;
    }
    const char *env = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s", env ? env : "/usr/local/bin:/usr/bin:/bin");
    for (char *save = NULL, *dir = strtok_r(dirs, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        char p[PATH_MAX + NAME_MAX + 2];
        snprintf(p, sizeof p, "%s/%s", dir, binary);
        if (is_regular(p, true) && realpath(p, real)) {
            snprintf(path, path_len, "%s", real);
            return 0;
        }
    }
    if (find_in_lib_dirs(binary, real)) {
        snprintf(path, path_len, "%s", real);
        return 0;
    }
    return bpftime_set_error(-ENOENT,
                             "%s: no such library (loaded here or in the library directories) or "
                             "program ($PATH); give its full path",
                             binary);
}

/* File offset of code at `addr` in this process, and the file it is in. */
static int offset_in_self(uint64_t addr, char *path, size_t path_len, uint64_t *offset)
{
    FILE *fp = open_maps(0);
    if (!fp)
        return -errno;
    char line[PATH_MAX + 128];
    struct map_line m;
    int rc = -ENOENT;
    while (fgets(line, sizeof line, fp))
        if (parse_map_line(line, &m) && addr >= m.start && addr < m.end) {
            if (m.path[0] == '/') {
                *offset = addr - m.start + m.offset;
                snprintf(path, path_len, "%s", m.path);
                rc = 0;
            }
            break;
        }
    fclose(fp);
    return rc;
}

int bpftime_resolve_uprobe_file(const char *arg, size_t arg_len, char *path, size_t path_len,
                                uint64_t *offset)
{
    struct target_spec t;
    int rc = parse_target(arg, arg_len, &t);
    if (rc < 0)
        return rc;
    char file[PATH_MAX];
    rc = bpftime_find_binary_file(t.binary, file, sizeof file);
    if (rc < 0)
        return rc;
    snprintf(path, path_len, "%s", file);
    if (t.sym[0] == '0' && (t.sym[1] == 'x' || t.sym[1] == 'X')) {
        uint64_t v;
        if (parse_u64(t.sym, &v) < 0)
            return bpftime_set_error(-EINVAL, "uprobe target \"%s:%s\": bad address", t.binary,
                                     t.sym);
        return bpftime_elf_vaddr_to_offset(file, v + t.off, offset);
    }
    uint64_t value, size;
    int ifunc;
    rc = bpftime_elf_lookup_symbol(file, t.sym, &value, &size, &ifunc);
    if (rc < 0)
        return rc;
    if (!ifunc) {
        if (size && t.off >= size)
            return bpftime_set_error(-EINVAL,
                                     "uprobe target %s:%s+%llu: the offset is beyond the "
                                     "function (%llu bytes)",
                                     t.binary, t.sym, (unsigned long long)t.off,
                                     (unsigned long long)size);
        rc = check_insn_boundary(file, &t, value, size);
        if (rc < 0)
            return rc;
        return bpftime_elf_vaddr_to_offset(file, value + t.off, offset);
    }
    /* As in a process (bpftime_resolve_uprobe_target): the implementation the
     * dynamic linker picks, which is the same for every process on this machine. */
    void *p = ifunc_target(file, t.sym);
    uint64_t at = 0;
    char impl[PATH_MAX];
    if (!p || offset_in_self((uint64_t)(uintptr_t)p, impl, sizeof impl, &at) < 0)
        return bpftime_set_error(
            -ENOENT,
            "%s in %s is an IFUNC and the dynamic linker cannot resolve it here: "
            "name the implementation (see nm -D %s)",
            t.sym, file, file);
    snprintf(path, path_len, "%s", impl);
    *offset = at + t.off;
    return 0;
}

int bpftime_elf_describe_offset(const char *path, uint64_t offset, char *name, size_t name_len,
                                uint64_t *delta)
{
    struct elf_file f;
    int rc = elf_open(path, &f);
    if (rc < 0)
        return rc;
    bool have_vaddr = false;
    uint64_t vaddr = 0;
    for (unsigned i = 0; f.eh->e_phentsize == sizeof(Elf64_Phdr) && i < f.eh->e_phnum; i++) {
        const Elf64_Phdr *ph = elf_at(&f, f.eh->e_phoff + (uint64_t)i * sizeof *ph, sizeof *ph);
        if (!ph)
            break;
        if (ph->p_type == PT_LOAD && offset >= ph->p_offset &&
            offset - ph->p_offset < ph->p_filesz) {
            vaddr = offset - ph->p_offset + ph->p_vaddr;
            have_vaddr = true;
            break;
        }
    }
    /* A global symbol starting exactly there, else the first function containing it. */
    const char *best = NULL;
    size_t best_max = 0;
    uint64_t best_value = 0;
    bool best_exact = false;
    for (unsigned i = 0; have_vaddr && !best_exact; i++) {
        const Elf64_Shdr *sh = elf_section(&f, i);
        if (!sh)
            break;
        if ((sh->sh_type != SHT_SYMTAB && sh->sh_type != SHT_DYNSYM) ||
            sh->sh_entsize != sizeof(Elf64_Sym))
            continue;
        const Elf64_Shdr *strsh = elf_section(&f, sh->sh_link);
        const char *strtab = strsh ? elf_at(&f, strsh->sh_offset, strsh->sh_size) : NULL;
        const Elf64_Sym *syms = elf_at(&f, sh->sh_offset, sh->sh_size);
        if (!strtab || !syms)
            continue;
        for (size_t k = 0; k < sh->sh_size / sizeof(Elf64_Sym) && !best_exact; k++) {
            const Elf64_Sym *s = &syms[k];
            unsigned type = ELF64_ST_TYPE(s->st_info);
            if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s->st_shndx == SHN_UNDEF ||
                s->st_name >= strsh->sh_size)
                continue;
            uint64_t span = s->st_size ? s->st_size : 1;
            bool exact = s->st_value == vaddr && ELF64_ST_BIND(s->st_info) == STB_GLOBAL;
            if (!exact && (best || vaddr < s->st_value || vaddr - s->st_value >= span))
                continue;
            best = strtab + s->st_name;
            best_max = strsh->sh_size - s->st_name;
            best_value = s->st_value;
            best_exact = exact;
        }
    }
    rc = -ENOENT;
    if (best) {
        size_t n = strnlen(best, best_max);
        const char *at = memchr(best, '@', n);
        if (at)
            n = (size_t)(at - best);
        snprintf(name, name_len, "%.*s", (int)n, best);
        *delta = vaddr - best_value;
        rc = 0;
    }
    elf_close(&f);
    return rc;
}

/* ---- USDT probes ------------------------------------------------------------ */

#define NT_STAPSDT 3

/* A section's name, or "" when it has none we can read. */
static const char *section_name(const struct elf_file *f, const Elf64_Shdr *sh)
{
    const Elf64_Shdr *names = elf_section(f, f->eh->e_shstrndx);
    const char *tab = names ? elf_at(f, names->sh_offset, names->sh_size) : NULL;
    if (!tab || sh->sh_name >= names->sh_size ||
        !memchr(tab + sh->sh_name, 0, names->sh_size - sh->sh_name))
        return "";
    return tab + sh->sh_name;
}

int bpftime_usdt_sites(const char *path, const char *provider, const char *name,
                       struct bpftime_usdt_site *out, int max)
{
    struct elf_file f;
    int rc = elf_open(path, &f);
    if (rc < 0)
        return rc;
    uint64_t base_addr = 0;
    for (unsigned i = 0; i < f.eh->e_shnum; i++) {
        const Elf64_Shdr *sh = elf_section(&f, i);
        if (sh && strcmp(section_name(&f, sh), ".stapsdt.base") == 0)
            base_addr = sh->sh_addr;
    }
    int found = 0, total = 0;
    rc = 0;
    for (unsigned i = 0; rc == 0 && i < f.eh->e_shnum; i++) {
        const Elf64_Shdr *sh = elf_section(&f, i);
        if (!sh || sh->sh_type != SHT_NOTE || strcmp(section_name(&f, sh), ".note.stapsdt") != 0)
            continue;
        const uint8_t *notes = elf_at(&f, sh->sh_offset, sh->sh_size);
        if (!notes) {
            rc = bpftime_set_error(-EIO, "%s: .note.stapsdt is outside the file", path);
            break;
        }
        for (uint64_t off = 0; rc == 0 && off + sizeof(Elf64_Nhdr) <= sh->sh_size;) {
            Elf64_Nhdr nh;
            memcpy(&nh, notes + off, sizeof nh);
            uint64_t name_off = off + sizeof nh;
            uint64_t desc_off = name_off + (((uint64_t)nh.n_namesz + 3) & ~3ull);
            uint64_t next = desc_off + (((uint64_t)nh.n_descsz + 3) & ~3ull);
            if (next > sh->sh_size) {
                rc = bpftime_set_error(-EIO, "%s: truncated note in .note.stapsdt", path);
                break;
            }
            off = next;
            if (nh.n_type != NT_STAPSDT || nh.n_namesz != 8 ||
                memcmp(notes + name_off, "stapsdt", 8) != 0 || nh.n_descsz < 3 * 8 + 3)
                continue;
            const uint8_t *desc = notes + desc_off;
            uint64_t addrs[3];
            memcpy(addrs, desc, sizeof addrs);
            /* provider\0 name\0 args\0, all inside the descriptor */
            const char *strs[3];
            size_t at = sizeof addrs;
            bool ok = true;
            for (int k = 0; k < 3; k++) {
                const char *p = (const char *)desc + at;
                const char *nul = at < nh.n_descsz ? memchr(p, 0, nh.n_descsz - at) : NULL;
                if (!nul) {
                    ok = !(k == 2 && at == nh.n_descsz); /* no arguments at all */
                    strs[k] = "";
                    break;
                }
                strs[k] = p;
                at += (size_t)(nul - p) + 1;
            }
            if (!ok)
                strs[2] = "";
            total++;
            if (strcmp(strs[0], provider) != 0 || strcmp(strs[1], name) != 0)
                continue;
            if (found < max) {
                struct bpftime_usdt_site *site = &out[found];
                site->pc = addrs[0];
                if (base_addr && addrs[1])
                    site->pc += base_addr - addrs[1];
                site->semaphore = addrs[2];
                rc = bpftime_usdt_parse_args(strs[2], &site->spec);
                if (rc < 0)
                    rc = bpftime_set_error(rc, "USDT probe %s:%s in %s: %s", provider, name, path,
                                           bpftime_last_error_message());
            }
            found++;
        }
    }
    elf_close(&f);
    if (rc < 0)
        return rc;
    if (!found)
        return bpftime_set_error(-ENOENT,
                                 "no USDT probe %s:%s in %s (it has %d USDT probe site%s; "
                                 "readelf -n lists them)",
                                 provider, name, path, total, total == 1 ? "" : "s");
    return found;
}
