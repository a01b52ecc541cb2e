/*
 * docgen: the fluxbot(1) manual page and the bash completion script, generated from the same
 * tables that drive --help (the commands, the options and the configuration keys of
 * config/fb_config.h). The build runs `fluxbot --man` and `fluxbot --bash-completion` and installs
 * their output, so the installed manual and completion cannot drift from the binary.
 */
#ifndef FLUXBOT_APP_DOCGEN_H
#define FLUXBOT_APP_DOCGEN_H

#include <stdio.h>

/* Writes the manual page (roff, man(7) macros). */
void docgen_man(FILE *out);
/* Writes a bash completion script for the subcommands, options, keys and their values. */
void docgen_bash_completion(FILE *out);

#endif
