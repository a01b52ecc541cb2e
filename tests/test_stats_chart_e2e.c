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

#include "analytics/an_chart.h"
#include "e2e_util.h"

#define TOKEN "e2e-chart-token.abc"
#define APP_ID 777000000000000002ULL

static void start(e2e_app_world *w, bool chart)
{
    memset(w, 0, sizeof *w);
    fake_comfy_opts co = {.steps = 1, .png_width = 16, .png_height = 16};
    e2e_app_opts o = {
        .name = "stats_chart_e2e", .token = TOKEN, .application_id = APP_ID, .comfy = &co};
    e2e_app_begin(w, &o);
    w->cfg.analytics_flush_ms = 20;
    assert_true(w->cfg.stats_chart); /* the default */
    w->cfg.stats_chart = chart;
    e2e_app_start(w);
}

/* Injects /stats 1 three times, each after the previous one's edit, and checks each got one
 * deferral and one edit; returns the three edits (free with fake_rest_requests_free(rq, 3)):
 * when the last one was asked, the rows of the two before it were committed, so its Total
 * Commands is 2 or 3. */
static fake_rest_request *stats_edit(e2e_app_world *w)
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
        if (i < 3) e2e_sleep(200); /* the row is committed within analytics_flush_ms */
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
    e2e_app_world w;
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
    e2e_app_end(&w);
}

static void chart_on_uploads_the_png(void **state)
{
    (void)state;
    e2e_app_world w;
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
    e2e_app_end(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chart_off_edits_the_embed_alone),
        cmocka_unit_test(chart_on_uploads_the_png),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    /* The font caches cairo and fontconfig keep for the whole process, freed as the fluxbot
     * executable frees them at exit: without this LeakSanitizer reports fontconfig's cache. */
    an_chart_release();
    return rc;
}
