/*
 * `fluxbot stats [--db FILE] [--days N] [--json]`: the /stats numbers for operators, without
 * Discord, from a read-only connection (safe while the bot runs and writes).
 *
 * Exit status: 0 printed, 1 the database cannot be read (missing, not a fluxbot database,
 * corrupt, ...), 2 bad usage (unknown flag, bad --days). Errors go to stderr, one line each.
 */
#ifndef FLUXBOT_AN_CLI_H
#define FLUXBOT_AN_CLI_H

#include <stdint.h>
#include <stdio.h>

/* argv[0] is "stats". The database defaults to $FLUXBOT_DB, else "fluxbot.db". */
int an_cli_stats(int argc, char **argv);
/* The same with the clock and the streams injected (tests). */
int an_cli_stats_at(int argc, char **argv, int64_t now_ms, FILE *out, FILE *err);

/*
 * `fluxbot import-analytics [-c CONFIG] [--db DEST] SOURCE` (argv[0] is the subcommand): imports
 * the Python original's analytics.db (an_import.h) into DEST (default: the configured db_path)
 * and prints a summary. Exit status: 0 imported (or nothing new), 1 SOURCE is not such a
 * database or cannot be read, 2 bad arguments, 3 the destination cannot be written (nothing
 * was changed).
 */
int an_cli_import(int argc, char **argv, FILE *out, FILE *err);

#endif
