/*
 * gw_inflater: incremental zlib-stream inflation with bounded output (see gw_zlib.h).
 */
#include "discord/gw_zlib.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_OUT 16384u
/* After a message this big, give the memory back rather than keep it for the connection. */
#define SHRINK_ABOVE (4u << 20)

int gw_inflater_init(gw_inflater *z, size_t max_out)
{
    memset(z, 0, sizeof *z);
    z->max_out = max_out ? max_out : (16u << 20);
    if (inflateInit(&z->zs) != Z_OK) return -1;
    z->ready = true;
    return 0;
}

static void clear_message(gw_inflater *z)
{
    z->out_len = 0;
    z->tail_len = 0;
    z->oversized = false;
    z->oversized_len = 0;
}

void gw_inflater_reset(gw_inflater *z)
{
    if (z->ready) inflateReset(&z->zs);
    z->broken = false;
    clear_message(z);
}

void gw_inflater_free(gw_inflater *z)
{
    if (z->ready) inflateEnd(&z->zs);
    free(z->out);
    memset(z, 0, sizeof *z);
}

static void remember_tail(gw_inflater *z, const unsigned char *p, size_t len)
{
    if (len >= 4) {
        memcpy(z->tail, p + len - 4, 4);
        z->tail_len = 4;
        return;
    }
    size_t keep = z->tail_len + len > 4 ? 4 - len : z->tail_len;
    memmove(z->tail, z->tail + (z->tail_len - keep), keep);
    memcpy(z->tail + keep, p, len);
    z->tail_len = keep + len;
}

/* Makes room for at least one more chunk of output; false when max_out is reached. */
static bool grow(gw_inflater *z)
{
    if (z->out_cap > z->out_len + 1) return true;
    if (z->out_cap >= z->max_out + 1) return false;
    size_t cap = z->out_cap ? z->out_cap * 2 : INITIAL_OUT;
    if (cap > z->max_out + 1) cap = z->max_out + 1;
    char *p = realloc(z->out, cap);
    if (!p) return false;
    z->out = p;
    z->out_cap = cap;
    return true;
}

int gw_inflater_feed(gw_inflater *z, const void *data, size_t len, bool message_end,
                     const char **msg, size_t *msg_len)
{
    if (!z->ready || z->broken) return GW_INFLATE_ERROR;
    if (z->out_len == 0 && !z->oversized && z->out_cap > SHRINK_ABOVE) {
        free(z->out);
        z->out = NULL;
        z->out_cap = 0;
    }
    z->zs.next_in = (Bytef *)(uintptr_t)data;
    z->zs.avail_in = (uInt)len;
    if ((size_t)z->zs.avail_in != len) return GW_INFLATE_ERROR; /* > 4 GiB chunk */
    remember_tail(z, data, len);

    unsigned char scratch[16384];
    for (;;) {
        char *dst;
        size_t room;
        bool spill = false; /* inflating into scratch: the buffer is at max_out */
        if (!z->oversized && grow(z)) {
            dst = z->out + z->out_len;
            room = z->out_cap - 1 - z->out_len;
        } else {
            spill = true;
            dst = (char *)scratch;
            room = sizeof scratch;
        }
        z->zs.next_out = (Bytef *)dst;
        z->zs.avail_out = (uInt)room;
        int rc = inflate(&z->zs, Z_SYNC_FLUSH);
        size_t produced = room - z->zs.avail_out;
        if (z->oversized) {
            z->oversized_len += produced;
        } else if (spill) {
            /* Oversized only once a byte beyond max_out exists: a message of exactly max_out
             * bytes fills the buffer and must still be delivered. */
            if (produced) {
                z->oversized = true;
                z->oversized_len = z->out_len + produced;
            }
        } else {
            z->out_len += produced;
        }
        if (rc == Z_STREAM_END || rc == Z_NEED_DICT || rc == Z_DATA_ERROR || rc == Z_MEM_ERROR ||
            rc == Z_STREAM_ERROR) {
            /* Discord never ends the stream; anything but more data is corruption. */
            z->broken = true;
            clear_message(z);
            return GW_INFLATE_ERROR;
        }
        if (rc == Z_BUF_ERROR) break; /* no progress possible: input consumed */
        if (z->zs.avail_in == 0 && z->zs.avail_out != 0) break;
    }
    if (!message_end) return GW_INFLATE_MORE;
    static const unsigned char suffix[4] = {0x00, 0x00, 0xff, 0xff};
    if (z->tail_len < 4 || memcmp(z->tail, suffix, 4) != 0) return GW_INFLATE_MORE;

    if (z->oversized) {
        if (msg_len) *msg_len = z->oversized_len;
        clear_message(z);
        return GW_INFLATE_OVERSIZED;
    }
    if (!z->out && !grow(z)) return GW_INFLATE_ERROR;
    z->out[z->out_len] = '\0';
    *msg = z->out;
    *msg_len = z->out_len;
    z->out_len = 0;
    z->tail_len = 0;
    return GW_INFLATE_MESSAGE;
}
