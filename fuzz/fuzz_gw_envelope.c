/*
 * fuzz_gw_envelope: one gateway frame as the gateway actor receives it (after inflating), through
 * gw_envelope_parse and then the gw_json scanner over its `d` value, the way the session and the
 * role cache read it (member lookups, object and array iteration, strings, integers, snowflakes).
 *
 * Invariants asserted, beyond "no crash, no sanitizer report":
 *  - an accepted envelope's `d` span lies inside the frame and is itself one valid JSON value;
 *  - every member found by iteration is found again by gw_json_get with its decoded key, unless
 *    the key repeats (the last one wins);
 *  - a decoded string is valid UTF-8 when the frame was, and gw_json_escape of it decodes back
 *    to the same bytes (what the bot echoes in RESUME is what it read in READY).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discord/gw_envelope.h"
#include "discord/gw_json.h"
#include "fuzz_support.h"
#include "util/util_utf8.h"

#define FRAME_MAX (1u << 20)
#define WALK_MAX 2000 /* values visited per frame: keeps one run fast whatever the shape */

static bool frame_utf8;

static void check_string(gw_span v)
{
    static char buf[8192], esc[8192 * 6 + 3], back[8192];
    size_t n = 0;
    int rc = gw_json_string(v, buf, sizeof buf, &n);
    if (rc != GW_JSON_OK) return;
    FZ_ASSERT(n == strlen(buf), "gw_json_string: length differs from the NUL position", buf);
    if (frame_utf8) FZ_ASSERT(util_utf8_valid(buf, n, NULL), "decoded string not UTF-8", buf);
    FZ_ASSERT(gw_json_string_eq(v, buf), "gw_json_string_eq disagrees with gw_json_string", buf);
    int elen = gw_json_escape(buf, esc, sizeof esc);
    FZ_ASSERT(elen > 0, "gw_json_escape failed on a decoded string", buf);
    gw_span ev;
    FZ_ASSERT(gw_json_parse_span(esc, (size_t)elen, &ev) == GW_JSON_OK, "escape is not JSON", esc);
    size_t bn = 0;
    FZ_ASSERT(gw_json_string(ev, back, sizeof back, &bn) == GW_JSON_OK && bn == n &&
                  memcmp(back, buf, n) == 0,
              "escape/decode round trip changed the string", buf);
}

static void walk(gw_span v, unsigned depth, unsigned *budget)
{
    if (*budget == 0) return;
    (*budget)--;
    FZ_ASSERT(depth <= GW_JSON_MAX_DEPTH + 1, "nesting deeper than the scanner allows", NULL);
    int64_t i64;
    uint64_t u64;
    switch (gw_json_kind_of(v)) {
    case GW_JSON_OBJECT: {
        size_t it = 0;
        gw_span k, val;
        int rc;
        while ((rc = gw_json_object_next(v, &it, &k, &val)) == 1 && *budget) {
            char key[256];
            if (gw_json_string(k, key, sizeof key, NULL) == GW_JSON_OK) {
                gw_span again;
                int g = gw_json_get(v, key, &again);
                FZ_ASSERT(g == 1, "iterated member not found by gw_json_get", key);
                (void)again; /* a repeated key may resolve to a later value: not compared */
            }
            check_string(k);
            walk(val, depth + 1, budget);
        }
        FZ_ASSERT(rc >= 0 || !*budget, "object iteration failed inside a validated value", NULL);
        break;
    }
    case GW_JSON_ARRAY: {
        size_t it = 0;
        gw_span e;
        int rc;
        while ((rc = gw_json_array_next(v, &it, &e)) == 1 && *budget)
            walk(e, depth + 1, budget);
        FZ_ASSERT(rc >= 0 || !*budget, "array iteration failed inside a validated value", NULL);
        break;
    }
    case GW_JSON_STRING:
        check_string(v);
        (void)gw_json_snowflake(v, &u64);
        break;
    case GW_JSON_NUMBER:
        (void)gw_json_int64(v, &i64);
        (void)gw_json_snowflake(v, &u64);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FRAME_MAX) return 0;
    /* An exact-size copy, so ASan sees any read past the frame (the actor's buffers are not
     * NUL-terminated for the scanner's sake either). */
    char *frame = malloc(size ? size : 1);
    if (!frame) abort();
    memcpy(frame, data, size);
    frame_utf8 = util_utf8_valid(frame, size, NULL);

    gw_envelope env;
    int rc = gw_envelope_parse(frame, size, 0, &env);
    (void)gw_envelope_strerror(rc);
    if (rc == GW_ENV_OK) {
        FZ_ASSERT(strlen(env.t) <= GW_EVENT_NAME_MAX, "event name over its bound", env.t);
        if (env.has_d) {
            FZ_ASSERT(env.d.p >= frame && env.d.p + env.d.len <= frame + size,
                      "d span outside the frame", NULL);
            gw_span again;
            FZ_ASSERT(gw_json_parse_span(env.d.p, env.d.len, &again) == GW_JSON_OK,
                      "d span is not one JSON value", NULL);
            unsigned budget = WALK_MAX;
            walk(env.d, 0, &budget);
        }
        /* The same frame under a limit just below its size must be refused, not read. */
        if (size > 1)
            FZ_ASSERT(gw_envelope_parse(frame, size, size - 1, &env) == GW_ENV_TOOBIG,
                      "max_len not enforced", NULL);
    } else {
        gw_span whole;
        if (gw_json_parse_span(frame, size, &whole) == GW_JSON_OK) {
            unsigned budget = WALK_MAX;
            walk(whole, 0, &budget);
        }
    }
    free(frame);
    return 0;
}
