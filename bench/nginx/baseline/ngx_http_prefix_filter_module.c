/* Baseline for the nginx benchmark: the URL filter of
 * examples/url_filter.bpf.c as a native nginx module.
 *
 *   prefix_filter /aaaa;    http, server, location; inherited; default none.
 *
 * Requests whose URL (r->unparsed_uri, as the bpftime module passes it) does
 * not start with the prefix get 403 from the access phase; the others go on.
 * Built like the bpftime module (bench/nginx/build.sh), it tells how much of
 * bpftime's cost is the filtering itself and how much is the runtime. */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

typedef struct {
    ngx_str_t prefix; /* data == NULL: no filtering */
} ngx_http_prefix_filter_loc_conf_t;

static ngx_int_t ngx_http_prefix_filter_handler(ngx_http_request_t *r);
static void *ngx_http_prefix_filter_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_prefix_filter_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static ngx_int_t ngx_http_prefix_filter_init(ngx_conf_t *cf);

static ngx_command_t ngx_http_prefix_filter_commands[] = {

    { ngx_string("prefix_filter"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_prefix_filter_loc_conf_t, prefix),
      NULL },

    ngx_null_command
};

static ngx_http_module_t ngx_http_prefix_filter_module_ctx = {
    NULL,                                    /* preconfiguration */
    ngx_http_prefix_filter_init,             /* postconfiguration */
    NULL,                                    /* create main configuration */
    NULL,                                    /* init main configuration */
    NULL,                                    /* create server configuration */
    NULL,                                    /* merge server configuration */
    ngx_http_prefix_filter_create_loc_conf,  /* create location configuration */
    ngx_http_prefix_filter_merge_loc_conf    /* merge location configuration */
};

ngx_module_t ngx_http_prefix_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_prefix_filter_module_ctx,
    ngx_http_prefix_filter_commands,
    NGX_HTTP_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NGX_MODULE_V1_PADDING
};

static ngx_int_t
ngx_http_prefix_filter_handler(ngx_http_request_t *r)
{
    ngx_http_prefix_filter_loc_conf_t *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_prefix_filter_module);

    if (lcf->prefix.data == NULL || r->internal) {
        return NGX_DECLINED;
    }

    if (r->unparsed_uri.len >= lcf->prefix.len
        && ngx_memcmp(r->unparsed_uri.data, lcf->prefix.data, lcf->prefix.len) == 0)
    {
        return NGX_DECLINED;
    }

    return NGX_HTTP_FORBIDDEN;
}

static void *
ngx_http_prefix_filter_create_loc_conf(ngx_conf_t *cf)
{
    /* zeroed: prefix unset */
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_prefix_filter_loc_conf_t));
}

static char *
ngx_http_prefix_filter_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_prefix_filter_loc_conf_t *prev = parent;
    ngx_http_prefix_filter_loc_conf_t *conf = child;

    if (conf->prefix.data == NULL) {
        conf->prefix = prev->prefix;
    }

    return NGX_CONF_OK;
}

static ngx_int_t
ngx_http_prefix_filter_init(ngx_conf_t *cf)
{
    ngx_http_core_main_conf_t *cmcf;
    ngx_http_handler_pt       *h;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    *h = ngx_http_prefix_filter_handler;

    return NGX_OK;
}
