/*
 * Application wiring. Until every actor exists this file is honest about what is missing:
 * each entry point says what it cannot do yet and exits with a configuration error, rather
 * than pretending to run.
 */
#include "app/app.h"

#include <stdio.h>

#include "fluxbot/log.h"

int app_run(const fb_config *cfg)
{
    (void)cfg;
    fprintf(stderr, "fluxbot: the Discord connection is not built into this version yet.\n");
    return APP_EXIT_CONFIG;
}

int app_demo(const fb_config *cfg)
{
    (void)cfg;
    fprintf(stderr,
            "fluxbot: no DISCORD_TOKEN is set.\n"
            "  To run the bot, set DISCORD_TOKEN (your bot token) and COMFYUI_URLS (for example\n"
            "  http://127.0.0.1:8188), or put discord_token and comfyui_urls in a JSON file\n"
            "  given with -c FILE. See fluxbot --help for every key.\n");
    return APP_EXIT_CONFIG;
}

int app_check(const fb_config *cfg)
{
    (void)cfg;
    fprintf(stderr, "fluxbot: check is not available in this version yet.\n");
    return APP_EXIT_CONFIG;
}

int app_stats_command(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "fluxbot: stats is not available in this version yet.\n");
    return APP_EXIT_CONFIG;
}
