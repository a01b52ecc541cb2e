/*
 * Workflow templates and their mappings: loading, validation at start, and patching per job.
 *
 * A template is a ComfyUI API-format export ({"<id>": {"class_type", "inputs", "_meta"}}). Its
 * mapping (<name>.map.json beside it) says where each job parameter goes:
 *
 *   {"workflow": "flux_txt2img.json",
 *    "inputs": {"prompt": {"node": "6", "input": "text"},
 *               "seed":   {"class_type": "RandomNoise", "input": "noise_seed"},
 *               "width":  [{"class_type": "EmptySD3LatentImage", "input": "width"},
 *                          {"class_type": "ModelSamplingFlux", "input": "width"}],
 *               "upscale_factor": {"title": "Upscale", "input": "scale_by", "scale": 0.25}},
 *    "loras":  {"insert_after": {"class_type": "UNETLoader"}, "output": 0, "max": 5},
 *    "output": {"class_type": "SaveImage"}}
 *
 * A target selects nodes by "node" id (a string, or a whole number), or by "class_type" and/or
 * "_meta" "title" (all matches are patched). "output" is one selector or an array of them. Every
 * key is checked (unknown ones stop the load, named; "_" keys at the top are comments), so a
 * typo never silently turns a selector off. Parameters: prompt, seed, width, height,
 * upscale_factor, strength1, strength2, image1, image2, filename_prefix, negative_prompt (a
 * workflow without it has no negative prompt: the Options dialog then does not offer one). A
 * mapping may leave out any parameter its workflow does not have; the kinds need at least:
 * image/pulid/video a prompt, redux two images, pulid and upscale one image. LoRAs: "insert_after"
 * chains core LoraLoaderModelOnly nodes after a MODEL output (add "clip_after" to chain LoraLoader
 * and re-wire CLIP too), or "power_lora" selects an rgthree Power Lora Loader whose lora_N inputs
 * are set.
 *
 * Every selector is resolved to node ids at load time and checked (node exists, input exists and
 * holds a literal, links point at existing nodes, there is an output node), so a broken file stops
 * the start with the file and the node named. A loaded workflow is immutable; wf_patch makes a
 * fresh copy per job, so any thread may patch concurrently.
 */
#ifndef FLUXBOT_COMFY_WORKFLOW_H
#define FLUXBOT_COMFY_WORKFLOW_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a mapping must map at least (checked by wf_load): image, pulid and video a prompt, redux
 * two images, pulid and upscale one image. A declaration (comfy/decl.h) loads its mapping as
 * video (it maps a prompt) or upscale (an image); its options then say what else it needs. */
typedef enum wf_kind {
    WF_IMAGE = 0,
    WF_REDUX,
    WF_PULID,
    WF_VIDEO,
    WF_UPSCALE,
    WF_KIND_COUNT
} wf_kind;

typedef enum wf_param {
    WF_P_PROMPT = 0,
    WF_P_SEED,
    WF_P_WIDTH,
    WF_P_HEIGHT,
    WF_P_UPSCALE,
    WF_P_STRENGTH1,
    WF_P_STRENGTH2,
    WF_P_IMAGE1,
    WF_P_IMAGE2,
    WF_P_FILENAME_PREFIX,
    WF_P_NEGATIVE, /* "negative_prompt": the text of the negative conditioning node */
    WF_P_COUNT
} wf_param;

#define WF_MAX_TARGETS 8
#define WF_MAX_LORAS 5
#define WF_ID_MAX 64
#define WF_NAME_MAX 64

typedef struct wf_target {
    char node[WF_ID_MAX];
    char input[WF_NAME_MAX];
    double scale; /* numeric parameters are multiplied by it (default 1) */
} wf_target;

typedef enum wf_lora_mode { WF_LORA_NONE = 0, WF_LORA_INSERT, WF_LORA_POWER } wf_lora_mode;

typedef struct wf_workflow {
    wf_kind kind;
    char name[WF_NAME_MAX]; /* mapping base name, e.g. "flux_txt2img" */
    char file[512];         /* template path, for messages */
    cJSON *graph;           /* owned template */
    unsigned ntargets[WF_P_COUNT];
    wf_target targets[WF_P_COUNT][WF_MAX_TARGETS];
    wf_lora_mode lora_mode;
    unsigned lora_max;
    char lora_model_node[WF_ID_MAX]; /* insert: MODEL source */
    int lora_model_output;
    char lora_clip_node[WF_ID_MAX]; /* insert: optional CLIP source ("" = model-only) */
    int lora_clip_output;
    char lora_power_node[WF_ID_MAX]; /* power mode */
    unsigned noutputs;
    char outputs[WF_MAX_TARGETS][WF_ID_MAX]; /* output node ids, preferred first */
} wf_workflow;

/* The values of one job. NULL/false/0 fields are left as in the template. */
typedef struct wf_values {
    const char *prompt;
    const char *negative_prompt; /* NULL: the template's */
    bool has_seed;
    uint64_t seed; /* 0..2^53-1 */
    uint32_t width, height;
    double upscale_factor; /* 0 = leave */
    bool has_strength[2];
    double strength[2];
    const char *image[2]; /* uploaded names as ComfyUI returned them */
    const char *filename_prefix;
    unsigned nloras;
    const char *lora_file[WF_MAX_LORAS];
    double lora_strength[WF_MAX_LORAS];
} wf_values;

const char *wf_kind_name(wf_kind k); /* "image", "redux", "pulid", "video", "upscale" */
const char *wf_param_name(wf_param p);

/* Loads one mapping file (and the template it names, relative to the mapping's folder). */
wf_workflow *wf_load(wf_kind kind, const char *map_path, char *err, size_t errlen);
/* Same from in-memory texts (tests). template_name is used in messages. */
wf_workflow *wf_load_text(wf_kind kind, const char *map_name, const char *map_json,
                          const char *template_name, const char *template_json, char *err,
                          size_t errlen);
void wf_free(wf_workflow *wf);

/* The size a workflow renders when the job cannot set it: the literal width and height inputs
 * of its first node that has both (a latent node, e.g. Wan's EmptyHunyuanLatentVideo). False
 * when there is none. Used to give video results their resolution. */
bool wf_template_size(const wf_workflow *wf, uint32_t *width, uint32_t *height);

/* True when the workflow takes this parameter / LoRAs. */
bool wf_has_param(const wf_workflow *wf, wf_param p);

/* A patched deep copy of the template for one job, or NULL with err (e.g. LoRAs on a workflow
 * without a LoRA mapping, a missing input image). The caller owns the result. */
cJSON *wf_patch(const wf_workflow *wf, const wf_values *v, char *err, size_t errlen);

/* True when class_type is one of the output node classes the bot knows. */
bool wf_is_output_class(const char *class_type);

#endif
