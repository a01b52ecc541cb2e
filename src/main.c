/*
 * fluxbot entry point: picks the subcommand, loads the configuration, sets up logging, and
 * hands over to the bot, the demo or an operator command. The demo comes from the test kit
 * (testkit/demo), which only this executable links: the core library holds no fake.
 * Exit codes (documented in README):
 *   0 clean stop, 1 runtime failure, 2 configuration or usage error, 3 start failure,
 *   4 Discord refused the bot (bad token, disallowed intents), 130 second signal.
 */
#include <stdio.h>
#include <string.h>

#include "analytics/an_chart.h"
#include "app/app.h"
#include "app/docgen.h"
#include "app/version.h"
#include "demo/demo.h"
#include "config/fb_config.h"
#include "fluxbot/log.h"
#include "util/util_cjarena.h"

static int run(int argc, char **argv)
{
    const char *command = NULL;
    int first_flag = 1;
    if (argc > 1 && argv[1][0] != '-') {
        command = argv[1];
        first_flag = 2;
    }
    if (command && strcmp(command, "stats") == 0) return app_stats_command(argc - 1, argv + 1);
    if (command && strcmp(command, "import-analytics") == 0)
        return app_import_command(argc - 1, argv + 1);
    /* The generators the build runs to make the installed manual page and completion. */
    for (int i = first_flag; i < argc; i++) {
        if (strcmp(argv[i], "--man") == 0) {
            docgen_man(stdout);
            return fflush(stdout) == 0 ? 0 : APP_EXIT_RUNTIME;
        }
        if (strcmp(argv[i], "--bash-completion") == 0) {
            docgen_bash_completion(stdout);
            return fflush(stdout) == 0 ? 0 : APP_EXIT_RUNTIME;
        }
    }

    fb_config cfg;
    fb_config_action action;
    char err[600];
    if (fb_config_load(&cfg, argc - first_flag, argv + first_flag, NULL, &action, stdout, err,
                       sizeof err) != 0) {
        fprintf(stderr, "fluxbot: %s\n", err);
        return APP_EXIT_CONFIG;
    }
    if (action == FB_CONFIG_VERSION) version_print_libraries(stdout);
    if (action != FB_CONFIG_RUN) return 0;
    app_set_config_args(argc - first_flag, argv + first_flag);
    log_configure((log_level)log_level_parse(cfg.log_level), strcmp(cfg.log_format, "json") == 0,
                  2);
    log_add_secret(cfg.discord_token);

    if (!command) command = cfg.discord_token[0] ? "run" : "demo";
    if (strcmp(command, "run") == 0) return app_run(&cfg);
    if (strcmp(command, "demo") == 0) return demo_main(&cfg);
    if (strcmp(command, "check") == 0) return app_check(&cfg);
    fprintf(stderr, "fluxbot: unknown command \"%s\" (see fluxbot --help)\n", command);
    return APP_EXIT_CONFIG;
}

int main(int argc, char **argv)
{
    /* cJSON's allocation hooks are process-wide and must be in place before any thread uses
     * cJSON: the router parses each interaction's tree into its thread's arena with them */
    util_cjarena_install();
    int rc = run(argc, argv);
    /* every thread has stopped: the process-wide font caches of the /stats chart go now, so a
     * leak check at exit (ASan builds) reports only what is really lost */
    an_chart_release();
    return rc;
}
