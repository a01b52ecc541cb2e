/*
 * The application layer: wires the actors into a running bot (app_run), the embedded demo
 * (app_demo) and the operator commands. main.c only parses the command line and calls these.
 */
#ifndef FLUXBOT_APP_H
#define FLUXBOT_APP_H

#include "fluxbot/config.h"

enum {
    APP_EXIT_OK = 0,
    APP_EXIT_RUNTIME = 1,
    APP_EXIT_CONFIG = 2,
    APP_EXIT_START = 3,
    APP_EXIT_DISCORD_REFUSED = 4,
};

int app_run(const fb_config *cfg);
int app_demo(const fb_config *cfg);
int app_check(const fb_config *cfg);
/* argv[0] is "stats". */
int app_stats_command(int argc, char **argv);

#endif
