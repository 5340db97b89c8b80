/* ngx_http_bpftime_module: runs the eBPF URL-filter programs attached to
 * nginx in the bpftime shared-memory region, inside each worker.
 *
 * The module does the nginx part only (directives, phase handler, worker
 * lifecycle) and calls libbpftime-syscall-server.so for everything else
 * (native/syscall-server/bpftime_syscall_server.h): that library maps the
 * region, JIT-compiles the linked programs and follows changes made by the
 * controller without any help from nginx.
 *
 * Directives
 *   bpftime on|off;           http, server, location; inherited; default off.
 *   bpftime_shm NAME;         http; region /dev/shm/bpftime-NAME; default
 *                             "bpftime". One region per nginx instance.
 *   bpftime_fail open|closed; http, server, location; inherited; default open.
 *                             What a location with bpftime on does when the
 *                             region is missing (not created yet, or removed
 *                             before nginx started) or the data plane returns
 *                             an internal error: "open" lets the request
 *                             through as if bpftime were off, "closed"
 *                             answers 503 Service Unavailable. A program's
 *                             own verdict is never subject to this policy.
 *
 * What the program sees: r->unparsed_uri, i.e. the path and query exactly as
 * the client sent them in the request line (not normalised, not decoded, not
 * rewritten), plus the method name. The verdict is taken once per client
 * request: internal redirects (index, a try_files fallback, error_page,
 * X-Accel-Redirect) do not run the programs again, since they would see the
 * same URL; in particular a custom error_page for 403 is served normally.
 *
 * Verdicts: 0 continues to the next access handler; an HTTP status in
 * 400..599 is returned from the access phase so nginx finalises the request
 * with its standard (or the configured error_page) response. Note that the
 * module runs in the access phase: with `satisfy any;` a 403 from bpftime is
 * a "deny" that another access module may overrule, like allow/deny.
 *
 * Worker lifecycle: the master opens the region file at every configuration
 * load (init_module: as root, before workers drop privileges); each worker
 * maps the region through its inherited copy in init_process and closes it
 * in exit_process, so a root-only region serves unprivileged workers and
 * `nginx -s reload` reopens it. When the master could not open it, workers
 * open it by path, retrying at most once per second on requests to bpftime
 * locations, so starting the controller after nginx works (for a region the
 * workers' user may open). Every change of the region's state (opened,
 * missing, permission denied, unusable) is logged once per worker with the
 * errno (at start-up by worker 0 only). While it is open, a worker checks at
 * most once per second whether the region file was replaced (removed and
 * created again) and then switches to the new one, or says once why it
 * cannot and keeps the old programs; a region only removed keeps working
 * from its mapping. When no location enables bpftime the module neither
 * opens the region nor installs its handler.
 *
 * The per-request path is one location-conf load, one flag test and one call
 * into the syscall server (whose common case is one atomic load plus the
 * JIT-compiled programs). */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "bpftime_syscall_server.h"

#define NGX_HTTP_BPFTIME_FAIL_OPEN 0
#define NGX_HTTP_BPFTIME_FAIL_CLOSED 1

/* Bits of ngx_http_bpftime_main_conf_t.policies. */
#define NGX_HTTP_BPFTIME_USES_OPEN 0x1
#define NGX_HTTP_BPFTIME_USES_CLOSED 0x2

typedef struct {
    ngx_str_t shm_name;  /* NUL-terminated */
    ngx_uint_t policies; /* fail policies of locations with bpftime on; 0 = unused */
} ngx_http_bpftime_main_conf_t;

typedef struct {
    ngx_flag_t enable;
    ngx_uint_t fail;
} ngx_http_bpftime_loc_conf_t;

/* Per-worker state: nginx workers are single-threaded, and each process has
 * exactly one syscall-server handle. */
typedef struct {
    struct bpftime_ss *ss;
    const char *shm_name;
    char path[256]; /* /dev/shm/bpftime-<shm_name> */
    dev_t dev;      /* identity of the region file opened */
    ino_t ino;
    time_t next_open;      /* no open attempt before this second */
    time_t next_check;     /* no replacement check before this */
    time_t next_error_log; /* no data-plane error log before this */
    ngx_uint_t policies;   /* fail policies in use, for the log lines */
    /* The region's state as last logged: 0 open, an errno why it cannot be
     * opened (ENOENT missing, EACCES permission denied, ...), -1 unknown.
     * Each change is logged once, with the real reason: a filter that
     * cannot apply is never silent. */
    int state;
    int replace_state; /* the same for a replacement file while the old one serves */
} ngx_http_bpftime_worker_t;

static ngx_http_bpftime_worker_t ngx_http_bpftime_worker;

/* The region file, opened by the master (as root, before the workers drop
 * privileges) at every configuration load; each worker inherits a copy and
 * maps the region through it, so a region created mode 0600 by root before
 * nginx starts (or reloads) serves workers running as nobody/www-data. -1:
 * not open (the workers then open the region by path themselves). */
static int ngx_http_bpftime_master_fd = -1;

static ngx_int_t ngx_http_bpftime_handler(ngx_http_request_t *r);
static char *ngx_http_bpftime_shm(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static void *ngx_http_bpftime_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_bpftime_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_bpftime_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_bpftime_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static ngx_int_t ngx_http_bpftime_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_bpftime_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_bpftime_init_process(ngx_cycle_t *cycle);
static void ngx_http_bpftime_exit_process(ngx_cycle_t *cycle);

static ngx_conf_enum_t ngx_http_bpftime_fail_values[] = {
    {ngx_string("open"), NGX_HTTP_BPFTIME_FAIL_OPEN},
    {ngx_string("closed"), NGX_HTTP_BPFTIME_FAIL_CLOSED},
    {ngx_null_string, 0}};

static ngx_command_t ngx_http_bpftime_commands[] = {

    {ngx_string("bpftime"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_FLAG,
     ngx_conf_set_flag_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_bpftime_loc_conf_t, enable), NULL},

    {ngx_string("bpftime_shm"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ngx_http_bpftime_shm,
     NGX_HTTP_MAIN_CONF_OFFSET, 0, NULL},

    {ngx_string("bpftime_fail"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_enum_slot, NGX_HTTP_LOC_CONF_OFFSET, offsetof(ngx_http_bpftime_loc_conf_t, fail),
     &ngx_http_bpftime_fail_values},

    ngx_null_command};

static ngx_http_module_t ngx_http_bpftime_module_ctx = {
    NULL,                               /* preconfiguration */
    ngx_http_bpftime_postconfiguration, /* postconfiguration */

    ngx_http_bpftime_create_main_conf, /* create main configuration */
    ngx_http_bpftime_init_main_conf,   /* init main configuration */

    NULL, /* create server configuration */
    NULL, /* merge server configuration */

    ngx_http_bpftime_create_loc_conf, /* create location configuration */
    ngx_http_bpftime_merge_loc_conf   /* merge location configuration */
};

ngx_module_t ngx_http_bpftime_module = {NGX_MODULE_V1,
                                        &ngx_http_bpftime_module_ctx,  /* module context */
                                        ngx_http_bpftime_commands,     /* module directives */
                                        NGX_HTTP_MODULE,               /* module type */
                                        NULL,                          /* init master */
                                        ngx_http_bpftime_init_module,  /* init module */
                                        ngx_http_bpftime_init_process, /* init process */
                                        NULL,                          /* init thread */
                                        NULL,                          /* exit thread */
                                        ngx_http_bpftime_exit_process, /* exit process */
                                        NULL,                          /* exit master */
                                        NGX_MODULE_V1_PADDING};

static ngx_int_t ngx_http_bpftime_fail(ngx_http_bpftime_loc_conf_t *lcf)
{
    return lcf->fail == NGX_HTTP_BPFTIME_FAIL_CLOSED ? NGX_HTTP_SERVICE_UNAVAILABLE : NGX_DECLINED;
}

/* Records which file the open handle maps, so that a region removed and
 * created again (`bpftime shm remove` + `create`) is noticed. */
static void ngx_http_bpftime_remember(ngx_http_bpftime_worker_t *w)
{
    struct stat st;

    w->next_check = ngx_time() + 1;
    if (stat(w->path, &st) == 0) {
        w->dev = st.st_dev;
        w->ino = st.st_ino;
    } else {
        w->dev = 0;
        w->ino = 0;
    }
}

/* At most once per second while the region is open: if the path now names
 * another file, switch to it (opening the new one first, so a region being
 * created keeps us on the old mapping until it opens). A removed region is
 * not a reason to stop: its mapping stays valid, as the CLI documents. */
static void ngx_http_bpftime_open(ngx_log_t *log, ngx_uint_t at_start);
static void ngx_http_bpftime_log_unusable(ngx_log_t *log, ngx_http_bpftime_worker_t *w, int e,
                                          const char *what, const char *err, const char *then);
static int ngx_http_bpftime_open_errno(ngx_http_bpftime_worker_t *w);

static void ngx_http_bpftime_check(ngx_log_t *log)
{
    ngx_http_bpftime_worker_t *w = &ngx_http_bpftime_worker;
    struct bpftime_ss *old;
    struct stat st;
    char err[512];
    int e;

    w->next_check = ngx_time() + 1;

    if (stat(w->path, &st) != 0 || (st.st_dev == w->dev && st.st_ino == w->ino)) {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, log, 0, "bpftime: region %s was replaced; reopening", w->path);

    old = w->ss;
    w->ss = bpftime_ss_open(w->shm_name);
    if (w->ss == NULL) {
        snprintf(err, sizeof(err), "%s", bpftime_last_error_message());
        /* Not ready yet, or not ours to open: keep serving from the old
         * mapping, say why once, retry in a second. */
        w->ss = old;
        e = ngx_http_bpftime_open_errno(w);
        if (e != w->replace_state) {
            w->replace_state = e;
            ngx_http_bpftime_log_unusable(
                log, w, e, "replacement of the ", err,
                "keeping the programs of the old region until the new one opens");
        }
        return;
    }
    bpftime_ss_close(old);
    ngx_http_bpftime_remember(w);
    w->replace_state = 0;
    ngx_log_error(NGX_LOG_NOTICE, log, 0, "bpftime: region %s opened (replaced)", w->path);
}

/* Why the region at w->path cannot be opened by this process: the errno of
 * the same open the runtime does (ENOENT, EACCES, ...), or EPROTO when the
 * file opens but is not a usable region (the runtime's message says why). */
static int ngx_http_bpftime_open_errno(ngx_http_bpftime_worker_t *w)
{
    int fd = open(w->path, O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        return ngx_errno;
    }
    close(fd);
    return EPROTO;
}

static const char *ngx_http_bpftime_policy_text(ngx_uint_t policies)
{
    switch (policies) {
    case NGX_HTTP_BPFTIME_USES_OPEN: return "failing open";
    case NGX_HTTP_BPFTIME_USES_CLOSED: return "failing closed (503)";
    default: return "failing open or closed as bpftime_fail says per location";
    }
}

/* One error-level line for a region this worker cannot use (what: "" or a
 * prefix naming which file, e.g. "replacement of the "): the reason, who
 * this worker is and who the file belongs to (a permission problem is the
 * usual production mistake: workers run as an unprivileged user), what to do. */
static void ngx_http_bpftime_log_unusable(ngx_log_t *log, ngx_http_bpftime_worker_t *w, int e,
                                          const char *what, const char *err, const char *then)
{
    struct stat st;
    char mode[8];

    if ((e == EACCES || e == EPERM) && stat(w->path, &st) == 0) {
        /* ngx_log_error's format has no %o: the mode is formatted by libc. */
        snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
        ngx_log_error(NGX_LOG_ERR, log, e,
                      "bpftime: %sregion %s: permission denied: this worker runs as uid %d gid %d, "
                      "the region is uid %d gid %d mode %s; create it for the workers, e.g. "
                      "`bpftime shm create %s --group GROUP --mode 0660` (see nginx/README.md); "
                      "%s",
                      what, w->path, (int)geteuid(), (int)getegid(), (int)st.st_uid, (int)st.st_gid,
                      mode, w->shm_name, then);
        return;
    }
    ngx_log_error(NGX_LOG_ERR, log, e, "bpftime: %sregion %s %s: %s; %s", what, w->path,
                  e == ENOENT ? "missing" : "unusable", err[0] ? err : "no reason given", then);
}

/* One open attempt; at most one per second per worker. Every change of the
 * region's state (opened, missing, permission denied, ...) is logged once
 * per worker with the real reason; retries that end the same way are debug
 * lines, so N workers retrying on requests never flood the log. */
static void ngx_http_bpftime_open(ngx_log_t *log, ngx_uint_t at_start)
{
    ngx_http_bpftime_worker_t *w = &ngx_http_bpftime_worker;
    char err[512];
    u_char then[160];
    int e;
    ngx_uint_t level;

    w->next_open = ngx_time() + 1;
    err[0] = '\0';

    if (at_start && ngx_http_bpftime_master_fd >= 0) {
        /* The master's descriptor (this worker's copy): the handle owns it. */
        int fd = ngx_http_bpftime_master_fd;
        struct stat st;

        ngx_http_bpftime_master_fd = -1;
        if (fstat(fd, &st) == 0) {
            w->dev = st.st_dev;
            w->ino = st.st_ino;
        }
        w->next_check = ngx_time() + 1;
        w->ss = bpftime_ss_open_fd(w->shm_name, fd);
        if (w->ss != NULL) {
            ngx_log_error(NGX_LOG_INFO, log, 0, "bpftime: region %s opened (by the master)",
                          w->path);
            w->state = 0;
            w->replace_state = 0;
            return;
        }
        err[0] = '\0'; /* not usable: try by path, and report that */
    }

    w->ss = bpftime_ss_open(w->shm_name);
    if (w->ss != NULL) {
        ngx_http_bpftime_remember(w);
        /* A late open (controller started after nginx, permissions fixed)
         * is worth a notice. */
        level = at_start ? NGX_LOG_INFO : NGX_LOG_NOTICE;
        ngx_log_error(level, log, 0, "bpftime: region %s opened", w->path);
        w->state = 0;
        w->replace_state = 0;
        return;
    }

    snprintf(err, sizeof(err), "%s", bpftime_last_error_message());
    e = ngx_http_bpftime_open_errno(w);
    if (e == w->state || (at_start && ngx_worker != 0)) {
        /* Unchanged, or the same start-up failure worker 0 reports for all. */
        w->state = e;
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0, "bpftime: region %s still unusable: %s", w->path,
                       err);
        return;
    }
    w->state = e;

    ngx_snprintf(then, sizeof(then) - 1, "%s; retrying at most once per second%Z",
                 ngx_http_bpftime_policy_text(w->policies));
    ngx_http_bpftime_log_unusable(log, w, e, "", err, (const char *)then);
}

static ngx_int_t ngx_http_bpftime_handler(ngx_http_request_t *r)
{
    ngx_http_bpftime_loc_conf_t *lcf;
    ngx_http_bpftime_worker_t *w = &ngx_http_bpftime_worker;
    int rc;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_bpftime_module);

    /* Internal redirects keep r->unparsed_uri: the verdict was already taken. */
    if (!lcf->enable || r->internal) {
        return NGX_DECLINED;
    }

    if (w->ss == NULL) {
        if (ngx_time() < w->next_open) {
            return ngx_http_bpftime_fail(lcf);
        }
        ngx_http_bpftime_open(r->connection->log, 0);
        if (w->ss == NULL) {
            return ngx_http_bpftime_fail(lcf);
        }

    } else if (ngx_time() >= w->next_check) {
        ngx_http_bpftime_check(r->connection->log);
    }

    rc = bpftime_ss_nginx_url_filter(w->ss, (const char *)r->unparsed_uri.data, r->unparsed_uri.len,
                                     (const char *)r->method_name.data, r->method_name.len);
    if (rc == 0) {
        return NGX_DECLINED;
    }

    if (rc >= NGX_HTTP_BAD_REQUEST && rc <= 599) {
        return rc;
    }

    /* Internal error (or a verdict outside the documented range): the
     * policy decides; one log line per second at most. */
    if (ngx_time() >= w->next_error_log) {
        w->next_error_log = ngx_time() + 1;
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "bpftime: URL filter failed (%d): %s; failing %s", rc,
                      rc < 0 ? bpftime_last_error_message() : "verdict out of range",
                      lcf->fail == NGX_HTTP_BPFTIME_FAIL_CLOSED ? "closed (503)" : "open");
    }

    return ngx_http_bpftime_fail(lcf);
}

static char *ngx_http_bpftime_shm(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_bpftime_main_conf_t *bmcf = conf;
    ngx_str_t *value = cf->args->elts;
    ngx_uint_t i;

    (void)cmd;

    if (bmcf->shm_name.data != NULL) {
        return "is duplicate";
    }

    /* The name becomes a file name under /dev/shm. */
    if (value[1].len == 0 || value[1].len > 200) {
        return "must be a name of 1 to 200 characters";
    }
    for (i = 0; i < value[1].len; i++) {
        if (value[1].data[i] == '/' || value[1].data[i] == '\0') {
            return "must not contain \"/\"";
        }
    }

    bmcf->shm_name.data = ngx_pnalloc(cf->pool, value[1].len + 1);
    if (bmcf->shm_name.data == NULL) {
        return NGX_CONF_ERROR;
    }
    ngx_memcpy(bmcf->shm_name.data, value[1].data, value[1].len);
    bmcf->shm_name.data[value[1].len] = '\0';
    bmcf->shm_name.len = value[1].len;

    return NGX_CONF_OK;
}

static void *ngx_http_bpftime_create_main_conf(ngx_conf_t *cf)
{
    /* zeroed: shm_name unset, policies 0 */
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_bpftime_main_conf_t));
}

static char *ngx_http_bpftime_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_bpftime_main_conf_t *bmcf = conf;

    (void)cf;

    if (bmcf->shm_name.data == NULL) {
        ngx_str_set(&bmcf->shm_name, "bpftime"); /* string literal: NUL-terminated */
    }

    return NGX_CONF_OK;
}

static void *ngx_http_bpftime_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_bpftime_loc_conf_t *conf;

    conf = ngx_palloc(cf->pool, sizeof(ngx_http_bpftime_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->enable = NGX_CONF_UNSET;
    conf->fail = NGX_CONF_UNSET_UINT;

    return conf;
}

static char *ngx_http_bpftime_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_bpftime_loc_conf_t *prev = parent;
    ngx_http_bpftime_loc_conf_t *conf = child;
    ngx_http_bpftime_main_conf_t *bmcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_uint_value(conf->fail, prev->fail, NGX_HTTP_BPFTIME_FAIL_OPEN);

    /* Remember which policies are in use, for the start-up log line, and
     * whether the module is used at all. */
    if (conf->enable) {
        bmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_bpftime_module);
        bmcf->policies |= conf->fail == NGX_HTTP_BPFTIME_FAIL_CLOSED ? NGX_HTTP_BPFTIME_USES_CLOSED
                                                                     : NGX_HTTP_BPFTIME_USES_OPEN;
    }

    return NGX_CONF_OK;
}

static ngx_int_t ngx_http_bpftime_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_core_main_conf_t *cmcf;
    ngx_http_bpftime_main_conf_t *bmcf;
    ngx_http_handler_pt *h;

    bmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_bpftime_module);
    if (bmcf->policies == 0) {
        return NGX_OK; /* bpftime is off everywhere: cost nothing */
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    *h = ngx_http_bpftime_handler;

    return NGX_OK;
}

static ngx_int_t ngx_http_bpftime_init_process(ngx_cycle_t *cycle)
{
    ngx_http_bpftime_main_conf_t *bmcf;
    ngx_http_bpftime_worker_t *w = &ngx_http_bpftime_worker;

    w->ss = NULL;
    w->next_open = 0;
    w->next_error_log = 0;
    w->next_check = 0;
    w->state = -1;
    w->replace_state = 0;

    /* The cache manager and loader run init_process too: they serve no
     * requests, so they keep out of the region. */
    if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE) {
        if (ngx_http_bpftime_master_fd >= 0) {
            close(ngx_http_bpftime_master_fd);
            ngx_http_bpftime_master_fd = -1;
        }
        return NGX_OK;
    }

    bmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_bpftime_module);
    if (bmcf == NULL || bmcf->policies == 0) {
        return NGX_OK;
    }

    w->shm_name = (const char *)bmcf->shm_name.data;
    w->policies = bmcf->policies;
    ngx_snprintf((u_char *)w->path, sizeof(w->path) - 1, "/dev/shm/bpftime-%s%Z", w->shm_name);

    ngx_http_bpftime_open(cycle->log, 1);

    /* A missing region is not fatal: the fail policy applies and requests retry. */
    return NGX_OK;
}

/* In the master, at start and at every reload (before workers are forked,
 * while still privileged): (re)open the region file for the workers. A
 * region missing now is not an error: the workers look for it by path. */
static ngx_int_t ngx_http_bpftime_init_module(ngx_cycle_t *cycle)
{
    ngx_http_bpftime_main_conf_t *bmcf;
    char path[256];

    if (ngx_http_bpftime_master_fd >= 0) {
        close(ngx_http_bpftime_master_fd); /* the previous generation's workers have theirs */
        ngx_http_bpftime_master_fd = -1;
    }

    if (cycle->conf_ctx[ngx_http_module.index] == NULL) {
        return NGX_OK; /* no http block */
    }
    bmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_bpftime_module);
    if (bmcf == NULL || bmcf->policies == 0) {
        return NGX_OK;
    }

    ngx_snprintf((u_char *)path, sizeof(path) - 1, "/dev/shm/bpftime-%s%Z",
                 (const char *)bmcf->shm_name.data);
    ngx_http_bpftime_master_fd = open(path, O_RDWR | O_CLOEXEC);
    if (ngx_http_bpftime_master_fd < 0) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cycle->log, ngx_errno,
                       "bpftime: master cannot open %s; workers will try by path", path);
    }
    return NGX_OK;
}

static void ngx_http_bpftime_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_bpftime_worker_t *w = &ngx_http_bpftime_worker;

    (void)cycle;

    if (w->ss != NULL) {
        bpftime_ss_close(w->ss);
        w->ss = NULL;
    }
}
