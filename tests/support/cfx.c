/* Bodies of the helpers declared in cfx.h (see there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cfx.h"

/* see cfx.h */
const rl_config *cfx_rest_limits;

cfx *cfx_start(unsigned nsrv, cfx_tune_fn tune)
{
    return cfx_start_db(nsrv, tune, NULL);
}

cfx *cfx_start_db(unsigned nsrv, cfx_tune_fn tune, const char *db)
{
    log_configure(LOG_LEVEL_WARN, false, 2);
    cfx *x = calloc(1, sizeof *x);
    fake_rest_config fc = {.token = CFX_TOKEN, .application_id = CFX_APP};
    x->rest = fake_rest_start(&fc);
    if (!x->rest) return NULL;
    fake_comfy_opts o = {.steps = 4, .png_width = 48, .png_height = 32};
    fb_config_defaults(&x->cfg);
    x->cfg.progress_interval_ms = 300;
    x->cfg.job_stall_timeout_ms = 1500;
    x->cfg.runner_threads = 2;
    x->cfg.output_dir[0] = '\0'; /* tests opt in to keeping files */
    x->rc.http_timeout_ms = 5000;
    x->rc.stop_grace_ms = 1500;
    x->rc.no_server_wait_ms = 6000;
    x->rc.reconcile_poll_ms = 200;
    x->rc.queue_poll_ms = 300;
    if (tune) tune(&x->cfg, &x->rc, &o);
    x->nsrv = nsrv;
    x->cfg.comfyui_urls.count = nsrv;
    for (unsigned i = 0; i < nsrv; i++) {
        x->srv[i] = fake_comfy_start(&o);
        if (!x->srv[i]) return NULL;
        snprintf(x->cfg.comfyui_urls.items[i], FB_CONFIG_STR, "%s", fake_comfy_url(x->srv[i]));
    }
    x->cdn = fake_comfy_start(NULL);
    /* the test "CDN" is a loopback server: allowed by host:port (plain http is allowed only
     * for loopback entries) */
    if (x->cfg.attachment_hosts.count < FB_CONFIG_MAX_LIST) {
        const char *cu = fake_comfy_url(x->cdn);
        const char *hp = strstr(cu, "://");
        snprintf(x->cfg.attachment_hosts.items[x->cfg.attachment_hosts.count++], FB_CONFIG_STR,
                 "%s", hp ? hp + 3 : cu);
    }
    if (db) {
        snprintf(x->db, sizeof x->db, "%s", db);
        x->keep_db = true;
    } else {
        snprintf(x->db, sizeof x->db, "/tmp/fb_comfy_test_%d_%p.db", (int)getpid(), (void *)x);
    }
    /* The runner reads stored results back from the same database. */
    snprintf(x->cfg.db_path, sizeof x->cfg.db_path, "%s", x->db);
    x->sys = rt_system_new();
    analytics_writer_config ac = {.db_path = x->db, .flush_ms = 20};
    x->aw = analytics_writer_new(x->sys, &ac);
    discord_rest_config dc = {
        .api_base = fake_rest_base_url(x->rest), .token = CFX_TOKEN, .limits = cfx_rest_limits};
    x->dr = discord_rest_new(x->sys, &dc);
    x->rc.cfg = &x->cfg;
    x->rc.rest = discord_rest_actor(x->dr);
    x->rc.analytics = analytics_writer_actor(x->aw);
    char err[512];
    x->cr = comfy_runner_new(x->sys, &x->rc, err, sizeof err);
    if (!x->cr) {
        fprintf(stderr, "runner: %s\n", err);
        return NULL;
    }
    x->comfy = comfy_runner_actor(x->cr);
    if (rt_system_start(x->sys) != 0) return NULL;
    x->http = comfy_http_new();
    /* wait for the runner's websockets */
    for (int i = 0; i < 500; i++) {
        comfy_runner_counters st;
        comfy_runner_counters_get(x->cr, &st);
        if (st.servers_up == nsrv) break;
        util_sleep_ms(10);
    }
    x->next_ix = 1000;
    return x;
}

void cfx_stop(cfx *x)
{
    if (!x->stopped) rt_system_stop(x->sys);
    x->stopped = true;
    comfy_runner_free(x->cr);
    rt_system_free(x->sys);
    discord_rest_free(x->dr);
    analytics_writer_free(x->aw);
    comfy_http_free(x->http);
    for (unsigned i = 0; i < x->nsrv; i++)
        fake_comfy_stop(x->srv[i]);
    fake_comfy_stop(x->cdn);
    fake_rest_stop(x->rest);
    if (x->keep_db) {
        free(x);
        return;
    }
    unlink(x->db);
    char side[128];
    snprintf(side, sizeof side, "%s-wal", x->db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", x->db);
    unlink(side);
    free(x);
}

uint64_t cfx_interaction(cfx *x, bool component, bool defer, char token[64])
{
    uint64_t id = ++x->next_ix;
    snprintf(token, 64, "tok-%" PRIu64, id);
    fake_rest_register_interaction(x->rest, id, token, CFX_CHANNEL, component);
    if (defer) {
        char url[256];
        snprintf(url, sizeof url, "%s/interactions/%" PRIu64 "/%s/callback",
                 fake_rest_base_url(x->rest), id, token);
        comfy_http_res r;
        comfy_http_post_json(x->http, url, "{\"type\":5}", 5000, &r);
        comfy_http_res_free(&r);
    }
    return id;
}

comfy_job_msg *cfx_job(cfx *x, comfy_kind kind, const char *prompt, uint64_t user, uint64_t *ix,
                       char token[64])
{
    *ix = cfx_interaction(x, false, true, token);
    comfy_job_msg *m = comfy_job_msg_new(kind, CFX_APP, *ix, token);
    /* The shipped declaration the kind names (/comfy, /redux, /pulid, /video). */
    m->decl = decl_set_find(comfy_runner_catalog(x->cr)->decls, comfy_kind_name(kind));
    if (prompt) comfy_job_set_prompt(m, prompt);
    m->origin.user_id = user;
    m->origin.guild_id = 77;
    m->origin.channel_id = CFX_CHANNEL;
    m->origin.attachment_size_limit = 10u << 20;
    snprintf(m->origin.user_name, sizeof m->origin.user_name, "user%" PRIu64, user);
    return m;
}

void cfx_send(cfx *x, void *msg)
{
    rt_msg *m = msg;
    if (m->type == MSG_COMFY_JOB) {
        comfy_job_msg *jm = msg;
        char err[512];
        cjob *job = cjob_from_msg(jm, comfy_runner_catalog(x->cr), 0,
                                  0x9E3779B97F4A7C15ULL * ++x->next_ix, err, sizeof err);
        if (!job) fail_msg("the router would refuse this job: %s", err);
        rt_msg_free(m);
        m = &comfy_start_msg_new(job)->hdr;
    }
    rt_send_wait(x->comfy, m, 2000);
}

const char *cfx_refusal(cfx *x, comfy_job_msg *m, char *err, size_t cap)
{
    int rc = cjob_check_options(m, comfy_runner_catalog(x->cr), err, cap);
    rt_msg_free(&m->hdr);
    return rc ? err : NULL;
}

void cfx_ack(cfx *x, uint64_t id, const char *token, const char *body)
{
    char url[256];
    snprintf(url, sizeof url, "%s/interactions/%" PRIu64 "/%s/callback",
             fake_rest_base_url(x->rest), id, token);
    comfy_http_res r;
    comfy_http_post_json(x->http, url, body, 5000, &r);
    comfy_http_res_free(&r);
}

comfy_button_msg *cfx_button(const char *custom_id, uint64_t ix, const char *token)
{
    cres_action act;
    uint64_t job, owner;
    if (cres_parse_custom_id(custom_id, &act, &job, &owner) != 0)
        fail_msg("not a result button: %s", custom_id);
    comfy_button_action ba = act == CRES_REGENERATE ? COMFY_BUTTON_REGENERATE
                             : act == CRES_UPSCALE2 ? COMFY_BUTTON_UPSCALE2
                                                    : COMFY_BUTTON_DELETE;
    return comfy_button_msg_new(ba, job, CFX_APP, ix, token);
}

char *cfx_host_file(cfx *x, const char *name, const uint8_t *data, size_t len)
{
    comfy_http_res r;
    comfy_http_upload(x->http, fake_comfy_url(x->cdn), name, "application/octet-stream", data, len,
                      5000, &r);
    comfy_http_res_free(&r);
    char *url = malloc(512);
    snprintf(url, 512, "%s/view?filename=%s&type=input", fake_comfy_url(x->cdn), name);
    return url;
}

size_t cfx_reqs(cfx *x, const char *method, const char *token, fake_rest_request **out)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "/webhooks/%" PRIu64 "/%s", (uint64_t)CFX_APP, token);
    fake_rest_filter f = {.method = method, .path_prefix = prefix};
    return fake_rest_collect(x->rest, &f, out);
}

const char *cfx_body(const fake_rest_request *r)
{
    for (unsigned i = 0; i < r->nparts; i++)
        if (strcmp(r->parts[i].name, "payload_json") == 0) return (const char *)r->parts[i].data;
    return (const char *)r->body;
}

char *cfx_wait_final(cfx *x, const char *token, uint8_t **file, size_t *file_len,
                     unsigned timeout_ms)
{
    uint64_t end = rt_now_ms() + timeout_ms;
    for (;;) {
        fake_rest_request *reqs = NULL;
        size_t n = cfx_reqs(x, "PATCH", token, &reqs);
        char *found = NULL;
        for (size_t i = 0; i < n && !found; i++) {
            const char *b = cfx_body(&reqs[i]);
            if (!b) continue;
            bool final = reqs[i].nparts > 1 || strstr(b, "\"embeds\":[{") ||
                         strstr(b, "\xe2\x9d\x8c") || strstr(b, "\xe2\x8f\xb9");
            if (!final) continue;
            found = strdup(b);
            if (file) {
                *file = NULL;
                for (unsigned k = 0; k < reqs[i].nparts; k++) {
                    if (strcmp(reqs[i].parts[k].name, "files[0]") == 0) {
                        *file = malloc(reqs[i].parts[k].len);
                        memcpy(*file, reqs[i].parts[k].data, reqs[i].parts[k].len);
                        *file_len = reqs[i].parts[k].len;
                    }
                }
            }
        }
        fake_rest_requests_free(reqs, n);
        if (found || rt_now_ms() > end) return found;
        util_sleep_ms(10);
    }
}

cfx *cfx_start_job(unsigned nsrv, cfx_tune_fn tune, const char *prompt, char tok[64])
{
    cfx *x = cfx_start(nsrv, tune);
    assert_non_null(x);
    uint64_t ix;
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, prompt, 1, &ix, tok));
    return x;
}

void cfx_expect_final(cfx *x, const char *token, unsigned timeout_ms, const char *needle)
{
    char *final = cfx_wait_final(x, token, NULL, NULL, timeout_ms);
    assert_non_null(final);
    if (needle) assert_non_null(strstr(final, needle));
    free(final);
}

unsigned cfx_count(cfx *x, const char *method, const char *token)
{
    fake_rest_request *reqs = NULL;
    size_t n = cfx_reqs(x, method, token, &reqs);
    fake_rest_requests_free(reqs, n);
    return (unsigned)n;
}

bool cfx_wait_jobs_done(cfx *x, uint64_t n, unsigned timeout_ms)
{
    uint64_t end = rt_now_ms() + timeout_ms;
    for (;;) {
        comfy_runner_counters st;
        comfy_runner_counters_get(x->cr, &st);
        if (st.jobs_succeeded + st.jobs_failed >= n) return true;
        if (rt_now_ms() > end) return false;
        util_sleep_ms(10);
    }
}

int cfx_sql_count(cfx *x, const char *sql)
{
    sqlite3 *db = NULL;
    int n = -1;
    if (sqlite3_open_v2(x->db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(db);
    return n;
}
