/*
 * The stats_chart key end to end: the whole bot in-process (app_start) against the loopback
 * fake Discord and a fake ComfyUI, over real sockets. With stats_chart = false a /stats is a
 * deferral and one edit of @original whose body is plain JSON with the embed (exact numbers)
 * and no file part, no image and no attachment; with the default (true) the edit is a
 * multipart form whose files[0] is the chart's PNG, shown by the embed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "app/app.h"
#include "fakes/fake_comfy.h"
#include "fakes/fake_discord.h"
#include "fluxbot/log.h"
#include "test_app_lsan.h"

#define TOKEN "e2e-chart-token.abc"
#define APP_ID 777000000000000002ULL

typedef struct world {
    fake_discord *fd;
    fake_comfy *comfy;
    app *a;
    fb_config cfg;
    char db[128], outdir[128];
} world;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
}

static void unlink_db(const char *db)
{
    char side[200];
    unlink(db);
    snprintf(side, sizeof side, "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db);
    unlink(side);
}

static void start(world *w, bool chart)
{
    memset(w, 0, sizeof *w);
    log_configure(LOG_LEVEL_WARN, false, 2);
    fake_discord_options o = {.token = TOKEN, .application_id = APP_ID};
    w->fd = fake_discord_start(&o);
    assert_non_null(w->fd);
    fake_comfy_opts co = {.steps = 1, .png_width = 16, .png_height = 16};
    w->comfy = fake_comfy_start(&co);
    assert_non_null(w->comfy);
    snprintf(w->db, sizeof w->db, "/tmp/fb_chart_e2e_%d.db", (int)getpid());
    snprintf(w->outdir, sizeof w->outdir, "/tmp/fb_chart_e2e_out_%d", (int)getpid());
    unlink_db(w->db);

    fb_config_defaults(&w->cfg);
    snprintf(w->cfg.discord_token, sizeof w->cfg.discord_token, "%s", TOKEN);
    snprintf(w->cfg.discord_api_base, sizeof w->cfg.discord_api_base, "%s",
             fake_discord_api_base(w->fd));
    w->cfg.comfyui_urls.count = 1;
    snprintf(w->cfg.comfyui_urls.items[0], FB_CONFIG_STR, "%s", fake_comfy_url(w->comfy));
    snprintf(w->cfg.db_path, sizeof w->cfg.db_path, "%s", w->db);
    snprintf(w->cfg.output_dir, sizeof w->cfg.output_dir, "%s", w->outdir);
    w->cfg.analytics_flush_ms = 20;
    assert_true(w->cfg.stats_chart); /* the default */
    w->cfg.stats_chart = chart;

    char err[768];
    int code;
    w->a = app_start(&w->cfg, err, sizeof err, &code);
    if (!w->a) fprintf(stderr, "app_start: %s (%d)\n", err, code);
    assert_non_null(w->a);
    uint64_t until = now_ms() + 90000; /* generous: the machine may be loaded */
    while (now_ms() < until && !app_commands_registered(w->a))
        app_poll(w->a, 20);
    assert_true(app_commands_registered(w->a));
}

static void stop(world *w)
{
    assert_int_equal(app_stop(w->a), 0);
    fake_comfy_stop(w->comfy);
    fake_discord_stop(w->fd);
    unlink_db(w->db);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", w->outdir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", w->outdir);
}

/* Injects /stats 1 three times, each after the previous one's edit, and checks each got one
 * deferral and one edit; returns the three edits (free with fake_rest_requests_free(rq, 3)):
 * when the last one was asked, the rows of the two before it were committed, so its Total
 * Commands is 2 or 3. */
static fake_rest_request *stats_edit(world *w)
{
    fake_rest *rest = fake_discord_rest(w->fd);
    fake_rest_filter edits = {.method = "PATCH", .path_prefix = "/webhooks/"};
    for (unsigned i = 1; i <= 3; i++) {
        fake_discord_ix ix;
        assert_int_equal(fake_discord_inject_command(w->fd, "stats",
                                                     "[{\"name\":\"days\",\"type\":4,\"value\":1}]",
                                                     NULL, 0, NULL, &ix),
                         0);
        assert_true(fake_rest_wait(rest, &edits, i, 10000) >= i);
        fake_rest_ix_state st;
        assert_true(fake_rest_interaction_state(rest, ix.id, &st));
        free(st.original_json);
        assert_int_equal(st.ack_type, 5);
        assert_int_equal(st.callbacks, 1);
        assert_int_equal(st.edits, 1);
        if (i < 3) sleep_ms(200); /* the row is committed within analytics_flush_ms */
    }
    fake_rest_request *rq;
    assert_int_equal(fake_rest_collect(rest, &edits, &rq), 3);
    return rq;
}

static const cJSON *the_embed(const cJSON *body)
{
    const cJSON *embeds = cJSON_GetObjectItem(body, "embeds");
    assert_true(cJSON_IsArray(embeds));
    assert_int_equal(cJSON_GetArraySize(embeds), 1);
    return cJSON_GetArrayItem(embeds, 0);
}

/* The "Command Usage" field's text. */
static const char *usage_field(const cJSON *embed)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(embed, "fields"))
    {
        const cJSON *name = cJSON_GetObjectItem(f, "name");
        if (cJSON_IsString(name) && !strcmp(name->valuestring, "Command Usage"))
            return cJSON_GetObjectItem(f, "value")->valuestring;
    }
    fail_msg("no Command Usage field");
    return NULL;
}

static void chart_off_edits_the_embed_alone(void **state)
{
    (void)state;
    world w;
    start(&w, false);
    fake_rest_request *all = stats_edit(&w), *rq = &all[2];
    assert_int_equal(rq->status / 100, 2);
    /* a plain JSON body: no multipart form, no file part */
    assert_non_null(rq->content_type);
    assert_non_null(strstr(rq->content_type, "application/json"));
    assert_int_equal(rq->nparts, 0);
    assert_null(strstr((const char *)rq->body, "attachment://"));
    cJSON *body = cJSON_Parse((const char *)rq->body);
    assert_non_null(body);
    const cJSON *e = the_embed(body);
    assert_string_equal(cJSON_GetObjectItem(e, "title")->valuestring,
                        "Usage Statistics (Last Day)");
    assert_null(cJSON_GetObjectItem(e, "image"));
    const char *usage = usage_field(e);
    assert_true(strstr(usage, "Total Commands: 2") || strstr(usage, "Total Commands: 3"));
    assert_non_null(strstr(usage, "1. /stats"));
    /* no attachment is listed (an empty list keeps none) */
    const cJSON *atts = cJSON_GetObjectItem(body, "attachments");
    assert_true(!atts || cJSON_GetArraySize(atts) == 0);
    cJSON_Delete(body);
    fake_rest_requests_free(all, 3);
    stop(&w);
}

static void chart_on_uploads_the_png(void **state)
{
    (void)state;
    world w;
    start(&w, true);
    fake_rest_request *all = stats_edit(&w), *rq = &all[2];
    assert_int_equal(rq->status / 100, 2);
    assert_non_null(strstr(rq->content_type, "multipart/form-data"));
    const fake_rest_part *json = NULL, *png = NULL;
    for (unsigned i = 0; i < rq->nparts; i++) {
        if (!strcmp(rq->parts[i].name, "payload_json")) json = &rq->parts[i];
        if (!strcmp(rq->parts[i].name, "files[0]")) png = &rq->parts[i];
    }
    assert_non_null(json);
    assert_non_null(png);
    assert_string_equal(png->filename, "stats.png");
    assert_true(png->len > 8);
    assert_memory_equal(png->data, "\x89PNG\r\n\x1a\n", 8);
    cJSON *body = cJSON_ParseWithLength((const char *)json->data, json->len);
    assert_non_null(body);
    const cJSON *e = the_embed(body);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "image"), "url")->valuestring,
                        "attachment://stats.png");
    const char *usage = usage_field(e);
    assert_true(strstr(usage, "Total Commands: 2") || strstr(usage, "Total Commands: 3"));
    cJSON_Delete(body);
    fake_rest_requests_free(all, 3);
    stop(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chart_off_edits_the_embed_alone),
        cmocka_unit_test(chart_on_uploads_the_png),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
