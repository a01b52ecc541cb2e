/* Workflow templates + mappings: load, validate, patch (see wf.h). */
#include "comfy/wf.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_file.h"
#include "util/util_json.h"

static const char *const kind_names[WF_KIND_COUNT] = {"image", "redux", "pulid", "video",
                                                      "upscale"};
static const char *const param_names[WF_P_COUNT] = {
    "prompt",    "seed",   "width",  "height",          "upscale_factor", "strength1",
    "strength2", "image1", "image2", "filename_prefix", "negative_prompt"};

const char *wf_kind_name(wf_kind k)
{
    return (unsigned)k < WF_KIND_COUNT ? kind_names[k] : "?";
}
const char *wf_param_name(wf_param p)
{
    return (unsigned)p < WF_P_COUNT ? param_names[p] : "?";
}

bool wf_is_output_class(const char *ct)
{
    static const char *const outs[] = {"SaveImage",  "SaveAnimatedWEBP",   "SaveAnimatedPNG",
                                       "SaveWEBM",   "SaveVideo",          "VHS_VideoCombine",
                                       "Image Save", "SaveImageWebsocket", "PreviewImage"};
    if (!ct) return false;
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        if (strcmp(ct, outs[i]) == 0) return true;
    return false;
}

void wf_free(wf_workflow *wf)
{
    if (!wf) return;
    cJSON_Delete(wf->graph);
    free(wf);
}

static const char *node_class(const cJSON *node)
{
    return util_json_str(node, "class_type", NULL);
}

static const char *node_title(const cJSON *node)
{
    return util_json_str(cJSON_GetObjectItemCaseSensitive(node, "_meta"), "title", NULL);
}

static bool is_link(const cJSON *v)
{
    return cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 &&
           cJSON_IsString(cJSON_GetArrayItem(v, 0)) && cJSON_IsNumber(cJSON_GetArrayItem(v, 1));
}

/* Structural check of the template graph. */
static int check_graph(const cJSON *g, const char *file, char *err, size_t errlen)
{
    if (!cJSON_IsObject(g) || !g->child) {
        snprintf(err, errlen,
                 "%s: not an API-format workflow (expected an object of nodes; "
                 "export with \"Save (API)\")",
                 file);
        return -1;
    }
    const cJSON *node;
    cJSON_ArrayForEach(node, g)
    {
        const char *id = node->string;
        if (!id || !*id || strlen(id) >= WF_ID_MAX) {
            snprintf(err, errlen, "%s: node id \"%.40s\" is empty or too long", file, id ? id : "");
            return -1;
        }
        if (!cJSON_IsObject(node) || !node_class(node)) {
            snprintf(err, errlen,
                     "%s: node %s has no class_type (is this the UI format? export "
                     "with \"Save (API)\")",
                     file, id);
            return -1;
        }
        const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(node, "inputs");
        if (!cJSON_IsObject(inputs)) {
            snprintf(err, errlen, "%s: node %s (%s) has no \"inputs\" object", file, id,
                     node_class(node));
            return -1;
        }
        const cJSON *in;
        cJSON_ArrayForEach(in, inputs)
        {
            if (!cJSON_IsArray(in)) continue;
            if (!is_link(in)) continue; /* literal lists are legal values */
            const char *src = cJSON_GetArrayItem(in, 0)->valuestring;
            double idx = cJSON_GetArrayItem(in, 1)->valuedouble;
            if (!cJSON_GetObjectItemCaseSensitive(g, src) || idx < 0 || idx != floor(idx)) {
                snprintf(err, errlen, "%s: node %s (%s) input \"%s\" links to missing node %s",
                         file, id, node_class(node), in->string, src);
                return -1;
            }
        }
    }
    return 0;
}

/* Refuses a key of object o that is not in known (NULL-terminated), naming it, where it is and
 * what is allowed: a misspelt key must not be mistaken for an absent one. */
static int check_keys(const cJSON *o, const char *const *known, const char *map, const char *what,
                      char *err, size_t errlen)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, o)
    {
        bool ok = false;
        for (size_t i = 0; known[i]; i++)
            if (strcmp(k->string, known[i]) == 0) ok = true;
        if (ok) continue;
        char list[256] = "";
        for (size_t i = 0; known[i]; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", known[i]);
        }
        snprintf(err, errlen, "%s: %s: unknown key \"%.60s\" (known: %s)", map, what, k->string,
                 list);
        return -1;
    }
    return 0;
}

/* A node id as written in a mapping: a string, or a whole number (the id "6" written 6). */
static int node_id_of(const cJSON *jn, char out[WF_ID_MAX])
{
    if (cJSON_IsString(jn) && *jn->valuestring && strlen(jn->valuestring) < WF_ID_MAX) {
        snprintf(out, WF_ID_MAX, "%s", jn->valuestring);
        return 0;
    }
    if (cJSON_IsNumber(jn) && jn->valuedouble >= 0 && jn->valuedouble < 1e15 &&
        jn->valuedouble == floor(jn->valuedouble)) {
        snprintf(out, WF_ID_MAX, "%.0f", jn->valuedouble);
        return 0;
    }
    return -1;
}

static bool graph_has_titles(const cJSON *g)
{
    const cJSON *node;
    cJSON_ArrayForEach(node, g) if (node_title(node)) return true;
    return false;
}

static const char *const selector_keys[] = {"node", "class_type", "title", NULL};

/* Resolves a selector object to node ids. Returns the count (0 = none matched, -1 = bad
 * selector). */
static int resolve_selector(const cJSON *g, const cJSON *sel, char ids[][WF_ID_MAX], int max,
                            const char *map, const char *what, char *err, size_t errlen)
{
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(sel, "node");
    const cJSON *jc = cJSON_GetObjectItemCaseSensitive(sel, "class_type");
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(sel, "title");
    char nid[WF_ID_MAX];
    if (jn && node_id_of(jn, nid)) {
        snprintf(err, errlen, "%s: %s: \"node\" must be a node id (\"6\" or 6)", map, what);
        return -1;
    }
    if ((jc && (!cJSON_IsString(jc) || !*jc->valuestring)) ||
        (jt && (!cJSON_IsString(jt) || !*jt->valuestring))) {
        snprintf(err, errlen, "%s: %s: \"%s\" must be a non-empty string", map, what,
                 jc && (!cJSON_IsString(jc) || !*jc->valuestring) ? "class_type" : "title");
        return -1;
    }
    if (!jn && !jc && !jt) {
        snprintf(err, errlen, "%s: %s: a target needs \"node\", \"class_type\" or \"title\"", map,
                 what);
        return -1;
    }
    if (jn) {
        const cJSON *node = cJSON_GetObjectItemCaseSensitive(g, nid);
        if (!node) {
            snprintf(err, errlen, "%s: %s: node %s does not exist in the workflow", map, what, nid);
            return -1;
        }
        if (jc && strcmp(node_class(node), jc->valuestring) != 0) {
            snprintf(err, errlen, "%s: %s: node %s is %s, not %s", map, what, nid, node_class(node),
                     jc->valuestring);
            return -1;
        }
        snprintf(ids[0], WF_ID_MAX, "%s", nid);
        return 1;
    }
    int n = 0;
    const cJSON *node;
    cJSON_ArrayForEach(node, g)
    {
        if (jc && strcmp(node_class(node), jc->valuestring) != 0) continue;
        if (jt) {
            const char *t = node_title(node);
            if (!t || strcmp(t, jt->valuestring) != 0) continue;
        }
        if (n == max) {
            snprintf(err, errlen, "%s: %s: more than %d nodes match", map, what, max);
            return -1;
        }
        snprintf(ids[n++], WF_ID_MAX, "%s", node->string);
    }
    if (n == 0 && jt && !graph_has_titles(g)) {
        /* exports from older ComfyUI versions carry no "_meta" at all */
        snprintf(err, errlen,
                 "%s: %s: the workflow has no node titles (\"_meta\"; an older export), so "
                 "title \"%s\" cannot match: select by \"node\" or \"class_type\"",
                 map, what, jt->valuestring);
        return -1;
    }
    if (n == 0) {
        snprintf(err, errlen, "%s: %s: no node with%s%s%s%s%s in the workflow", map, what,
                 jc ? " class_type " : "", jc ? jc->valuestring : "", jt ? " title \"" : "",
                 jt ? jt->valuestring : "", jt ? "\"" : "");
        return -1;
    }
    return n;
}

static int add_targets(wf_workflow *wf, wf_param p, const cJSON *spec, const char *map, char *err,
                       size_t errlen)
{
    const cJSON *items[WF_MAX_TARGETS];
    int nitems = 0;
    if (cJSON_IsObject(spec)) {
        items[nitems++] = spec;
    } else if (cJSON_IsArray(spec)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, spec)
        {
            if (nitems == WF_MAX_TARGETS) {
                snprintf(err, errlen, "%s: %s: more than %d targets", map, param_names[p],
                         WF_MAX_TARGETS);
                return -1;
            }
            items[nitems++] = it;
        }
    }
    if (nitems == 0) {
        snprintf(err, errlen, "%s: %s: expected a target object or an array of them", map,
                 param_names[p]);
        return -1;
    }
    for (int i = 0; i < nitems; i++) {
        if (!cJSON_IsObject(items[i])) {
            snprintf(err, errlen, "%s: %s: target %d is not an object", map, param_names[p], i + 1);
            return -1;
        }
        static const char *const target_keys[] = {"node",  "class_type", "title",
                                                  "input", "scale",      NULL};
        char what[96];
        snprintf(what, sizeof what, nitems > 1 ? "%s (target %d)" : "%s", param_names[p], i + 1);
        if (check_keys(items[i], target_keys, map, what, err, errlen)) return -1;
        const cJSON *jin = cJSON_GetObjectItemCaseSensitive(items[i], "input");
        if (!cJSON_IsString(jin) || !*jin->valuestring || strlen(jin->valuestring) >= WF_NAME_MAX) {
            snprintf(err, errlen, "%s: %s: target %d needs \"input\" (the input name)", map,
                     param_names[p], i + 1);
            return -1;
        }
        double scale = 1.0;
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(items[i], "scale");
        if (js) {
            if (!cJSON_IsNumber(js) || !(js->valuedouble > 0) || js->valuedouble > 1000) {
                snprintf(err, errlen, "%s: %s: \"scale\" must be a positive number", map,
                         param_names[p]);
                return -1;
            }
            scale = js->valuedouble;
        }
        char ids[WF_MAX_TARGETS][WF_ID_MAX];
        int n = resolve_selector(wf->graph, items[i], ids, WF_MAX_TARGETS, map, param_names[p], err,
                                 errlen);
        if (n < 0) return -1;
        for (int k = 0; k < n; k++) {
            const cJSON *node = cJSON_GetObjectItemCaseSensitive(wf->graph, ids[k]);
            const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(node, "inputs");
            const cJSON *cur = cJSON_GetObjectItemCaseSensitive(inputs, jin->valuestring);
            if (!cur) {
                snprintf(err, errlen, "%s: %s: node %s (%s) has no input \"%s\"", map,
                         param_names[p], ids[k], node_class(node), jin->valuestring);
                return -1;
            }
            if (is_link(cur)) {
                snprintf(err, errlen,
                         "%s: %s: node %s (%s) input \"%s\" is wired to node %s; "
                         "map the node that holds the value",
                         map, param_names[p], ids[k], node_class(node), jin->valuestring,
                         cJSON_GetArrayItem(cur, 0)->valuestring);
                return -1;
            }
            bool want_string = p == WF_P_PROMPT || p == WF_P_IMAGE1 || p == WF_P_IMAGE2 ||
                               p == WF_P_FILENAME_PREFIX || p == WF_P_NEGATIVE;
            if (want_string ? !cJSON_IsString(cur) : !cJSON_IsNumber(cur)) {
                snprintf(err, errlen, "%s: %s: node %s (%s) input \"%s\" holds a %s, expected a %s",
                         map, param_names[p], ids[k], node_class(node), jin->valuestring,
                         cJSON_IsString(cur) ? "string" : "non-string",
                         want_string ? "string" : "number");
                return -1;
            }
            if (wf->ntargets[p] == WF_MAX_TARGETS) {
                snprintf(err, errlen, "%s: %s: more than %d targets", map, param_names[p],
                         WF_MAX_TARGETS);
                return -1;
            }
            wf_target *t = &wf->targets[p][wf->ntargets[p]];
            if (strlen(jin->valuestring) >= sizeof t->input) {
                snprintf(err, errlen, "%s: %s: input name longer than %zu bytes", map,
                         param_names[p], sizeof t->input - 1);
                return -1;
            }
            wf->ntargets[p]++;
            snprintf(t->node, sizeof t->node, "%.*s", (int)sizeof t->node - 1, ids[k]);
            memcpy(t->input, jin->valuestring, strlen(jin->valuestring) + 1);
            t->scale = scale;
        }
    }
    return 0;
}

static int one_node(const wf_workflow *wf, const cJSON *sel, char out[WF_ID_MAX], const char *map,
                    const char *what, char *err, size_t errlen)
{
    char ids[2][WF_ID_MAX];
    if (!cJSON_IsObject(sel)) {
        snprintf(err, errlen, "%s: %s must be a target object", map, what);
        return -1;
    }
    if (check_keys(sel, selector_keys, map, what, err, errlen)) return -1;
    int n = resolve_selector(wf->graph, sel, ids, 2, map, what, err, errlen);
    if (n < 0) return -1;
    if (n != 1) {
        snprintf(err, errlen, "%s: %s must select exactly one node", map, what);
        return -1;
    }
    memcpy(out, ids[0], WF_ID_MAX);
    return 0;
}

static int out_index(const cJSON *o, const char *key, int *out, const char *map, char *err,
                     size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = 0;
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 64 ||
        v->valuedouble != floor(v->valuedouble)) {
        snprintf(err, errlen, "%s: loras.%s must be an output index 0..64", map, key);
        return -1;
    }
    *out = (int)v->valuedouble;
    return 0;
}

static int parse_loras(wf_workflow *wf, const cJSON *l, const char *map, char *err, size_t errlen)
{
    if (!cJSON_IsObject(l)) {
        snprintf(err, errlen, "%s: \"loras\" must be an object", map);
        return -1;
    }
    static const char *const lora_keys[] = {"insert_after", "output", "clip_after", "clip_output",
                                            "power_lora",   "max",    NULL};
    if (check_keys(l, lora_keys, map, "loras", err, errlen)) return -1;
    wf->lora_max = WF_MAX_LORAS;
    const cJSON *jmax = cJSON_GetObjectItemCaseSensitive(l, "max");
    if (jmax) {
        if (!cJSON_IsNumber(jmax) || jmax->valuedouble < 1 || jmax->valuedouble > WF_MAX_LORAS) {
            snprintf(err, errlen, "%s: loras.max must be 1..%d", map, WF_MAX_LORAS);
            return -1;
        }
        wf->lora_max = (unsigned)jmax->valuedouble;
    }
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(l, "insert_after");
    const cJSON *pow = cJSON_GetObjectItemCaseSensitive(l, "power_lora");
    if (ins && !pow) {
        wf->lora_mode = WF_LORA_INSERT;
        if (one_node(wf, ins, wf->lora_model_node, map, "loras.insert_after", err, errlen) ||
            out_index(l, "output", &wf->lora_model_output, map, err, errlen))
            return -1;
        const cJSON *clip = cJSON_GetObjectItemCaseSensitive(l, "clip_after");
        if (clip && (one_node(wf, clip, wf->lora_clip_node, map, "loras.clip_after", err, errlen) ||
                     out_index(l, "clip_output", &wf->lora_clip_output, map, err, errlen)))
            return -1;
        return 0;
    }
    if (pow && !ins) {
        wf->lora_mode = WF_LORA_POWER;
        return one_node(wf, pow, wf->lora_power_node, map, "loras.power_lora", err, errlen);
    }
    snprintf(err, errlen, "%s: \"loras\" needs exactly one of \"insert_after\" or \"power_lora\"",
             map);
    return -1;
}

static int parse_outputs(wf_workflow *wf, const cJSON *o, const char *map, char *err, size_t errlen)
{
    if (o) {
        /* one selector, or an array of them: files of the first that produced one are sent */
        const cJSON *items[WF_MAX_TARGETS];
        int nitems = 0;
        if (cJSON_IsObject(o)) {
            items[nitems++] = o;
        } else if (cJSON_IsArray(o)) {
            const cJSON *it;
            cJSON_ArrayForEach(it, o)
            {
                if (nitems == WF_MAX_TARGETS) {
                    snprintf(err, errlen, "%s: output: more than %d selectors", map,
                             WF_MAX_TARGETS);
                    return -1;
                }
                items[nitems++] = it;
            }
        }
        if (nitems == 0) {
            snprintf(err, errlen,
                     "%s: \"output\" must be a target object or a non-empty array of them", map);
            return -1;
        }
        for (int i = 0; i < nitems; i++) {
            char what[48];
            snprintf(what, sizeof what, nitems > 1 ? "output (selector %d)" : "output", i + 1);
            if (!cJSON_IsObject(items[i])) {
                snprintf(err, errlen, "%s: %s is not an object", map, what);
                return -1;
            }
            if (check_keys(items[i], selector_keys, map, what, err, errlen)) return -1;
            char ids[WF_MAX_TARGETS][WF_ID_MAX];
            int n =
                resolve_selector(wf->graph, items[i], ids, WF_MAX_TARGETS, map, what, err, errlen);
            if (n < 0) return -1;
            for (int k = 0; k < n; k++) {
                bool dup = false;
                for (unsigned d = 0; d < wf->noutputs; d++)
                    if (strcmp(wf->outputs[d], ids[k]) == 0) dup = true;
                if (dup) continue;
                if (wf->noutputs == WF_MAX_TARGETS) {
                    snprintf(err, errlen, "%s: output: more than %d nodes", map, WF_MAX_TARGETS);
                    return -1;
                }
                memcpy(wf->outputs[wf->noutputs++], ids[k], WF_ID_MAX);
            }
        }
        return 0;
    }
    const cJSON *node;
    cJSON_ArrayForEach(node, wf->graph)
    {
        if (wf_is_output_class(node_class(node)) && strcmp(node_class(node), "PreviewImage") != 0 &&
            wf->noutputs < WF_MAX_TARGETS)
            snprintf(wf->outputs[wf->noutputs++], WF_ID_MAX, "%s", node->string);
    }
    if (wf->noutputs == 0) {
        snprintf(err, errlen,
                 "%s: the workflow has no output node (SaveImage, SaveVideo, ...); "
                 "name one with \"output\"",
                 map);
        return -1;
    }
    return 0;
}

wf_workflow *wf_load_text(wf_kind kind, const char *map_name, const char *map_json,
                          const char *template_name, const char *template_json, char *err,
                          size_t errlen)
{
    if ((unsigned)kind >= WF_KIND_COUNT) {
        snprintf(err, errlen, "%s: bad workflow kind", map_name);
        return NULL;
    }
    wf_workflow *wf = calloc(1, sizeof *wf);
    cJSON *map = NULL;
    if (!wf) {
        snprintf(err, errlen, "%s: out of memory", map_name);
        return NULL;
    }
    wf->kind = kind;
    snprintf(wf->file, sizeof wf->file, "%s", template_name);
    const char *base = strrchr(map_name, '/');
    snprintf(wf->name, sizeof wf->name, "%s", base ? base + 1 : map_name);
    char *dot = strstr(wf->name, ".map.json");
    if (dot) *dot = '\0';

    wf->graph = util_json_parse_named(template_json, template_name, err, errlen);
    if (!wf->graph) goto fail;
    if (check_graph(wf->graph, template_name, err, errlen)) goto fail;
    map = cJSON_Parse(map_json);
    if (!cJSON_IsObject(map)) {
        snprintf(err, errlen, "%s: not a valid JSON object", map_name);
        goto fail;
    }
    {
        /* "_..." keys are the operator's comments */
        const cJSON *k;
        cJSON_ArrayForEach(k, map)
        {
            static const char *const top[] = {"workflow", "description", "inputs", "loras",
                                              "output"};
            bool ok = k->string[0] == '_';
            for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
                if (strcmp(k->string, top[i]) == 0) ok = true;
            if (!ok) {
                snprintf(err, errlen,
                         "%s: unknown key \"%.60s\" (known: workflow, description, inputs, "
                         "loras, output; keys starting with \"_\" are comments)",
                         map_name, k->string);
                goto fail;
            }
        }
    }
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(map, "inputs");
    if (!cJSON_IsObject(inputs)) {
        snprintf(err, errlen, "%s: missing object \"inputs\"", map_name);
        goto fail;
    }
    const cJSON *in;
    cJSON_ArrayForEach(in, inputs)
    {
        int p = -1;
        for (int i = 0; i < WF_P_COUNT; i++)
            if (strcmp(in->string, param_names[i]) == 0) p = i;
        if (p < 0) {
            snprintf(err, errlen,
                     "%s: unknown parameter \"%s\" (known: prompt, seed, width, "
                     "height, upscale_factor, strength1, strength2, image1, image2, "
                     "filename_prefix, negative_prompt)",
                     map_name, in->string);
            goto fail;
        }
        if (add_targets(wf, (wf_param)p, in, map_name, err, errlen)) goto fail;
    }
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(map, "loras");
    if (l && parse_loras(wf, l, map_name, err, errlen)) goto fail;
    if (parse_outputs(wf, cJSON_GetObjectItemCaseSensitive(map, "output"), map_name, err, errlen))
        goto fail;

    static const wf_param need_prompt[] = {WF_P_PROMPT};
    static const wf_param need_redux[] = {WF_P_IMAGE1, WF_P_IMAGE2};
    static const wf_param need_pulid[] = {WF_P_PROMPT, WF_P_IMAGE1};
    static const wf_param need_upscale[] = {WF_P_IMAGE1};
    const wf_param *need = need_prompt;
    size_t nneed = 1;
    if (kind == WF_REDUX) {
        need = need_redux;
        nneed = 2;
    } else if (kind == WF_PULID) {
        need = need_pulid;
        nneed = 2;
    } else if (kind == WF_UPSCALE) {
        need = need_upscale;
        nneed = 1;
    }
    for (size_t i = 0; i < nneed; i++) {
        if (wf->ntargets[need[i]] == 0) {
            snprintf(err, errlen, "%s: the %s workflow needs a mapping for \"%s\"", map_name,
                     kind_names[kind], param_names[need[i]]);
            goto fail;
        }
    }
    cJSON_Delete(map);
    return wf;
fail:
    cJSON_Delete(map);
    wf_free(wf);
    return NULL;
}

wf_workflow *wf_load(wf_kind kind, const char *map_path, char *err, size_t errlen)
{
    char *map_text = util_file_read(map_path, 1 << 20, NULL, err, errlen);
    if (!map_text) return NULL;
    cJSON *map = cJSON_Parse(map_text);
    const cJSON *jw = cJSON_GetObjectItemCaseSensitive(map, "workflow");
    if (!cJSON_IsString(jw) || !*jw->valuestring || strstr(jw->valuestring, "..") ||
        jw->valuestring[0] == '/') {
        snprintf(err, errlen, "%s: \"workflow\" must name the template file in the same folder",
                 map_path);
        cJSON_Delete(map);
        free(map_text);
        return NULL;
    }
    char tpath[1024];
    const char *slash = strrchr(map_path, '/');
    int dirlen = slash ? (int)(slash - map_path) : 0;
    if (slash)
        snprintf(tpath, sizeof tpath, "%.*s/%s", dirlen, map_path, jw->valuestring);
    else
        snprintf(tpath, sizeof tpath, "%s", jw->valuestring);
    cJSON_Delete(map);
    char *tpl = util_file_read(tpath, 32 << 20, NULL, err, errlen);
    if (!tpl) {
        free(map_text);
        return NULL;
    }
    wf_workflow *wf = wf_load_text(kind, map_path, map_text, tpath, tpl, err, errlen);
    free(tpl);
    free(map_text);
    return wf;
}

bool wf_template_size(const wf_workflow *wf, uint32_t *width, uint32_t *height)
{
    if (!wf || !wf->graph) return false;
    const cJSON *node;
    cJSON_ArrayForEach(node, wf->graph)
    {
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(node, "inputs");
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(in, "width");
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(in, "height");
        if (!cJSON_IsNumber(w) || !cJSON_IsNumber(h)) continue;
        if (w->valuedouble < 1 || w->valuedouble > 16384 || h->valuedouble < 1 ||
            h->valuedouble > 16384)
            continue;
        *width = (uint32_t)w->valuedouble;
        *height = (uint32_t)h->valuedouble;
        return true;
    }
    return false;
}

bool wf_has_param(const wf_workflow *wf, wf_param p)
{
    return wf && (unsigned)p < WF_P_COUNT && wf->ntargets[p] > 0;
}

/* Integers go out as raw JSON text so 64-bit seeds survive exactly (cJSON numbers are doubles). */
static cJSON *make_int(uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

static int set_input(cJSON *g, const wf_target *t, cJSON *val, char *err, size_t errlen)
{
    cJSON *inputs =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(g, t->node), "inputs");
    if (!val || !inputs || !cJSON_ReplaceItemInObjectCaseSensitive(inputs, t->input, val)) {
        cJSON_Delete(val);
        snprintf(err, errlen, "cannot set node %s input %s", t->node, t->input);
        return -1;
    }
    return 0;
}

static int patch_string(cJSON *g, const wf_workflow *wf, wf_param p, const char *s, char *err,
                        size_t errlen)
{
    for (unsigned i = 0; i < wf->ntargets[p]; i++)
        if (set_input(g, &wf->targets[p][i], cJSON_CreateString(s), err, errlen)) return -1;
    return 0;
}

static int patch_int(cJSON *g, const wf_workflow *wf, wf_param p, uint64_t v, char *err,
                     size_t errlen)
{
    for (unsigned i = 0; i < wf->ntargets[p]; i++) {
        const wf_target *t = &wf->targets[p][i];
        uint64_t x = t->scale == 1.0 ? v : (uint64_t)llround((double)v * t->scale);
        if (set_input(g, t, make_int(x), err, errlen)) return -1;
    }
    return 0;
}

static int patch_number(cJSON *g, const wf_workflow *wf, wf_param p, double v, char *err,
                        size_t errlen)
{
    for (unsigned i = 0; i < wf->ntargets[p]; i++) {
        const wf_target *t = &wf->targets[p][i];
        if (set_input(g, t, cJSON_CreateNumber(v * t->scale), err, errlen)) return -1;
    }
    return 0;
}

/* Smallest numeric id above every numeric id in the graph, for inserted nodes. */
static unsigned long next_free_id(const cJSON *g)
{
    unsigned long max = 0;
    const cJSON *n;
    cJSON_ArrayForEach(n, g)
    {
        char *end;
        unsigned long v = strtoul(n->string, &end, 10);
        if (end != n->string && v > max && v < 1000000000UL) max = v;
    }
    return max + 1;
}

/* Re-points every link [src, idx] (outside the skip set) to [dst, didx]. */
static void rewire(cJSON *g, const char *src, int idx, const char *dst, int didx,
                   const char *skip_prefix_ids[], unsigned nskip)
{
    cJSON *node;
    cJSON_ArrayForEach(node, g)
    {
        bool skip = false;
        for (unsigned i = 0; i < nskip; i++)
            if (strcmp(node->string, skip_prefix_ids[i]) == 0) skip = true;
        if (skip) continue;
        cJSON *in;
        cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(node, "inputs"))
        {
            if (!is_link(in)) continue;
            if (strcmp(cJSON_GetArrayItem(in, 0)->valuestring, src) == 0 &&
                (int)cJSON_GetArrayItem(in, 1)->valuedouble == idx) {
                cJSON_SetValuestring(cJSON_GetArrayItem(in, 0), dst);
                cJSON_SetNumberValue(cJSON_GetArrayItem(in, 1), didx);
            }
        }
    }
}

static cJSON *make_link(const char *id, int idx)
{
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateString(id));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(idx));
    return a;
}

static int patch_loras(cJSON *g, const wf_workflow *wf, const wf_values *v, char *err,
                       size_t errlen)
{
    if (v->nloras == 0) return 0;
    if (wf->lora_mode == WF_LORA_NONE) {
        snprintf(err, errlen, "the %s workflow does not take LoRAs", wf->name);
        return -1;
    }
    if (v->nloras > wf->lora_max) {
        snprintf(err, errlen, "the %s workflow takes at most %u LoRA%s", wf->name, wf->lora_max,
                 wf->lora_max == 1 ? "" : "s");
        return -1;
    }
    if (wf->lora_mode == WF_LORA_POWER) {
        cJSON *inputs = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(g, wf->lora_power_node), "inputs");
        /* switch off every slot the template had, then fill ours */
        cJSON *in;
        cJSON_ArrayForEach(in, inputs)
        {
            if (strncmp(in->string, "lora_", 5) == 0 && cJSON_IsObject(in))
                cJSON_ReplaceItemInObjectCaseSensitive(in, "on", cJSON_CreateFalse());
        }
        for (unsigned i = 0; i < v->nloras; i++) {
            char key[16];
            snprintf(key, sizeof key, "lora_%u", i + 1);
            cJSON *slot = cJSON_CreateObject();
            cJSON_AddBoolToObject(slot, "on", 1);
            cJSON_AddStringToObject(slot, "lora", v->lora_file[i]);
            cJSON_AddNumberToObject(slot, "strength", v->lora_strength[i]);
            if (cJSON_GetObjectItemCaseSensitive(inputs, key))
                cJSON_ReplaceItemInObjectCaseSensitive(inputs, key, slot);
            else
                cJSON_AddItemToObject(inputs, key, slot);
        }
        return 0;
    }
    unsigned long base = next_free_id(g);
    char ids[WF_MAX_LORAS][WF_ID_MAX];
    const char *skip[WF_MAX_LORAS];
    bool with_clip = wf->lora_clip_node[0] != '\0';
    for (unsigned i = 0; i < v->nloras; i++) {
        snprintf(ids[i], WF_ID_MAX, "%lu", base + i);
        skip[i] = ids[i];
    }
    /* Re-wire consumers first (the new nodes are not in the graph yet), then chain them. */
    const char *last = ids[v->nloras - 1];
    rewire(g, wf->lora_model_node, wf->lora_model_output, last, 0, skip, 0);
    if (with_clip) rewire(g, wf->lora_clip_node, wf->lora_clip_output, last, 1, skip, 0);
    for (unsigned i = 0; i < v->nloras; i++) {
        cJSON *node = cJSON_CreateObject();
        cJSON *inputs = cJSON_CreateObject();
        cJSON_AddStringToObject(node, "class_type",
                                with_clip ? "LoraLoader" : "LoraLoaderModelOnly");
        if (i == 0)
            cJSON_AddItemToObject(inputs, "model",
                                  make_link(wf->lora_model_node, wf->lora_model_output));
        else
            cJSON_AddItemToObject(inputs, "model", make_link(ids[i - 1], 0));
        if (with_clip) {
            if (i == 0)
                cJSON_AddItemToObject(inputs, "clip",
                                      make_link(wf->lora_clip_node, wf->lora_clip_output));
            else
                cJSON_AddItemToObject(inputs, "clip", make_link(ids[i - 1], 1));
        }
        cJSON_AddStringToObject(inputs, "lora_name", v->lora_file[i]);
        cJSON_AddNumberToObject(inputs, "strength_model", v->lora_strength[i]);
        if (with_clip) cJSON_AddNumberToObject(inputs, "strength_clip", v->lora_strength[i]);
        cJSON_AddItemToObject(node, "inputs", inputs);
        cJSON *meta = cJSON_CreateObject();
        char title[48];
        snprintf(title, sizeof title, "fluxbot LoRA %u", i + 1);
        cJSON_AddStringToObject(meta, "title", title);
        cJSON_AddItemToObject(node, "_meta", meta);
        cJSON_AddItemToObject(g, ids[i], node);
    }
    return 0;
}

cJSON *wf_patch(const wf_workflow *wf, const wf_values *v, char *err, size_t errlen)
{
    if (!wf || !v) {
        snprintf(err, errlen, "no workflow");
        return NULL;
    }
    cJSON *g = cJSON_Duplicate(wf->graph, 1);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (v->prompt && patch_string(g, wf, WF_P_PROMPT, v->prompt, err, errlen)) goto fail;
    if (v->negative_prompt && wf->ntargets[WF_P_NEGATIVE] > 0 &&
        patch_string(g, wf, WF_P_NEGATIVE, v->negative_prompt, err, errlen))
        goto fail;
    if (v->has_seed) {
        if (v->seed > ((1ULL << 53) - 1)) {
            snprintf(err, errlen, "seed must be below 2^53");
            goto fail;
        }
        if (patch_int(g, wf, WF_P_SEED, v->seed, err, errlen)) goto fail;
    }
    if (v->width && patch_int(g, wf, WF_P_WIDTH, v->width, err, errlen)) goto fail;
    if (v->height && patch_int(g, wf, WF_P_HEIGHT, v->height, err, errlen)) goto fail;
    if (v->upscale_factor > 0 && patch_number(g, wf, WF_P_UPSCALE, v->upscale_factor, err, errlen))
        goto fail;
    for (int i = 0; i < 2; i++) {
        wf_param sp = i == 0 ? WF_P_STRENGTH1 : WF_P_STRENGTH2;
        if (v->has_strength[i] && patch_number(g, wf, sp, v->strength[i], err, errlen)) goto fail;
        wf_param ip = i == 0 ? WF_P_IMAGE1 : WF_P_IMAGE2;
        if (wf->ntargets[ip] > 0) {
            if (!v->image[i] || !*v->image[i]) {
                snprintf(err, errlen, "the %s workflow needs input image %d", wf->name, i + 1);
                goto fail;
            }
            if (patch_string(g, wf, ip, v->image[i], err, errlen)) goto fail;
        }
    }
    if (v->filename_prefix &&
        patch_string(g, wf, WF_P_FILENAME_PREFIX, v->filename_prefix, err, errlen))
        goto fail;
    if (patch_loras(g, wf, v, err, errlen)) goto fail;
    return g;
fail:
    cJSON_Delete(g);
    return NULL;
}
