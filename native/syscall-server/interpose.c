/* The libc entry points an unmodified libbpf application reaches the kernel
 * through, interposed when this library is preloaded by `bpftime load --
 * APP` (see app_server.h): syscall() (libbpf issues bpf() and
 * perf_event_open as syscall(__NR_bpf, ...)), ioctl (perf event
 * SET_BPF/ENABLE/DISABLE), mmap (ring buffers, mmapable arrays), close, and
 * the dup family (a copy of one of our descriptors stands for the same
 * object).
 *
 * Serving is decided once, at load: BPFTIME_CONTROL_SOCKET set. Otherwise,
 * and for every call that is not about one of our descriptors, the call goes
 * to the next definition (libc) untouched: the nginx module links this same
 * library and must see no difference. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpftime/api.h"
#include "runtime/bpftime_runtime.h"
#include "syscall-server/app_server.h"

static struct bpftime_region *region;
/* BPFTIME_SYSCALL_TRACE=1: one stderr line per bpf() answered (debugging an application). */
static int trace_calls;
static int uprobe_pmu_type = -1;

struct bpftime_region *app_region(void)
{
    return region;
}

long app_refuse(long neg_errno, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "bpftime: %s\n", msg);
    return neg_errno;
}

typedef long (*syscall_fn)(long, ...);
typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef int (*close_fn)(int);
typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);

static syscall_fn real_syscall_p;
static ioctl_fn real_ioctl_p;
static close_fn real_close_p;
static mmap_fn real_mmap_p;

/* dlsym may run before our constructor (another library's constructor
 * calling close): resolve on first use. */
static void *next_symbol(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

long app_real_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    if (!real_syscall_p)
        real_syscall_p = (syscall_fn)next_symbol("syscall");
    return real_syscall_p(nr, a1, a2, a3, a4, a5, a6);
}

int app_real_close(int fd)
{
    if (!real_close_p)
        real_close_p = (close_fn)next_symbol("close");
    return real_close_p(fd);
}

void *app_real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (!real_mmap_p)
        real_mmap_p = (mmap_fn)next_symbol("mmap");
    return real_mmap_p(addr, len, prot, flags, fd, off);
}

static int real_ioctl(int fd, unsigned long request, unsigned long arg)
{
    if (!real_ioctl_p)
        real_ioctl_p = (ioctl_fn)next_symbol("ioctl");
    return real_ioctl_p(fd, request, arg);
}

static long set_errno(long rc)
{
    if (rc < 0) {
        errno = (int)-rc;
        return -1;
    }
    return rc;
}

BPFTIME_API long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    if (region) {
        if (nr == SYS_bpf) {
            long rc = app_bpf((int)a1, (void *)a2, (unsigned int)a3);
            if (trace_calls)
                fprintf(stderr, "bpftime: bpf(%ld, size %ld, first u32 %u) = %ld\n", a1, a3,
                        a2 ? *(unsigned *)a2 : 0, rc);
            return set_errno(rc);
        }
        if (nr == SYS_perf_event_open)
            return set_errno(
                app_perf_event_open((void *)a1, (pid_t)a2, (int)a3, (int)a4, (unsigned long)a5));
        if (nr == SYS_close && app_fd_is_ours((int)a1))
            return close((int)a1);
    }
    return app_real_syscall(nr, a1, a2, a3, a4, a5, a6);
}

BPFTIME_API int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    va_start(ap, request);
    unsigned long arg = va_arg(ap, unsigned long);
    va_end(ap);
    if (region && app_fd_is_ours(fd))
        return (int)set_errno(app_perf_ioctl(fd, request, arg));
    return real_ioctl(fd, request, arg);
}

BPFTIME_API int close(int fd)
{
    struct app_fd v;
    if (region && app_fd_forget(fd, &v) == 0)
        app_fd_closed(fd, &v);
    return app_real_close(fd);
}

typedef int (*dup_fn)(int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);
typedef int (*fcntl_fn)(int, int, ...);
static dup_fn real_dup_p;
static dup2_fn real_dup2_p;
static dup3_fn real_dup3_p;
static fcntl_fn real_fcntl_p, real_fcntl64_p;

/* newfd now is a copy of oldfd: it stands for oldfd's object (and what it
 * stood for before is closed). */
static int copied(int oldfd, int newfd)
{
    if (newfd < 0 || !region || oldfd == newfd)
        return newfd;
    struct app_fd v;
    if (app_fd_forget(newfd, &v) == 0)
        app_fd_closed(newfd, &v);
    app_fd_copy(oldfd, newfd);
    return newfd;
}

BPFTIME_API int dup(int fd)
{
    if (!real_dup_p)
        real_dup_p = (dup_fn)next_symbol("dup");
    return copied(fd, real_dup_p(fd));
}

BPFTIME_API int dup2(int oldfd, int newfd)
{
    if (!real_dup2_p)
        real_dup2_p = (dup2_fn)next_symbol("dup2");
    return copied(oldfd, real_dup2_p(oldfd, newfd));
}

BPFTIME_API int dup3(int oldfd, int newfd, int flags)
{
    if (!real_dup3_p)
        real_dup3_p = (dup3_fn)next_symbol("dup3");
    return copied(oldfd, real_dup3_p(oldfd, newfd, flags));
}

static int fcntl_any(fcntl_fn *real, const char *name, int fd, int cmd, unsigned long arg)
{
    if (!*real)
        *real = (fcntl_fn)next_symbol(name);
    int rc = (*real)(fd, cmd, arg);
    if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
        return copied(fd, rc);
    return rc;
}

BPFTIME_API int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    unsigned long arg = va_arg(ap, unsigned long);
    va_end(ap);
    return fcntl_any(&real_fcntl_p, "fcntl", fd, cmd, arg);
}

BPFTIME_API int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    unsigned long arg = va_arg(ap, unsigned long);
    va_end(ap);
    return fcntl_any(&real_fcntl64_p, "fcntl64", fd, cmd, arg);
}

BPFTIME_API void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    struct app_fd v;
    if (region && !(flags & MAP_ANONYMOUS) && app_fd_get(fd, &v) == 0)
        return app_map_mmap(fd, &v, addr, len, prot, flags, off);
    return app_real_mmap(addr, len, prot, flags, fd, off);
}

typedef int (*munmap_fn)(void *, size_t);
static munmap_fn real_munmap_p;

BPFTIME_API int munmap(void *addr, size_t len)
{
    if (region)
        app_perf_output_munmap(addr); /* the pump must stop writing there first */
    if (!real_munmap_p)
        real_munmap_p = (munmap_fn)next_symbol("munmap");
    return real_munmap_p(addr, len);
}

BPFTIME_API void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}

int app_thread_start(void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&t, &at, fn, arg);
    pthread_attr_destroy(&at);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return -err;
}

int app_uprobe_pmu_type(void);
int app_uprobe_pmu_type(void)
{
    return uprobe_pmu_type;
}

int app_control_connect(const char *path); /* control_client.c */

__attribute__((constructor)) static void app_server_init(void)
{
    const char *sock = getenv("BPFTIME_CONTROL_SOCKET");
    if (!sock || !*sock)
        return;
    const char *shm = getenv("BPFTIME_SHM");
    struct bpftime_region *r = NULL;
    if (bpftime_region_open(shm && *shm ? shm : NULL, &r) < 0) {
        fprintf(stderr, "bpftime: the syscall server cannot open the region: %s\n",
                bpftime_last_error_message());
        _exit(127);
    }
    if (app_control_connect(sock) < 0) {
        fprintf(stderr, "bpftime: the syscall server cannot reach `bpftime load` at %s: %s\n", sock,
                strerror(errno));
        _exit(127);
    }
    FILE *f = fopen("/sys/bus/event_source/devices/uprobe/type", "r");
    if (f) {
        if (fscanf(f, "%d", &uprobe_pmu_type) != 1)
            uprobe_pmu_type = -1;
        fclose(f);
    }
    app_self_hooks_start(r);
    const char *trace = getenv("BPFTIME_SYSCALL_TRACE");
    trace_calls = trace && *trace && *trace != '0';
    region = r;
}
