/* What a real ComfyUI 0.3.64 does with outputs, against the fake that does the same, through the
 * whole runner: a 200 whose node_errors drop some outputs (the job fails at once when its own
 * output is dropped, runs otherwise), a mapped PreviewImage (its file is in ComfyUI's temp area),
 * and the core animation/video savers (WebM, APNG, animated WebP) typed by their bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "cfx.h"
#include "util/util_file.h"

static char wf_dir[128];

/* A copy of the shipped workflows whose text-to-image graph gets a PreviewImage (node 31) beside
 * its SaveImage (node 9), node 9 re-classed to save_class when given, and the mapping's output
 * set to output_json. */
static void make_workflows(const char *save_class, const char *output_json)
{
    static unsigned seq;
    snprintf(wf_dir, sizeof wf_dir, "/tmp/fb_test_outputs_%d_%u", (int)getpid(), seq++);
    assert_int_equal(mkdir(wf_dir, 0700), 0);
    DIR *d = opendir(FLUXBOT_SOURCE_DIR "/workflows");
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char src[512], dst[512];
        snprintf(src, sizeof src, "%s/workflows/%s", FLUXBOT_SOURCE_DIR, e->d_name);
        snprintf(dst, sizeof dst, "%s/%s", wf_dir, e->d_name);
        size_t len;
        char ferr[256];
        char *t = util_file_read(src, 1u << 20, &len, ferr, sizeof ferr);
        assert_non_null(t);
        if (strcmp(e->d_name, "flux_txt2img.json") == 0) {
            cJSON *g = cJSON_Parse(t);
            cJSON *pv = cJSON_Parse("{\"class_type\":\"PreviewImage\",\"inputs\":{\"images\":"
                                    "[\"40\",0]},\"_meta\":{\"title\":\"Preview Image\"}}");
            cJSON_AddItemToObject(g, "31", pv);
            if (save_class) {
                cJSON *n9 = cJSON_GetObjectItem(g, "9");
                cJSON_ReplaceItemInObject(n9, "class_type", cJSON_CreateString(save_class));
                cJSON *in = cJSON_GetObjectItem(n9, "inputs");
                cJSON_AddStringToObject(in, "codec", "vp9");
                cJSON_AddNumberToObject(in, "fps", 24);
                cJSON_AddNumberToObject(in, "crf", 32);
                cJSON_AddNumberToObject(in, "compress_level", 4);
            }
            free(t);
            t = cJSON_PrintUnformatted(g);
            cJSON_Delete(g);
        } else if (strcmp(e->d_name, "flux_txt2img.map.json") == 0) {
            cJSON *m = cJSON_Parse(t);
            cJSON_ReplaceItemInObject(m, "output", cJSON_Parse(output_json));
            cJSON_DeleteItemFromObject(cJSON_GetObjectItem(m, "inputs"), "filename_prefix");
            free(t);
            t = cJSON_PrintUnformatted(m);
            cJSON_Delete(m);
        }
        FILE *f = fopen(dst, "w");
        assert_non_null(f);
        fputs(t, f);
        fclose(f);
        free(t);
    }
    closedir(d);
}

static void rm_workflows(void)
{
    DIR *d = opendir(wf_dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", wf_dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(wf_dir);
}

static void use_wf_dir(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    (void)rc;
    (void)o;
    snprintf(cfg->workflows_dir, sizeof cfg->workflows_dir, "%s", wf_dir);
}

static void use_wf_with_previews(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    use_wf_dir(cfg, rc, o);
    o->previews = true;
}

/* The final message's file part (name and content type), NULL when none. */
static bool final_file(cfx *x, const char *tok, char *name, size_t nl, char *ctype, size_t cl)
{
    fake_rest_request *reqs = NULL;
    size_t n = cfx_reqs(x, "PATCH", tok, &reqs);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        for (unsigned k = 0; k < reqs[i].nparts; k++)
            if (strcmp(reqs[i].parts[k].name, "files[0]") == 0) {
                snprintf(name, nl, "%s",
                         reqs[i].parts[k].filename ? reqs[i].parts[k].filename : "");
                snprintf(ctype, cl, "%s",
                         reqs[i].parts[k].content_type ? reqs[i].parts[k].content_type : "");
                found = true;
            }
    fake_rest_requests_free(reqs, n);
    return found;
}

/* The file of the job's final message (malloc'd, its length in *flen), once the message came
 * (asserted within 15 s) saying needle (when not NULL), with a file (asserted) of type t. */
static uint8_t *final_file_of(cfx *x, const char *tok, const char *needle, img_type t, size_t *flen)
{
    uint8_t *file = NULL;
    *flen = 0;
    char *final = cfx_wait_final(x, tok, &file, flen, 15000);
    assert_non_null(final);
    if (needle) assert_non_null(strstr(final, needle));
    assert_non_null(file);
    assert_int_equal(img_sniff(file, *flen), t);
    free(final);
    return file;
}

/* ComfyUI drops the PreviewImage branch (node errors at 31) but runs SaveImage: the job is
 * delivered; the operator's log has the node error. */
static void test_partial_200_other_output_dropped(void **state)
{
    (void)state;
    make_workflows(NULL, "{\"class_type\":\"SaveImage\"}");
    cfx *x = cfx_start(1, use_wf_dir);
    assert_non_null(x);
    fake_comfy_reject_at(x->srv[0], "PreviewImage");
    uint64_t ix;
    char tok[64];
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "half valid", 1, &ix, tok));
    size_t flen;
    free(final_file_of(x, tok, "\"embeds\":[{", IMG_PNG, &flen));
    fake_comfy_stats s;
    fake_comfy_get_stats(x->srv[0], &s);
    assert_int_equal(s.prompts_partial, 1);
    assert_int_equal(s.queue_deletes, 0);
    cfx_stop(x);
    rm_workflows();
}

/* ComfyUI drops the job's own output (node 9) and would run only the preview: the job fails at
 * once with the node and its message (trailing newline trimmed), and the queued prompt is
 * deleted from ComfyUI's queue. */
static void test_partial_200_mapped_output_dropped(void **state)
{
    (void)state;
    make_workflows(NULL, "{\"class_type\":\"SaveImage\"}");
    cfx *x = cfx_start(1, use_wf_dir);
    assert_non_null(x);
    fake_comfy_reject_at(x->srv[0], "9");
    fake_comfy_set_paused(x->srv[0], true); /* it stays pending: the delete must find it */
    uint64_t ix;
    char tok[64];
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "output dropped", 1, &ix, tok));
    cfx_expect_final(x, tok, 15000,
                     "rejected the workflow at node 9 (SaveImage): Forced validation "
                     "failure \xe2\x80\x94 fake_comfy reject_at switch is on\"");
    fake_comfy_stats s;
    fake_comfy_get_stats(x->srv[0], &s);
    assert_int_equal(s.prompts_partial, 1);
    assert_int_equal(s.queue_deletes, 1);
    assert_int_equal(s.queue_remaining, 0);
    fake_comfy_set_paused(x->srv[0], false);
    cfx_stop(x);
    rm_workflows();
}

/* A mapping naming a PreviewImage: its file is listed with type temp and fetched from /view with
 * type=temp. */
static void test_preview_image_output(void **state)
{
    (void)state;
    make_workflows(NULL, "{\"class_type\":\"PreviewImage\"}");
    char tok[64];
    cfx *x = cfx_start_job(1, use_wf_dir, "preview me", tok);
    size_t flen;
    free(final_file_of(x, tok, "\"embeds\":[{", IMG_PNG, &flen));
    char name[128], ctype[64];
    assert_true(final_file(x, tok, name, sizeof name, ctype, sizeof ctype));
    assert_string_equal(ctype, "image/png");
    cfx_stop(x);
    rm_workflows();
}

/* Core savers of animations and video: the file keeps its type on Discord. */
static void check_saver(const char *cls, const char *ext, const char *ctype_want, img_type t)
{
    char out[128];
    snprintf(out, sizeof out, "{\"class_type\":\"%s\"}", cls);
    make_workflows(cls, out);
    char tok[64];
    cfx *x = cfx_start_job(1, use_wf_dir, "moving", tok);
    size_t flen;
    free(final_file_of(x, tok, NULL, t, &flen));
    char name[128], ctype[64];
    assert_true(final_file(x, tok, name, sizeof name, ctype, sizeof ctype));
    const char *dot = strrchr(name, '.');
    assert_non_null(dot);
    assert_string_equal(dot + 1, ext);
    assert_string_equal(ctype, ctype_want);
    cfx_stop(x);
    rm_workflows();
}

static void test_webm_apng_webp_outputs(void **state)
{
    (void)state;
    check_saver("SaveWEBM", "webm", "video/webm", IMG_WEBM);
    check_saver("SaveAnimatedPNG", "png", "image/apng", IMG_APNG);
    check_saver("SaveAnimatedWEBP", "webp", "image/webp", IMG_WEBP);
}

/* SaveImageWebsocket: the PNG arrives as a binary websocket frame while the node executes and
 * history lists no file; the bot delivers that PNG. */
static void test_save_image_websocket_output(void **state)
{
    (void)state;
    make_workflows("SaveImageWebsocket", "{\"class_type\":\"SaveImageWebsocket\"}");
    char tok[64];
    /* PNG previews of the sampler come first */
    cfx *x = cfx_start_job(1, use_wf_with_previews, "over the socket", tok);
    size_t flen;
    uint8_t *file = final_file_of(x, tok, "\"embeds\":[{", IMG_PNG, &flen);
    uint32_t w = 0, h = 0;
    char perr[128];
    assert_int_equal(img_png_validate(file, flen, &w, &h, perr, sizeof perr), 0);
    assert_int_equal(w, 48); /* the fixture's output size, not a preview */
    free(file);
    fake_comfy_stats s;
    fake_comfy_get_stats(x->srv[0], &s);
    assert_int_equal(s.views, 0); /* nothing to fetch from /view */
    cfx_stop(x);
    rm_workflows();
}

/* The job id of the "accepted" line of user's job in log text, 0 if none. */
static uint64_t accepted_job(const char *log, uint64_t user)
{
    char needle[64];
    snprintf(needle, sizeof needle, "by user %" PRIu64 " ", user);
    const char *hit = strstr(log, needle);
    if (!hit) return 0;
    const char *line = hit;
    while (line > log && line[-1] != '\n')
        line--;
    const char *j = strstr(line, "job ");
    return j && j < hit ? strtoull(j + 4, NULL, 10) : 0;
}

/* The log line of job id containing what (NULL if none): malloc'd copy. */
static char *job_line(const char *log, uint64_t id, const char *what)
{
    char key[48];
    snprintf(key, sizeof key, "job %" PRIu64 " ", id);
    for (const char *p = log; (p = strstr(p, key)); p++) {
        const char *ls = p, *le = strchr(p, '\n');
        while (ls > log && ls[-1] != '\n')
            ls--;
        if (!le) le = p + strlen(p);
        char *line = strndup(ls, (size_t)(le - ls));
        if (strstr(line, what)) return line;
        free(line);
    }
    return NULL;
}

/* An operator follows one job with grep on "job <id>": accepted (user, command), submitted
 * (server URL, prompt_id), finished (duration) at info; a ComfyUI execution error at warn. */
static void test_operator_log_per_job(void **state)
{
    (void)state;
    char path[96];
    snprintf(path, sizeof path, "/tmp/fb_test_outputs_log_%d.txt", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    cfx *x = cfx_start(1, NULL);
    assert_non_null(x);
    log_configure(LOG_LEVEL_INFO, false, fd);
    uint64_t ix;
    char tok[64];
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "logged", 4242, &ix, tok));
    cfx_expect_final(x, tok, 15000, NULL);
    fake_comfy_fail_at(x->srv[0], "VAEDecode", "CUDA out of memory\n");
    cfx_send(x, cfx_job(x, COMFY_KIND_IMAGE, "fails", 4343, &ix, tok));
    /* trailing newline trimmed */
    cfx_expect_final(x, tok, 15000, "CUDA out of memory\"");
    cfx_stop(x);
    log_configure(LOG_LEVEL_WARN, false, 2);
    size_t len = 0;
    char ferr[128];
    char *log = util_file_read(path, 1u << 20, &len, ferr, sizeof ferr);
    close(fd);
    unlink(path);
    assert_non_null(log);
    uint64_t ok_id = accepted_job(log, 4242), bad_id = accepted_job(log, 4343);
    assert_true(ok_id != 0 && bad_id != 0);
    char *l = job_line(log, ok_id, "accepted: /comfy by user 4242");
    assert_non_null(l);
    assert_non_null(strstr(l, "info"));
    free(l);
    l = job_line(log, ok_id, "submitted to server 1 (http://127.0.0.1:");
    assert_non_null(l);
    assert_non_null(strstr(l, ") as prompt "));
    free(l);
    l = job_line(log, ok_id, "finished in ");
    assert_non_null(l);
    assert_non_null(strstr(l, "info"));
    free(l);
    l = job_line(log, bad_id, "failed after ");
    assert_non_null(l);
    assert_non_null(strstr(l, "warn"));
    assert_non_null(strstr(l, "(node_error)"));
    assert_non_null(strstr(l, "VAEDecode"));
    free(l);
    /* the server is "server 1" in every line that names it */
    assert_null(strstr(log, "server 0"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partial_200_other_output_dropped),
        cmocka_unit_test(test_partial_200_mapped_output_dropped),
        cmocka_unit_test(test_preview_image_output),
        cmocka_unit_test(test_webm_apng_webp_outputs),
        cmocka_unit_test(test_operator_log_per_job),
        cmocka_unit_test(test_save_image_websocket_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
