/*
 * Terminal rendering for the embedded demo: a Discord message's embeds (title, description,
 * fields, footer) as indented text with a coloured bar, Discord markdown reduced to what a
 * terminal shows (escapes removed, **bold** as bold or plain), long lines wrapped; and the
 * one-line progress bar of the live view. Pure: no I/O.
 */
#ifndef FLUXBOT_DEMO_RENDER_H
#define FLUXBOT_DEMO_RENDER_H

#include <stdbool.h>
#include <stddef.h>

/* Renders every embed of message_json (a message object, or an object with "embeds") and its
 * "content" if any. width: columns to wrap at (>= 20). ansi: colours and bold. Returns
 * malloc'd text ending in '\n', or NULL when there is nothing to render. */
char *demo_render_message(const char *message_json, unsigned width, bool ansi);

/* Writes a bar of `cells` cells filled to frac (0..1) into out, e.g. "[#####-----]" or, with
 * unicode, block characters. Returns out. */
char *demo_render_bar(double frac, unsigned cells, bool unicode, char *out, size_t cap);

/* Removes Discord markdown from s in place: backslash escapes, ** and __ markers. */
void demo_render_strip_markdown(char *s);

#endif
