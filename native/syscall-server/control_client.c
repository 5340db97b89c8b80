/* The application's side of the control socket to `bpftime load` (the
 * parent; its side is src/ops/app-server.ts). Messages, little-endian:
 *
 *   header   u32 op, u32 payload_len
 *   op 1 PROG_LOAD  u32 prog_type, u32 expected_attach_type, u32 insn_cnt,
 *                   u32 nr_maps, u32 log_level, u32 log_size, char name[16],
 *                   char license[128], insns (insn_cnt * 8), u32 map_ids[nr_maps]
 *       reply       i32 result (program id or -errno), u32 log_len, u32 msg_len,
 *                   log bytes, msg bytes (one line for stderr, may be empty)
 *   op 2 NOTE       u32 what (app_note), u32 id, u32 created (1) / deleted (0);
 *                   no reply
 *
 * One request at a time (a mutex): libbpf loads programs one by one. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "syscall-server/app_server.h"

#define OP_PROG_LOAD 1u
#define OP_NOTE 2u

static int sock = -1;
static pthread_mutex_t sock_lock = PTHREAD_MUTEX_INITIALIZER;
static char sock_path[108];

static int dial(void);

/* A forked child talks to `bpftime load` on a connection of its own: two
 * processes on one stream would interleave requests and steal replies. */
static void reconnect_in_child(void)
{
    pthread_mutex_init(&sock_lock, NULL);
    if (sock >= 0)
        app_real_close(sock);
    sock = -1;
    (void)dial();
}

int app_control_connect(const char *path);
int app_control_connect(const char *path)
{
    if (strlen(path) >= sizeof sock_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sock_path, path);
    if (dial() < 0)
        return -1;
    pthread_atfork(NULL, NULL, reconnect_in_child);
    return 0;
}

static int dial(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, sock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        app_real_close(fd);
        errno = e;
        return -1;
    }
    sock = fd;
    return 0;
}

static int write_all(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write(sock, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = read(sock, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void note(enum app_note what, uint32_t id, uint32_t created)
{
    uint32_t msg[5] = {OP_NOTE, 12, (uint32_t)what, id, created};
    pthread_mutex_lock(&sock_lock);
    if (sock >= 0)
        (void)write_all(msg, sizeof msg);
    pthread_mutex_unlock(&sock_lock);
}

void app_note_created(enum app_note what, uint32_t id)
{
    note(what, id, 1);
}

void app_note_deleted(enum app_note what, uint32_t id)
{
    note(what, id, 0);
}

struct prog_load_fixed {
    uint32_t prog_type, expected_attach_type, insn_cnt, nr_maps, log_level, log_size;
    char name[16];
    char license[128];
};

long app_prog_load_remote(uint32_t prog_type, uint32_t expected_attach_type, const char *name,
                          const char *license, const void *insns, uint32_t insn_cnt,
                          const uint32_t *map_ids, uint32_t nr_maps, uint32_t log_level,
                          char *log_buf, uint32_t log_size)
{
    struct prog_load_fixed f;
    memset(&f, 0, sizeof f);
    f.prog_type = prog_type;
    f.expected_attach_type = expected_attach_type;
    f.insn_cnt = insn_cnt;
    f.nr_maps = nr_maps;
    f.log_level = log_level;
    f.log_size = log_size;
    snprintf(f.name, sizeof f.name, "%s", name);
    snprintf(f.license, sizeof f.license, "%s", license);
    uint64_t payload = sizeof f + (uint64_t)insn_cnt * 8 + (uint64_t)nr_maps * 4;
    if (payload > UINT32_MAX)
        return -E2BIG;
    uint32_t hdr[2] = {OP_PROG_LOAD, (uint32_t)payload};
    int32_t reply[3];
    long rc;
    pthread_mutex_lock(&sock_lock);
    if (sock < 0 || write_all(hdr, sizeof hdr) || write_all(&f, sizeof f) ||
        write_all(insns, (size_t)insn_cnt * 8) || write_all(map_ids, (size_t)nr_maps * 4) ||
        read_all(reply, sizeof reply)) {
        pthread_mutex_unlock(&sock_lock);
        return app_refuse(-EIO, "BPF_PROG_LOAD: lost the connection to `bpftime load`");
    }
    uint32_t log_len = (uint32_t)reply[1], msg_len = (uint32_t)reply[2];
    char *text = malloc((size_t)log_len + msg_len + 1);
    if (!text || read_all(text, (size_t)log_len + msg_len)) {
        free(text);
        pthread_mutex_unlock(&sock_lock);
        return app_refuse(-EIO, "BPF_PROG_LOAD: lost the connection to `bpftime load`");
    }
    pthread_mutex_unlock(&sock_lock);
    rc = reply[0];
    if (log_buf && log_size) {
        uint32_t n = log_len < log_size - 1 ? log_len : log_size - 1;
        memcpy(log_buf, text, n);
        log_buf[n] = '\0';
    }
    if (msg_len) {
        text[log_len + msg_len] = '\0';
        fprintf(stderr, "bpftime: %s\n", text + log_len);
    }
    free(text);
    return rc;
}
