/*
 * enh_note: what users read about prompt enhancement (src/actors/llm_enhance.h), and the only
 * place those texts are written: the line above the progress and result messages, the embed
 * field that shows the enhanced prompt beside the original (the embed's description keeps the
 * prompt as typed), and the "Enhancing…" placeholder. Pure: strings only.
 *
 * Rule: nothing here names the endpoint, its URL, the model or an error's detail; a user only
 * learns what happened to their prompt (enhanced, or used as typed and why in a few words).
 */
#ifndef FLUXBOT_DISCORD_ENH_NOTE_H
#define FLUXBOT_DISCORD_ENH_NOTE_H

#include <stddef.h>

#include "comfy/cjob.h"
#include "discord/embed.h"

/* The text of @original while the model works. */
const char *enh_note_working(void);

/* One line about the job's enhancement ("" when none was asked for), e.g.
 * "✨ Prompt enhanced (creativity 7)." or "⚠️ Prompt enhancement timed out, so your prompt was
 * used as written.". Always fits in cap >= ENH_NOTE_MAX (truncated otherwise). */
#define ENH_NOTE_MAX 200
void enh_note_line(const cjob *j, char *out, size_t cap);

/* text with the job's line below it ("text\nline"; text alone when there is no line):
 * malloc'd, aborts on OOM. For the progress text and the result's content. */
char *enh_note_append(const char *text, const cjob *j);

/* Adds the "Enhanced prompt" field (the model's text, clipped to a field's 1024 characters)
 * when the job was enhanced; nothing otherwise. */
void enh_note_embed(const cjob *j, embed *em);

#endif
