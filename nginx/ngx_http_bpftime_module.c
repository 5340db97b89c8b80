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
 * Worker lifecycle: every worker opens the region in init_process and closes
 * it in exit_process, so `nginx -s reload` (new workers) reopens it. When it
 * is missing, worker 0 logs one error line and every worker retries opening
 * at most once per second, on requests to bpftime locations, so starting the
 * controller after nginx works. While it is open, a worker checks at most
 * once per second whether the region file was replaced (removed and created
 * again) and then switches to the new one; a region only removed keeps
 * working from its mapping. When no location enables bpftime the module
 * neither opens the region nor installs its handler.
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
} ngx_http_bpftime_worker_t;

static ngx_http_bpftime_worker_t ngx_http_bpftime_worker;

static ngx_int_t ngx_http_bpftime_handler(ngx_http_request_t *r);
static char *ngx_http_bpftime_shm(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static void *ngx_http_bpftime_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_bpftime_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_bpftime_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_bpftime_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static ngx_int_t ngx_http_bpftime_postconfiguration(ngx_conf_t *cf);
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
                                        NULL,                          /* init module */
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
static void ngx_http_bpftime_open(ngx_log_t *log, ngx_uint_t policies, ngx_uint_t at_start);

static void ngx_http_bpftime_check(ngx_log_t *log)
{
    ngx_http_bpftime_worker_t *w = &ngx_http_bpftime_worker;
    struct bpftime_ss *old;
    struct stat st;

    w->next_check = ngx_time() + 1;

    if (stat(w->path, &st) != 0 || (st.st_dev == w->dev && st.st_ino == w->ino)) {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, log, 0, "bpftime: region %s was replaced; reopening", w->path);

    old = w->ss;
    w->ss = NULL;
    ngx_http_bpftime_open(log, 0, 0);
    if (w->ss == NULL) {
        w->ss = old; /* not ready yet: retry in a second */
        return;
    }
    bpftime_ss_close(old);
}

/* One open attempt; at most one per second per worker. A failure is an
 * error-level line only for worker 0 at start-up, otherwise a debug line, so
 * N workers and the retries on requests never flood the log. */
static void ngx_http_bpftime_open(ngx_log_t *log, ngx_uint_t policies, ngx_uint_t at_start)
{
    ngx_http_bpftime_worker_t *w = &ngx_http_bpftime_worker;
    const char *err;
    const char *policy;
    ngx_uint_t announce = at_start && ngx_worker == 0;
    ngx_uint_t level;

    w->next_open = ngx_time() + 1;

    w->ss = bpftime_ss_open(w->shm_name);
    if (w->ss != NULL) {
        ngx_http_bpftime_remember(w);
        /* A late open (controller started after nginx) is worth a notice. */
        level = at_start ? NGX_LOG_INFO : NGX_LOG_NOTICE;
        ngx_log_error(level, log, 0, "bpftime: region /dev/shm/bpftime-%s opened", w->shm_name);
        return;
    }
    err = bpftime_last_error_message();

    if (!announce) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                       "bpftime: region /dev/shm/bpftime-%s still missing: %s", w->shm_name, err);
        return;
    }

    switch (policies) {
    case NGX_HTTP_BPFTIME_USES_OPEN: policy = "failing open"; break;
    case NGX_HTTP_BPFTIME_USES_CLOSED: policy = "failing closed (503)"; break;
    default: policy = "failing open or closed as bpftime_fail says per location"; break;
    }

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "bpftime: region /dev/shm/bpftime-%s missing: %s; %s; retrying at most "
                  "once per second",
                  w->shm_name, err[0] ? err : "no reason given", policy);
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
        ngx_http_bpftime_open(r->connection->log, 0, 0);
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

    /* The cache manager and loader run init_process too: they serve no
     * requests, so they keep out of the region. */
    if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE) {
        return NGX_OK;
    }

    bmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_bpftime_module);
    if (bmcf == NULL || bmcf->policies == 0) {
        return NGX_OK;
    }

    w->shm_name = (const char *)bmcf->shm_name.data;
    ngx_snprintf((u_char *)w->path, sizeof(w->path) - 1, "/dev/shm/bpftime-%s%Z", w->shm_name);

    ngx_http_bpftime_open(cycle->log, bmcf->policies, 1);

    /* A missing region is not fatal: the fail policy applies and requests retry. */
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
