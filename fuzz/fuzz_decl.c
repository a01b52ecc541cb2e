/*
 * fuzz_decl: command declarations as an operator writes them (comfy/decl.h) — decl_load_text
 * parses and validates one against the shipped workflows folder (its workflow, mapping and
 * list files) — then the values a user sends for its "patch" options, checked
 * (decl_check_patch) and applied to a patched copy of the workflow (decl_apply_patches).
 *
 * Input: the declaration's JSON, FZ_SEP, then bytes that become one value per patch option
 * (a number, a boolean, or text of up to 200 bytes). Seeds: the shipped declarations
 * (workflows/NAME.cmd.json).
 *
 * Invariants asserted, beyond "no crash, no sanitizer report":
 *  - a refused declaration has a message that starts with its file name (the operator is told
 *    which file, and the key);
 *  - a loaded one registers as Discord accepts it: its registration object, in a bulk-PUT
 *    array, passes cmd_validate_json (names, descriptions, option types and order, choices,
 *    bounds, the 4000-character total), with resolution choices and with autocomplete;
 *  - every target of every option names a node of its workflow that has the input;
 *  - a value decl_check_patch accepts is applied without error, the result prints as valid
 *    JSON, and the workflow's template is unchanged (every job patches a fresh copy).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/decl.h"
#include "discord/cmd.h"
#include "fuzz_support.h"
#include "util/util_utf8.h"

#define DIR FLUXBOT_SOURCE_DIR "/workflows"
#define NAME "fuzz.cmd.json"

static void check_registration(const decl_command *d)
{
    static const char *const labels[] = {"1:1 [1024x1024]", "16:9 [1344x768]"};
    for (unsigned nl = 0; nl <= 2; nl += 2) {
        char *one = cmd_def_json(&d->cmd, labels, nl);
        size_t n = strlen(one);
        char *arr = malloc(n + 3);
        if (!arr) abort();
        arr[0] = '[';
        memcpy(arr + 1, one, n);
        arr[n + 1] = ']';
        arr[n + 2] = '\0';
        char err[300] = "";
        FZ_ASSERT(cmd_validate_json(arr, n + 2, err, sizeof err) == 0,
                  "a loaded declaration registers what Discord refuses", err);
        free(arr);
        free(one);
    }
}

static void check_targets(const decl_command *d)
{
    for (unsigned i = 0; i < d->noptions; i++)
        for (unsigned t = 0; t < d->options[i].ntargets; t++) {
            const wf_target *tg = &d->options[i].targets[t];
            const cJSON *in = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(d->wf->graph, tg->node), "inputs");
            FZ_ASSERT(cJSON_GetObjectItemCaseSensitive(in, tg->input) != NULL,
                      "a target names an input its node does not have", tg->input);
        }
}

/* One value per patch option from the remaining bytes. */
static unsigned values(const decl_command *d, fz_in *in, comfy_patch *out)
{
    unsigned n = 0;
    for (unsigned i = 0; i < d->noptions && n < COMFY_MAX_PATCHES; i++) {
        const decl_option *o = &d->options[i];
        if (o->param != DECL_P_NONE || fz_bool(in)) continue;
        comfy_patch *p = &out[n++];
        memset(p, 0, sizeof *p);
        snprintf(p->option, sizeof p->option, "%s", o->name);
        switch (fz_u8(in) % 4) {
        case 0: /* text */
            p->is_str = true;
            p->str = fz_text(in, 200, NULL);
            break;
        case 1: /* a choice's or a list's own value */
            p->is_str = o->type == DECL_STRING || o->type == DECL_CHOICE;
            if (o->nchoices) {
                const decl_choice *c = &o->choices[fz_u8(in) % o->nchoices];
                p->is_str = !o->int_choices;
                p->num = (double)c->ival;
                if (p->is_str) p->str = strdup(c->sval);
            } else if (o->nlist) {
                p->str = strdup(o->list[fz_u16(in) % o->nlist]);
            } else if (p->is_str) {
                p->str = strdup(o->def_str);
            }
            break;
        case 2: /* an integer */
            p->num = (double)(int32_t)fz_u32(in);
            break;
        default: { /* any double, NaN and infinities included */
            uint64_t bits = fz_u64(in);
            memcpy(&p->num, &bits, sizeof p->num);
        }
        }
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1u << 18 || size == 0) return 0;
    fz_in in = {data, size};
    char *json = fz_text(&in, 1u << 17, NULL);
    char err[1024] = "";
    decl_command *d = decl_load_text(NAME, json, DIR, err, sizeof err);
    free(json);
    if (!d) {
        FZ_ASSERT(strncmp(err, NAME, strlen(NAME)) == 0,
                  "a refused declaration's message does not name its file", err);
        return 0;
    }
    FZ_ASSERT(d->wf != NULL, "a declaration loaded without its workflow", NULL);
    check_registration(d);
    check_targets(d);

    comfy_patch p[COMFY_MAX_PATCHES];
    unsigned n = values(d, &in, p);
    char *before = cJSON_PrintUnformatted(d->wf->graph);
    cJSON *g = cJSON_Duplicate(d->wf->graph, 1);
    unsigned ok = 0;
    comfy_patch good[COMFY_MAX_PATCHES];
    for (unsigned i = 0; i < n; i++) {
        char why[300] = "";
        if (decl_check_patch(d, &p[i], why, sizeof why) == 0)
            good[ok++] = p[i];
        else
            FZ_ASSERT(why[0] != '\0' && util_utf8_valid(why, strlen(why), NULL),
                      "a refused value without a readable message", why);
    }
    FZ_ASSERT(decl_apply_patches(d, g, good, ok, err, sizeof err) == 0,
              "an accepted value could not be applied", err);
    char *after = cJSON_PrintUnformatted(g);
    FZ_ASSERT(after != NULL, "the patched graph does not print", NULL);
    cJSON *back = cJSON_Parse(after);
    FZ_ASSERT(back != NULL, "the patched graph is not valid JSON", after);
    cJSON_Delete(back);
    char *again = cJSON_PrintUnformatted(d->wf->graph);
    FZ_ASSERT(strcmp(before, again) == 0, "patching changed the template", NULL);
    free(again);
    free(after);
    free(before);
    cJSON_Delete(g);
    comfy_patches_free(p, n);
    decl_free(d);
    return 0;
}
