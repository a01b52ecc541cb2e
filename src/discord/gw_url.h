/*
 * gw_url: the gateway URLs. Discord hands out bare base URLs ("wss://gateway.discord.gg" from
 * /gateway/bot, resume_gateway_url in READY); every connection adds the same query string
 * (`/?v=10&encoding=json[&compress=zlib-stream]`, the resume URL included — twilight #1901
 * lost every resume by dropping it). Both come from the network, so they are validated:
 * ws:// or wss:// only, a sane host, bounded length, no whitespace or control characters.
 */
#ifndef FLUXBOT_GW_URL_H
#define FLUXBOT_GW_URL_H

#include <stdbool.h>
#include <stddef.h>

#define GW_URL_MAX 512

typedef struct gw_url {
    bool tls;              /* wss:// */
    char host[256];        /* without brackets for IPv6 literals */
    int port;              /* explicit or 443/80 */
    char path[GW_URL_MAX]; /* path + query, always starting with '/' */
} gw_url;

/* Parses a ws:// or wss:// URL. 0 or -1. */
int gw_url_parse(const char *url, gw_url *out);

/* Builds base + "/?v=10&encoding=json" (+ "&compress=zlib-stream") into out, dropping any
 * path, query or fragment of base (Discord's bases have none; anything else is not trusted).
 * Returns 0, or -1 when base is not a valid gateway URL or out is too small. */
int gw_url_with_query(const char *base, bool compress, char *out, size_t cap);

/* True for 127.0.0.0/8, ::1 and "localhost": the only hosts where plain ws:// is accepted. */
bool gw_url_host_is_loopback(const char *host);

#endif
