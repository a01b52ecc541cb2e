/*
 * fuzz_wf: workflow mapping files and templates as an operator (or a downloaded export)
 * provides them — wf_load_text validates a mapping and its API-format template — and per-job
 * patching (wf_patch) with the values a user controls: prompt, seed, size, upscale factor,
 * strengths, uploaded image names, LoRA files and strengths.
 *
 * Input: kind byte, mapping JSON, template JSON (FZ_SEP-separated), then the job values.
 * Seeds are the shipped workflows/ files.
 *
 * Invariants asserted, beyond "no crash, no sanitizer report":
 *  - a refused file has a message naming the problem (for the operator's log, which quotes
 *    the file's own bytes, so it is not required to be UTF-8); a loaded workflow has at least one
 *    output node, and every resolved target names a node that exists in the template;
 *  - the patched graph is a fresh copy (the template is unchanged after patching) and prints
 *    as valid JSON and UTF-8; the prompt, when the workflow takes one, is stored verbatim.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comfy/wf.h"
#include "fuzz_support.h"
#include "util/util_utf8.h"

/* A text value as it reaches wf_patch: valid UTF-8 (names come from validated replies and the
 * loaded LoRA list). */
static char *clipped(fz_in *in, size_t max)
{
    char *raw = fz_text(in, max, NULL);
    char *s = util_utf8_clip(raw, max);
    free(raw);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1u << 18 || size == 0) return 0;
    fz_in in = {data, size};
    wf_kind kind = (wf_kind)(fz_u8(&in) % WF_KIND_COUNT);
    size_t map_len = 0, tpl_len = 0;
    char *map = fz_text(&in, 1u << 17, &map_len);
    char *tpl = fz_text(&in, 1u << 17, &tpl_len);
    /* The patched graph can only be required to be UTF-8 when the files were. */
    const bool files_utf8 =
        util_utf8_valid(map, map_len, NULL) && util_utf8_valid(tpl, tpl_len, NULL);
    char err[512] = "";
    wf_workflow *wf = wf_load_text(kind, "fuzz.map.json", map, "fuzz.json", tpl, err, sizeof err);
    free(map);
    free(tpl);
    if (!wf) {
        FZ_ASSERT(err[0] != '\0', "workflow refused without a message", NULL);
        return 0;
    }
    FZ_ASSERT(wf->noutputs >= 1, "workflow loaded without an output node", NULL);
    for (unsigned p = 0; p < WF_P_COUNT; p++)
        for (unsigned k = 0; k < wf->ntargets[p]; k++)
            FZ_ASSERT(cJSON_GetObjectItemCaseSensitive(wf->graph, wf->targets[p][k].node),
                      "target node not in the template", wf->targets[p][k].node);
    char *before = cJSON_PrintUnformatted(wf->graph);

    /* The job: text arrives validated (ix_parse), so it is made valid UTF-8 here too. */
    char *raw_prompt = fz_text(&in, 7000, NULL);
    char *prompt = util_utf8_clip(raw_prompt, 6000);
    char *img1 = clipped(&in, 300), *img2 = clipped(&in, 300);
    char *l1 = clipped(&in, 200), *l2 = clipped(&in, 200);
    wf_values v = {0};
    v.prompt = prompt;
    v.has_seed = fz_bool(&in);
    v.seed = fz_u64(&in) & ((1ULL << 53) - 1);
    v.width = fz_u32(&in) % 9000;
    v.height = fz_u32(&in) % 9000;
    v.upscale_factor = fz_u8(&in) % 5;
    v.has_strength[0] = fz_bool(&in);
    v.strength[0] = fz_u8(&in) / 100.0;
    v.has_strength[1] = fz_bool(&in);
    v.strength[1] = fz_u8(&in) / 100.0;
    v.image[0] = img1[0] ? img1 : NULL;
    v.image[1] = img2[0] ? img2 : NULL;
    v.filename_prefix = "fluxbot_42";
    v.nloras = fz_u8(&in) % (WF_MAX_LORAS + 1);
    const char *lf[WF_MAX_LORAS] = {l1, l2, "flux_realism_lora.safetensors"};
    for (unsigned i = 0; i < v.nloras; i++) {
        v.lora_file[i] = lf[i];
        v.lora_strength[i] = (fz_u8(&in) - 128) / 12.8;
    }
    char perr[512] = "";
    cJSON *g = wf_patch(wf, &v, perr, sizeof perr);
    if (g) {
        char *out = cJSON_PrintUnformatted(g);
        cJSON *back = files_utf8 ? fz_json(out, "patched graph") : cJSON_Parse(out);
        FZ_ASSERT(back != NULL, "patched graph is not JSON", out);
        if (wf->ntargets[WF_P_PROMPT]) {
            const wf_target *t = &wf->targets[WF_P_PROMPT][0];
            const cJSON *node = cJSON_GetObjectItemCaseSensitive(back, t->node);
            const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(node, "inputs");
            const cJSON *val = cJSON_GetObjectItemCaseSensitive(inputs, t->input);
            FZ_ASSERT(cJSON_IsString(val) && strcmp(val->valuestring, prompt) == 0,
                      "prompt not stored verbatim", prompt);
        }
        cJSON_Delete(back);
        free(out);
        cJSON_Delete(g);
    } else {
        FZ_ASSERT(perr[0] != '\0', "patch refused without a message", NULL);
    }
    char *after = cJSON_PrintUnformatted(wf->graph);
    FZ_ASSERT(strcmp(before, after) == 0, "patching changed the loaded template", NULL);
    free(before);
    free(after);
    free(raw_prompt);
    free(prompt);
    free(img1);
    free(img2);
    free(l1);
    free(l2);
    wf_free(wf);
    return 0;
}
