/* perf_event_open for the uprobe PMU, and the perf ioctls, of an unmodified
 * application (see app_server.h). A uprobe perf event (type from
 * /sys/bus/event_source/devices/uprobe/type; config bit 0 = retprobe,
 * config1 = the binary's path, config2 = the file offset) becomes a region
 * attach target "PATH:0xVADDR" (the file offset turned into the address the
 * ELF file gives it, which the uprobe resolver in every hooked process
 * relocates). The link to a program is made by PERF_EVENT_IOC_SET_BPF plus
 * enabling, or by BPF_LINK_CREATE (bpf_commands.c).
 *
 * The event's pid filter is not kept: a region link fires in every process
 * that runs the region's agent (`bpftime start`, `bpftime inject`). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <string.h>
#include <unistd.h>

#include "attach/attach_impl.h"
#include "bpftime/api.h"
#include "runtime/bpftime_runtime.h"
#include "syscall-server/app_server.h"

int app_uprobe_pmu_type(void); /* interpose.c */

static int pmu_type(const char *pmu)
{
    char path[128];
    snprintf(path, sizeof path, "/sys/bus/event_source/devices/%s/type", pmu);
    FILE *f = fopen(path, "r");
    int t = -1;
    if (f) {
        if (fscanf(f, "%d", &t) != 1)
            t = -1;
        fclose(f);
    }
    return t;
}

/* The virtual address file offset `off` of ELF file `path` is loaded at
 * (before the load bias): through the PT_LOAD segment holding it. */
static int offset_to_vaddr(const char *path, uint64_t off, uint64_t *vaddr)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    Elf64_Ehdr eh;
    int rc = -ENOEXEC;
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr))
        goto out;
    for (uint32_t i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * sizeof ph)) !=
            (ssize_t)sizeof ph)
            break;
        if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) && off >= ph.p_offset &&
            off < ph.p_offset + ph.p_filesz) {
            *vaddr = off - ph.p_offset + ph.p_vaddr;
            rc = 0;
            break;
        }
    }
out:
    app_real_close(fd);
    return rc;
}

long app_perf_event_open(void *uattr, pid_t pid, int cpu, int group_fd, unsigned long flags)
{
    struct perf_event_attr *a = uattr;
    if (!a)
        return -EFAULT;
    int type = (int)a->type;
    if (type == app_uprobe_pmu_type() && type >= 0) {
        const char *path = (const char *)(uintptr_t)a->config1;
        uint64_t vaddr = 0;
        if (!path)
            return -EFAULT;
        int rc = offset_to_vaddr(path, a->config2, &vaddr);
        if (rc < 0)
            return app_refuse(rc,
                              "uprobe on %s+0x%llx: the offset is in no executable segment "
                              "of that ELF file",
                              path, (unsigned long long)a->config2);
        /* The file itself, not the name the application used: a relative
         * path means nothing in another process's directory, and
         * /proc/self/exe would be every hooked process's own program. */
        char real[PATH_MAX];
        if (!realpath(path, real))
            return app_refuse(-errno, "uprobe on %s: %s", path, strerror(errno));
        char arg[PATH_MAX + 32];
        int n = snprintf(arg, sizeof arg, "%s:0x%llx", real, (unsigned long long)vaddr);
        if (n < 0 || (size_t)n >= sizeof arg)
            return -ENAMETOOLONG;
        uint32_t ttype = (a->config & 1) ? BPFTIME_TARGET_URETPROBE : BPFTIME_TARGET_UPROBE;
        int id = bpftime_target_create(app_region(), ttype, arg, (uint32_t)n);
        if (id < 0)
            return id;
        int fd = app_fd_new(APP_FD_PERF_EVENT, (uint32_t)id);
        if (fd < 0) {
            bpftime_target_delete(app_region(), (uint32_t)id);
            return fd;
        }
        struct app_fd v;
        app_fd_get(fd, &v);
        v.enabled = !a->disabled;
        app_fd_set(fd, &v);
        app_note_created(APP_NOTE_TARGET, (uint32_t)id);
        return fd;
    }
    if (type == pmu_type("kprobe"))
        return app_refuse(-EOPNOTSUPP,
                          "perf_event_open: kprobes are not supported: bpftime runs eBPF in "
                          "userspace processes; attach to a function of a program (uprobe)");
    if (type == PERF_TYPE_TRACEPOINT)
        return app_refuse(-EOPNOTSUPP,
                          "perf_event_open: kernel tracepoints are not supported by bpftime's "
                          "syscall server");
    if (type == PERF_TYPE_SOFTWARE && a->config == PERF_COUNT_SW_BPF_OUTPUT)
        return app_perf_output_open(cpu);
    return app_real_syscall(SYS_perf_event_open, (long)uattr, pid, cpu, group_fd, (long)flags, 0);
}

int app_link_make(uint32_t prog_id, uint32_t target_id, uint64_t cookie)
{
    int id = bpftime_link_create(app_region(), prog_id, target_id, cookie);
    if (id >= 0) {
        app_note_created(APP_NOTE_LINK, (uint32_t)id);
        app_self_hooks_refresh();
    }
    return id;
}

void app_link_drop(uint32_t link_id)
{
    if (bpftime_link_delete(app_region(), link_id) == 0) {
        app_note_deleted(APP_NOTE_LINK, link_id);
        app_self_hooks_refresh();
    }
}

/* The event's link follows "a program is set and the event is enabled". */
static int sync_link(int fd, struct app_fd *v)
{
    if (v->prog_id && v->enabled && !v->link_id) {
        int id = app_link_make(v->prog_id, v->id, 0);
        if (id < 0)
            return id;
        v->link_id = (uint32_t)id;
    } else if ((!v->prog_id || !v->enabled) && v->link_id) {
        app_link_drop(v->link_id);
        v->link_id = 0;
    }
    return app_fd_set(fd, v);
}

int app_perf_ioctl(int fd, unsigned long request, unsigned long arg)
{
    struct app_fd v;
    if (app_fd_get(fd, &v) < 0)
        return -EBADF;
    if (v.kind == APP_FD_PERF_OUTPUT &&
        (request == PERF_EVENT_IOC_ENABLE || request == PERF_EVENT_IOC_DISABLE))
        return 0;
    if (v.kind != APP_FD_PERF_EVENT)
        return -ENOTTY;
    switch (request) {
    case PERF_EVENT_IOC_SET_BPF: {
        struct app_fd p;
        if (app_fd_get((int)arg, &p) < 0 || p.kind != APP_FD_PROG)
            return -EBADF;
        if (v.prog_id)
            return -EEXIST;
        v.prog_id = p.id;
        return sync_link(fd, &v);
    }
    case PERF_EVENT_IOC_ENABLE: v.enabled = 1; return sync_link(fd, &v);
    case PERF_EVENT_IOC_DISABLE: v.enabled = 0; return sync_link(fd, &v);
    default: return -ENOTTY;
    }
}

/* Whether program id uses a map the application still has a descriptor
 * of. Deleting the program would free such a map (the runtime frees a map
 * with its last holder, and descriptors are no holders in the region),
 * while in the kernel the descriptor keeps it: bpftrace detaches and
 * closes its programs before it prints its maps. Such a program stays
 * until the application exits. */
static int uses_open_map(struct bpftime_region *r, uint32_t id)
{
    uint32_t ids[64];
    int n = bpftime_prog_get_map_ids(r, id, ids, 64);
    if (n > 64)
        return 1;
    for (int i = 0; i < n; i++)
        if (app_fd_count(APP_FD_MAP, ids[i]) > 0)
            return 1;
    return 0;
}

void app_fd_closed(int fd, const struct app_fd *v)
{
    struct bpftime_region *r = app_region();
    switch (v->kind) {
    case APP_FD_LINK:
        if (v->id)
            app_link_drop(v->id);
        break;
    case APP_FD_PERF_EVENT:
        if (v->link_id)
            app_link_drop(v->link_id);
        /* Still linked (BPF_LINK_CREATE, link fd open): the parent removes
         * it when the application exits. */
        if (bpftime_target_delete(r, v->id) == 0)
            app_note_deleted(APP_NOTE_TARGET, v->id);
        break;
    case APP_FD_STATS: bpftime_stats_set_enabled(r, 0); break;
    /* As the kernel frees a program or map with its last descriptor unless
     * something holds it: a link (program), a program or pin (map). What
     * is still held goes when its holder does (the runtime collects maps;
     * the parent removes the rest when the application exits). */
    case APP_FD_PERF_OUTPUT: app_perf_output_closed(fd); break;
    case APP_FD_PROG:
        if (v->created && app_fd_count(APP_FD_PROG, v->id) == 0 && !uses_open_map(r, v->id))
            (void)bpftime_prog_delete(r, v->id);
        break;
    case APP_FD_MAP:
        if (v->created && app_fd_count(APP_FD_MAP, v->id) == 0 && bpftime_map_delete(r, v->id) == 0)
            app_note_deleted(APP_NOTE_MAP, v->id);
        break;
    default: break;
    }
}
