/*
 * util_self: what the running executable knows about itself — its own path, the name a user
 * types to run it again, and where its shipped read-only data (workflows/, config/) and its
 * documentation are. Owns the rule that decides between the build tree and an installation:
 *   - a binary inside the build directory it was built in uses the source tree (so a developer's
 *     edits to workflows/ and config/ apply without installing);
 *   - any other copy uses DATADIR relative to its own location (bin/../share/fluxbot for the
 *     GNU layout), so an installed or relocated tree (a package unpacked anywhere) finds its
 *     files; when that folder is missing, the install data dir compiled in.
 * Everything here is computed once, on first use, and is safe to call from any thread.
 */
#ifndef FLUXBOT_UTIL_SELF_H
#define FLUXBOT_UTIL_SELF_H

#include <stdbool.h>
#include <stddef.h>

/* The absolute, resolved path of the running executable ("" when /proc is not mounted). */
const char *util_self_exe(void);

/* True when the executable runs from the build tree it was built in. */
bool util_self_in_build_tree(void);

/* The folder holding workflows/ and config/ (no trailing slash). Never NULL. */
const char *util_self_datadir(void);

/* The folder holding the documentation (README.md and the docs/ notes). Never NULL. */
const char *util_self_docdir(void);

/* The command a user types to run this executable again, ready to paste into a shell:
 * "fluxbot" when a `fluxbot` found on PATH is this very file, else the executable's full path
 * (shell-quoted when it needs it). Never NULL. */
const char *util_self_command(void);

/* Writes s into out (cap bytes) so that a POSIX shell reads it back as one word: unchanged when
 * it only holds safe characters, else inside single quotes. False when out is too small. */
bool util_shell_quote(const char *s, char *out, size_t cap);

#endif
