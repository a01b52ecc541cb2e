/*
 * The job model: one generation request as the runner keeps it, built from a router message
 * after validating every option against the catalogue (resolutions, LoRAs, workflows, limits on
 * attachments). The same checks are exposed to the router (cjob_check_options) so it can answer
 * bad options with an immediate ephemeral error before deferring.
 *
 * A cjob owns all its strings and buffers (free with cjob_free). It moves between the
 * runner's threads by pointer inside messages; one thread touches it at a time.
 */
#ifndef FLUXBOT_COMFY_JOB_H
#define FLUXBOT_COMFY_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comfy/cproto.h"
#include "comfy/decl.h"
#include "comfy/img.h"
#include "comfy/loras.h"
#include "comfy/ratios.h"
#include "comfy/wf.h"
#include "msgs/comfy.h"

#define CJOB_PROMPT_MAX_BYTES 6000 /* Discord's string option limit is 6000 characters */
#define CJOB_DEFAULT_ATTACHMENT_LIMIT (10u * 1024 * 1024)
#define CJOB_MAX_SEED ((1ULL << 53) - 1)
/* A strength a user may give a LoRA (a command's lora_strength options, the Options dialog). */
#define CJOB_LORA_STRENGTH_MIN (-2.0)
#define CJOB_LORA_STRENGTH_MAX 2.0

/* ratios, loras and decls are atomic pointers: SIGHUP swaps in new lists and declarations while
 * router and runner threads read them (comfy_runner_swap_lists, comfy_runner_swap_decls). A
 * reader loads each once per decision; sets that were swapped out stay allocated until the
 * runner is freed, so a loaded pointer (and a job's declaration) stays valid. */
typedef struct cjob_catalog {
    const ratios_set *_Atomic ratios;
    const loras_set *_Atomic loras;
    const decl_set *_Atomic decls; /* the generation commands (comfy/decl.h) */
    struct models_cache *models;   /* the servers' model lists (comfy/models.h); NULL: none */
    uint64_t max_attachment_bytes; /* input images; 0 = 25 MiB */
} cjob_catalog;

typedef struct cjob_image {
    char *url;          /* owned; where to download it (Discord CDN, or a ComfyUI /view URL) */
    char *filename;     /* owned; as the user named it (only for messages) */
    char *content_type; /* owned, may be NULL: as declared */
    uint64_t declared_size;
    uint8_t *data; /* owned once downloaded */
    size_t len;
    img_type type; /* sniffed from data */
} cjob_image;

/* What became of a job's prompt enhancement (src/actors/llm_enhance.h). Every value but
 * NONE and OK means the prompt ran as typed; the user is told which (discord/enh_note.h). */
typedef enum cjob_enhance {
    CJOB_ENH_NONE = 0, /* not asked for */
    CJOB_ENH_OK,       /* enhanced_prompt holds the model's text; prompt is built from it */
    CJOB_ENH_OFF,      /* asked for, but the bot has no chat endpoint (llm_url) */
    CJOB_ENH_TIMEOUT,  /* no answer within llm_timeout_ms */
    CJOB_ENH_ERROR,    /* the endpoint failed or answered something unusable */
    CJOB_ENH_FILTERED, /* the enhanced text hit the content filter (enhanced_prompt NULL) */
    CJOB_ENH_BUSY,     /* llm_max_inflight requests were running, or the bot was stopping */
    CJOB_ENH_COUNT
} cjob_enhance;

/* "none", "ok", "off", "timeout", "error", "filtered", "busy" (logs, the results table). */
const char *cjob_enhance_name(cjob_enhance e);

typedef struct cjob {
    uint64_t id;
    comfy_kind kind; /* video when the declaration outputs one, upscale for the button */
    /* The declaration it runs (NULL for a job read back from the results table until the
     * runner looks its command up), its name and analytics type. */
    const decl_command *decl;
    char command[COMFY_CMD_MAX + 1];
    char generation_type[24];
    comfy_reply_ref reply; /* token owned */
    comfy_origin origin;
    char *user_prompt;     /* owned; as typed ("" for redux/upscale) */
    char *prompt;          /* owned; with LoRA trigger words appended */
    char *negative_prompt; /* owned, NULL: the workflow's own (set by the Options dialog) */
    char resolution[COMFY_LABEL_MAX + 1];
    uint32_t width, height; /* the label's size (what the user picked), not the delivered one */
    uint64_t seed;
    uint32_t upscale;       /* the factor this job's workflow applies */
    uint32_t prior_upscale; /* upscale jobs: the factor the source image already had (0 = 1) */
    unsigned nloras;
    char lora_name[COMFY_MAX_LORAS][LORAS_NAME_MAX + 1];
    char lora_file[COMFY_MAX_LORAS][LORAS_FILE_MAX + 1];
    double lora_strength[COMFY_MAX_LORAS];
    bool has_strength[2];
    double strength[2];
    unsigned nimages;
    cjob_image images[COMFY_MAX_IMAGES];
    unsigned npatches; /* the declaration's "patch" options, by name (owned strings) */
    comfy_patch patches[COMFY_MAX_PATCHES];
    uint64_t source_job_id; /* regenerate/upscale: the job whose result it started from */
    uint64_t received_wall_ms;
    /* Prompt enhancement: the creativity level asked for (0 = none), what became of it, and
     * the model's text (owned, NULL unless enhance is CJOB_ENH_OK). user_prompt stays as typed
     * (shown beside the enhanced text, and the Options dialog's starting point). */
    unsigned creativity;
    cjob_enhance enhance;
    char *enhanced_prompt;
} cjob;

/* Checks a router message against the catalogue; 0, or -1 with a message meant for the user. */
int cjob_check_options(const comfy_job_msg *m, const cjob_catalog *cat, char *err, size_t errlen);

/* Validates and builds a job. random_seed is used when the message has none. NULL with a user
 * message in err when an option is bad. */
cjob *cjob_from_msg(const comfy_job_msg *m, const cjob_catalog *cat, uint64_t job_id,
                    uint64_t random_seed, char *err, size_t errlen);

/* Builds the job of a message cjob_check_options accepted (the router checks once, then
 * resolves: labels to sizes, LoRA names to files, the seed). Never NULL. */
cjob *cjob_resolve(const comfy_job_msg *m, const cjob_catalog *cat, uint64_t job_id,
                   uint64_t random_seed);

/* A copy of src (without downloaded image bytes) for a new interaction; reply/origin replace
 * src's. Used by Regenerate (then set a new seed) and to keep finished jobs' parameters. */
cjob *cjob_clone(const cjob *src, uint64_t new_id, const comfy_reply_ref *reply,
                 const comfy_origin *origin);

/* An upscale job of a finished result: image1 is downloaded from image_url; up is the button
 * declaration it runs. */
cjob *cjob_new_upscale(const cjob *src, const decl_command *up, uint64_t new_id, uint32_t factor,
                       const char *image_url, const comfy_reply_ref *reply,
                       const comfy_origin *origin);

void cjob_free(cjob *j);

/* The enhancement succeeded: enhanced_prompt = text, and prompt = text with the LoRA trigger
 * words that resolution appended to user_prompt (the model may have dropped them). */
void cjob_enhance_apply(cjob *j, const char *text);
/* The enhancement did not happen (why: not CJOB_ENH_OK): the prompt is (back to) as typed. */
void cjob_enhance_fail(cjob *j, cjob_enhance why);
/* Forgets an enhancement (the prompt back to as typed, when it was still the enhanced one; the
 * Options dialog rebuilds it anyway); the creativity level stays, so the job may be enhanced
 * again. */
void cjob_enhance_reset(cjob *j);

/* analytics: the declaration's generation type (standard, redux, pulid, video, upscale, ...) */
const char *cjob_generation_type(const cjob *j);
/* The comfy_kind a declaration's jobs have: video output or not (the button's is upscale). */
comfy_kind cjob_kind_of(const decl_command *d);

/* Fills the workflow values for this job; image names are the uploaded names. */
void cjob_values(const cjob *j, const char *const uploaded[COMFY_MAX_IMAGES],
                 const char *filename_prefix, wf_values *v);

/* Comma-separated LoRA display names with their strengths into out, "Anime Style (0.90),
 * Watercolor (0.50)" ("" when none). */
void cjob_lora_list(const cjob *j, char *out, size_t outlen);
/* The LoRA display names as a JSON list (["Anime Style","Watercolor"], [] when none), as the
 * original stored them in image_stats.loras. malloc'd; aborts on OOM. */
char *cjob_lora_json(const cjob *j);

/* The job's parameters as JSON (everything Regenerate and Upscale need: kind, workflow,
 * prompts, label and size, seed, factors, LoRAs with files and strengths, strengths, input
 * image URLs, requester), for the results table. malloc'd; aborts on OOM. */
char *cjob_to_json(const cjob *j);
/* The job back from cjob_to_json's text, every field checked (types, ranges, lengths); the
 * reply is empty (a button press brings its own). NULL with err when the text is not such a
 * job. */
cjob *cjob_from_json(const char *json, uint64_t id, char *err, size_t errlen);

/* The texts a user typed into the job, as the content filter must see them again when the job
 * is run anew (Regenerate, Options): the prompt, the negative prompt, and every declared
 * option's string value; and the enhanced prompt the job runs instead of the typed one (it
 * passed the filter when the model wrote it; the rules may have changed since). Empty ones are
 * left out. Returns how many (at most CJOB_TEXTS_MAX); the pointers are the job's. */
#define CJOB_TEXTS_MAX (3 + COMFY_MAX_PATCHES)
unsigned cjob_user_texts(const cjob *j, const char *out[CJOB_TEXTS_MAX]);

/* The result's upscale factor relative to the label's size (an Upscale of a x2 result by 2 is
 * 4), and its delivered pixel size (0x0 when the size is unknown). */
uint32_t cjob_total_upscale(const cjob *j);
void cjob_output_size(const cjob *j, uint32_t *width, uint32_t *height);

#endif
