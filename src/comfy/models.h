/*
 * The ComfyUI server's model lists (checkpoints, UNets, LoRA files, VAEs, CLIPs, upscale
 * models) as its GET /object_info/{class} answers give them, for the declared options that
 * autocomplete from "object_info:<kind>" (comfy/decl.h). This module owns the cache and the
 * parser of those answers; the fetcher (actors/models_fetch.h) feeds it, the router reads it.
 *
 * Bounded: at most MODELS_MAX_NAMES names of 1..MODELS_NAME_MAX bytes per kind, answers of at
 * most MODELS_ANSWER_MAX bytes (a larger or malformed answer changes nothing). Each kind's list
 * is replaced whole under the cache's mutex, so any thread may read while the fetcher writes.
 * Names are what ComfyUI lists (subfolders included, "sdxl/base.safetensors"): sent back to it
 * as they are, never shown as a path of this machine.
 */
#ifndef FLUXBOT_COMFY_MODELS_H
#define FLUXBOT_COMFY_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODELS_MAX_NAMES 4096
#define MODELS_NAME_MAX 100 /* a Discord choice value; longer names are left out */
#define MODELS_ANSWER_MAX (8u << 20)
#define MODELS_KINDS 6

typedef struct models_cache models_cache;

models_cache *models_new(void);
void models_free(models_cache *m);

/* Reads one /object_info answer (the whole map, or the one class of /object_info/{class}) and
 * replaces the list of every kind whose class and input it holds. The input's value list is
 * [[names...], {...}] or ["COMBO", {"options": [names...]}]. Returns how many kinds were
 * replaced, or -1 with err when the text is not such an answer. */
int models_update(models_cache *m, const char *json, size_t len, uint64_t now_ms, char *err,
                  size_t errlen);

/* 1 when kind's list holds name, 0 when it does not, -1 when the list is not known yet (no
 * server answered): the caller then lets ComfyUI judge the name. */
int models_has(models_cache *m, const char *kind, const char *name);

/* Up to max names of kind matching typed (case-insensitive; prefix matches first, then names
 * containing it), copied into out. Returns how many. */
unsigned models_match(models_cache *m, const char *kind, const char *typed,
                      char out[][MODELS_NAME_MAX + 1], unsigned max);

/* How many names kind has (0 when unknown) and when it was last replaced (0 = never). */
unsigned models_count(models_cache *m, const char *kind, uint64_t *updated_ms);

#endif
