/*
 * Command declarations: one JSON file per generation command, `<name>.cmd.json` in the
 * workflows folder beside the workflow and mapping it runs. This module owns their format, the
 * loader and validator, and the command-table entries (discord/cmd.h cmd_def) a
 * declaration produces; discord/cmd.c turns those into the registration JSON. Pure: files
 * and JSON only, no threads or sockets; a loaded declaration is immutable, so any thread may
 * read it.
 *
 *   {"name": "comfy",
 *    "description": "Generate an image from a text prompt with Flux",
 *    "workflow": "flux_txt2img.json",
 *    "mapping": "flux_txt2img.map.json",
 *    "output": "image",
 *    "options": [
 *      {"name": "prompt", "type": "string", "description": "What to draw", "required": true,
 *       "min_length": 1, "max_length": 1000, "param": "prompt"},
 *      {"name": "steps", "type": "integer", "description": "Sampling steps", "min": 1,
 *       "max": 50, "default": 20, "patch": {"class_type": "BasicScheduler", "input": "steps"}},
 *      {"name": "lora", "type": "string", "description": "A LoRA", "autocomplete": "loras",
 *       "param": "lora"}]}
 *
 * Every option says where its value goes: "param" names a parameter of the mapping (prompt,
 * seed, upscale_factor, strength1, strength2, image1, image2; "resolution" = the mapping's width
 * and height from the ratios file; "lora" = one slot of the mapping's LoRA chain), or "patch"
 * names node inputs of the workflow directly (a target or a list of them, selected like the
 * mapping's: "node", "class_type", "title", with "input" and an optional numeric "scale").
 *
 * Validation names the file, the key and, for a patch, the node: a declaration that loads is
 * one the runner can apply. A broken declaration refuses the whole set (the start, or
 * `fluxbot check`), like a broken mapping. Unknown keys are refused, so a misspelt "requried"
 * cannot silently make an option optional.
 */
#ifndef FLUXBOT_COMFY_DECL_H
#define FLUXBOT_COMFY_DECL_H

#include <stdbool.h>
#include <stddef.h>

#include "comfy/wf.h"
#include "discord/cmd.h"
#include "msgs/comfy.h"

#define DECL_MAX_COMMANDS 50 /* Discord allows 100 chat commands; the bot's own take ~12 */
#define DECL_TEXT_MAX 404    /* 100 characters of UTF-8, NUL included */
#define DECL_FILE_MAX 256

typedef enum decl_type {
    DECL_STRING = 0,
    DECL_INTEGER,
    DECL_NUMBER,
    DECL_BOOLEAN,
    DECL_ATTACHMENT,
    DECL_CHOICE,
} decl_type;

typedef enum decl_source {
    DECL_SRC_NONE = 0,
    DECL_SRC_LORAS,       /* the LoRA catalogue (loras.json) */
    DECL_SRC_FILE,        /* one entry a line, in a file beside the declaration */
    DECL_SRC_OBJECT_INFO, /* a model list from ComfyUI's GET /object_info */
} decl_source;

typedef enum decl_output { DECL_OUT_IMAGE = 0, DECL_OUT_VIDEO, DECL_OUT_ANIMATION } decl_output;

typedef enum decl_param {
    DECL_P_NONE = 0, /* the option has "patch" targets instead */
    DECL_P_MAPPED,   /* wf_param in decl_option.wf_param */
    DECL_P_RESOLUTION,
    DECL_P_LORA,
    DECL_P_LORA_STRENGTH, /* the strength of the n-th "lora" option (n-th of its kind) */
    DECL_P_ENHANCE,       /* prompt enhancement's creativity level, 1..10 (llm/llm_chat.h) */
} decl_param;

/* "param": "enhance" takes an integer (or integer choice) option whose values lie in
 * DECL_ENHANCE_MIN..DECL_ENHANCE_MAX (min/max default to them), at most one per command, on a
 * command whose prompt is an option: a language model rewrites the prompt before the job runs,
 * at temperature level / 10. When the bot has no llm_url the option is left out of the
 * registration (decl_set.without_enhance), so users never see a choice that does nothing. */
#define DECL_ENHANCE_MIN 1
#define DECL_ENHANCE_MAX 10

typedef struct decl_choice {
    char name[DECL_TEXT_MAX];
    bool is_int;
    long long ival;
    char sval[DECL_TEXT_MAX];
} decl_choice;

typedef struct decl_option {
    char name[CMD_NAME_MAX * 4 + 1];
    char description[DECL_TEXT_MAX];
    decl_type type;
    bool required;
    bool has_default;
    double def_num; /* integer, number, boolean (0/1), integer choice */
    char def_str[DECL_TEXT_MAX];
    bool has_min, has_max;
    double min, max;
    unsigned min_length, max_length;
    bool choices_ratios; /* "choices": "ratios" (the resolution labels, at run time) */
    bool int_choices;    /* choice values are integers (else strings) */
    unsigned nchoices;
    decl_choice choices[CMD_CHOICES_MAX];
    decl_source source;
    char source_arg[DECL_FILE_MAX]; /* file path, or the object_info kind */
    char **list;                    /* DECL_SRC_FILE: the file's entries, read at load */
    unsigned nlist;
    decl_param param;
    wf_param wf_param;
    unsigned ntargets;
    wf_target targets[WF_MAX_TARGETS];
} decl_option;

typedef struct decl_command {
    char file[512]; /* the declaration, for messages */
    char name[CMD_NAME_MAX * 4 + 1];
    char description[DECL_TEXT_MAX];
    char workflow[DECL_FILE_MAX];
    char mapping[DECL_FILE_MAX];
    decl_output output;
    char generation_type[24]; /* analytics: "generation_type", else standard/video/animation */
    bool button;              /* "trigger": "button": runs from a result button, not registered */
    wf_workflow *wf;          /* the mapping and workflow it runs (owned) */
    unsigned noptions;
    decl_option options[CMD_OPTIONS_MAX];
    /* The command-table entry, pointing into the fields above. */
    cmd_def cmd;
    cmd_option_def cmd_opts[CMD_OPTIONS_MAX];
    cmd_int_choice cmd_ichoices[CMD_OPTIONS_MAX][CMD_CHOICES_MAX];
    cmd_str_choice cmd_schoices[CMD_OPTIONS_MAX][CMD_CHOICES_MAX];
    /* The same entry without the "enhance" option (registered when enhancement is off). */
    cmd_def cmd_plain;
    cmd_option_def cmd_plain_opts[CMD_OPTIONS_MAX];
} decl_command;

typedef struct decl_set {
    unsigned count;
    decl_command *cmds[DECL_MAX_COMMANDS]; /* sorted by file name */
    /* Prompt enhancement is off (no llm_url): decl_set_defs leaves the "enhance" options out.
     * Set by the owner before the set is published. */
    bool without_enhance;
} decl_set;

const char *decl_type_name(decl_type t);
const char *decl_output_name(decl_output o);

/* ComfyUI's /object_info model lists a declaration may autocomplete from: the node class and
 * its input whose value list holds the names ("checkpoint" → CheckpointLoaderSimple.ckpt_name,
 * "unet", "lora", "vae", "clip", "upscale_model"). False for an unknown kind. */
bool decl_object_info_field(const char *kind, const char **class_type, const char **input);

/* Loads one declaration file; the workflow, mapping and autocomplete files it names are read
 * from the same folder. NULL with err naming file, key and node. */
decl_command *decl_load(const char *path, char *err, size_t errlen);
/* The same from texts (tests). Files the declaration names are read from dir. */
decl_command *decl_load_text(const char *name, const char *json, const char *dir, char *err,
                             size_t errlen);
void decl_free(decl_command *d);

/* The option named name, or NULL. */
const decl_option *decl_find_option(const decl_command *d, const char *name);
/* The option that fills mapping parameter p, or NULL. */
const decl_option *decl_option_for(const decl_command *d, wf_param p);
/* How many input images the command takes (its image1/image2 options). */
unsigned decl_images(const decl_command *d);

/* Sets the node inputs of the "patch" options in a patched copy of d->wf's template: each
 * value goes to every target of its option, multiplied by the target's scale (integer options
 * stay integers). 0, or -1 with err (an unknown option, a value of the wrong kind). */
int decl_apply_patches(const decl_command *d, cJSON *graph, const comfy_patch *p, unsigned n,
                       char *err, size_t errlen);

/* A value for option o, checked as Discord would not (a client may send anything): in min..max
 * (number options). 0, or -1 with a message for the user. */
int decl_check_number(const decl_option *o, double v, char *err, size_t errlen);
/* A "patch" value: the option exists and patches nodes, the value is of its type (integer,
 * in min..max, one of the choices, a string within min/max_length of UTF-8, in its file list).
 * Model names from /object_info are checked by the router against its cache. 0, or -1 with a
 * message for the user. */
int decl_check_patch(const decl_command *d, const comfy_patch *p, char *err, size_t errlen);

/* True when the file list of o holds value (exactly). */
bool decl_list_has(const decl_option *o, const char *value);

/* Loads every "<dir>/NAME.cmd.json" (none is not an error). Two declarations with one name, or a
 * name that is one of the bot's own non-generation commands, refuse the set. */
int decl_set_load(decl_set *set, const char *dir, char *err, size_t errlen);
void decl_set_free(decl_set *set);
const decl_command *decl_set_find(const decl_set *set, const char *name);
/* The declaration a result's Upscale button runs (the first with "trigger": "button"), or NULL. */
const decl_command *decl_set_button(const decl_set *set);
/* The command-table entries of the set's slash commands (button triggers left out), in file
 * order, without their "enhance" options when set->without_enhance; returns how many (at most
 * cap). */
unsigned decl_set_defs(const decl_set *set, const cmd_def **out, unsigned cap);

#endif
