/* The syscall server inside an unmodified libbpf application (internal).
 *
 * `bpftime load -- APP` runs APP with this library preloaded and these
 * variables set: BPFTIME_CONTROL_SOCKET (a unix socket of the parent
 * `bpftime load`, in a 0700 directory) and BPFTIME_SHM (the region). Only
 * then does the library answer the application's bpf(), perf_event_open,
 * ioctl, mmap and close calls (interpose.c); otherwise (the nginx module
 * links the same library) every call goes to libc untouched.
 *
 * Split of the work: map commands, BTF, pins, links and perf events are
 * answered here, in C, straight from the region (the fast path: a map lookup
 * is a function call, not a system call). BPF_PROG_LOAD needs the verifier,
 * which is TypeScript: it goes over the control socket to the parent, which
 * verifies and stores the program and answers its id and the verifier log
 * (control_client.c, src/ops/app-server.ts). */
#ifndef BPFTIME_APP_SERVER_H
#define BPFTIME_APP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bpftime_region;
struct bpftime_map;

/* What a descriptor the application holds stands for. */
enum app_fd_kind {
    APP_FD_NONE = 0,
    APP_FD_MAP,
    APP_FD_PROG,
    APP_FD_BTF,
    APP_FD_LINK,        /* a region link (BPF_LINK_CREATE) */
    APP_FD_PERF_EVENT,  /* a uprobe perf event: an attach target, maybe a link */
    APP_FD_STATS,       /* BPF_ENABLE_STATS */
    APP_FD_PERF_OUTPUT, /* a PERF_COUNT_SW_BPF_OUTPUT event of one cpu (id): a perf buffer */
};

struct app_fd {
    enum app_fd_kind kind;
    uint32_t id;             /* map / program / link id; perf event: target id */
    uint32_t link_id;        /* perf event: link made by PERF_EVENT_IOC_SET_BPF + ENABLE */
    uint32_t prog_id;        /* perf event: program set by SET_BPF */
    int enabled;             /* perf event: enabled (not created disabled, or IOC_ENABLE) */
    uint32_t btf_size;       /* BTF: bytes loaded */
    int perf_link_fd;        /* link: the perf event fd it was made on (or -1) */
    struct bpftime_map *map; /* map: the runtime's handle (lookups skip the id lookup) */
    uint32_t map_type;       /* map: its type */
    uint32_t value_size;     /* map: bytes a lookup copies when the fast path applies, else 0 */
    int created;             /* map / program: made by this process (not OBJ_GET, GET_FD_BY_ID) */
};

/* ---- state (interpose.c) ---- */
/* The region, or NULL when the library is not serving an application. */
struct bpftime_region *app_region(void);
/* Prints one line "bpftime: MESSAGE" on stderr (what the kernel would not
 * say: why an unsupported request was refused) and returns -err... as given. */
long app_refuse(long neg_errno, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The real libc functions (resolved with dlsym(RTLD_NEXT)). */
long app_real_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
int app_real_close(int fd);
void *app_real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

/* Starts a detached helper thread with every signal blocked: the
 * application's signals (SIGINT, and those it waits for with sigwait or a
 * signalfd) must reach its own threads, never ours. */
int app_thread_start(void *(*fn)(void *), void *arg);

/* ---- descriptors (fd_table.c) ---- */
/* A new real descriptor (an eventfd: pollable, closable, inherited by fork)
 * standing for kind/id; returns it or -errno. */
int app_fd_new(enum app_fd_kind kind, uint32_t id);
/* Copy of what fd stands for; 0 if it is ours, -EBADF if not. */
int app_fd_get(int fd, struct app_fd *out);
int app_fd_set(int fd, const struct app_fd *v);
/* Forgets fd (it was closed); returns what it stood for in *out (may be NULL). */
int app_fd_forget(int fd, struct app_fd *out);
int app_fd_is_ours(int fd);
/* newfd (a dup of oldfd) stands for what oldfd does. */
int app_fd_copy(int oldfd, int newfd);
/* How many descriptors stand for kind/id. */
int app_fd_count(enum app_fd_kind kind, uint32_t id);

/* ---- commands ---- */
long app_bpf(int cmd, void *attr, unsigned int size);
union bpf_attr;
long app_map_batch(int cmd, union bpf_attr *ua); /* batch.c */ /* bpf_commands.c */
/* BPF_MAP_UPDATE_ELEM on region map map_id: an outer map's value is an
 * inner map's fd, stored as its id (bpf_commands.c). */
long app_map_update(uint32_t map_id, uint32_t map_type, const void *key, const void *value,
                    uint64_t flags);
long app_perf_event_open(void *attr, pid_t pid, int cpu, int group_fd,
                         unsigned long flags);                        /* perf_events.c */
int app_perf_ioctl(int fd, unsigned long request, unsigned long arg); /* perf_events.c */
/* Detach what a closed descriptor held (links, perf-event links). */
void app_fd_closed(int fd, const struct app_fd *v); /* perf_events.c */
/* Region links of a perf event fd / link fd, made and dropped. */
int app_link_make(uint32_t prog_id, uint32_t target_id, uint64_t cookie);
void app_link_drop(uint32_t link_id);
/* mmap of a map descriptor (ringbuf pages, BPF_F_MMAPABLE arrays): the
 * mapping, or MAP_FAILED with errno set. */
void *app_map_mmap(int fd, const struct app_fd *v, void *addr, size_t len, int prot, int flags,
                   off_t off); /* map_mmap.c */

/* ---- the application's own uprobes (self_hooks.c) ---- */
int app_self_hooks_start(struct bpftime_region *r);
/* Hooks/unhooks after the application made or dropped a link. */
void app_self_hooks_refresh(void);

/* ---- perf buffers (perf_buffer.c) ---- */
long app_perf_output_open(int cpu);
void *app_perf_output_mmap(int fd, void *addr, size_t len, int prot, int flags, off_t off);
/* addr was one of our rings: forgets it (before the memory goes); returns 1, else 0. */
int app_perf_output_munmap(void *addr);
void app_perf_output_closed(int fd);
/* Moves every waiting record into the perf rings now: after a program ran in
 * this process (BPF_PROG_TEST_RUN), its output is there when the call
 * returns, as the kernel's perf_event_output writes the ring itself. */
void app_perf_output_flush(void);
/* Records of the region's perf_event_array map_id for cpu key go to fd's ring. */
int app_perf_output_attach(uint32_t map_id, uint32_t key, int fd);

/* ---- the parent (control_client.c) ---- */
/* Tells the parent an object was created (so it can list it with the
 * loader's pid and remove it when the application exits). */
enum app_note { APP_NOTE_MAP = 1, APP_NOTE_TARGET = 2, APP_NOTE_LINK = 3 };
void app_note_created(enum app_note what, uint32_t id);
void app_note_deleted(enum app_note what, uint32_t id);
/* Asks the parent to verify and store a program. insns: lddw map
 * references already turned into indexes of map_ids (src_reg 5/6). Returns
 * the program id or -errno; the verifier log (NUL-terminated, truncated to
 * log_size) goes to log_buf when log_buf && log_size; a one-line reason to
 * stderr when the request itself is unsupported. */
long app_prog_load_remote(uint32_t prog_type, uint32_t expected_attach_type, const char *name,
                          const char *license, const void *insns, uint32_t insn_cnt,
                          const uint32_t *map_ids, uint32_t nr_maps, uint32_t log_level,
                          char *log_buf, uint32_t log_size);

#endif
