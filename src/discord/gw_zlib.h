/*
 * gw_inflater: zlib-stream transport decompression for one gateway connection.
 *
 * Discord compresses the whole connection as one deflate stream, flushing (Z_SYNC_FLUSH) after
 * each gateway message, so a message ends where a websocket message ends with 00 00 ff ff. One
 * z_stream lives as long as the connection and is reset for the next one. Input is inflated
 * as it arrives (the stream may be fed in any split), so no compressed bytes are buffered; the
 * message is complete when a websocket message ends with the suffix. Output is bounded: a
 * message inflating beyond max_out is still inflated (the stream's dictionary must stay in
 * step) but discarded and reported as oversized.
 */
#ifndef FLUXBOT_GW_ZLIB_H
#define FLUXBOT_GW_ZLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <zlib.h>

typedef struct gw_inflater {
    z_stream zs;
    bool ready;            /* inflateInit succeeded */
    bool broken;           /* a stream error happened: reset before further use */
    unsigned char tail[4]; /* last input bytes of the message in progress */
    size_t tail_len;
    char *out; /* owned: the message being inflated, NUL-terminated */
    size_t out_len, out_cap;
    size_t max_out;
    bool oversized;       /* the message in progress exceeded max_out */
    size_t oversized_len; /* its full inflated size so far */
} gw_inflater;

enum {
    GW_INFLATE_MORE = 0,      /* the message is not complete yet */
    GW_INFLATE_MESSAGE = 1,   /* *msg / *len hold one complete message */
    GW_INFLATE_OVERSIZED = 2, /* a message ended but was larger than max_out: dropped */
    GW_INFLATE_ERROR = -1,    /* corrupt stream: the connection must be replaced */
};

/* 0 or -1 (out of memory). max_out bounds one inflated message. */
int gw_inflater_init(gw_inflater *z, size_t max_out);
/* New connection: forget the dictionary and any partial message. */
void gw_inflater_reset(gw_inflater *z);
void gw_inflater_free(gw_inflater *z);

/* Feeds bytes of the websocket message in progress; message_end says whether they are its
 * last. The returned message stays valid until the next call. */
int gw_inflater_feed(gw_inflater *z, const void *data, size_t len, bool message_end,
                     const char **msg, size_t *msg_len);

#endif
