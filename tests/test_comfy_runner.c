/* The runner end to end against the fake Discord REST and fake ComfyUI: a full /comfy job
 * (deferred reply, throttled progress edits, final multipart with a valid PNG, working
 * buttons), hostile prompt text arriving intact, bad options and limits answered clearly,
 * /queue, results over the upload limit, and the analytics rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>

#include "actors/analytics_writer.h"
#include "addr_check.h"
#include "analytics/an_record.h"
#include "cfx.h"

static const char *hostile =
    "a \"quoted\" {brace} [x] \\ back\nnew line \t tab \xe2\x9c\xa8 \xf0\x9f\x90\x88 "
    "\xe4\xb8\xad\xe6\x96\x87 </script> %s %n";

static char g_outdir[64];

static void slow_steps(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    (void)rc;
    o->steps = 12;
    o->step_delay_ms = 100;
    snprintf(g_outdir, sizeof g_outdir, "/tmp/fb_comfy_out_%d", (int)getpid());
    snprintf(cfg->output_dir, sizeof cfg->output_dir, "%s", g_outdir);
}

/* Asks /queue as user until its answer holds needle (each ask is a snapshot: asked again every
 * 50 ms), at most timeout_ms. */
static bool queue_shows(cfx *x, uint64_t user, const char *needle, unsigned timeout_ms)
{
    uint64_t end = rt_now_ms() + timeout_ms;
    while (rt_now_ms() < end) {
        char qtok[64];
        uint64_t qix = cfx_interaction(x, false, false, qtok);
        cfx_ack(x, qix, qtok, "{\"type\":5,\"data\":{\"flags\":64}}");
        comfy_queue_msg *q = comfy_queue_msg_new(CFX_APP, qix, qtok);
        q->origin.user_id = user;
        cfx_send(x, q);
        for (int i = 0; i < 300; i++) {
            fake_rest_ix_state st = {0};
            fake_rest_interaction_state(x->rest, qix, &st);
            bool answered = st.original_json && strstr(st.original_json, "Your jobs");
            bool has = answered && strstr(st.original_json, needle);
            free(st.original_json);
            if (has) return true;
            if (answered) break;
            util_sleep_ms(10);
        }
        util_sleep_ms(50);
    }
    return false;
}

static void test_full_job_and_buttons(void **state)
{
    (void)state;
    cfx *x = cfx_start(1, slow_steps);
    assert_non_null(x);
    uint64_t ix;
    char tok[64];
    comfy_job_msg *m = cfx_job(x, COMFY_KIND_IMAGE, hostile, 42, &ix, tok);
    snprintf(m->resolution, sizeof m->resolution, "%s", "16:9 [1344x768 landscape]");
    comfy_job_add_lora(m, "Realism");
    m->upscale_factor = 2;
    cfx_send(x, m);
    /* /queue shows the running job's progress as its worker publishes it */
    assert_true(queue_shows(x, 42, "generating ", 10000));
    uint8_t *png = NULL;
    size_t png_len = 0;
    char *final = cfx_wait_final(x, tok, &png, &png_len, 15000);
    assert_non_null(final);
    /* the websocket told the success and its files (execution_success, executed): no GET
     * /history after the end (any other is a queue poll's, which asks /queue with it) */
    fake_comfy_stats fst;
    fake_comfy_get_stats(x->srv[0], &fst);
    assert_true(fst.history_gets <= fst.queue_gets);
    /* a valid PNG went up as files[0] */
    assert_non_null(png);
    char err[128];
    uint32_t w, h;
    assert_int_equal(img_png_validate(png, png_len, &w, &h, err, sizeof err), 0);
    /* the same bytes are kept in output_dir */
    char kept[160];
    snprintf(kept, sizeof kept, "%s/fluxbot_%s", g_outdir, "");
    {
        char *fname = NULL;
        fake_rest_request *rq = NULL;
        size_t nrq = cfx_reqs(x, "PATCH", tok, &rq);
        for (size_t i = 0; i < nrq; i++)
            for (unsigned k = 0; k < rq[i].nparts; k++)
                if (rq[i].parts[k].filename) fname = strdup(rq[i].parts[k].filename);
        fake_rest_requests_free(rq, nrq);
        assert_non_null(fname);
        snprintf(kept, sizeof kept, "%s/%s", g_outdir, fname);
        free(fname);
        FILE *kf = fopen(kept, "rb");
        assert_non_null(kf);
        uint8_t *kb = malloc(png_len + 16);
        size_t kl = fread(kb, 1, png_len + 16, kf);
        fclose(kf);
        assert_int_equal(kl, png_len);
        assert_memory_equal(kb, png, png_len);
        free(kb);
    }
    free(png);
    cJSON *p = cJSON_Parse(final);
    assert_non_null(p);
    const cJSON *em = cJSON_GetArrayItem(cJSON_GetObjectItem(p, "embeds"), 0);
    assert_non_null(strstr(cJSON_GetObjectItem(em, "description")->valuestring, hostile));
    assert_non_null(strstr(final, "16:9 [1344x768 landscape]"));
    assert_non_null(strstr(final, "Realism"));
    const cJSON *btns = cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(p, "components"), 0), "components");
    assert_int_equal(cJSON_GetArraySize(btns), 4); /* Regenerate, Upscale, Options, Delete */
    assert_non_null(strstr(
        cJSON_GetObjectItem(cJSON_GetArrayItem(btns, 2), "custom_id")->valuestring, "fb:opt:"));
    char regen[101], up2[101], del[101];
    snprintf(regen, sizeof regen, "%s",
             cJSON_GetObjectItem(cJSON_GetArrayItem(btns, 0), "custom_id")->valuestring);
    snprintf(up2, sizeof up2, "%s",
             cJSON_GetObjectItem(cJSON_GetArrayItem(btns, 1), "custom_id")->valuestring);
    snprintf(del, sizeof del, "%s",
             cJSON_GetObjectItem(cJSON_GetArrayItem(btns, 3), "custom_id")->valuestring);
    cJSON_Delete(p);
    free(final);

    /* the graph ComfyUI got: hostile prompt intact plus the trigger words, size, LoRA */
    char *g = fake_comfy_prompt_json(x->srv[0], 0);
    cJSON *graph = cJSON_Parse(g);
    free(g);
    const char *text =
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(graph, "6"), "inputs"), "text")
            ->valuestring;
    char want[512];
    snprintf(want, sizeof want, "%s, realistic photo", hostile);
    assert_string_equal(text, want);
    assert_int_equal(cJSON_GetObjectItem(
                         cJSON_GetObjectItem(cJSON_GetObjectItem(graph, "27"), "inputs"), "width")
                         ->valueint,
                     1344);
    double seed1 =
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(graph, "25"), "inputs"),
                            "noise_seed")
            ->valuedouble;
    char *gs = cJSON_PrintUnformatted(graph);
    assert_non_null(strstr(gs, "flux_realism_lora.safetensors"));
    free(gs);
    cJSON_Delete(graph);

    /* progress edits: several, never closer than the interval (a little slack for the wire) */
    fake_rest_request *reqs = NULL;
    size_t n = cfx_reqs(x, "PATCH", tok, &reqs);
    assert_true(n >= 3);
    /* the sender spaces them by the interval; the wire may add jitter to single gaps, never
     * to the overall rate */
    for (size_t i = 1; i + 1 < n; i++)
        assert_true(reqs[i].t_ms - reqs[i - 1].t_ms >= 100);
    int64_t span = reqs[n - 2].t_ms - reqs[0].t_ms;
    assert_true((int64_t)(n - 2) <= span / 300 + 1);
    bool saw_bar = false;
    for (size_t i = 0; i < n; i++)
        if (strstr(cfx_body(&reqs[i]), "%") && strstr(cfx_body(&reqs[i]), "\xe2\x96\x91"))
            saw_bar = true;
    assert_true(saw_bar);
    fake_rest_requests_free(reqs, n);

    /* an operator removes output_dir while the bot runs: the next result's copy makes it again */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_outdir);
    assert_int_equal(system(cmd), 0);

    /* Regenerate: a new job with a new seed under the click's interaction (which the router
     * deferred, type 5) */
    char ctok[64];
    uint64_t cix = cfx_interaction(x, true, true, ctok);
    comfy_button_msg *b = cfx_button(regen, cix, ctok);
    b->origin.user_id = 42;
    b->origin.channel_id = CFX_CHANNEL;
    cfx_send(x, b);
    final = cfx_wait_final(x, ctok, NULL, NULL, 15000);
    assert_non_null(final);
    assert_non_null(strstr(final, "\"embeds\":[{"));
    free(final);
    fake_rest_ix_state st;
    assert_true(fake_rest_interaction_state(x->rest, cix, &st));
    assert_int_equal(st.ack_type, 5);
    free(st.original_json);
    g = fake_comfy_prompt_json(x->srv[0], 1);
    graph = cJSON_Parse(g);
    free(g);
    double seed2 =
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(graph, "25"), "inputs"),
                            "noise_seed")
            ->valuedouble;
    assert_true(seed1 != seed2);
    cJSON_Delete(graph);
    {
        /* the folder is back with the regenerated result, complete (no .part left) */
        DIR *d = opendir(g_outdir);
        assert_non_null(d);
        unsigned files = 0, parts = 0;
        for (struct dirent *de; (de = readdir(d));) {
            if (de->d_name[0] == '.') continue;
            files++;
            if (strstr(de->d_name, ".part"))
                parts++;
            else
                assert_non_null(strstr(de->d_name, ".png"));
        }
        closedir(d);
        assert_int_equal(files, 1);
        assert_int_equal(parts, 0);
    }

    /* Upscale ×2: the upscale workflow runs on the result */
    char utok[64];
    uint64_t uix = cfx_interaction(x, true, true, utok);
    b = cfx_button(up2, uix, utok);
    b->origin.user_id = 43;
    b->origin.channel_id = CFX_CHANNEL;
    cfx_send(x, b);
    uint8_t *up = NULL;
    size_t up_len = 0;
    final = cfx_wait_final(x, utok, &up, &up_len, 15000);
    assert_non_null(final);
    assert_non_null(up);
    assert_int_equal(img_png_validate(up, up_len, NULL, NULL, err, sizeof err), 0);
    free(up);
    assert_non_null(strstr(final, "Upscaled image"));
    free(final);
    g = fake_comfy_prompt_json(x->srv[0], 2);
    assert_non_null(strstr(g, "ImageUpscaleWithModel"));
    assert_non_null(strstr(g, "\"scale_by\":0.5"));
    free(g);

    /* (Delete by someone else is refused by the router: test_router_actor) */
    /* Delete by a moderator: acknowledged (type 6), then the message is deleted */
    assert_true(fake_rest_interaction_state(x->rest, ix, &st));
    cJSON *orig = cJSON_Parse(st.original_json);
    free(st.original_json);
    uint64_t msg_id = strtoull(cJSON_GetObjectItem(orig, "id")->valuestring, NULL, 10);
    cJSON_Delete(orig);
    char dtok[64];
    uint64_t mix = cfx_interaction(x, true, false, dtok);
    cfx_ack(x, mix, dtok, "{\"type\":6}"); /* the router's ack, after its permission check */
    b = cfx_button(del, mix, dtok);
    b->origin.user_id = 7;
    b->origin.permissions = 1ULL << 13;
    b->origin.channel_id = CFX_CHANNEL;
    b->message_id = msg_id;
    cfx_send(x, b);
    char dpath[96];
    snprintf(dpath, sizeof dpath, "/channels/%" PRIu64 "/messages/%" PRIu64, (uint64_t)CFX_CHANNEL,
             msg_id);
    fake_rest_filter df = {.method = "DELETE", .path_prefix = dpath, .status = 204};
    assert_int_equal(fake_rest_wait(x->rest, &df, 1, 5000), 1);
    fake_rest_interaction_state(x->rest, mix, &st);
    free(st.original_json);
    assert_int_equal(st.ack_type, 6);

    cfx_stop(x); /* flushes analytics */
    assert_int_equal(system(cmd), 0);
}

static void quick(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    (void)rc;
    (void)o;
    cfg->user_max_concurrent_jobs = 1;
}

static bool ephemeral_followup(cfx *x, const char *tok, const char *needle, unsigned timeout_ms)
{
    uint64_t end = rt_now_ms() + timeout_ms;
    for (;;) {
        fake_rest_request *reqs = NULL;
        size_t n = cfx_reqs(x, "POST", tok, &reqs);
        bool ok = false;
        for (size_t i = 0; i < n; i++) {
            const char *b = cfx_body(&reqs[i]);
            if (b && strstr(b, "\"flags\":64") && strstr(b, needle)) ok = true;
        }
        fake_rest_requests_free(reqs, n);
        if (ok) return true;
        if (rt_now_ms() > end) return false;
        util_sleep_ms(10);
    }
}

static void test_bad_options_and_limits(void **state)
{
    (void)state;
    cfx *x = cfx_start(1, quick);
    assert_non_null(x);
    uint64_t ix;
    char tok[64];
    /* bad options are refused by the router before it defers (it checks and resolves the job,
     * the runner no longer validates): unknown resolution */
    char err[512];
    comfy_job_msg *m = cfx_job(x, COMFY_KIND_IMAGE, "a cat", 1, &ix, tok);
    snprintf(m->resolution, sizeof m->resolution, "%s", "17:9 [bogus]");
    assert_non_null(strstr(cfx_refusal(x, m, err, sizeof err), "Unknown resolution"));
    /* upscale 9 */
    m = cfx_job(x, COMFY_KIND_IMAGE, "a cat", 1, &ix, tok);
    m->upscale_factor = 9;
    assert_non_null(
        strstr(cfx_refusal(x, m, err, sizeof err), "upscale_factor must be 1, 2, 3 or 4 (got 9)"));
    /* declared oversized attachment */
    m = cfx_job(x, COMFY_KIND_PULID, "me", 1, &ix, tok);
    comfy_job_add_image(m, 1, "https://cdn.example/x.png", "big.png", "image/png", 50u << 20);
    assert_non_null(strstr(cfx_refusal(x, m, err, sizeof err), "the limit is"));
    /* an attachment on a host the bot does not download from: refused before any request */
    m = cfx_job(x, COMFY_KIND_PULID, "me", 1, &ix, tok);
    comfy_job_add_image(m, 1, "https://cdn.example/x.png", "x.png", "image/png", 100);
    cfx_send(x, m);
    char *refused = cfx_wait_final(x, tok, NULL, NULL, 10000);
    assert_non_null(refused);
    assert_non_null(strstr(refused, "not hosted where the bot downloads images from"));
    assert_null(strstr(refused, "cdn.example"));
    free(refused);
    /* an attachment that claims to be a PNG but is not: found out from its bytes */
    const char *txt = "this is not an image at all, just text pretending";
    char *url = cfx_host_file(x, "fake.png", (const uint8_t *)txt, strlen(txt));
    m = cfx_job(x, COMFY_KIND_PULID, "me", 1, &ix, tok);
    comfy_job_add_image(m, 1, url, "fake.png", "image/png", strlen(txt));
    free(url);
    cfx_send(x, m);
    cfx_expect_final(x, tok, 10000, "not a PNG, JPEG or WebP image");
    /* a real PNG attachment for /pulid is uploaded to ComfyUI and used */
    size_t plen;
    uint8_t *png = image_fixture_png(20, 20, 0, 3, &plen);
    url = cfx_host_file(x, "face.png", png, plen);
    m = cfx_job(x, COMFY_KIND_PULID, "portrait", 1, &ix, tok);
    comfy_job_add_image(m, 1, url, "face.png", "image/png", plen);
    free(url);
    fake_comfy_set_paused(x->srv[0], true);
    cfx_send(x, m);
    /* while it waits: the same user is over the concurrent limit (1) */
    char tok2[64];
    uint64_t ix2;
    comfy_job_msg *m2 = cfx_job(x, COMFY_KIND_IMAGE, "second", 1, &ix2, tok2);
    util_sleep_ms(200);
    cfx_send(x, m2);
    assert_true(ephemeral_followup(x, tok2, "You already have 1 job", 5000));
    /* /queue shows the caller's job: the router deferred ephemerally, the runner edits that */
    char qtok[64];
    uint64_t qix = cfx_interaction(x, false, false, qtok);
    cfx_ack(x, qix, qtok, "{\"type\":5,\"data\":{\"flags\":64}}");
    comfy_queue_msg *q = comfy_queue_msg_new(CFX_APP, qix, qtok);
    q->origin.user_id = 1;
    cfx_send(x, q);
    bool listed = false;
    for (int i = 0; i < 300 && !listed; i++) {
        fake_rest_ix_state st = {0};
        fake_rest_interaction_state(x->rest, qix, &st);
        listed = st.ack_type == 5 && st.original_json && strstr(st.original_json, "/pulid") &&
                 strstr(st.original_json, "\\\"portrait\\\"") &&
                 strstr(st.original_json, "\"flags\":64");
        free(st.original_json);
        if (!listed) util_sleep_ms(10);
    }
    assert_true(listed);
    fake_comfy_set_paused(x->srv[0], false);
    cfx_expect_final(x, tok, 10000, "\"embeds\":[{");
    size_t got;
    char name[64];
    snprintf(name, sizeof name, "fluxbot_%s", "");
    fake_comfy_stats fs;
    fake_comfy_get_stats(x->srv[0], &fs);
    assert_int_equal(fs.uploads, 1);
    char *g = fake_comfy_prompt_json(x->srv[0], 0);
    cJSON *graph = cJSON_Parse(g);
    free(g);
    const char *img = cJSON_GetObjectItem(
                          cJSON_GetObjectItem(cJSON_GetObjectItem(graph, "54"), "inputs"), "image")
                          ->valuestring;
    uint8_t *back = fake_comfy_upload_data(x->srv[0], img, &got);
    assert_non_null(back);
    assert_int_equal(got, plen);
    assert_memory_equal(back, png, plen);
    free(back);
    free(png);
    cJSON_Delete(graph);
    cfx_stop(x);
}

static void big_png(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    (void)cfg;
    (void)rc;
    o->png_width = 200;
    o->png_height = 200;
    o->png_noise = true;
}

static void test_result_over_upload_limit_and_analytics(void **state)
{
    (void)state;
    cfx *x = cfx_start(1, big_png);
    assert_non_null(x);
    uint64_t ix;
    char tok[64];
    comfy_job_msg *m = cfx_job(x, COMFY_KIND_IMAGE, "huge", 5, &ix, tok);
    m->origin.attachment_size_limit = 50000; /* the PNG is ~120 kB */
    snprintf(m->resolution, sizeof m->resolution, "16:9 [1920x1080 landscape]");
    m->upscale_factor = 2;
    /* The router's row for each /comfy (recorded as a success when the defer went out); the
     * runner corrects it with the job's outcome. */
    an_command_event ce = {.command = "comfy", .kind = AN_CMD_SLASH, .user_id = 5, .success = true};
    ce.interaction_id = ix;
    an_record_command(analytics_writer_actor(x->aw), &ce);
    cfx_send(x, m);
    uint8_t *file = NULL;
    size_t flen = 0;
    char *final = cfx_wait_final(x, tok, &file, &flen, 10000);
    assert_non_null(final);
    assert_null(file);
    assert_non_null(strstr(final, "over this channel's upload limit of 0.0 MB") ||
                    strstr(final, "upload limit"));
    assert_non_null(strstr(final, "\"embeds\":[{"));
    free(final);
    /* a failing one for the analytics: error at a node */
    fake_comfy_fail_at(x->srv[0], "VAEDecode", "boom");
    m = cfx_job(x, COMFY_KIND_IMAGE, "fails", 5, &ix, tok);
    uint64_t failed_ix = ix;
    cfx_send(x, m);
    /* Its row arrives after the outcome may have (the two producers race): still corrected. */
    ce.interaction_id = failed_ix;
    cfx_expect_final(x, tok, 10000, "node 8 (VAEDecode): boom");
    assert_true(cfx_wait_jobs_done(x, 2, 5000));
    an_record_command(analytics_writer_actor(x->aw), &ce);
    rt_system_stop(x->sys); /* the writer commits everything on the way out */
    /* Success is the outcome: the failed job's /comfy is 0, the delivered one 1. */
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT success FROM command_usage WHERE interaction_id = %" PRIu64,
             failed_ix);
    assert_int_equal(cfx_sql_count(x, sql), 0);
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM command_usage WHERE success = 1"), 1);
    assert_int_equal(cfx_sql_count(x, "SELECT SUM(failed_commands) FROM daily_stats"), 1);
    /* The label the user picked, the delivered size, the real factor, LoRAs as a JSON list. */
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM image_stats WHERE resolution ="
                                      " '16:9 [1920x1080 landscape]' AND width = 3840"
                                      " AND height = 2160 AND upscale_factor = 2 AND loras = '[]'"),
                     1);
    x->stopped = true;
    /* one image_stats row per finished job, success or not; activity for the job's life */
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM image_stats"), 2);
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM image_stats WHERE success=1"), 1);
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM image_stats WHERE success=0"), 1);
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM user_activity WHERE "
                                      "action_type='job_queued'"),
                     2);
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM user_activity WHERE "
                                      "action_type='job_started'"),
                     2);
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM user_activity WHERE "
                                      "action_type='job_finished'"),
                     1);
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM user_activity WHERE "
                                      "action_type='job_failed'"),
                     1);
    cfx_stop(x);
}

static const char *button_id(const char *final, int which, char *out, size_t outlen)
{
    cJSON *p = cJSON_Parse(final);
    const cJSON *btns = cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(p, "components"), 0), "components");
    snprintf(out, outlen, "%s",
             cJSON_GetObjectItem(cJSON_GetArrayItem(btns, which), "custom_id")->valuestring);
    cJSON_Delete(p);
    return out;
}

static char *press(cfx *x, const char *custom_id, uint64_t user, char tok[64])
{
    uint64_t ix = cfx_interaction(x, true, true, tok);
    comfy_button_msg *b = cfx_button(custom_id, ix, tok);
    b->origin.user_id = user;
    b->origin.channel_id = CFX_CHANNEL;
    cfx_send(x, b);
    return cfx_wait_final(x, tok, NULL, NULL, 15000);
}

static void short_retention(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    (void)rc;
    (void)o;
    cfg->result_retention_days = 2;
}

/* Results outlive a restart: the parameters of a delivered result are stored through the
 * analytics writer; a new runner on the same database (nothing in memory) regenerates and
 * upscales it with the same parameters. A result older than the retention gets a clear answer.
 */
static void test_results_outlive_a_restart(void **state)
{
    (void)state;
    char db[128];
    snprintf(db, sizeof db, "/tmp/fb_comfy_restart_%d.db", (int)getpid());
    unlink(db);
    cfx *x = cfx_start_db(1, short_retention, db);
    assert_non_null(x);
    uint64_t ix;
    char tok[64];
    comfy_job_msg *m = cfx_job(x, COMFY_KIND_IMAGE, "a lighthouse, after the restart", 5, &ix, tok);
    snprintf(m->resolution, sizeof m->resolution, "9:16 [768x1344 portrait]");
    snprintf(m->loras[0], sizeof m->loras[0], "Realism");
    m->nloras = 1;
    m->seed = 1234;
    m->has_seed = true;
    cfx_send(x, m);
    uint8_t *png = NULL;
    size_t png_len = 0;
    char *final = cfx_wait_final(x, tok, &png, &png_len, 15000);
    assert_non_null(final);
    assert_non_null(png);
    char regen[101], up2[101];
    button_id(final, 0, regen, sizeof regen);
    button_id(final, 1, up2, sizeof up2);
    free(final);
    assert_true(cfx_wait_jobs_done(x, 1, 5000));
    cfx_stop(x); /* the writer commits everything on the way out */

    x = cfx_start_db(1, short_retention, db);
    assert_non_null(x);
    assert_int_equal(cfx_sql_count(x, "SELECT COUNT(*) FROM results WHERE success = 1"), 1);
    final = press(x, regen, 5, tok);
    assert_non_null(final);
    assert_non_null(strstr(final, "9:16 [768x1344 portrait]"));
    assert_non_null(strstr(final, "\"embeds\":[{"));
    free(final);
    char *g = fake_comfy_prompt_json(x->srv[0], 0);
    assert_non_null(strstr(g, "a lighthouse, after the restart, realistic photo"));
    assert_non_null(strstr(g, "flux_realism_lora.safetensors"));
    assert_non_null(strstr(g, "\"width\":768"));
    free(g);
    /* Upscale: the image comes from the clicked message (Discord's copy of the result). */
    char *url = cfx_host_file(x, "result.png", png, png_len);
    free(png);
    uint64_t uix = cfx_interaction(x, true, true, tok);
    comfy_button_msg *ub = cfx_button(up2, uix, tok);
    ub->origin.user_id = 6;
    ub->origin.channel_id = CFX_CHANNEL;
    comfy_button_set_image_url(ub, url);
    free(url);
    cfx_send(x, ub);
    cfx_expect_final(x, tok, 15000, "Upscaled image");

    /* A result older than the retention (2 days here): a clear answer, no job. */
    char old[101];
    snprintf(old, sizeof old, "fb:regen:%" PRIu64,
             (uint64_t)((rt_wall_ms() - 3 * 86400000ULL) << 16));
    uint64_t oix = cfx_interaction(x, true, true, tok);
    comfy_button_msg *b = cfx_button(old, oix, tok);
    b->origin.user_id = 5;
    b->origin.channel_id = CFX_CHANNEL;
    cfx_send(x, b);
    /* The runner answers it as a late refusal: the deferred message goes, an ephemeral
     * follow-up says why. */
    assert_true(ephemeral_followup(x, tok, "older than 2 days", 10000));
    assert_true(cfx_wait_jobs_done(x, 2, 5000));
    cfx_stop(x);
    unlink(db);
}

/* One finished result: its message id and its Delete custom_id. */
static uint64_t result_message(cfx *x, uint64_t user, char del[101])
{
    uint64_t ix;
    char tok[64];
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "to delete", user, &ix, tok));
    char *final = cfx_wait_final(x, tok, NULL, NULL, 15000);
    assert_non_null(final);
    cJSON *p = cJSON_Parse(final);
    free(final);
    const cJSON *btns = cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(p, "components"), 0), "components");
    const cJSON *last = cJSON_GetArrayItem(btns, cJSON_GetArraySize(btns) - 1);
    snprintf(del, 101, "%s", cJSON_GetObjectItem(last, "custom_id")->valuestring);
    cJSON_Delete(p);
    fake_rest_ix_state st;
    assert_true(fake_rest_interaction_state(x->rest, ix, &st));
    cJSON *orig = cJSON_Parse(st.original_json);
    free(st.original_json);
    uint64_t id = strtoull(cJSON_GetObjectItem(orig, "id")->valuestring, NULL, 10);
    cJSON_Delete(orig);
    return id;
}

/* A Delete click (already acknowledged with type 6 by the router) on message msg_id. */
static void click_delete(cfx *x, const char *del, uint64_t msg_id, bool known_message,
                         char dtok[64])
{
    uint64_t mix = cfx_interaction(x, true, false, dtok);
    if (known_message) fake_rest_set_component_message(x->rest, mix, msg_id);
    cfx_ack(x, mix, dtok, "{\"type\":6}");
    comfy_button_msg *b = cfx_button(del, mix, dtok);
    b->origin.user_id = 1;
    b->origin.channel_id = CFX_CHANNEL;
    b->message_id = msg_id;
    cfx_send(x, b);
}

/* Delete goes through the interaction webhook (no channel permission needed), falls back to the
 * channel route, and tells the clicker when neither works. */
static void test_delete_routes(void **state)
{
    (void)state;
    cfx *x = cfx_start(1, NULL);
    assert_non_null(x);
    char del[101], dtok[64];
    /* 1: the webhook's @original is the result: deleted there, no channel request */
    uint64_t m1 = result_message(x, 1, del);
    click_delete(x, del, m1, true, dtok);
    for (int i = 0; i < 500 && !fake_rest_message_deleted(x->rest, m1); i++)
        util_sleep_ms(10);
    assert_true(fake_rest_message_deleted(x->rest, m1));
    char chpath[96];
    snprintf(chpath, sizeof chpath, "/channels/%" PRIu64 "/messages/", (uint64_t)CFX_CHANNEL);
    fake_rest_filter cf = {.method = "DELETE", .path_prefix = chpath};
    assert_int_equal(fake_rest_count(x->rest, &cf), 0);
    /* 2: the webhook cannot (unknown @original): the channel route deletes it */
    uint64_t m2 = result_message(x, 1, del);
    click_delete(x, del, m2, false, dtok);
    for (int i = 0; i < 500 && !fake_rest_message_deleted(x->rest, m2); i++)
        util_sleep_ms(10);
    assert_true(fake_rest_message_deleted(x->rest, m2));
    /* 3: neither works (no webhook message, the channel is out of the bot's sight: 403): the
     * clicker is told, privately, and the message stays */
    uint64_t m3 = result_message(x, 1, del);
    fake_rest_script(x->rest, "DELETE", "/channels/", FAKE_REST_FAULT_403, 0, 1);
    click_delete(x, del, m3, false, dtok);
    assert_true(ephemeral_followup(x, dtok, "could not be deleted", 5000));
    assert_false(fake_rest_message_deleted(x->rest, m3));
    cfx_stop(x);
}

/* Upscale ×2 takes its source from the clicked message's attachment on Discord (here the test
 * CDN), not from the ComfyUI server that produced the result. */
static void test_upscale_source_is_discord_attachment(void **state)
{
    (void)state;
    cfx *x = cfx_start(1, NULL);
    assert_non_null(x);
    uint64_t ix;
    char tok[64];
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "to upscale", 1, &ix, tok));
    uint8_t *png = NULL;
    size_t plen = 0;
    char *final = cfx_wait_final(x, tok, &png, &plen, 15000);
    assert_non_null(final);
    assert_non_null(png);
    cJSON *p = cJSON_Parse(final);
    free(final);
    const cJSON *btns = cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(p, "components"), 0), "components");
    char up2[101];
    snprintf(up2, sizeof up2, "%s",
             cJSON_GetObjectItem(cJSON_GetArrayItem(btns, 1), "custom_id")->valuestring);
    cJSON_Delete(p);
    assert_non_null(strstr(up2, "fb:up2:"));
    char *att = cfx_host_file(x, "result.png", png, plen); /* Discord's copy of the result */
    free(png);
    fake_comfy_stats before_src, before_cdn;
    fake_comfy_get_stats(x->srv[0], &before_src);
    fake_comfy_get_stats(x->cdn, &before_cdn);
    char utok[64];
    uint64_t uix = cfx_interaction(x, true, true, utok);
    comfy_button_msg *b = cfx_button(up2, uix, utok);
    b->origin.user_id = 1;
    b->origin.channel_id = CFX_CHANNEL;
    comfy_button_set_image_url(b, att);
    free(att);
    cfx_send(x, b);
    final = cfx_wait_final(x, utok, NULL, NULL, 15000);
    assert_non_null(final);
    assert_non_null(strstr(final, "\"embeds\":[{"));
    assert_null(strstr(final, "127.0.0.1"));
    /* nor the servers' ports, as numbers of their own (the reply holds snowflakes and a seed) */
    assert_false(addr_check_has_number(final, (unsigned)fake_comfy_port(x->srv[0])));
    assert_false(addr_check_has_number(final, (unsigned)fake_comfy_port(x->cdn)));
    free(final);
    fake_comfy_stats after_src, after_cdn;
    fake_comfy_get_stats(x->srv[0], &after_src);
    fake_comfy_get_stats(x->cdn, &after_cdn);
    assert_int_equal(after_cdn.views, before_cdn.views + 1); /* fetched from the attachment */
    /* the ComfyUI server served only the upscale's own output, not the source */
    assert_int_equal(after_src.views, before_src.views + 1);
    cfx_stop(x);
}

static void one_thread(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    (void)rc;
    (void)o;
    cfg->runner_threads = 1;
}

/* The message of a job waiting for a runner and /queue give the same position. */
static void test_queue_position_one_definition(void **state)
{
    (void)state;
    cfx *x = cfx_start(1, one_thread);
    assert_non_null(x);
    fake_comfy_set_paused(x->srv[0], true); /* job A stays in ComfyUI's queue, holding the runner */
    uint64_t ixa, ixb;
    char toka[64], tokb[64];
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "first", 1, &ixa, toka));
    for (int i = 0; i < 500; i++) {
        fake_comfy_stats s;
        fake_comfy_get_stats(x->srv[0], &s);
        if (s.prompts_accepted == 1) break;
        util_sleep_ms(10);
    }
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "second", 2, &ixb, tokb));
    bool shown = false;
    for (int i = 0; i < 500 && !shown; i++) {
        fake_rest_ix_state st = {0};
        fake_rest_interaction_state(x->rest, ixb, &st);
        shown = st.original_json && strstr(st.original_json, "position");
        if (shown) {
            /* first in line for the runner: position 1, not 1 + runner_threads */
            assert_non_null(strstr(st.original_json, "position 1"));
        }
        free(st.original_json);
        if (!shown) util_sleep_ms(10);
    }
    assert_true(shown);
    /* job A's user sees its place in ComfyUI's queue, on its server */
    assert_true(queue_shows(x, 1, "position 1 in the queue of ", 10000));
    char qtok[64];
    uint64_t qix = cfx_interaction(x, false, false, qtok);
    cfx_ack(x, qix, qtok, "{\"type\":5,\"data\":{\"flags\":64}}");
    comfy_queue_msg *q = comfy_queue_msg_new(CFX_APP, qix, qtok);
    q->origin.user_id = 2;
    cfx_send(x, q);
    bool listed = false;
    for (int i = 0; i < 300 && !listed; i++) {
        fake_rest_ix_state st = {0};
        fake_rest_interaction_state(x->rest, qix, &st);
        listed = st.original_json && strstr(st.original_json, "waiting for a free runner");
        if (listed) assert_non_null(strstr(st.original_json, "(position 1)"));
        free(st.original_json);
        if (!listed) util_sleep_ms(10);
    }
    assert_true(listed);
    fake_comfy_set_paused(x->srv[0], false);
    char *final = cfx_wait_final(x, tokb, NULL, NULL, 15000);
    assert_non_null(final);
    free(final);
    cfx_stop(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_job_and_buttons),
        cmocka_unit_test(test_bad_options_and_limits),
        cmocka_unit_test(test_result_over_upload_limit_and_analytics),
        cmocka_unit_test(test_results_outlive_a_restart),

        cmocka_unit_test(test_queue_position_one_definition),
        cmocka_unit_test(test_delete_routes),
        cmocka_unit_test(test_upscale_source_is_discord_attachment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
