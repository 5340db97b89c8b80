/* The syscall server: the one library a host process links to become
 * extensible (libbpftime-syscall-server.so). For nginx it is linked by the
 * nginx module (nginx/), which calls nothing else of bpftime.
 *
 * It opens the shared-memory region, creates the process's attach manager
 * with the nginx URL-filter attach implementation, instantiates the programs
 * linked to nginx URL-filter targets, and follows changes by itself: every
 * call checks the region's generation counter (one atomic load) and
 * re-instantiates when it moved.
 *
 * Threading: one handle per process (nginx workers are single-threaded);
 * calls on one handle are not concurrent. */
#ifndef BPFTIME_SYSCALL_SERVER_H
#define BPFTIME_SYSCALL_SERVER_H

#include <stddef.h>

#include "bpftime/api.h"

#ifdef __cplusplus
extern "C" {
#endif

struct bpftime_ss;

/* Opens region /dev/shm/bpftime-<shm_name> (NULL or "" = "bpftime"). On
 * failure returns NULL; bpftime_last_error_message() is one clear line (e.g.
 * "region /dev/shm/bpftime-x does not exist: create it with `bpftime shm
 * create x`"). */
BPFTIME_API struct bpftime_ss *bpftime_ss_open(const char *shm_name);
/* The same on region file descriptor fd (opened O_RDWR by the caller, e.g.
 * inherited from the nginx master, which opens the region as root before its
 * workers drop privileges). The handle owns fd, also on failure. */
BPFTIME_API struct bpftime_ss *bpftime_ss_open_fd(const char *shm_name, int fd);
BPFTIME_API void bpftime_ss_close(struct bpftime_ss *ss);

/* Verdict of the URL filter for one request.
 *   0                     let the request continue (no program attached, or
 *                         every program returned non-zero and not a status)
 *   an HTTP status code   answer with it: 403 when a program returned 0, or
 *                         the program's return value when it is in 400..599
 *   < 0                   internal error (negative errno, message in
 *                         bpftime_last_error_message()); the module applies
 *                         its bpftime_fail policy
 * Programs run in link-id order; the first refusing program decides. */
BPFTIME_API int bpftime_ss_nginx_url_filter(struct bpftime_ss *ss, const char *url, size_t url_len,
                                            const char *method, size_t method_len);

#ifdef __cplusplus
}
#endif

#endif
