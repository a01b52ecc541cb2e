/*
 * gw_envelope: one pass over the top-level object of a gateway frame (see gw_envelope.h).
 * Each member value is validated exactly once by gw_json and never materialised, so the cost
 * of a frame is one linear scan whatever `d` holds.
 */
#include "discord/gw_envelope.h"

#include <string.h>

static size_t skip_ws(const char *b, size_t len, size_t i)
{
    while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
        i++;
    return i;
}

static int take_member(gw_envelope *env, gw_span k, gw_span v, bool *have_op)
{
    /* Keys of interest are short and never escaped; compare the raw spans. */
    if (k.len == 4 && memcmp(k.p, "\"op\"", 4) == 0) {
        int64_t op;
        if (gw_json_int64(v, &op) != GW_JSON_OK || op < 0 || op > 255) return GW_ENV_BADFIELD;
        env->op = (int)op;
        *have_op = true;
    } else if (k.len == 3 && memcmp(k.p, "\"s\"", 3) == 0) {
        if (gw_json_kind_of(v) == GW_JSON_NULL) {
            env->has_seq = false;
        } else {
            int64_t s;
            if (gw_json_int64(v, &s) != GW_JSON_OK || s < 0) return GW_ENV_BADFIELD;
            env->seq = s;
            env->has_seq = true;
        }
    } else if (k.len == 3 && memcmp(k.p, "\"t\"", 3) == 0) {
        gw_json_kind kind = gw_json_kind_of(v);
        env->t[0] = '\0';
        env->t_truncated = false;
        if (kind == GW_JSON_STRING) {
            int rc = gw_json_string(v, env->t, sizeof env->t, NULL);
            if (rc == GW_JSON_ETOOLONG) {
                env->t[0] = '\0';
                env->t_truncated = true;
            } else if (rc != GW_JSON_OK) {
                return GW_ENV_BADFIELD;
            }
        } else if (kind != GW_JSON_NULL) {
            return GW_ENV_BADFIELD;
        }
    } else if (k.len == 3 && memcmp(k.p, "\"d\"", 3) == 0) {
        env->d = v;
        env->has_d = true;
    }
    return GW_ENV_OK;
}

int gw_envelope_parse(const char *frame, size_t len, size_t max_len, gw_envelope *env)
{
    memset(env, 0, sizeof *env);
    env->op = -1;
    if (!frame || len == 0) return GW_ENV_EMPTY;
    if (max_len && len > max_len) return GW_ENV_TOOBIG;

    size_t i = skip_ws(frame, len, 0);
    if (i >= len) return GW_JSON_ESYNTAX;
    if (frame[i] != '{') {
        gw_span any;
        size_t pos = i;
        int rc = gw_json_value(frame, len, &pos, &any);
        if (rc != GW_JSON_OK) return rc;
        return skip_ws(frame, len, pos) == len ? GW_ENV_NOTOBJECT : GW_JSON_ESYNTAX;
    }
    bool have_op = false;
    i = skip_ws(frame, len, i + 1);
    if (i < len && frame[i] == '}') {
        i++;
    } else {
        for (;;) {
            gw_span k, v;
            int rc;
            if (i >= len || frame[i] != '"') return GW_JSON_ESYNTAX;
            if ((rc = gw_json_value(frame, len, &i, &k)) != GW_JSON_OK) return rc;
            i = skip_ws(frame, len, i);
            if (i >= len || frame[i] != ':') return GW_JSON_ESYNTAX;
            i++;
            if ((rc = gw_json_value(frame, len, &i, &v)) != GW_JSON_OK) return rc;
            if ((rc = take_member(env, k, v, &have_op)) != GW_ENV_OK) return rc;
            i = skip_ws(frame, len, i);
            if (i >= len) return GW_JSON_ESYNTAX;
            if (frame[i] == '}') {
                i++;
                break;
            }
            if (frame[i] != ',') return GW_JSON_ESYNTAX;
            i = skip_ws(frame, len, i + 1);
        }
    }
    if (skip_ws(frame, len, i) != len) return GW_JSON_ESYNTAX;
    if (!have_op) return GW_ENV_NOOP;
    return GW_ENV_OK;
}

const char *gw_envelope_strerror(int err)
{
    switch (err) {
    case GW_ENV_OK:
        return "ok";
    case GW_ENV_EMPTY:
        return "empty frame";
    case GW_ENV_TOOBIG:
        return "frame too large";
    case GW_ENV_NOTOBJECT:
        return "frame is not a JSON object";
    case GW_ENV_NOOP:
        return "frame has no op";
    case GW_ENV_BADFIELD:
        return "frame has an invalid op, s or t";
    default:
        return gw_json_strerror(err);
    }
}
