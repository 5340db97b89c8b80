/* Descriptors handed to the application: each is a real descriptor (an
 * eventfd), so close, poll/epoll, fork and exec behave; this table says
 * which region object it stands for. dup, dup2, dup3 and fcntl(F_DUPFD*)
 * copy the entry (interpose.c): libbpf reuses a pinned map by dup3. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "syscall-server/app_server.h"

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct app_fd *table;
static size_t table_len;

static int grow(size_t need)
{
    if (need <= table_len)
        return 0;
    size_t len = table_len ? table_len : 256;
    while (len < need)
        len *= 2;
    struct app_fd *t = realloc(table, len * sizeof *t);
    if (!t)
        return -ENOMEM;
    memset(t + table_len, 0, (len - table_len) * sizeof *t);
    table = t;
    table_len = len;
    return 0;
}

int app_fd_new(enum app_fd_kind kind, uint32_t id)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return -errno;
    pthread_mutex_lock(&table_lock);
    int rc = grow((size_t)fd + 1);
    if (rc == 0) {
        memset(&table[fd], 0, sizeof table[fd]);
        table[fd].kind = kind;
        table[fd].id = id;
        table[fd].perf_link_fd = -1;
    }
    pthread_mutex_unlock(&table_lock);
    if (rc < 0) {
        app_real_close(fd);
        return rc;
    }
    return fd;
}

int app_fd_get(int fd, struct app_fd *out)
{
    int rc = -EBADF;
    pthread_mutex_lock(&table_lock);
    if (fd >= 0 && (size_t)fd < table_len && table[fd].kind != APP_FD_NONE) {
        *out = table[fd];
        rc = 0;
    }
    pthread_mutex_unlock(&table_lock);
    return rc;
}

int app_fd_set(int fd, const struct app_fd *v)
{
    int rc = -EBADF;
    pthread_mutex_lock(&table_lock);
    if (fd >= 0 && (size_t)fd < table_len && table[fd].kind != APP_FD_NONE) {
        table[fd] = *v;
        rc = 0;
    }
    pthread_mutex_unlock(&table_lock);
    return rc;
}

int app_fd_forget(int fd, struct app_fd *out)
{
    int rc = -EBADF;
    pthread_mutex_lock(&table_lock);
    if (fd >= 0 && (size_t)fd < table_len && table[fd].kind != APP_FD_NONE) {
        if (out)
            *out = table[fd];
        memset(&table[fd], 0, sizeof table[fd]);
        rc = 0;
    }
    pthread_mutex_unlock(&table_lock);
    return rc;
}

int app_fd_is_ours(int fd)
{
    struct app_fd v;
    return app_fd_get(fd, &v) == 0;
}

int app_fd_count(enum app_fd_kind kind, uint32_t id)
{
    int n = 0;
    pthread_mutex_lock(&table_lock);
    for (size_t i = 0; i < table_len; i++)
        n += table[i].kind == kind && table[i].id == id;
    pthread_mutex_unlock(&table_lock);
    return n;
}

int app_fd_copy(int oldfd, int newfd)
{
    int rc = -EBADF;
    pthread_mutex_lock(&table_lock);
    if (oldfd >= 0 && (size_t)oldfd < table_len && table[oldfd].kind != APP_FD_NONE && newfd >= 0 &&
        (rc = grow((size_t)newfd + 1)) == 0)
        table[newfd] = table[oldfd];
    pthread_mutex_unlock(&table_lock);
    return rc;
}
