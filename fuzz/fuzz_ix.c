/*
 * fuzz_ix: an INTERACTION_CREATE `d` object from the gateway, all the way to what the
 * bot would send to ComfyUI and back to Discord:
 *   rcmd_recover (what a refused interaction can still be answered with), ix_parse_scratch
 *   (the router's parse: cJSON's tree in an arena scope, util_cjarena), which must agree field
 *   for field with ix_parse (a fresh block, cJSON on malloc), then per
 *   type the router's pure half — rcmd_usage_name, rcmd_days_options, rcmd_manager_perm,
 *   rcmd_message_image_url, button custom_ids (cres_parse_custom_id), the Options dialog's
 *   custom_ids and modal submits (opts_dialog_parse_id, ix_field_value), autocomplete
 *   (rcmd_autocomplete_json), and for /comfy /redux /pulid /video: rcmd_job → cjob_from_msg →
 *   cjob_values → wf_patch on the shipped workflows → cproto_prompt_body, and the final result
 *   message (cres_final_payload) built from the job.
 * The catalogue is the shipped one (config/ratios.json, config/loras.json, workflows/).
 *
 * Invariants asserted, beyond "no crash, no sanitizer report":
 *  - a refused interaction has an error code; a recovered token is URL-safe;
 *  - a parsed token is URL-safe and every parsed string is valid UTF-8;
 *  - a refused command has a non-empty, valid UTF-8 message for the user, and the reply built
 *    from it is a valid message within Discord's limits;
 *  - the autocomplete answer, the POST /prompt body and the final result message are valid
 *    JSON and UTF-8, and the messages are within Discord's limits with mentions disabled.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/cproto.h"
#include "comfy/cjob.h"
#include "comfy/cres.h"
#include "discord/gw_roles.h"
#include "discord/ix.h"
#include "discord/opts_dialog.h"
#include "discord/reply.h"
#include "fluxbot/log.h"
#include "fluxbot/msgs.h"
#include "fuzz_support.h"
#include "router/rcmd.h"
#include "util/util_cjarena.h"

static ratios_set ratios;
static loras_set loras;
static decl_set decls;
static cjob_catalog cat;
static gw_roles *roles;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_configure(LOG_LEVEL_ERROR, false, 2);
    /* as the bot's main does: cJSON's trees of the router's parse go to the scratch's arena */
    util_cjarena_install();
    char err[512];
    if (ratios_load_file(&ratios, FLUXBOT_SOURCE_DIR "/config/ratios.json", err, sizeof err) ||
        loras_load_file(&loras, FLUXBOT_SOURCE_DIR "/config/loras.json", err, sizeof err) ||
        decl_set_load(&decls, FLUXBOT_SOURCE_DIR "/workflows", err, sizeof err)) {
        fprintf(stderr, "fuzz_ix: catalogue: %s\n", err);
        abort();
    }
    cat.ratios = &ratios;
    cat.loras = &loras;
    cat.decls = &decls;
    roles = gw_roles_new();
    /* A guild whose "Bot Manager" role the member may hold. */
    const char *gc = "{\"id\":\"700000000000000001\",\"roles\":[{\"id\":\"600000000000000001\","
                     "\"name\":\"Bot Manager\"}]}";
    gw_roles_apply(roles, "GUILD_CREATE", gc, strlen(gc));
    return 0;
}

static void check_token(const char *t)
{
    FZ_ASSERT(t[0] != '\0', "empty token accepted", NULL);
    for (const char *p = t; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == '~';
        FZ_ASSERT(ok, "token with a character that is not URL-safe", t);
    }
}

static void check_text(const char *s, const char *what)
{
    if (s) (void)fz_chars(s, what);
}

static void check_parsed(const ix_interaction *ix)
{
    check_token(ix->token);
    FZ_ASSERT(ix->id != 0, "interaction id 0 accepted", NULL);
    check_text(ix->username, "username not UTF-8");
    check_text(ix->command_name, "command name not UTF-8");
    check_text(ix->subcommand, "subcommand not UTF-8");
    check_text(ix->custom_id, "custom_id not UTF-8");
    FZ_ASSERT(ix->noptions <= IX_MAX_OPTIONS && ix->nattachments <= IX_MAX_ATTACHMENTS &&
                  ix->nroles <= IX_MAX_ROLES && ix->nvalues <= IX_MAX_VALUES,
              "array over its bound", NULL);
    for (unsigned i = 0; i < ix->noptions; i++) {
        check_text(ix->options[i].name, "option name not UTF-8");
        check_text(ix->options[i].str, "option value not UTF-8");
    }
    for (unsigned i = 0; i < ix->nattachments; i++) {
        check_text(ix->attachments[i].filename, "attachment filename not UTF-8");
        check_text(ix->attachments[i].url, "attachment url not UTF-8");
    }
    if (ix->custom_id)
        FZ_ASSERT(strlen(ix->custom_id) <= IX_CUSTOM_ID_MAX * 4, "custom_id too long", NULL);
    FZ_ASSERT(ix->nfields <= IX_MAX_FIELDS, "modal inputs over their bound", NULL);
    for (unsigned i = 0; i < ix->nfields; i++) {
        check_text(ix->fields[i].custom_id, "modal input id not UTF-8");
        check_text(ix->fields[i].value, "modal input value not UTF-8");
        FZ_ASSERT(ix_field_value(ix, ix->fields[i].custom_id) != NULL, "modal input not found",
                  ix->fields[i].custom_id);
    }
}

/* Both strings absent, or equal; b's never inside the arena. */
static void same_str(const char *a, const char *b, const util_cjarena *tree, const char *what)
{
    FZ_ASSERT((a == NULL) == (b == NULL) && (!a || !strcmp(a, b)), what, b);
    FZ_ASSERT(!b || !tree || !util_cjarena_owns(tree, b), "a parsed string points into the arena",
              what);
}

/* The parse into a fresh block (a) and the router's (b), field for field. */
static void same_interaction(const ix_interaction *a, const ix_interaction *b,
                             const util_cjarena *tree)
{
    FZ_ASSERT(
        a->id == b->id && a->application_id == b->application_id && a->type == b->type &&
            a->guild_id == b->guild_id && a->channel_id == b->channel_id &&
            a->channel_nsfw == b->channel_nsfw && a->user_id == b->user_id &&
            a->in_guild == b->in_guild && a->has_permissions == b->has_permissions &&
            a->permissions == b->permissions && a->app_permissions == b->app_permissions &&
            a->nroles == b->nroles && !strcmp(a->token, b->token) &&
            !strcmp(a->locale, b->locale) && a->attachment_size_limit == b->attachment_size_limit &&
            a->command_id == b->command_id && a->noptions == b->noptions &&
            a->nattachments == b->nattachments && a->component_type == b->component_type &&
            a->nvalues == b->nvalues && a->message_id == b->message_id && a->nfields == b->nfields,
        "ix_parse_scratch fields differ", NULL);
    FZ_ASSERT(!memcmp(a->roles, b->roles, a->nroles * sizeof a->roles[0]),
              "ix_parse_scratch roles differ", NULL);
    same_str(a->username, b->username, tree, "username differs");
    same_str(a->command_name, b->command_name, tree, "command name differs");
    same_str(a->subcommand, b->subcommand, tree, "subcommand differs");
    same_str(a->custom_id, b->custom_id, tree, "custom_id differs");
    for (unsigned i = 0; i < a->noptions; i++) {
        const ix_option *x = &a->options[i], *y = &b->options[i];
        same_str(x->name, y->name, tree, "option name differs");
        same_str(x->str, y->str, tree, "option string differs");
        FZ_ASSERT(x->type == y->type && x->focused == y->focused && x->integer == y->integer &&
                      !memcmp(&x->number, &y->number, sizeof x->number) &&
                      x->boolean == y->boolean && x->id == y->id && x->has_value == y->has_value,
                  "ix_parse_scratch option differs", x->name);
    }
    for (unsigned i = 0; i < a->nattachments; i++) {
        const ix_attachment *x = &a->attachments[i], *y = &b->attachments[i];
        same_str(x->filename, y->filename, tree, "attachment filename differs");
        same_str(x->url, y->url, tree, "attachment url differs");
        same_str(x->content_type, y->content_type, tree, "attachment type differs");
        FZ_ASSERT(x->id == y->id && x->size == y->size && x->width == y->width &&
                      x->height == y->height,
                  "ix_parse_scratch attachment differs", x->filename);
    }
    for (unsigned i = 0; i < a->nvalues; i++)
        same_str(a->values[i], b->values[i], tree, "component value differs");
    for (unsigned i = 0; i < a->nfields; i++) {
        same_str(a->fields[i].custom_id, b->fields[i].custom_id, tree, "modal input id differs");
        same_str(a->fields[i].value, b->fields[i].value, tree, "modal input value differs");
    }
}

/* An Options dialog id parses only in the one spelling opts_dialog_custom_id writes. */
static void check_opts_id(const char *id)
{
    uint64_t sid;
    opts_dialog_verb verb;
    unsigned page;
    if (opts_dialog_parse_id(id, &sid, &verb, &page) != 0) return;
    char again[128];
    FZ_ASSERT(opts_dialog_custom_id(sid, verb, page, again, sizeof again) == 0 &&
                  strcmp(again, id) == 0,
              "Options custom_id does not round-trip", id);
}

/* What the user is told when a command is refused: the router sends it as an ephemeral reply. */
static void check_user_error(const char *err)
{
    FZ_ASSERT(err[0] != '\0', "refused without a message for the user", NULL);
    (void)fz_chars(err, "user error not UTF-8");
    char *body = reply_text_json(err, true);
    cJSON *j = fz_json(body, "error reply");
    fz_check_callback(j, true, "error reply");
    cJSON_Delete(j);
    free(body);
}

static void generate(const ix_interaction *ix, const decl_command *d, uint64_t seed)
{
    char err[512] = "";
    comfy_job_msg *m = rcmd_job(ix, d, &cat, 1700000000000ULL, err, sizeof err);
    if (!m) {
        check_user_error(err);
        return;
    }
    err[0] = '\0';
    cjob *job = cjob_from_msg(m, &cat, 42, seed & CJOB_MAX_SEED, err, sizeof err);
    rt_msg_free(&m->hdr);
    if (!job) {
        check_user_error(err);
        return;
    }
    const char *uploaded[COMFY_MAX_IMAGES] = {"fluxbot_42_1.png", "fluxbot_42_2.png"};
    wf_values v;
    cjob_values(job, uploaded, "fluxbot_42", &v);
    FZ_ASSERT(job->decl == d && d->wf != NULL, "job without its declaration", NULL);
    cJSON *graph = wf_patch(d->wf, &v, err, sizeof err);
    if (graph && decl_apply_patches(d, graph, job->patches, job->npatches, err, sizeof err)) {
        cJSON_Delete(graph);
        graph = NULL;
    }
    if (graph) {
        char *body =
            cproto_prompt_body(graph, "fuzz-client", "00000000-0000-4000-8000-000000000000");
        cJSON *j = fz_json(body, "POST /prompt body");
        cJSON_Delete(j);
        free(body);
        cJSON_Delete(graph);
    } else {
        (void)fz_chars(err, "wf_patch error not UTF-8");
    }
    /* The finished message for this job, as the runner would post it. */
    cres_result r = {.job = job,
                     .filename = "fluxbot_42.png",
                     .is_image = job->kind != COMFY_KIND_VIDEO,
                     .is_video = job->kind == COMFY_KIND_VIDEO,
                     .generation_ms = seed % 600000,
                     .server_label = (seed & 1) ? "server 2" : NULL};
    char *fin = cres_final_payload(&r);
    cJSON *j = fz_json(fin, "final result message");
    fz_check_message(j, true, "final result message");
    cJSON_Delete(j);
    free(fin);
    char lora_list[512];
    cjob_lora_list(job, lora_list, sizeof lora_list);
    (void)fz_chars(lora_list, "lora list not UTF-8");
    cjob_free(job);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > IX_INPUT_MAX + 1024) return 0;
    char *json = malloc(size ? size : 1); /* not NUL-terminated: parsers must respect len */
    if (!json) abort();
    memcpy(json, data, size);

    rcmd_recovered rec;
    rcmd_recover(json, size, &rec);
    if (rec.has_reply) {
        check_token(rec.token);
        FZ_ASSERT(rec.id != 0, "recovered interaction id 0", NULL);
    }
    char *img = rcmd_message_image_url(json, size);
    if (img) {
        FZ_ASSERT(strncmp(img, "http://", 7) == 0 || strncmp(img, "https://", 8) == 0,
                  "message image URL is not http(s)", img);
        free(img);
    }

    ix_error err;
    memset(&err, 0, sizeof err);
    ix_interaction *fresh = ix_parse(json, size, &err);
    /* The router's parse (cJSON's tree in the scratch's arena, the interaction in a reused
     * block) gives the same verdict, error and fields as the parse into a fresh block with
     * cJSON on malloc: nothing of one payload leaks into the next, and nothing of the result
     * points into the arena, whose scope has ended (checked by address, and by ASan, which
     * reports any read of the arena's region after the scope: the rest of this run works on
     * the scratch's interaction, as the router does). */
    static ix_scratch scratch;
    ix_error err2;
    ix_interaction *ix = ix_parse_scratch(&scratch, json, size, &err2);
    FZ_ASSERT((fresh == NULL) == (ix == NULL), "ix_parse_scratch verdict differs", NULL);
    FZ_ASSERT(err.code == err2.code && !strcmp(err.field, err2.field) && !strcmp(err.msg, err2.msg),
              "ix_parse_scratch error differs", err2.msg);
    if (fresh && ix) same_interaction(fresh, ix, scratch.tree);
    ix_free(fresh);
    if (!ix) {
        FZ_ASSERT(err.code != IX_OK, "refused without an error code", NULL);
        (void)ix_strerror(err.code);
        free(json);
        return 0;
    }
    check_parsed(ix);
    char usage[64];
    rcmd_usage_name(ix, usage, sizeof usage);
    (void)fz_chars(usage, "usage name not UTF-8");
    cJSON_Delete(rcmd_days_options(ix));
    (void)rcmd_manager_perm(ix, roles, (size & 1) ? "Bot Manager" : "600000000000000001");
    comfy_origin o;
    rcmd_origin(ix, &o);

    uint64_t seed = 0;
    for (size_t i = 0; i < size && i < 8; i++)
        seed = seed << 8 | data[i];
    const decl_command *d = ix->command_name ? rcmd_decl_of(&cat, ix->command_name) : NULL;
    if (ix->type == IX_AUTOCOMPLETE) {
        char *body = rcmd_autocomplete_json(ix, &cat);
        cJSON *j = fz_json(body, "autocomplete answer");
        fz_check_callback(j, false, "autocomplete answer");
        cJSON_Delete(j);
        free(body);
    } else if (ix->type == IX_COMMAND && d) {
        generate(ix, d, seed);
    } else if (ix->type == IX_COMPONENT && ix->custom_id) {
        cres_action act;
        uint64_t job_id, owner;
        if (cres_parse_custom_id(ix->custom_id, &act, &job_id, &owner) == 0) {
            char again[128];
            FZ_ASSERT(cres_custom_id(act, job_id, owner, again, sizeof again) == 0 &&
                          strcmp(again, ix->custom_id) == 0,
                      "custom_id does not round-trip", ix->custom_id);
            (void)cres_may_delete(ix->user_id, owner, ix->permissions);
        }
        check_opts_id(ix->custom_id);
    } else if (ix->type == IX_MODAL_SUBMIT && ix->custom_id) {
        check_opts_id(ix->custom_id);
    }
    free(json);
    return 0;
}
