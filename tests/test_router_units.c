/*
 * Unit tests of the router's pure modules: the pending table (src/router/rpend.c) and the
 * command logic (src/router/rcmd.c) against the shipped catalogue.
 * fluxbot-test: tsan
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>

#include "analytics/an_confirm.h"
#include "discord/gw_roles.h"
#include "msgs/comfy.h"
#include "router/rcmd.h"
#include "router/rpend.h"
#include "trx.h"
#include "util/util_cjarena.h"

static trx_catalog *cat;

static int setup(void **state)
{
    (void)state;
    cat = trx_catalog_load();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    trx_catalog_free(cat);
    return 0;
}

static ix_interaction *parse(char *json)
{
    ix_error e;
    ix_interaction *ix = ix_parse(json, strlen(json), &e);
    if (!ix) fprintf(stderr, "ix_parse: %s at %s: %s\n", ix_strerror(e.code), e.field, e.msg);
    free(json);
    assert_non_null(ix);
    return ix;
}

static ix_interaction *command(const char *name, const char *opts, const char *resolved)
{
    return parse(trx_command(2, 1001, "tok-1001", name, opts, resolved, NULL));
}

/* ---- pending table ------------------------------------------------------------------------- */

static void pending_add_take_and_stale_cookies(void **state)
{
    (void)state;
    rpend *p = rpend_new(2);
    rpend_entry e = {.kind = RPEND_FORWARD, .deadline_ms = 100, .user_id = 7};
    e.work = rt_msg_new(RT_MSG_PING, sizeof(rt_msg), NULL);
    e.token = strdup("t");
    uint64_t c1 = rpend_add(p, &e);
    assert_true(c1 != 0);
    rpend_entry e2 = {.kind = RPEND_REPLY, .deadline_ms = 200};
    uint64_t c2 = rpend_add(p, &e2);
    assert_true(c2 != 0 && c2 != c1);
    rpend_entry e3 = {.kind = RPEND_REPLY};
    assert_int_equal(rpend_add(p, &e3), 0); /* full */
    assert_int_equal(rpend_count(p), 2);

    rpend_entry out;
    assert_true(rpend_take(p, c1, &out));
    assert_int_equal(out.user_id, 7);
    assert_non_null(out.work);
    assert_string_equal(out.token, "t");
    rpend_entry_release(&out);
    assert_false(rpend_take(p, c1, &out)); /* taken already */
    assert_false(rpend_take(p, 0, &out));
    assert_false(rpend_take(p, 999999, &out));

    /* The slot is reused with a new cookie; the old one stays dead. */
    uint64_t c3 = rpend_add(p, &e3);
    assert_true(c3 != 0 && c3 != c1);
    assert_false(rpend_take(p, c1, &out));
    assert_int_equal(rpend_high_water(p), 2);

    /* Whatever is left is released by rpend_free (ASan checks the message and token). */
    rpend_entry e4 = {.kind = RPEND_FORWARD};
    e4.work = rt_msg_new(RT_MSG_PING, sizeof(rt_msg), NULL);
    e4.token = strdup("left over");
    assert_true(rpend_take(p, c3, &out));
    assert_true(rpend_add(p, &e4) != 0);
    rpend_free(p);
}

static void pending_expire_by_deadline(void **state)
{
    (void)state;
    rpend *p = rpend_new(8);
    uint64_t cookies[5];
    for (int i = 0; i < 5; i++) {
        rpend_entry e = {.deadline_ms = 100 + (uint64_t)i * 10, .user_id = (uint64_t)i};
        cookies[i] = rpend_add(p, &e);
    }
    rpend_entry out[8];
    assert_int_equal(rpend_expire(p, 99, out, 8), 0);
    size_t n = rpend_expire(p, 120, out, 8); /* deadlines 100, 110, 120 */
    assert_int_equal(n, 3);
    uint64_t seen = 0;
    for (size_t i = 0; i < n; i++)
        seen |= 1u << out[i].user_id;
    assert_int_equal(seen, 7);
    assert_false(rpend_take(p, cookies[0], &out[0]));
    assert_true(rpend_take(p, cookies[4], &out[0]));
    /* Batches: max bounds one call. */
    assert_int_equal(rpend_expire(p, 1000, out, 8), 1);
    assert_int_equal(rpend_count(p), 0);
    rpend_free(p);
}

typedef struct racer {
    rpend *p;
    int taken;
} racer;

static void *pend_racer(void *arg)
{
    racer *r = arg;
    for (int i = 0; i < 2000; i++) {
        rpend_entry e = {.deadline_ms = (uint64_t)i};
        uint64_t c = rpend_add(r->p, &e);
        rpend_entry out;
        if (c && rpend_take(r->p, c, &out)) r->taken++;
    }
    return NULL;
}

static void pending_is_safe_across_threads(void **state)
{
    (void)state;
    rpend *p = rpend_new(4);
    racer rs[3] = {{p, 0}, {p, 0}, {p, 0}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, pend_racer, &rs[i]);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    /* Capacity 4 and at most 3 in flight: every add succeeded and was taken by its adder. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(rs[i].taken, 2000);
    assert_int_equal(rpend_count(p), 0);
    rpend_free(p);
}

/* ---- generation commands ------------------------------------------------------------------ */

static comfy_job_msg *job_ok(const char *name, const char *opts, const char *resolved)
{
    ix_interaction *ix = command(name, opts, resolved);
    const decl_command *d = rcmd_decl_of(&cat->cat, name);
    assert_non_null(d);
    char err[512] = "";
    comfy_job_msg *m = rcmd_job(ix, d, &cat->cat, 1700000000000ULL, err, sizeof err);
    if (!m) fprintf(stderr, "unexpected refusal: %s\n", err);
    assert_non_null(m);
    ix_free(ix);
    return m;
}

static void job_err(const char *name, const char *opts, const char *resolved, const char *want)
{
    ix_interaction *ix = command(name, opts, resolved);
    const decl_command *d = rcmd_decl_of(&cat->cat, name);
    assert_non_null(d);
    char err[512] = "";
    comfy_job_msg *m = rcmd_job(ix, d, &cat->cat, 0, err, sizeof err);
    assert_null(m);
    if (!strstr(err, want)) fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
    assert_non_null(strstr(err, want));
    ix_free(ix);
}

static void comfy_options_become_a_job(void **state)
{
    (void)state;
    comfy_job_msg *m =
        job_ok("comfy",
               "[{\"name\":\"prompt\",\"type\":3,\"value\":\"a red fox\"},"
               "{\"name\":\"resolution\",\"type\":3,\"value\":\"1:1 [1024x1024 square]\"},"
               "{\"name\":\"upscale_factor\",\"type\":4,\"value\":2},"
               "{\"name\":\"seed\",\"type\":4,\"value\":9007199254740991},"
               "{\"name\":\"lora\",\"type\":3,\"value\":\"Watercolor\"},"
               "{\"name\":\"lora2\",\"type\":3,\"value\":\"realism\"}]",
               NULL);
    assert_int_equal(m->hdr.type, MSG_COMFY_JOB);
    assert_int_equal(m->kind, COMFY_KIND_IMAGE);
    assert_string_equal(m->prompt, "a red fox");
    assert_string_equal(m->resolution, "1:1 [1024x1024 square]");
    assert_int_equal(m->upscale_factor, 2);
    assert_true(m->has_seed);
    assert_int_equal(m->seed, 9007199254740991ULL);
    assert_int_equal(m->nloras, 2);
    assert_string_equal(m->loras[0], "Watercolor");
    assert_int_equal(m->reply.application_id, TRX_APP);
    assert_int_equal(m->reply.interaction_id, 1001);
    assert_string_equal(m->reply.token, "tok-1001");
    assert_int_equal(m->origin.user_id, 800000000000000001ULL);
    assert_int_equal(m->origin.guild_id, TRX_GUILD);
    assert_int_equal(m->origin.channel_id, TRX_CHANNEL);
    assert_string_equal(m->origin.user_name, "tester");
    assert_int_equal(m->received_ms, 1700000000000ULL);
    rt_msg_free(&m->hdr);

    /* Only the prompt: defaults are the runner's. */
    m = job_ok("comfy", "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"}]", NULL);
    assert_false(m->has_seed);
    assert_int_equal(m->nloras, 0);
    assert_string_equal(m->resolution, "");
    rt_msg_free(&m->hdr);

    m = job_ok("video", "[{\"name\":\"prompt\",\"type\":3,\"value\":\"waves\"}]", NULL);
    assert_int_equal(m->kind, COMFY_KIND_VIDEO);
    rt_msg_free(&m->hdr);
}

static void bad_generation_options_are_refused(void **state)
{
    (void)state;
    job_err("comfy",
            "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
            "{\"name\":\"resolution\",\"type\":3,\"value\":\"7:1 [huge]\"}]",
            NULL, "Unknown resolution");
    job_err("comfy",
            "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
            "{\"name\":\"upscale_factor\",\"type\":4,\"value\":9}]",
            NULL, "upscale_factor must be 1, 2, 3 or 4 (got 9)");
    job_err("comfy",
            "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
            "{\"name\":\"upscale_factor\",\"type\":4,\"value\":0}]",
            NULL, "upscale_factor");
    job_err("comfy",
            "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
            "{\"name\":\"seed\",\"type\":4,\"value\":-1}]",
            NULL, "seed must be between 0 and");
    job_err("comfy",
            "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
            "{\"name\":\"lora3\",\"type\":3,\"value\":\"No Such Style\"}]",
            NULL, "Unknown LoRA \"No Such Style\"");
    job_err("comfy", "[{\"name\":\"prompt\",\"type\":3,\"value\":\"   \"}]", NULL,
            "Please give a prompt");
    job_err("redux", NULL, NULL, "Please attach an image in the image1 option");

    /* Generation off (no catalogue): said plainly. */
    ix_interaction *ix =
        command("comfy", "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"}]", NULL);
    char err[256];
    assert_null(rcmd_job(ix, COMFY_KIND_IMAGE, NULL, 0, err, sizeof err));
    assert_non_null(strstr(err, "not set up"));
    ix_free(ix);
}

static const char *redux_resolved =
    "{\"attachments\":{"
    "\"111\":{\"id\":\"111\",\"filename\":\"a.png\",\"url\":\"https://cdn.example/a.png\","
    "\"content_type\":\"image/png\",\"size\":1000,\"width\":64,\"height\":64},"
    "\"222\":{\"id\":\"222\",\"filename\":\"b.jpg\",\"url\":\"https://cdn.example/b.jpg\","
    "\"content_type\":\"image/jpeg\",\"size\":2000,\"width\":64,\"height\":64}}}";

static void attachments_come_from_resolved(void **state)
{
    (void)state;
    comfy_job_msg *m = job_ok("redux",
                              "[{\"name\":\"image1\",\"type\":11,\"value\":\"111\"},"
                              "{\"name\":\"image2\",\"type\":11,\"value\":\"222\"},"
                              "{\"name\":\"strength2\",\"type\":10,\"value\":0.25}]",
                              redux_resolved);
    assert_int_equal(m->nimages, 2);
    assert_int_equal(m->images[0].id, 111);
    assert_string_equal(m->images[0].url, "https://cdn.example/a.png");
    assert_string_equal(m->images[1].filename, "b.jpg");
    assert_int_equal(m->images[1].size, 2000);
    /* strength1 was not given: the declaration's default (1.0) applies */
    assert_true(m->has_strength[0] && m->strength[0] == 1.0);
    assert_true(m->has_strength[1]);
    assert_true(m->strength[1] == 0.25);
    rt_msg_free(&m->hdr);

    m = job_ok("pulid",
               "[{\"name\":\"prompt\",\"type\":3,\"value\":\"portrait\"},"
               "{\"name\":\"image\",\"type\":11,\"value\":\"111\"},"
               "{\"name\":\"strength\",\"type\":10,\"value\":0.7}]",
               redux_resolved);
    assert_int_equal(m->nimages, 1);
    assert_true(m->has_strength[0] && m->strength[0] == 0.7);
    rt_msg_free(&m->hdr);

    job_err("pulid",
            "[{\"name\":\"prompt\",\"type\":3,\"value\":\"portrait\"},"
            "{\"name\":\"image\",\"type\":11,\"value\":\"111\"},"
            "{\"name\":\"strength\",\"type\":10,\"value\":3}]",
            redux_resolved, "strength must be between 0.1 and 1.0");
}

/* ---- autocomplete -------------------------------------------------------------------------- */

static cJSON *choices_of(const char *name, const char *opts)
{
    ix_interaction *ix = parse(trx_command(4, 1002, "tok", name, opts, NULL, NULL));
    char *body = rcmd_autocomplete_json(ix, &cat->cat);
    ix_free(ix);
    assert_non_null(body);
    cJSON *o = cJSON_Parse(body);
    free(body);
    assert_int_equal(cJSON_GetObjectItem(o, "type")->valueint, 8);
    cJSON *c = cJSON_DetachItemFromObject(cJSON_GetObjectItem(o, "data"), "choices");
    cJSON_Delete(o);
    assert_true(cJSON_IsArray(c));
    return c;
}

static void autocomplete_offers_matching_loras(void **state)
{
    (void)state;
    cJSON *c = choices_of("comfy", "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"},"
                                   "{\"name\":\"lora2\",\"type\":3,\"value\":\"wat\","
                                   "\"focused\":true}]");
    assert_true(cJSON_GetArraySize(c) >= 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "name")->valuestring,
                        "Watercolor");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "value")->valuestring,
                        "Watercolor");
    cJSON_Delete(c);

    /* Nothing typed: the first entries, never more than 25. */
    c = choices_of("comfy", "[{\"name\":\"lora\",\"type\":3,\"value\":\"\",\"focused\":true}]");
    assert_int_equal(cJSON_GetArraySize(c), (int)(cat->loras.count < 25 ? cat->loras.count : 25));
    cJSON_Delete(c);

    /* Resolution (when it is an autocomplete option): labels containing the text. */
    c = choices_of("comfy", "[{\"name\":\"resolution\",\"type\":3,\"value\":\"1024x1024\","
                            "\"focused\":true}]");
    assert_true(cJSON_GetArraySize(c) >= 1);
    cJSON *it;
    cJSON_ArrayForEach(it, c)
    {
        assert_non_null(strstr(cJSON_GetObjectItem(it, "name")->valuestring, "1024x1024"));
    }
    cJSON_Delete(c);

    /* Any other option: no choices. */
    c = choices_of("comfy", "[{\"name\":\"prompt\",\"type\":3,\"value\":\"a\",\"focused\":true}]");
    assert_int_equal(cJSON_GetArraySize(c), 0);
    cJSON_Delete(c);
}

/* ---- /stats and /reset_stats ---------------------------------------------------------------- */

static void days_option_feeds_an_days(void **state)
{
    (void)state;
    ix_interaction *ix = command("stats", "[{\"name\":\"days\",\"type\":4,\"value\":30}]", NULL);
    cJSON *o = rcmd_days_options(ix);
    an_days_result r = an_days_from_options(o);
    assert_true(r.ok);
    assert_int_equal(r.days, 30);
    cJSON_Delete(o);
    ix_free(ix);

    ix = command("stats", NULL, NULL);
    o = rcmd_days_options(ix);
    r = an_days_from_options(o);
    assert_true(r.ok);
    assert_int_equal(r.days, 7);
    cJSON_Delete(o);
    ix_free(ix);

    ix = command("stats", "[{\"name\":\"days\",\"type\":4,\"value\":400}]", NULL);
    o = rcmd_days_options(ix);
    r = an_days_from_options(o);
    assert_false(r.ok);
    assert_true(r.error[0] != 0);
    cJSON_Delete(o);
    ix_free(ix);
}

static void manager_rule_uses_admin_bit_and_role_cache(void **state)
{
    (void)state;
    gw_roles *roles = gw_roles_new();
    const char *guild = "{\"id\":\"700000000000000001\",\"roles\":["
                        "{\"id\":\"51\",\"name\":\"Bot Manager\",\"permissions\":\"0\"},"
                        "{\"id\":\"52\",\"name\":\"Artists\",\"permissions\":\"0\"}]}";
    assert_int_equal(gw_roles_apply(roles, "GUILD_CREATE", guild, strlen(guild)), 1);

    trx_who admin = {.permissions = 8};
    ix_interaction *ix = parse(trx_command(2, 1, "t", "reset_stats", NULL, NULL, &admin));
    assert_int_equal(rcmd_manager_perm(ix, roles, "Bot Manager"), AN_PERM_ADMIN);
    ix_free(ix);

    uint64_t mgr[] = {52, 51};
    trx_who manager = {.permissions = 0, .roles = mgr, .nroles = 2};
    ix = parse(trx_command(2, 1, "t", "reset_stats", NULL, NULL, &manager));
    assert_int_equal(rcmd_manager_perm(ix, roles, "Bot Manager"), AN_PERM_ROLE);
    assert_int_equal(rcmd_manager_perm(ix, roles, ""), AN_PERM_ROLE);   /* default name */
    assert_int_equal(rcmd_manager_perm(ix, roles, "52"), AN_PERM_ROLE); /* by id */
    assert_int_equal(rcmd_manager_perm(ix, roles, "Moderators"), AN_PERM_DENIED);
    assert_int_equal(rcmd_manager_perm(ix, NULL, "Bot Manager"), AN_PERM_DENIED); /* no cache */
    ix_free(ix);

    uint64_t art[] = {52};
    trx_who artist = {
        .permissions = 1ULL << 5 /* MANAGE_GUILD is not enough */, .roles = art, .nroles = 1};
    ix = parse(trx_command(2, 1, "t", "reset_stats", NULL, NULL, &artist));
    assert_int_equal(rcmd_manager_perm(ix, roles, "Bot Manager"), AN_PERM_DENIED);
    ix_free(ix);

    trx_who dm = {.dm = true};
    ix = parse(trx_command(2, 1, "t", "reset_stats", NULL, NULL, &dm));
    assert_int_equal(rcmd_manager_perm(ix, roles, "Bot Manager"), AN_PERM_DENIED);
    ix_free(ix);
    gw_roles_free(roles);
}

/* ---- names, salvage, message attachments --------------------------------------------------- */

static void usage_names_follow_the_interaction(void **state)
{
    (void)state;
    char name[64];
    ix_interaction *ix =
        command("comfy", "[{\"name\":\"prompt\",\"type\":3,\"value\":\"x\"}]", NULL);
    rcmd_usage_name(ix, name, sizeof name);
    assert_string_equal(name, "comfy");
    ix_free(ix);
    static const struct {
        const char *id, *want;
    } cases[] = {
        {"fb:regen:12", "button:regenerate"},
        {"fb:up2:12", "button:upscale"},
        {"fb:del:12:800000000000000001", "button:delete"},
        {AN_CONFIRM_PREFIX "confirm:00ff", "button:reset_confirm"},
        {AN_CONFIRM_PREFIX "cancel:00ff", "button:reset_cancel"},
        {"something:else", "button:unknown"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ix = parse(trx_component(5, "t", cases[i].id, 77, NULL, NULL));
        rcmd_usage_name(ix, name, sizeof name);
        assert_string_equal(name, cases[i].want);
        ix_free(ix);
    }
}

static void malformed_interactions_are_salvaged_when_possible(void **state)
{
    (void)state;
    rcmd_recovered r;
    /* Valid id and token, broken elsewhere (data missing). */
    const char *a = "{\"id\":\"123\",\"type\":2,\"token\":\"abc-_.9\",\"guild_id\":\"5\","
                    "\"member\":{\"user\":{\"id\":\"77\"}}}";
    rcmd_recover(a, strlen(a), &r);
    assert_true(r.has_reply);
    assert_int_equal(r.id, 123);
    assert_string_equal(r.token, "abc-_.9");
    assert_int_equal(r.user_id, 77);
    assert_int_equal(r.guild_id, 5);
    assert_int_equal(r.type, 2);

    /* A token that would escape the URL path: never used. */
    const char *b = "{\"id\":\"123\",\"type\":2,\"token\":\"../../x\"}";
    rcmd_recover(b, strlen(b), &r);
    assert_false(r.has_reply);
    /* An id as a number (double) is not trusted. */
    const char *c = "{\"id\":123,\"token\":\"abc\"}";
    rcmd_recover(c, strlen(c), &r);
    assert_false(r.has_reply);
    rcmd_recover("not json", 8, &r);
    assert_false(r.has_reply);
    rcmd_recover("[1]", 3, &r);
    assert_false(r.has_reply);

    /* A lone surrogate escape in an option: cJSON refuses the payload, the gateway's scanner
     * (and so the salvage) does not. */
    const char *d = "{\"id\":\"124\",\"application_id\":\"9\",\"type\":2,\"token\":\"t124\","
                    "\"channel_id\":\"6\",\"member\":{\"user\":{\"id\":\"78\"}},"
                    "\"data\":{\"name\":\"comfy\",\"options\":[{\"name\":\"prompt\",\"type\":3,"
                    "\"value\":\"a \\ud800 cat\"}]}}";
    rcmd_recover(d, strlen(d), &r);
    assert_true(r.has_reply);
    assert_int_equal(r.id, 124);
    assert_int_equal(r.application_id, 9);
    assert_string_equal(r.token, "t124");
    assert_int_equal(r.user_id, 78);
    assert_int_equal(r.channel_id, 6);
    assert_string_equal(r.command, "comfy");

    /* A `d` far over IX_INPUT_MAX (256 KB): still salvaged. */
    size_t big = 300u * 1024u;
    char *e = malloc(big + 256);
    assert_non_null(e);
    int n = snprintf(e, 256,
                     "{\"id\":\"125\",\"type\":4,\"token\":\"t125\",\"user\":{\"id\":\"79\"},"
                     "\"data\":{\"name\":\"comfy\",\"pad\":\"");
    memset(e + n, 'x', big);
    memcpy(e + n + big, "\"}}", 4);
    rcmd_recover(e, strlen(e), &r);
    assert_true(r.has_reply);
    assert_int_equal(r.id, 125);
    assert_int_equal(r.type, 4);
    assert_int_equal(r.user_id, 79);
    assert_string_equal(r.command, "comfy");
    free(e);

    /* Command names are trusted only in Discord's charset. */
    const char *f = "{\"id\":\"126\",\"type\":2,\"token\":\"t\",\"data\":{\"name\":\"Drop;--\"}}";
    rcmd_recover(f, strlen(f), &r);
    assert_true(r.has_reply);
    assert_string_equal(r.command, "");
}

/* Issue 9, defect 7: every option of every command, sent with another type than its
 * definition's, is an error naming the option and the type it must have; so are unknown
 * options and sub-commands. Never a silent default. */
static const char *type_words(int t)
{
    switch (t) {
    case CMD_OPT_STRING:
        return "must be text";
    case CMD_OPT_INTEGER:
        return "must be a whole number";
    case CMD_OPT_NUMBER:
        return "must be a number";
    case CMD_OPT_BOOLEAN:
        return "must be true or false";
    case CMD_OPT_USER:
        return "must be a user";
    default:
        return "must be an attachment";
    }
}

/* The option typing the router applies: against the declaration of a declared command, else
 * against the table. */
static int check_opts(const ix_interaction *ix, char *err, size_t errlen)
{
    const decl_command *d = rcmd_decl_of(&cat->cat, ix->command_name);
    return rcmd_check_options(ix, d ? &d->cmd : NULL, err, errlen);
}

static void expect_refused(const char *cmd, const char *opts, const char *want1, const char *want2)
{
    ix_interaction *ix = command(cmd, opts, NULL);
    char err[256] = "";
    if (check_opts(ix, err, sizeof err) != -1) fail_msg("/%s %s was accepted", cmd, opts);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
        fail_msg("/%s %s: \"%s\" does not say \"%s\" / \"%s\"", cmd, opts, err, want1,
                 want2 ? want2 : "");
    ix_free(ix);
}

/* The options array carrying `inner` (one option's JSON) for the sub-command path of a leaf:
 * "" (the command's own options), "sub" or "group sub". */
static void wrap_in_path(const char *path, const char *inner, char *out, size_t cap)
{
    char first[40] = "", second[40] = "";
    if (sscanf(path, "%39s %39s", first, second) < 1) {
        snprintf(out, cap, "[%s]", inner);
    } else if (!second[0]) {
        snprintf(out, cap, "[{\"name\":\"%s\",\"type\":1,\"options\":[%s]}]", first, inner);
    } else {
        snprintf(out, cap,
                 "[{\"name\":\"%s\",\"type\":2,\"options\":[{\"name\":\"%s\",\"type\":1,"
                 "\"options\":[%s]}]}]",
                 first, second, inner);
    }
}

typedef struct leaf_visit {
    unsigned checked, total;
} leaf_visit;

static const char *const wrong[][3] = {
    /* {expected type, wrong "type":..,"value":.. fragment, ...} */
    {"3", "\"type\":4,\"value\":1024", "\"type\":10,\"value\":2.5"},
    {"4", "\"type\":3,\"value\":\"2\"", "\"type\":10,\"value\":2.5"},
    {"10", "\"type\":3,\"value\":\"NaN\"", "\"type\":4,\"value\":1"},
    {"11", "\"type\":3,\"value\":\"https://x.example/a.png\"", "\"type\":5,\"value\":true"},
    {"6", "\"type\":3,\"value\":\"someone\"", "\"type\":4,\"value\":1"},
    {"5", "\"type\":3,\"value\":\"yes\"", "\"type\":4,\"value\":1"},
};

/* Every leaf option of a command (inside its sub-commands, if it has them), sent with the
 * wrong types. */
static void check_leaves(const char *cmd, const char *path, const cmd_option_def *defs, unsigned n,
                         leaf_visit *v)
{
    for (unsigned k = 0; k < n; k++) {
        const cmd_option_def *d = &defs[k];
        if (d->type == CMD_OPT_SUB_COMMAND || d->type == CMD_OPT_SUB_COMMAND_GROUP) {
            char sub[80];
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? " " : "", d->name);
            check_leaves(cmd, sub, d->sub, d->nsub, v);
            continue;
        }
        v->total++;
        for (size_t w = 0; w < sizeof wrong / sizeof wrong[0]; w++) {
            if (atoi(wrong[w][0]) != (int)d->type) continue;
            for (int i = 1; i <= 2; i++) {
                char inner[200], opts[512];
                snprintf(inner, sizeof inner, "{\"name\":\"%s\",%s}", d->name, wrong[w][i]);
                wrap_in_path(path, inner, opts, sizeof opts);
                char who[64];
                snprintf(who, sizeof who, "The %s option", d->name);
                expect_refused(cmd, opts, who, type_words((int)d->type));
                v->checked++;
            }
        }
    }
}

static void wrongly_typed_options_are_errors(void **state)
{
    (void)state;
    unsigned n;
    leaf_visit v = {0};
    const cmd_def *table = cmd_table(&n);
    /* The table's commands and the declared ones (the shipped declarations). */
    const cmd_def *t[64 + DECL_MAX_COMMANDS];
    for (unsigned i = 0; i < n; i++)
        t[i] = &table[i];
    n += decl_set_defs(cat->cat.decls, t + n, DECL_MAX_COMMANDS);
    for (unsigned i = 0; i < n; i++) {
        check_leaves(t[i]->name, "", t[i]->options, t[i]->noptions, &v);
        bool has_subs = t[i]->noptions && (t[i]->options[0].type == CMD_OPT_SUB_COMMAND ||
                                           t[i]->options[0].type == CMD_OPT_SUB_COMMAND_GROUP);
        /* an option the command does not have, and a sub-command it does not have */
        expect_refused(t[i]->name, "[{\"name\":\"bogus\",\"type\":3,\"value\":\"x\"}]",
                       has_subs ? "sub-command" : "bogus", has_subs ? NULL : "no option");
        expect_refused(t[i]->name, "[{\"name\":\"sub\",\"type\":1,\"options\":[]}]", "sub-command",
                       NULL);
    }
    unsigned total = v.total, checked = v.checked;
    assert_true(total >= 19);
    assert_int_equal(checked, 2 * total); /* every option of every command was covered */
    /* The cases of the report, by name. */
    expect_refused("comfy",
                   "[{\"name\":\"prompt\",\"type\":3,\"value\":\"a\"},{\"name\":\"resolution\","
                   "\"type\":4,\"value\":1024}]",
                   "resolution", "must be text");
    expect_refused("comfy", "[{\"name\":\"seed\",\"type\":3,\"value\":\"NaN\"}]", "seed",
                   "whole number");
    expect_refused("pulid", "[{\"name\":\"upscale_factor\",\"type\":10,\"value\":2.5}]",
                   "upscale_factor", "whole number");
    /* Correctly typed options pass. */
    ix_interaction *ix = command("comfy",
                                 "[{\"name\":\"prompt\",\"type\":3,\"value\":\"a\"},"
                                 "{\"name\":\"upscale_factor\",\"type\":4,\"value\":2},"
                                 "{\"name\":\"seed\",\"type\":4,\"value\":5}]",
                                 NULL);
    char err[256];
    assert_int_equal(check_opts(ix, err, sizeof err), 0);
    ix_free(ix);
    /* Sub-commands: the leaf's options are checked; a group alone or an unknown leaf is not a
     * command. */
    ix = command("filter",
                 "[{\"name\":\"word\",\"type\":2,\"options\":[{\"name\":\"add\",\"type\":1,"
                 "\"options\":[{\"name\":\"word\",\"type\":3,\"value\":\"x\"}]}]}]",
                 NULL);
    assert_int_equal(check_opts(ix, err, sizeof err), 0);
    ix_free(ix);
    expect_refused("filter",
                   "[{\"name\":\"word\",\"type\":2,\"options\":[{\"name\":\"frob\",\"type\":1,"
                   "\"options\":[]}]}]",
                   "no sub-command \"word frob\"", NULL);
    expect_refused("filter",
                   "[{\"name\":\"list\",\"type\":1,\"options\":[{\"name\":\"word\",\"type\":3,"
                   "\"value\":\"x\"}]}]",
                   "no option \"word\"", NULL);
    ix = command("redux", "[{\"name\":\"strength1\",\"type\":10,\"value\":0.5}]", NULL);
    assert_int_equal(check_opts(ix, err, sizeof err), 0);
    ix_free(ix);
}

static void message_image_url_is_the_first_attachment(void **state)
{
    (void)state;
    char *j = trx_component(5, "t", "fb:up2:1", 77,
                            "[{\"id\":\"1\",\"url\":\"https://cdn.example/r.png\"},"
                            "{\"id\":\"2\",\"url\":\"https://cdn.example/s.png\"}]",
                            NULL);
    char *u = rcmd_message_image_url(j, strlen(j));
    assert_string_equal(u, "https://cdn.example/r.png");
    free(u);
    free(j);
    j = trx_component(5, "t", "fb:up2:1", 77, "[{\"id\":\"1\",\"url\":\"file:///etc/passwd\"}]",
                      NULL);
    assert_null(rcmd_message_image_url(j, strlen(j)));
    free(j);
    j = trx_component(5, "t", "fb:up2:1", 77, NULL, NULL);
    assert_null(rcmd_message_image_url(j, strlen(j)));
    free(j);
}

int main(void)
{
    util_cjarena_install(); /* cJSON's hooks, as the bot's main sets them */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pending_add_take_and_stale_cookies),
        cmocka_unit_test(pending_expire_by_deadline),
        cmocka_unit_test(pending_is_safe_across_threads),
        cmocka_unit_test(comfy_options_become_a_job),
        cmocka_unit_test(bad_generation_options_are_refused),
        cmocka_unit_test(attachments_come_from_resolved),
        cmocka_unit_test(autocomplete_offers_matching_loras),
        cmocka_unit_test(days_option_feeds_an_days),
        cmocka_unit_test(manager_rule_uses_admin_bit_and_role_cache),
        cmocka_unit_test(usage_names_follow_the_interaction),
        cmocka_unit_test(malformed_interactions_are_salvaged_when_possible),
        cmocka_unit_test(message_image_url_is_the_first_attachment),
        cmocka_unit_test(wrongly_typed_options_are_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
