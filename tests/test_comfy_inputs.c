/* Input images end to end (runner + fake Discord + fake ComfyUI + hostile loopback hosts):
 * a real PNG declared text/plain is used; a 65535×65535 PNG bomb and a truncated PNG are refused
 * and never uploaded; a redirect from an allowed host to another loopback host:port not on the
 * list is refused without contacting it; a redirect to an allowed host works and carries no
 * credentials; timeouts, redirect loops, file:// and HTTP errors are reported as what they are;
 * a download stalled mid-body when the bot stops is cut at the stop deadline, not its timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <zlib.h>

#include "fakes/fake_host.h"
#include "addr_check.h"
#include "cfx.h"

static fake_host *g_allowed, *g_allowed2, *g_outside;

/* Two loopback hosts on the allow-list, one (another port) not on it. */
static void hosts_tune(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    (void)o;
    rc->http_timeout_ms = 2500;
    cfg->attachment_hosts.count = 2;
    snprintf(cfg->attachment_hosts.items[0], FB_CONFIG_STR, "%s", fake_host_hostport(g_allowed));
    snprintf(cfg->attachment_hosts.items[1], FB_CONFIG_STR, "%s", fake_host_hostport(g_allowed2));
}

static cfx *start_tuned(cfx_tune_fn tune)
{
    g_allowed = fake_host_start();
    g_allowed2 = fake_host_start();
    g_outside = fake_host_start();
    assert_non_null(g_allowed);
    assert_non_null(g_allowed2);
    assert_non_null(g_outside);
    cfx *x = cfx_start(1, tune);
    assert_non_null(x);
    return x;
}

static cfx *start(void)
{
    return start_tuned(hosts_tune);
}

static void stop(cfx *x)
{
    cfx_stop(x);
    fake_host_stop(g_allowed);
    fake_host_stop(g_allowed2);
    fake_host_stop(g_outside);
}

/* Runs a /pulid job whose image is at url (declared type ct) and returns its final message. */
static char *run_pulid(cfx *x, const char *url, const char *ct, size_t size)
{
    uint64_t ix;
    char tok[64];
    comfy_job_msg *m = cfx_job(x, COMFY_KIND_PULID, "portrait", 1, &ix, tok);
    comfy_job_add_image(m, 1, url, "face.png", ct, size);
    cfx_send(x, m);
    return cfx_wait_final(x, tok, NULL, NULL, 15000);
}

static unsigned uploads(cfx *x)
{
    fake_comfy_stats st;
    fake_comfy_get_stats(x->srv[0], &st);
    return st.uploads;
}

/* No user-facing text ever names an address: neither the loopback host nor the port of any
 * fake the job could have talked to (looked for as a number of its own, see addr_check.h). */
static void no_address(const cfx *x, const char *text)
{
    const int ports[] = {fake_host_port(g_allowed), fake_host_port(g_allowed2),
                         fake_host_port(g_outside), fake_comfy_port(x->srv[0]),
                         x->cdn ? fake_comfy_port(x->cdn) : 0};
    addr_check_none(text, ports, sizeof ports / sizeof ports[0]);
}

static void test_mislabelled_png_is_used(void **state)
{
    (void)state;
    cfx *x = start();
    size_t plen;
    uint8_t *png = image_fixture_png(24, 24, 0, 7, &plen);
    fake_host_serve_body(g_allowed, png, plen, "text/plain");
    char url[160];
    snprintf(url, sizeof url, "%s/attachments/1/2/face.txt", fake_host_url(g_allowed));
    char *final = run_pulid(x, url, "text/plain", plen);
    assert_non_null(final);
    assert_non_null(strstr(final, "\"embeds\":[{"));
    free(final);
    assert_int_equal(uploads(x), 1);
    /* the graph names the uploaded file; its bytes are the PNG, unchanged */
    char *graph = fake_comfy_prompt_json(x->srv[0], 0);
    assert_non_null(graph);
    const char *nm = strstr(graph, "fluxbot/"); /* the bot's own subfolder of input/ */
    assert_non_null(nm);
    char name[96];
    snprintf(name, sizeof name, "%.*s", (int)(strstr(nm, ".png") + 4 - nm), nm);
    free(graph);
    size_t ulen = 0;
    uint8_t *up = fake_comfy_upload_data(x->srv[0], name, &ulen);
    assert_non_null(up);
    assert_int_equal(ulen, plen);
    assert_memory_equal(up, png, plen);
    free(up);
    free(png);
    stop(x);
}

static void test_bomb_and_truncated_never_uploaded(void **state)
{
    (void)state;
    cfx *x = start();
    size_t plen;
    uint8_t *png = image_fixture_png(64, 64, 0, 1, &plen);
    /* 65535×65535 in IHDR (CRC fixed): a decompression bomb's header */
    png[16] = 0, png[17] = 0, png[18] = 0xff, png[19] = 0xff;
    png[20] = 0, png[21] = 0, png[22] = 0xff, png[23] = 0xff;
    uint32_t crc = (uint32_t)crc32(0L, png + 12, 17);
    png[29] = (uint8_t)(crc >> 24), png[30] = (uint8_t)(crc >> 16), png[31] = (uint8_t)(crc >> 8),
    png[32] = (uint8_t)crc;
    fake_host_serve_body(g_allowed, png, plen, "image/png");
    char url[160];
    snprintf(url, sizeof url, "%s/bomb.png", fake_host_url(g_allowed));
    char *final = run_pulid(x, url, "image/png", plen);
    assert_non_null(final);
    assert_non_null(strstr(final, "was refused"));
    assert_non_null(strstr(final, "65535x65535"));
    no_address(x, final);
    free(final);
    free(png);

    /* a truncated 60-byte PNG */
    png = image_fixture_png(32, 32, 1, 2, &plen);
    fake_host_serve_body(g_allowed, png, 60, "image/png");
    snprintf(url, sizeof url, "%s/cut.png", fake_host_url(g_allowed));
    final = run_pulid(x, url, "image/png", 60);
    assert_non_null(final);
    assert_non_null(strstr(final, "truncated"));
    no_address(x, final);
    free(final);
    /* a flipped byte: bad CRC */
    png[40] ^= 1;
    fake_host_serve_body(g_allowed, png, plen, "image/png");
    final = run_pulid(x, url, "image/png", plen);
    assert_non_null(final);
    assert_non_null(strstr(final, "CRC"));
    no_address(x, final);
    free(final);
    free(png);
    /* a broken JPEG (magic bytes only) */
    fake_host_serve_body(g_allowed, (const uint8_t *)"\xff\xd8\xff\xe0\x00\x10JFIF", 10,
                         "image/jpeg");
    final = run_pulid(x, url, "image/jpeg", 10);
    assert_non_null(final);
    assert_non_null(strstr(final, "JPEG is truncated"));
    no_address(x, final);
    free(final);
    /* none of it reached ComfyUI */
    assert_int_equal(uploads(x), 0);
    stop(x);
}

static void test_redirects_checked_per_hop(void **state)
{
    (void)state;
    cfx *x = start();
    size_t plen;
    uint8_t *png = image_fixture_png(16, 16, 0, 4, &plen);
    fake_host_serve_body(g_outside, png, plen, "image/png");
    char url[160], loc[160];
    /* allowed host → another loopback host:port that is not on the list */
    snprintf(loc, sizeof loc, "%s/evil.png", fake_host_url(g_outside));
    fake_host_redirect(g_allowed, 302, loc);
    snprintf(url, sizeof url, "%s/a.png", fake_host_url(g_allowed));
    char *final = run_pulid(x, url, "image/png", plen);
    assert_non_null(final);
    assert_non_null(strstr(final, "could not be downloaded"));
    assert_non_null(strstr(final, "not hosted where the bot downloads images from"));
    no_address(x, final);
    free(final);
    assert_int_equal(fake_host_requests(g_allowed), 1);
    assert_int_equal(fake_host_requests(g_outside), 0); /* never contacted */
    assert_int_equal(uploads(x), 0);

    /* a redirect to file:// */
    fake_host_redirect(g_allowed, 301, "file:///etc/passwd");
    final = run_pulid(x, url, "image/png", plen);
    assert_non_null(final);
    assert_non_null(strstr(final, "not an https address"));
    assert_null(strstr(final, "HTTP 30"));
    assert_null(strstr(final, "/etc/passwd"));
    no_address(x, final);
    free(final);

    /* a loop on the allowed host */
    fake_host_redirect(g_allowed, 307, url);
    unsigned before = fake_host_requests(g_allowed);
    final = run_pulid(x, url, "image/png", plen);
    assert_non_null(final);
    assert_non_null(strstr(final, "redirects too many times"));
    assert_null(strstr(final, "HTTP 30"));
    no_address(x, final);
    free(final);
    assert_int_equal(fake_host_requests(g_allowed) - before, DLPOL_MAX_HOPS + 1);

    /* a redirect to the other allowed host is followed; no credential reaches it */
    fake_host_serve_body(g_allowed2, png, plen, "image/png");
    snprintf(loc, sizeof loc, "%s/ok.png", fake_host_url(g_allowed2));
    fake_host_redirect(g_allowed, 302, loc);
    final = run_pulid(x, url, "image/png", plen);
    assert_non_null(final);
    assert_non_null(strstr(final, "\"embeds\":[{"));
    free(final);
    char *head = fake_host_last_head(g_allowed2);
    assert_non_null(strstr(head, "GET /ok.png "));
    assert_null(strcasestr(head, "authorization"));
    assert_null(strcasestr(head, "cookie"));
    assert_null(strstr(head, CFX_TOKEN));
    free(head);
    assert_int_equal(uploads(x), 1);
    assert_int_equal(fake_host_requests(g_outside), 0);
    free(png);
    stop(x);
}

static void test_failure_texts_say_what_happened(void **state)
{
    (void)state;
    cfx *x = start();
    char url[160];
    snprintf(url, sizeof url, "%s/slow.png", fake_host_url(g_allowed));
    /* status 200 then silence: a timeout, not "HTTP 200" */
    fake_host_stall(g_allowed);
    char *final = run_pulid(x, url, "image/png", 1000);
    assert_non_null(final);
    assert_non_null(strstr(final, "the download timed out"));
    assert_null(strstr(final, "HTTP 200"));
    no_address(x, final);
    free(final);
    /* a 404 */
    fake_host_status(g_allowed, 404);
    final = run_pulid(x, url, "image/png", 1000);
    assert_non_null(final);
    assert_non_null(strstr(final, "the server answered HTTP 404"));
    no_address(x, final);
    free(final);
    /* an allowed host that is not listening */
    char dead[160];
    snprintf(dead, sizeof dead, "%s/x.png", fake_host_url(g_allowed2));
    const unsigned dead_port = (unsigned)fake_host_port(g_allowed2);
    fake_host_stop(g_allowed2);
    g_allowed2 = fake_host_start(); /* another port: the old one is closed now */
    final = run_pulid(x, dead, "image/png", 1000);
    assert_non_null(final);
    assert_non_null(strstr(final, "could not be reached"));
    no_address(x, final);
    assert_false(addr_check_has_number(final, dead_port));
    free(final);
    assert_int_equal(uploads(x), 0);
    stop(x);
}

/* A download timeout far longer than the stop grace: only the cancel hook ends it in time. */
static void slow_host_tune(fb_config *cfg, comfy_runner_config *rc, fake_comfy_opts *o)
{
    hosts_tune(cfg, rc, o);
    rc->http_timeout_ms = 120000;
    rc->stop_grace_ms = 500;
}

/* The host accepts, sends its status line and headers, then stalls the body. A stop asked
 * during that download ends within the grace plus about a second (the cancel hook), not after
 * the 120 s download timeout; the user is told the job was interrupted, nothing reaches
 * ComfyUI. */
static void test_stop_cuts_a_stalled_download(void **state)
{
    (void)state;
    cfx *x = start_tuned(slow_host_tune);
    fake_host_stall(g_allowed);
    char url[160];
    snprintf(url, sizeof url, "%s/stalled.png", fake_host_url(g_allowed));
    uint64_t ix;
    char tok[64];
    comfy_job_msg *m = cfx_job(x, COMFY_KIND_PULID, "portrait", 1, &ix, tok);
    comfy_job_add_image(m, 1, url, "face.png", "image/png", 1000);
    cfx_send(x, m);
    for (int i = 0; i < 1500 && fake_host_requests(g_allowed) == 0; i++)
        util_sleep_ms(10);
    assert_int_equal(fake_host_requests(g_allowed), 1);
    util_sleep_ms(300); /* the headers are in, the body is not coming */
    uint64_t t0 = rt_now_ms();
    rt_system_stop(x->sys);
    x->stopped = true;
    uint64_t took = rt_now_ms() - t0;
    /* grace 500 ms + the hook's poll + wrap-up on a loaded machine: far below 120 s */
    assert_true(took < 30000);
    char *final = cfx_wait_final(x, tok, NULL, NULL, 100);
    assert_non_null(final);
    assert_non_null(strstr(final, "was interrupted"));
    assert_null(strstr(final, "timed out"));
    no_address(x, final);
    free(final);
    assert_int_equal(uploads(x), 0);
    stop(x);
}

/* Uploads reuse one name per worker and image in the bot's own subfolder: ComfyUI's input
 * folder does not grow with the number of jobs, and each job still gets its own bytes. */
static void test_uploads_do_not_accumulate(void **state)
{
    (void)state;
    cfx *x = start();
    for (unsigned k = 0; k < 5; k++) {
        size_t plen;
        uint8_t *png = image_fixture_png(16 + k, 16, 0, k, &plen);
        fake_host_serve_body(g_allowed, png, plen, "image/png");
        char url[160];
        snprintf(url, sizeof url, "%s/attachments/1/2/face%u.png", fake_host_url(g_allowed), k);
        char *final = run_pulid(x, url, "image/png", plen);
        assert_non_null(final);
        assert_non_null(strstr(final, "\"embeds\":[{"));
        free(final);
        /* the graph of this job names a file holding this job's image */
        char *graph = fake_comfy_prompt_json(x->srv[0], k);
        assert_non_null(graph);
        const char *nm = strstr(graph, "fluxbot/");
        assert_non_null(nm);
        char name[96];
        snprintf(name, sizeof name, "%.*s", (int)(strstr(nm, ".png") + 4 - nm), nm);
        free(graph);
        size_t ulen = 0;
        uint8_t *up = fake_comfy_upload_data(x->srv[0], name, &ulen);
        assert_non_null(up);
        assert_int_equal(ulen, plen);
        assert_memory_equal(up, png, plen);
        free(up);
        free(png);
    }
    fake_comfy_stats st;
    fake_comfy_get_stats(x->srv[0], &st);
    assert_int_equal(st.uploads, 5);
    assert_true(st.input_files <= x->cfg.runner_threads); /* one PNG slot per worker */
    stop(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mislabelled_png_is_used),
        cmocka_unit_test(test_uploads_do_not_accumulate),
        cmocka_unit_test(test_bomb_and_truncated_never_uploaded),
        cmocka_unit_test(test_redirects_checked_per_hop),
        cmocka_unit_test(test_failure_texts_say_what_happened),
        cmocka_unit_test(test_stop_cuts_a_stalled_download),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
